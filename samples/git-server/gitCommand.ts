/**
 * The command a git client sends in its `exec` request, read the way a git host reads it.
 *
 * `git clone ssh://host/team/app.git` makes the client run `ssh host "git-upload-pack '/team/app.git'"`:
 * the program, then the path as git's `sq_quote` writes it (single quotes; a `'` inside becomes
 * `'\''`, a `!` becomes `'\!'`). Other clients quote differently (libgit2 and go-git used double
 * quotes, dulwich and Got send bare paths, Git for Windows 2.14 sent `git upload-pack`), and a server
 * that matched git's form with a regular expression broke them (libgit2/git2go#852, gitea#12471).
 * So the command is split as a POSIX shell splits words, but nothing a shell would expand or run
 * (`$`, backquotes, `;`, `|`, globs...) is accepted unquoted: no shell ever runs here.
 *
 * Then the rules git hosts learned the hard way:
 * - exactly one argument after the program, never starting with `-`: `git-upload-pack --help` started
 *   a pager with a shell escape through git-shell (CVE-2017-8386), and extra arguments are options;
 * - one leading `/` is dropped (`ssh://host/app.git` sends `/app.git`; scp-style `host:app.git`
 *   sends `app.git`), quoted or not (gitea#12471 dropped it only when quoted);
 * - `~/` is the user's home, which here is the repository folder; `~other/` is refused;
 * - no `.` or `..` segment, no segment starting with `.`, no backslash or control character: the
 *   name never walks out of the folder (Soft Serve CVE-2025-22130: `../` reached other users'
 *   repositories);
 * - a trailing `.git` is optional: `app` and `app.git` are the same repository.
 */

/** The three programs served, and the right each needs. */
export const GIT_SERVICES = {
  'git-upload-pack': 'read', // clone, fetch, pull
  'git-receive-pack': 'write', // push
  'git-upload-archive': 'read', // git archive --remote
} as const;

export type GitService = keyof typeof GIT_SERVICES;

/** A refusal whose message is meant for the git client (it shows it to the user as `fatal: ...`). */
export class GitCommandError extends Error {}

export interface GitCommand {
  service: GitService;
  /** The repository's name in the store: segments joined by `/`, without `.git`. */
  repository: string;
}

const MAX_COMMAND = 4096;
const MAX_NAME = 255;
/** Characters a shell would treat as syntax when unquoted; none belongs in a git command. */
const SHELL_SYNTAX = new Set([...';&|<>()$`*?[]{}#!"\'\\~']);
const SPACE = new Set([' ', '\t']);
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Splits a command into words as a POSIX shell would: blanks separate words, `'...'` is literal,
 * `"..."` is literal but for `\"`, `\\`, `\$` and `` \` ``, and `\x` outside quotes is `x`. Refuses
 * (GitCommandError) what would need a shell: unquoted syntax characters, `$` or a backquote inside
 * double quotes, control characters, unterminated quotes.
 */
export function splitWords(command: string): string[] {
  if (command.length > MAX_COMMAND) throw new GitCommandError('command too long');
  if (CONTROL.test(command.replace(/\t/g, ' '))) throw new GitCommandError('control characters are not allowed in a command');
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const take = (s: string) => (word = (word ?? '') + s);
  while (i < command.length) {
    const c = command[i++];
    if (SPACE.has(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = command.indexOf("'", i);
      if (end < 0) throw new GitCommandError('unterminated quote in command');
      take(command.slice(i, end));
      i = end + 1;
    } else if (c === '"') {
      take('');
      for (;;) {
        if (i >= command.length) throw new GitCommandError('unterminated quote in command');
        const d = command[i++];
        if (d === '"') break;
        if (d === '$' || d === '`') throw new GitCommandError(`'${d}' is not allowed in a command`);
        if (d === '\\' && i < command.length && '"\\$`'.includes(command[i])) take(command[i++]);
        else take(d);
      }
    } else if (c === '\\') {
      if (i >= command.length) throw new GitCommandError('trailing backslash in command');
      take(command[i++]);
    } else if (SHELL_SYNTAX.has(c) && !(c === '~' && word === undefined)) {
      throw new GitCommandError(`'${c}' is not allowed unquoted in a command`);
    } else {
      take(c);
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

const isService = (name: string): name is GitService => Object.hasOwn(GIT_SERVICES, name);

/** Parses an exec command into the service and the repository name; GitCommandError says why not. */
export function parseGitCommand(command: string): GitCommand {
  let words = splitWords(command);
  // Git for Windows 2.14 sent `git upload-pack 'x'` (gitlab-shell accepts both forms).
  if (words.length > 1 && words[0] === 'git') words = [`git-${words[1]}`, ...words.slice(2)];
  const [program, ...args] = words;
  if (program === undefined) throw new GitCommandError('no command given');
  if (!isService(program)) {
    throw new GitCommandError(`'${printable(program)}' is not allowed here; only ${Object.keys(GIT_SERVICES).join(', ')} are served`);
  }
  if (args.length !== 1) throw new GitCommandError(`${program} takes exactly one argument, the repository`);
  return { service: program, repository: repositoryName(args[0]) };
}

/**
 * The store's name for the path a client asked for: one leading `/` and `~/` dropped, a trailing
 * `/` and `.git` dropped, every segment checked. GitCommandError for a path that cannot name a
 * repository inside the folder.
 */
export function repositoryName(path: string): string {
  if (path.startsWith('-')) throw new GitCommandError('a repository path cannot start with "-"');
  let p = path.startsWith('/') ? path.slice(1) : path;
  if (p.startsWith('~/')) p = p.slice(2);
  else if (p.startsWith('~')) throw new GitCommandError('~user paths are not served; name the repository');
  if (p.endsWith('/')) p = p.slice(0, -1);
  if (p.endsWith('.git')) p = p.slice(0, -4);
  if (p === '') throw new GitCommandError('no repository named');
  if (p.length > MAX_NAME) throw new GitCommandError('repository name too long');
  for (const segment of p.split('/')) {
    if (segment === '' || segment === '.' || segment === '..')
      throw new GitCommandError(`invalid repository path '${printable(path)}': empty, '.' and '..' segments are not allowed`);
    if (segment.startsWith('.') || segment.startsWith('-'))
      throw new GitCommandError(`invalid repository path '${printable(path)}': a segment cannot start with '.' or '-'`);
    if (segment.includes('\\') || CONTROL.test(segment))
      throw new GitCommandError(`invalid repository path '${printable(path)}': no backslash or control characters`);
  }
  return p;
}

/** Client text made safe to echo back in a message: control characters escaped, length bounded. */
export function printable(text: string): string {
  const clipped = text.length > 80 ? `${text.slice(0, 80)}...` : text;
  return clipped.replace(new RegExp(CONTROL.source, 'g'), (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
