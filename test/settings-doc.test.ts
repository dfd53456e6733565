import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SETTINGS } from '../src';
import { renderSettingsReference } from '../src/config/settingsReference';

test('docs/settings.md is generated from the current settings table (npm run docs:settings)', () => {
  const committed = readFileSync(join(__dirname, '..', 'docs', 'settings.md'), 'utf8');
  assert.equal(committed, renderSettingsReference(), 'docs/settings.md is stale: run npm run docs:settings');
});

test('every setting row names its valid values and its effect', () => {
  for (const row of SETTINGS) {
    assert.ok(row.parse.range.length > 0, row.name);
    assert.ok(row.effect.length > 10, row.name);
    if (!row.readOnly) assert.equal(row.parse(row.default), row.default, `${row.name}: the default is valid and normalised`);
  }
});
