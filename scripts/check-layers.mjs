// Checks the dependency rule of src/ (docs/architecture.md): every import goes to the importer's own
// folder or to a folder of a lower layer (folders of one layer may import each other as long as the
// folder graph stays acyclic), and no two files import each other, directly or through others.
// Type-only imports count: they are dependencies a reader follows too.
// Usage: node scripts/check-layers.mjs [--graph] [--src dir]  (exit 1 and one line per problem on failure)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Top to bottom. `index.ts` and `cli/` are the entry points; top-level files (version.ts) are at the bottom. */
export const LAYERS = [
  ['index', 'cli'],
  ['daemon'],
  ['server'],
  ['channels', 'auth', 'sftp', 'scp', 'processes', 'views', 'fleet'],
  ['engine', 'events', 'config', 'policy', 'certs', 'registry', 'observability'],
  ['packet', 'errors', 'version'],
];

const IMPORT =
  /(?:^|\n)\s*(?:import|export)(?:\s+type)?\b[^;'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The folder under src/ a file belongs to ('index', 'version' for top-level files). */
function folderOf(src, file) {
  const rel = relative(src, file).split(/[\\/]/);
  return rel.length === 1 ? rel[0].replace(/\.[cm]?ts$/, '') : rel[0];
}

function resolveImport(from, spec, known) {
  const base = resolve(dirname(from), spec.replace(/\.[cm]?js$/, ''));
  for (const candidate of [base, `${base}.ts`, `${base}.mts`, `${base}.cts`, join(base, 'index.ts')]) {
    if (known.has(candidate)) return candidate;
  }
  return undefined;
}

/** Every cycle's members, by Tarjan's strongly connected components (components of size > 1, or a self-import). */
function cycles(graph) {
  let index = 0;
  const stack = [];
  const on = new Set();
  const idx = new Map();
  const low = new Map();
  const found = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? new Set()).has(v)) found.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

/** Checks `src` (a directory); returns the problems found and the folder graph. */
export function checkLayers(src) {
  const files = sourceFiles(src);
  const known = new Set(files);
  const layerOf = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i])));
  const problems = [];
  const fileGraph = new Map(files.map((f) => [f, new Set()]));
  const folderGraph = new Map();
  for (const file of files) {
    const from = folderOf(src, file);
    if (!layerOf.has(from)) problems.push(`${relative(src, file)}: folder '${from}' is in no layer of scripts/check-layers.mjs`);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
      if (!spec.startsWith('.')) continue;
      const target = resolveImport(file, spec, known);
      if (!target) continue;
      fileGraph.get(file).add(target);
      const to = folderOf(src, target);
      if (to === from) continue;
      if (!folderGraph.has(from)) folderGraph.set(from, new Set());
      folderGraph.get(from).add(to);
      if (layerOf.get(to) < layerOf.get(from))
        problems.push(`${relative(src, file)}: imports ${relative(src, target)}, a layer above (${from} -> ${to})`);
    }
  }
  for (const c of cycles(folderGraph)) problems.push(`folder cycle: ${c.join(' <-> ')}`);
  for (const c of cycles(fileGraph)) problems.push(`file cycle: ${c.map((f) => relative(src, f)).join(' <-> ')}`);
  return { problems, folderGraph, files: files.length };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--src');
  const src = at > 0 ? resolve(process.argv[at + 1]) : resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  const { problems, folderGraph, files } = checkLayers(src);
  if (process.argv.includes('--graph')) {
    for (const [from, tos] of [...folderGraph].sort()) console.log(`${from} -> ${[...tos].sort().join(', ')}`);
  }
  if (problems.length) {
    for (const p of problems) console.error(p);
    console.error(`${problems.length} layer problem(s); rule: ${LAYERS.map((l) => l.join(' | ')).join(' -> ')}`);
    process.exit(1);
  }
  console.log(`layers ok: ${files} files, no upward import, no cycle (${LAYERS.map((l) => l.join(' | ')).join(' -> ')})`);
}
