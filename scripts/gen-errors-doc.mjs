// Writes docs/errors.md from the error table, ErrorCodes in src/errors/SSHDaemonError.ts (no build needed).
import { writeFileSync } from 'node:fs';
import { renderErrorsReference } from './errors-doc.mjs';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsReference());
console.log('wrote docs/errors.md');
