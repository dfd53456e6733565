/**
 * Escaping of text that goes into log lines. Clients choose user names, version strings, request
 * names, host names, file names and disconnect messages; printed raw, a newline forges a log line
 * and an ESC sequence rewrites the operator's terminal. OpenSSH runs every log message through
 * strnvis(3) for the same reason (log.c); this is the one function the daemon uses at its log
 * boundary (the `Log`, `Error`, `SSHStatus` and `Disconnected` texts).
 */

/**
 * What is escaped: C0 and C1 controls and DEL (\p{Cc}), lone UTF-16 surrogates (\p{Cs}, e.g. file
 * names decoded with surrogateescape), the line and paragraph separators, bidirectional and
 * zero-width format characters (which reorder or hide what follows, "Trojan Source"), the BOM, and
 * the backslash itself so that an escape in the output is never ambiguous with a client's text.
 */
const UNSAFE_CLASS = '[\\p{Cc}\\p{Cs}\\u061C\\u200B-\\u200F\\u2028-\\u202E\\u2060-\\u2069\\uFEFF\\\\]';
const UNSAFE = new RegExp(UNSAFE_CLASS, 'u');
const UNSAFE_ALL = new RegExp(UNSAFE_CLASS, 'gu');
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

function escapeOne(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Returns `text` safe for one log line: newline, carriage return and tab as `\n`, `\r`, `\t`, the
 * backslash as `\\`, other control bytes as `\xHH`, the unsafe Unicode format characters as
 * `\uHHHH`; printable text (any script) is unchanged. The daemon applies it to its own log
 * lines; use it when your handlers log what a client sent (`e.user`, `e.params`, a path).
 *
 * ```ts
 * escapeLogText("root\n[1] user 'admin' authenticated\x1b[2K"); // "root\\n[1] user 'admin' authenticated\\x1b[2K"
 * ```
 */
export function escapeLogText(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, escapeOne) : text;
}
