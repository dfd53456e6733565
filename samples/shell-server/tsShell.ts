/**
 * A shell written in TypeScript: a line editor for terminal input and a few commands over a small
 * virtual directory tree. Nothing here touches the server's real filesystem or processes.
 *
 * Line editing (with a pty): Left/Right, Home/End (also ^A/^E), Backspace, Delete, ^U (erase line),
 * ^K (erase to end), ^W (erase word), Up/Down (history), ^C (cancel line), ^L (clear), ^D (exit on an
 * empty line). Without a pty, input is read line by line and nothing is echoed.
 */

export interface ShellIO {
  write(text: string): void;
  exit(code: number): void;
}

export interface ShellInfo {
  user: string;
  /** Present when the client asked for a pty. */
  terminal?: { term: string; cols: number; rows: number };
}

/** The virtual tree: directories are objects, files are strings. */
type Node = string | { [name: string]: Node };
const TREE: Node = {
  home: { guest: { 'notes.txt': 'Remember: this shell is written in TypeScript.\n' } },
  etc: { motd: 'Welcome to the sshdaemon TypeScript shell.\n', hostname: 'sample\n' },
  tmp: {},
};

interface Result {
  output: string;
  code: number;
  exit?: boolean;
}

export class TsShell {
  private line = '';
  private cursor = 0;
  private readonly history: string[] = [];
  private historyIndex = 0;
  private cwd: string[] = [];
  private closed = false;
  private lastCode = 0;
  /** Bytes of an escape sequence still arriving (arrow keys come as ESC [ C, possibly split). */
  private escape = '';
  private lastWasCR = false;

  constructor(
    private readonly io: ShellIO,
    private readonly info: ShellInfo,
  ) {}

  private get nl(): string {
    return this.info.terminal ? '\r\n' : '\n';
  }

  private get prompt(): string {
    return `${this.info.user}:/${this.cwd.join('/')}$ `;
  }

  start(): void {
    this.io.write(`${(TREE as Record<string, Record<string, string>>).etc.motd.trimEnd()} Type 'help'.${this.nl}${this.prompt}`);
  }

  resize(cols: number, rows: number): void {
    if (this.info.terminal) this.info.terminal = { ...this.info.terminal, cols, rows };
  }

  /** The client closed its input: end like a shell reading end of file. */
  end(): void {
    if (!this.closed) this.finish(this.lastCode);
  }

  /** One command line without a terminal (`ssh host 'command'`). */
  execute(text: string): { output: string; code: number } {
    const r = this.run(text);
    return { output: r.output, code: r.code };
  }

  input(data: Buffer): void {
    for (const ch of data.toString('utf8')) {
      if (this.closed) return;
      if (this.escape || ch === '\x1b') {
        this.escape += ch;
        // ESC [ ... final byte, ESC O x, or ESC plus one other character (Alt+key: ignored).
        const e = this.escape;
        const complete = e.length >= 3 ? /[A-Za-z~]$/.test(e) : e.length === 2 && e[1] !== '[' && e[1] !== 'O';
        if (complete) {
          this.key(this.escape);
          this.escape = '';
        }
        continue;
      }
      const wasCR = this.lastWasCR;
      this.lastWasCR = ch === '\r';
      if (ch === '\n' && wasCR) continue; // CR LF is one Enter
      this.key(ch);
    }
  }

