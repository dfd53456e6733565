// The documentation cannot rot: the API reference builds without a single TypeDoc warning (every
// public export documented, no broken {@link}), relative links in README.md and docs/*.md point at
// files and headings that exist, every guide is reachable from docs/index.md, and the TypeScript
// examples in the guides compile against the real API.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { after, test } from 'node:test';
import { anchorsOf, linksOf } from './fixtures/markdown';

const root = join(__dirname, '..');
const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const work = mkdtempSync(join(tmpdir(), 'sshdaemon-docs-'));
after(() => rmSync(work, { recursive: true, force: true }));

function node(args: string[], cwd = root): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, args, {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '') };
}

/** README.md and every markdown file in docs/ (not the generated docs/api/). */
function markdownFiles(): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(root, 'docs', f));
  return [join(root, 'README.md'), ...docs];
}

// ---- API reference ---------------------------------------------------------------------------

test('typedoc.json keeps the strict validation (warnings are errors, exports must be documented)', () => {
  const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8'));
  assert.equal(config.treatWarningsAsErrors, true);
  assert.deepEqual(config.entryPoints, ['src/index.ts']);
  for (const check of ['notExported', 'invalidLink', 'notDocumented'])
    assert.equal(config.validation?.[check], true, `validation.${check}`);
  for (const kind of ['Class', 'Interface', 'Function', 'Property', 'Method', 'Accessor', 'Enum', 'Variable', 'TypeAlias']) {
    assert.ok(config.requiredToBeDocumented.includes(kind), `requiredToBeDocumented includes ${kind}`);
  }
  assert.ok(readFileSync(join(root, '.gitignore'), 'utf8').split('\n').includes('docs/api/'), 'the generated reference is not committed');
});

test('the API reference builds from src/index.ts without a warning', () => {
  const out = join(work, 'api');
  const r = node([typedoc, '--out', out]);
  assert.equal(r.status, 0, `typedoc failed (an undocumented export or a broken link?):\n${r.output}`);
  assert.doesNotMatch(r.output, /\[(warning|error)\]/, r.output);
  for (const page of [
    'index.html',
    'classes/SSHDaemon.html',
    'classes/Certificate.html',
    'interfaces/SSHUserAuthRequestEventArgs.html',
    'enums/CertStoreTypes.html',
  ]) {
    assert.ok(existsSync(join(out, page)), `${page} generated`);
  }
  const daemonPage = readFileSync(join(out, 'classes', 'SSHDaemon.html'), 'utf8');
  for (const member of ['startListening', 'sendChannelData', 'enableForwarding', 'getLocalPort'])
    assert.match(daemonPage, new RegExp(member), member);
  assert.doesNotMatch(daemonPage, /id="decide"|id="fire"/, 'internal members stay out of the reference');
});

test('an undocumented export or a broken {@link} fails the build (the check is live)', () => {
  const dir = join(work, 'fixture');
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(
    join(dir, 'src', 'index.ts'),
    [
      'export function undocumentedHelper(): number {',
      '  return 1;',
      '}',
      '/** See {@link NoSuchThing}. */',
      'export const documented = 2;',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', module: 'commonjs', types: [] }, include: ['src'] }),
  );
  // The project's typedoc.json, pointed at the fixture.
  const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8'));
  const plugin = (config.plugin as string[]).map((p) => resolve(root, p));
  writeFileSync(
    join(dir, 'typedoc.json'),
    JSON.stringify({
      ...config,
      plugin,
      entryPoints: ['src/index.ts'],
      tsconfig: 'tsconfig.json',
      out: 'out',
      intentionallyNotExported: [],
    }),
  );
  const r = node([typedoc], dir);
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /undocumentedHelper.*does not have any documentation/, r.output);
  assert.match(r.output, /Failed to resolve link to "NoSuchThing"/, r.output);
});

// ---- links -------------------------------------------------------------------------------------

