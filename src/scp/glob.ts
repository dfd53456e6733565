/**
 * Pathname expansion of `scp -f` arguments, as the remote shell does for OpenSSH's scp
 * (`scp host:'logs/*.txt' .`): fnmatch patterns (`*`, `?`, `[...]`, `\` escapes) per path
 * component, a leading `.` matched only explicitly, `.` and `..` never matched (bash's
 * globskipdots), matches sorted bytewise, and a pattern that matches nothing left as it is.
 */
import type { SFTPFileSystem } from '../sftp/FileSystem';
import { encodeFileName } from '../sftp/fileNames';
import { childPath } from './context';
import { ANY_ONE, literalToken, matchWildcards, STAR, type WildcardToken } from '../policy/glob';

/** Matches kept per pattern component; a shell has no such limit, a server's memory has. */
export const MAX_GLOB_MATCHES = 10_000;

/** A pattern matched more names than {@link MAX_GLOB_MATCHES}. */
export class GlobLimitError extends Error {
  constructor() {
    super(`too many matches (more than ${MAX_GLOB_MATCHES})`);
    this.name = 'GlobLimitError';
  }
}

const CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  cntrl: '\\x00-\\x1f\\x7f',
  print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e',
};

const escapeInClass = (c: string): string => c.replace(/[\\\]\[^-]/g, '\\$&');

/** Whether a pattern holds an unescaped `*`, `?` or `[`. */
export function hasGlob(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === '*' || pattern[i] === '?' || pattern[i] === '[') return true;
  }
  return false;
}

/** The literal a pattern without glob characters stands for (escapes removed). */
export function unescapePattern(pattern: string): string {
  return pattern.replace(/\\(.)/gsu, '$1');
}

