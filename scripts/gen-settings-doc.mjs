// Writes docs/settings.md from the settings table in the built package (run after `npm run build`).
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { renderSettingsReference } = require('../dist/cjs/config/settingsReference.js');
const target = new URL('../docs/settings.md', import.meta.url);
writeFileSync(target, renderSettingsReference());
console.log('wrote docs/settings.md');