test('relative links in README.md and docs/*.md point at existing files and headings', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const file of markdownFiles()) {
    const markdown = readFileSync(file, 'utf8');
    for (const link of linksOf(markdown)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:, ...
      checked++;
      const [pathPart, anchor] = link.split('#', 2) as [string, string | undefined];
      const target = pathPart ? resolve(dirname(file), decodeURIComponent(pathPart)) : file;
      const where = `${relative(root, file)}: ${link}`;
      if (!target.startsWith(root)) {
        problems.push(`${where} leaves the repository`);
        continue;
      }
      if (!existsSync(target)) {
        problems.push(`${where}: ${relative(root, target)} does not exist`);
        continue;
      }
      if (
        anchor !== undefined &&
        statSync(target).isFile() &&
        target.endsWith('.md') &&
        !anchorsOf(readFileSync(target, 'utf8')).has(decodeURIComponent(anchor))
      ) {
        problems.push(`${where}: no heading #${anchor} in ${relative(root, target)}`);
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked > 40, `only ${checked} relative links found: is the link parser broken?`);
});

test('the link checker itself: anchors and links are parsed as GitHub renders them', () => {
  const anchors = anchorsOf(
    '# Channels, exec and shells\n## Sending and flow control\n## `recordLength` records\n## A\n## A\n```sh\n# not a heading\n```\n',
  );
  assert.deepEqual([...anchors], ['channels-exec-and-shells', 'sending-and-flow-control', 'recordlength-records', 'a', 'a-1']);
  assert.deepEqual(linksOf('[a](x.md#y) `[b](no.md)` ![i](img.png "t")\n[ref]: other.md\n```\n[c](code.md)\n```\n'), [
    'x.md#y',
    'img.png',
    'other.md',
  ]);
});

test('every guide in docs/ is linked from docs/index.md, and README.md links the index', () => {
  const index = readFileSync(join(root, 'docs', 'index.md'), 'utf8');
  const linked = new Set(linksOf(index).map((l) => l.split('#')[0]));
  const missing = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md') && f !== 'index.md' && !linked.has(f));
  assert.deepEqual(missing, [], 'guides not listed in docs/index.md');
  assert.ok(linksOf(readFileSync(join(root, 'README.md'), 'utf8')).includes('docs/index.md'), 'README.md links docs/index.md');
});

// ---- examples ----------------------------------------------------------------------------------

/** Names examples may use without defining them, as the surrounding prose does. */
const AMBIENT: Record<string, string> = {
  daemon: "import('sshdaemon').SSHDaemon",
  checkPassword: '(user: string, password: string) => Promise<boolean>',
};

test("TypeScript examples in the guides compile against the real API (blocks that import from 'sshdaemon')", () => {
  const dir = join(work, 'examples');
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const file of markdownFiles()) {
    const markdown = readFileSync(file, 'utf8');
    for (const m of markdown.matchAll(/^```(ts|typescript)\n([\s\S]*?)^```$/gm)) {
      const code = m[2];
      // Complete examples import the package; fragments that rely on surrounding prose are skipped.
      if (!/^import\b[^;]*from 'sshdaemon';/m.test(code)) continue;
      const line = markdown.slice(0, m.index).split('\n').length;
      // Fragments may use the names the prose around them introduces; declare those they use but do not define.
      const ambient = Object.entries(AMBIENT)
        .filter(([name]) => new RegExp(`\\b${name}\\b`).test(code) && !new RegExp(`\\b(const|let|var|function)\\s+${name}\\b`).test(code))
        .map(([name, type]) => `declare const ${name}: ${type};\n`)
        .join('');
      const name = `${relative(root, file).replace(/[^\w]/g, '_')}_L${line}.ts`;
      writeFileSync(join(dir, name), `${ambient}${code}\nexport {};\n`);
      files.push(name);
    }
  }
  assert.ok(files.length >= 15, `only ${files.length} complete examples found`);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'esnext',
        moduleResolution: 'bundler',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
        baseUrl: dir,
        paths: { sshdaemon: [join(root, 'src', 'index.ts')] },
      },
      files,
    }),
  );
  const r = node([tsc, '-p', join(dir, 'tsconfig.json')]);
  const readable = r.output.replace(
    /(\w+_md)_L(\d+)\.ts\((\d+),(\d+)\)/g,
    (_s, f: string, l: string, row: string) => `${f.replace(/_md$/, '.md')} (block at line ${l}, line ${row} of the block)`,
  );
  assert.equal(r.status, 0, `examples do not compile:\n${readable}`);
});