/** The bracket expression at `start` (just past `[`) as a RegExp class, or undefined when it is not closed. */
function bracket(pattern: string, start: number): { re: string; end: number } | undefined {
  let i = start;
  let negate = false;
  if (pattern[i] === '!' || pattern[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  for (; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === ']' && !first) return { re: `[${negate ? '^' : ''}${body}]`, end: i + 1 };
    first = false;
    if (c === '[' && pattern[i + 1] === ':') {
      const close = pattern.indexOf(':]', i + 2);
      const name = close > 0 ? pattern.slice(i + 2, close) : '';
      const cls = Object.hasOwn(CLASSES, name) ? CLASSES[name] : undefined; // the client's name: `[:constructor:]` is no class
      if (cls) {
        body += cls;
        i = close + 1;
        continue;
      }
    }
    if (c === '\\' && i + 1 < pattern.length) {
      body += escapeInClass(pattern[++i]);
      continue;
    }
    if (c === '-' && body && pattern[i + 1] !== ']' && i + 1 < pattern.length) {
      body += '-';
      continue;
    }
    body += escapeInClass(c);
  }
  return undefined;
}

/** A compiled fnmatch(3) pattern for one name; see {@link compilePattern}. */
export interface NamePattern {
  /** Whether `name` matches (FNM_PERIOD: a leading `.` only matches a literal `.`). */
  test(name: string): boolean;
}

/**
 * Compiles an fnmatch(3) pattern for one name (`*`, `?`, `[...]` with ranges, negation and POSIX
 * classes, `\` escapes), matched without backtracking ({@link matchWildcards}): a RegExp with `.*`
 * per star froze the event loop on `*a*a*a*a*a*b`.
 */
export function compilePattern(pattern: string): NamePattern {
  const tokens: WildcardToken[] = [];
  const text = pattern;
  for (let i = 0; i < text.length;) {
    const c = String.fromCodePoint(text.codePointAt(i)!);
    if (c === '\\' && i + 1 < text.length) {
      const next = String.fromCodePoint(text.codePointAt(i + 1)!);
      tokens.push(literalToken(next));
      i += 1 + next.length;
    } else if (c === '*') {
      if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push(STAR);
      i++;
    } else if (c === '?') {
      tokens.push(ANY_ONE);
      i++;
    } else if (c === '[') {
      const b = bracket(text, i + 1);
      if (b) {
        // One character against one class: a RegExp without quantifiers cannot backtrack.
        const re = new RegExp(`^${b.re}$`, 'su');
        tokens.push({ kind: 'one', test: (ch) => re.test(ch) });
        i = b.end;
      } else {
        tokens.push(literalToken('['));
        i++;
      }
    } else {
      tokens.push(literalToken(c));
      i += c.length;
    }
  }
  const leadingDotExplicit = pattern.startsWith('.') || pattern.startsWith('\\.');
  return {
    test(name: string): boolean {
      if (name.startsWith('.') && !leadingDotExplicit) return false;
      return matchWildcards(tokens, Array.from(name));
    },
  };
}

const byBytes = (a: string, b: string): number => Buffer.compare(encodeFileName(a), encodeFileName(b));

/** Appends a literal component lexically: `.` stays, `..` climbs but never above `/` (as a chroot). */
function appendLiteral(dir: string, name: string): string {
  if (name === '' || name === '.') return dir;
  if (name === '..') return dir === '/' ? '/' : dir.slice(0, dir.lastIndexOf('/')) || '/';
  return childPath(dir, name);
}

async function namesMatching(fs: SFTPFileSystem, dir: string, pattern: string): Promise<string[]> {
  const matcher = compilePattern(pattern);
  const out: string[] = [];
  let handle;
  try {
    handle = await fs.opendir(dir);
  } catch {
    return out; // an unreadable or missing directory matches nothing, as in a shell
  }
  try {
    for (let batch = await handle.next(); batch; batch = await handle.next()) {
      for (const e of batch) {
        if (e.filename === '.' || e.filename === '..' || !matcher.test(e.filename)) continue;
        if (out.length >= MAX_GLOB_MATCHES) throw new GlobLimitError();
        out.push(e.filename);
      }
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
  return out.sort(byBytes);
}

async function isDirectory(fs: SFTPFileSystem, path: string): Promise<boolean> {
  try {
    const a = await fs.stat(path);
    return a.mode !== undefined && (a.mode & 0o170000) === 0o040000;
  } catch {
    return false;
  }
}

/** One expansion: the virtual path, and the name as a shell would have passed it (for messages). */
export interface GlobMatch {
  path: string;
  shown: string;
}

const joinShown = (shown: string, name: string): string => (shown === '' ? name : shown.endsWith('/') ? shown + name : `${shown}/${name}`);

/**
 * The virtual paths a glob pattern names, relative patterns starting at `base`, in shell order.
 * Empty when nothing matches (the caller then uses the word as it is, as a shell does).
 * @throws GlobLimitError past {@link MAX_GLOB_MATCHES} matches in one directory
 */
export async function* expandPattern(fs: SFTPFileSystem, base: string, pattern: string): AsyncGenerator<GlobMatch> {
  const parts = pattern.split('/');
  const absolute = pattern.startsWith('/');
  yield* walk(
    fs,
    { path: absolute ? '/' : base, shown: absolute ? '/' : '' },
    parts.filter((p, i) => p !== '' || i === parts.length - 1),
    0,
  );
}

async function* walk(fs: SFTPFileSystem, at: GlobMatch, parts: string[], index: number): AsyncGenerator<GlobMatch> {
  if (index === parts.length) {
    yield at;
    return;
  }
  const part = parts[index];
  const last = index === parts.length - 1;
  if (!hasGlob(part)) {
    const literal = unescapePattern(part);
    const next = { path: appendLiteral(at.path, literal), shown: literal === '' ? at.shown : joinShown(at.shown, literal) };
    if (last || (await isDirectory(fs, next.path))) yield* walk(fs, next, parts, index + 1);
    return;
  }
  for (const name of await namesMatching(fs, at.path, part)) {
    const next = { path: childPath(at.path, name), shown: joinShown(at.shown, name) };
    if (last) yield next;
    else if (await isDirectory(fs, next.path)) yield* walk(fs, next, parts, index + 1);
  }
}
