/**
 * The words of an `exec` command line as a POSIX shell splits them, without running a shell.
 *
 * sshd hands `scp -t PATH` to the user's shell, so clients rely on shell quoting (`'my file'`,
 * `my\ file`, `"a b"`), on the shell's globbing for downloads (`scp host:'*.log' .`) and on `~`.
 * This module does the same splitting and quote removal, keeps which glob characters were quoted,
 * and refuses what only a real shell could run (`;`, `|`, `$VAR`, backquotes, redirections): the
 * daemon starts no shell, so nothing in the command is ever executed.
 */

/** One word after quote removal. */
export interface ShellWord {
  /** The word's value with quotes removed (names as bytes: see decodeFileName). */
  text: string;
  /**
   * The word as an fnmatch pattern (quoted `*?[\` escaped with `\`), present only when it holds an
   * unquoted glob character, i.e. when a shell would expand it.
   */
  pattern?: string;
  /**
   * Set when the word starts with an unquoted `~`: the login name after it ('' for `~` alone).
   * `text` and `pattern` then hold the rest of the word (from its first `/`, or '').
   */
  tilde?: string;
}

/** A command line a shell would run differently from a plain word list (operators, expansions). */
export class ShellSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellSyntaxError';
  }
}

const BLANK = new Set([' ', '\t', '\n']);
/** Unquoted, these make the line more than a simple command. */
const OPERATORS = new Set(['|', '&', ';', '<', '>', '(', ')']);
const GLOB = new Set(['*', '?', '[']);
/** Characters a `\` escapes in a pattern so that fnmatch reads them literally. */
const PATTERN_SPECIAL = new Set(['*', '?', '[', ']', '\\']);
/** Inside double quotes, `\` escapes only these (POSIX 2.2.3). */
const DQUOTE_ESCAPABLE = new Set(['$', '`', '"', '\\', '\n']);

class WordBuilder {
  text = '';
  pattern = '';
  glob = false;
  started = false;

  literal(c: string): void {
    this.started = true;
    this.text += c;
    this.pattern += PATTERN_SPECIAL.has(c) ? `\\${c}` : c;
  }

  unquoted(c: string): void {
    this.started = true;
    this.text += c;
    if (GLOB.has(c)) {
      this.glob = true;
      this.pattern += c;
    } else {
      this.pattern += c === ']' ? ']' : PATTERN_SPECIAL.has(c) ? `\\${c}` : c;
    }
  }
}

/**
 * Splits a command line into words as `sh -c` would (quotes, backslashes, comments, `~`).
 * @throws ShellSyntaxError for operators (`; | & < > ( )`), `$` and backquote expansions, and unterminated quotes
 */
export function splitShellWords(line: string): ShellWord[] {
  const words: ShellWord[] = [];
  let w = new WordBuilder();
  let tilde: string | undefined;
  const finish = (): void => {
    if (!w.started) return;
    const word: ShellWord = { text: w.text };
    if (w.glob) word.pattern = w.pattern;
    if (tilde !== undefined) word.tilde = tilde;
    words.push(word);
    w = new WordBuilder();
    tilde = undefined;
  };
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (BLANK.has(c)) {
      finish();
      i++;
    } else if (c === '#' && !w.started) {
      break; // a comment runs to the end of the line
    } else if (c === '~' && !w.started) {
      // Tilde prefix: up to the first unquoted '/', expanded only when it holds plain characters.
      let j = i + 1;
      while (j < line.length && /[A-Za-z0-9._-]/.test(line[j])) j++;
      if (j === line.length || line[j] === '/' || BLANK.has(line[j])) {
        tilde = line.slice(i + 1, j);
        w.started = true;
        i = j;
      } else {
        w.unquoted(c);
        i++;
      }
    } else if (c === '\\') {
      const next = line[i + 1];
      if (next === undefined) {
        w.literal('\\');
        i++;
      } else if (next === '\n') {
        i += 2; // line continuation
      } else {
        w.literal(next);
        i += 2;
      }
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ShellSyntaxError('unterminated single quote');
      w.started = true;
      for (const ch of line.slice(i + 1, end)) w.literal(ch);
      i = end + 1;
    } else if (c === '"') {
      w.started = true;
      let j = i + 1;
      for (;;) {
        if (j >= line.length) throw new ShellSyntaxError('unterminated double quote');
        const d = line[j];
        if (d === '"') break;
        if (d === '$' || d === '`') throw new ShellSyntaxError(`'${d}' expansions are not supported (no shell runs the command)`);
        if (d === '\\' && j + 1 < line.length && DQUOTE_ESCAPABLE.has(line[j + 1])) {
          if (line[j + 1] !== '\n') w.literal(line[j + 1]);
          j += 2;
          continue;
        }
        w.literal(d);
        j++;
      }
      i = j + 1;
    } else if (OPERATORS.has(c)) {
      throw new ShellSyntaxError(`'${c}' is not supported (no shell runs the command)`);
    } else if (c === '$' || c === '`') {
      throw new ShellSyntaxError(`'${c}' expansions are not supported (no shell runs the command)`);
    } else {
      w.unquoted(c);
      i++;
    }
  }
  finish();
  return words;
}