  private key(k: string): void {
    const echo = this.info.terminal !== undefined;
    switch (k) {
      case '\r':
      case '\n': {
        if (echo) this.io.write('\r\n');
        const text = this.line;
        this.line = '';
        this.cursor = 0;
        if (text.trim()) this.history.push(text);
        this.historyIndex = this.history.length;
        const r = this.run(text);
        this.lastCode = r.code;
        this.io.write(r.output.replace(/\n/g, this.nl));
        if (r.exit) return this.finish(r.code);
        return this.io.write(this.prompt);
      }
      case '\x7f':
      case '\b':
        if (this.cursor > 0) this.edit(this.line.slice(0, this.cursor - 1) + this.line.slice(this.cursor), this.cursor - 1);
        return;
      case '\x1b[3~':
        return this.edit(this.line.slice(0, this.cursor) + this.line.slice(this.cursor + 1), this.cursor);
      case '\x1b[D':
        return this.edit(this.line, Math.max(0, this.cursor - 1));
      case '\x1b[C':
        return this.edit(this.line, Math.min(this.line.length, this.cursor + 1));
      case '\x01':
      case '\x1b[H':
      case '\x1bOH':
        return this.edit(this.line, 0);
      case '\x05':
      case '\x1b[F':
      case '\x1bOF':
        return this.edit(this.line, this.line.length);
      case '\x15':
        return this.edit('', 0);
      case '\x0b':
        return this.edit(this.line.slice(0, this.cursor), this.cursor);
      case '\x17': {
        const start = this.line.slice(0, this.cursor).replace(/\S+\s*$/, '').length;
        return this.edit(this.line.slice(0, start) + this.line.slice(this.cursor), start);
      }
      case '\x1b[A':
      case '\x1b[B': {
        const i = Math.min(this.history.length, Math.max(0, this.historyIndex + (k === '\x1b[A' ? -1 : 1)));
        this.historyIndex = i;
        const text = this.history[i] ?? '';
        return this.edit(text, text.length);
      }
      case '\x03':
        this.line = '';
        this.cursor = 0;
        return this.io.write(`^C${this.nl}${this.prompt}`);
      case '\x0c':
        return this.io.write(`\x1b[H\x1b[2J${this.prompt}${this.line}`);
      case '\x04':
        if (this.line === '') this.finish(this.lastCode);
        return;
      default:
        if (k.length === 1 && k >= ' ') this.edit(this.line.slice(0, this.cursor) + k + this.line.slice(this.cursor), this.cursor + 1);
    }
  }

  /** Replaces the line and redraws it: back to column 0, prompt, text, clear the rest, cursor back. */
  private edit(line: string, cursor: number): void {
    this.line = line;
    this.cursor = cursor;
    if (!this.info.terminal) return;
    const back = line.length - cursor;
    this.io.write(`\r${this.prompt}${line}\x1b[K${back > 0 ? `\x1b[${back}D` : ''}`);
  }

  private finish(code: number): void {
    this.closed = true;
    this.io.exit(code);
  }

  // ---- commands ------------------------------------------------------------

  private resolve(path: string | undefined): string[] {
    const parts = path?.startsWith('/') ? [] : [...this.cwd];
    for (const p of (path ?? '').split('/')) {
      if (p === '' || p === '.') continue;
      if (p === '..') parts.pop();
      else parts.push(p);
    }
    return parts;
  }

  private lookup(parts: string[]): Node | undefined {
    let node: Node | undefined = TREE;
    for (const p of parts) node = typeof node === 'object' && Object.hasOwn(node, p) ? node[p] : undefined;
    return node;
  }

  private run(text: string): Result {
    const [name, ...args] = text.trim().split(/\s+/);
    const ok = (output: string): Result => ({ output: output && !output.endsWith('\n') ? `${output}\n` : output, code: 0 });
    const fail = (output: string, code = 1): Result => ({ output: `${output}\n`, code });
    switch (name) {
      case '':
        return { output: '', code: this.lastCode };
      case 'help':
        return ok('commands: help, echo TEXT, pwd, cd DIR, ls [DIR], cat FILE, whoami, term, status, exit [N]');
      case 'echo':
        return ok(args.join(' '));
      case 'whoami':
        return ok(this.info.user);
      case 'pwd':
        return ok(`/${this.cwd.join('/')}`);
      case 'term': {
        const t = this.info.terminal;
        return ok(t ? `${t.term} ${t.cols}x${t.rows}` : 'no terminal');
      }
      case 'status':
        return ok(String(this.lastCode));
      case 'cd': {
        const parts = this.resolve(args[0] ?? '/');
        if (typeof this.lookup(parts) !== 'object') return fail(`cd: ${args[0]}: no such directory`);
        this.cwd = parts;
        return ok('');
      }
      case 'ls': {
        const node = this.lookup(this.resolve(args[0]));
        if (node === undefined) return fail(`ls: ${args[0]}: no such file or directory`, 2);
        if (typeof node === 'string') return ok(args[0]!);
        return ok(
          Object.entries(node)
            .map(([n, v]) => (typeof v === 'object' ? `${n}/` : n))
            .join('  '),
        );
      }
      case 'cat': {
        const node = args[0] ? this.lookup(this.resolve(args[0])) : undefined;
        if (typeof node !== 'string') return fail(`cat: ${args[0] ?? ''}: not a file`);
        return ok(node);
      }
      case 'exit': {
        const code = args[0] === undefined ? this.lastCode : Number(args[0]);
        if (!Number.isInteger(code) || code < 0 || code > 255) return fail(`exit: ${args[0]}: numeric argument from 0 to 255 required`, 2);
        return { output: '', code, exit: true };
      }
      default:
        return fail(`${name}: command not found`, 127);
    }
  }
}
