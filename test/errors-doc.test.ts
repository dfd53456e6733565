// docs/errors.md is generated from the error table (ErrorCodes and its doc comments) by
// `npm run docs:errors`, and cannot go stale: the committed file must equal a fresh rendering.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { ErrorCodes } from '../src';

const root = join(__dirname, '..');

interface ErrorRow {
  name: string;
  code: number;
  doc: string;
}
interface Renderer {
  readErrorTable(source?: string): ErrorRow[];
  renderErrorsReference(rows?: ErrorRow[]): string;
}
const renderer = (): Promise<Renderer> => import(pathToFileURL(join(root, 'scripts', 'errors-doc.mjs')).href) as Promise<Renderer>;

test('docs/errors.md is generated from the current error table (npm run docs:errors)', async () => {
  const { renderErrorsReference } = await renderer();
  const committed = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  assert.equal(committed, renderErrorsReference(), 'docs/errors.md is stale: run npm run docs:errors');
});

test('the generator reads every row of ErrorCodes, with its doc comment', async () => {
  const { readErrorTable } = await renderer();
  const rows = readErrorTable();
  assert.deepEqual(
    rows.map((r) => [r.name, r.code]),
    Object.entries(ErrorCodes),
    'the rows the generator parsed are the table the package exports',
  );
  for (const r of rows) assert.ok(r.doc.length > 10, `${r.name} has a meaning`);
  const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  for (const [name, code] of Object.entries(ErrorCodes))
    assert.match(doc, new RegExp(`^\\| ${code} \\| \`${name}\` \\| `, 'm'), `${name} has its row`);
});

test('the generator refuses a table it cannot document: a repeated code, a code outside the ranges, a row without a comment', async () => {
  const { readErrorTable, renderErrorsReference } = await renderer();
  const table = (body: string) => `export const ErrorCodes = {\n${body}\n} as const;\n`;
  assert.throws(
    () => renderErrorsReference(readErrorTable(table('/** One. */ A: 101,\n/** Two. */ B: 101,'))),
    /A and .*B|B and .*A|share code 101/,
  );
  assert.throws(() => renderErrorsReference(readErrorTable(table('/** Out of range. */ A: 250,'))), /outside every reserved range/);
  assert.throws(() => readErrorTable(table('A: 101,')), /A has no doc comment/);
  assert.throws(() => readErrorTable('export const Other = {};'), /ErrorCodes .* not found/);
  // A reformatted table (`satisfies`, a comment over two lines, a trailing comment) still parses.
  const reformatted =
    'export const ErrorCodes = {\n  /**\n   * The one,\n   * over two lines.\n   */\n  A: 101 /* x */,\n} as const satisfies Record<string, number>;';
  assert.deepEqual(readErrorTable(reformatted), [{ name: 'A', code: 101, doc: 'The one, over two lines.' }]);
});
