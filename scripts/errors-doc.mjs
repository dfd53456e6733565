// Renders docs/errors.md from the error table, `ErrorCodes` in src/errors/SSHDaemonError.ts: the
// codes and names, and each row's doc comment (the text an editor shows on hover, so the two cannot
// disagree). Read with the TypeScript parser, not a regex: a reformatted table still parses.
import { readFileSync } from 'node:fs';
import ts from 'typescript';

export const ERRORS_SOURCE = new URL('../src/errors/SSHDaemonError.ts', import.meta.url);

/** The reserved ranges, in order: how an error of each range reaches the application. */
const RANGES = [
  {
    from: 100,
    to: 199,
    title: 'Invalid argument or state',
    how: 'Thrown by the call that got it (a method that returns a Promise rejects with it instead). Nothing has changed.',
  },
  {
    from: 300,
    to: 399,
    title: 'Listener',
    how: '`startListening()` rejects with it (with the `listening = true` property form, the `Error` event reports it, connection id empty); a listener or sensor port that fails later fires `Error`.',
  },
  {
    from: 400,
    to: 499,
    title: 'Host keys and certificates',
    how: 'Thrown by the key store calls (`Certificate`, `AuthorizedKeys` file reads); `startListening()` rejects with `NoHostKey`, and a connection accepted when no host key fits fires `Error` with it.',
  },
  {
    from: 1000,
    to: 1199,
    title: 'Per-connection SSH trouble',
    how: 'The `Error` event reports it (`connectionId`, `errorCode`, `description`); the connection is dropped or the request refused, the process goes on. The calls that wait on the client reject with it instead: `openChannel()` with `ChannelOpenFailed`, `exchangeKeys()` with `ProtocolError`.',
  },
];

/** The rows of `ErrorCodes`, in source order: `{ name, code, doc }`. */
export function readErrorTable(source = readFileSync(ERRORS_SOURCE, 'utf8')) {
  const file = ts.createSourceFile('SSHDaemonError.ts', source, ts.ScriptTarget.ES2022, true);
  let literal;
  const visit = (node) => {
    if (ts.isVariableDeclaration(node) && node.name.getText(file) === 'ErrorCodes' && node.initializer) {
      let init = node.initializer;
      while (ts.isAsExpression(init) || ts.isSatisfiesExpression(init) || ts.isParenthesizedExpression(init)) init = init.expression;
      if (ts.isObjectLiteralExpression(init)) literal = init;
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  if (!literal) throw new Error('ErrorCodes (an object literal) not found in src/errors/SSHDaemonError.ts');
  return literal.properties.map((p) => {
    if (!ts.isPropertyAssignment(p) || !ts.isNumericLiteral(p.initializer))
      throw new Error(`ErrorCodes: ${p.getText(file)} is not \`Name: number\``);
    const name = p.name.getText(file);
    const doc = ts
      .getJSDocCommentsAndTags(p)
      .map((d) => ts.getTextOfJSDocComment(d.comment) ?? '')
      .join(' ')
      .replace(/\s+/g, ' ')
      .trim();
    if (!doc) throw new Error(`ErrorCodes.${name} has no doc comment`);
    return { name, code: Number(p.initializer.text), doc };
  });
}

const cell = (text) => text.replace(/\|/g, '\\|');

/** docs/errors.md. Throws when a code is repeated or outside every reserved range. */
export function renderErrorsReference(rows = readErrorTable()) {
  const seen = new Map();
  for (const r of rows) {
    if (seen.has(r.code)) throw new Error(`ErrorCodes: ${r.name} and ${seen.get(r.code)} share code ${r.code}`);
    seen.set(r.code, r.name);
    if (!RANGES.some((g) => r.code >= g.from && r.code <= g.to))
      throw new Error(`ErrorCodes.${r.name} = ${r.code} is outside every reserved range`);
  }
  const out = [
    '# Error codes',
    '',
    '<!-- Generated from ErrorCodes in src/errors/SSHDaemonError.ts by `npm run docs:errors`; do not edit by hand. -->',
    '',
    'Every error the daemon raises is an `SSHDaemonError` whose `code` is one of `ErrorCodes` (typed',
    '`ErrorCode`, the union of the values below, so a comparison with a number that is not a code does',
    'not compile), or an `Error` event whose `errorCode` is. The message names what was wrong: the',
    'setting or property and its valid range, the id, the field. Compare with the names, not the numbers:',
    '',
    '```ts',
    "import { ErrorCodes, SSHDaemonError } from 'sshdaemon';",
    '',
    'try {',
    "  daemon.config('MaxAuthAttempts=none');",
    '} catch (err) {',
    '  if (!(err instanceof SSHDaemonError)) throw err;',
    '  if (err.code === ErrorCodes.InvalidSettingValue) console.error(err.message); // names the valid range',
    '}',
    "daemon.on('Error', (e) => {",
    '  if (e.errorCode === ErrorCodes.HandlerFailed) console.error(`a handler failed: ${e.description}`);',
    '});',
    '```',
  ];
  for (const g of RANGES) {
    const inRange = rows.filter((r) => r.code >= g.from && r.code <= g.to).sort((a, b) => a.code - b.code);
    if (inRange.length === 0) continue;
    out.push('', `## ${g.from}-${g.to}: ${g.title}`, '', g.how, '', '| Code | Name | Meaning |', '|---:|---|---|');
    for (const r of inRange) out.push(`| ${r.code} | \`${r.name}\` | ${cell(r.doc)} |`);
  }
  return `${out.join('\n')}\n`;
}
