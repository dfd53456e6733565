/**
 * The demo's shell: a line editor for terminal input (characters arrive one by one, Enter is CR,
 * Backspace is DEL) and a few commands. Without a pty, input lines are read the same way and the
 * echo is left out, as a real shell would.
 */
export interface ShellIO {
  write(text: string): void;
  exit(code: number): void;
}

export interface ShellContext {
  user: string;
  remote: string;
  terminal?: { term: string; cols: number; rows: number };
}

type Command = (args: string[], ctx: ShellContext) => string | number;

/** Longest input line, as a terminal's canonical mode (N_TTY_BUF_SIZE 4096): further characters are dropped. */
export const MAX_LINE = 4095;

/** A Map, not an object: a typed name such as `__proto__` or `valueOf` must not find Object.prototype's members. */
const COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
  ['help', () => 'commands: help, whoami, date, echo TEXT, term, uptime, exit [N]'],
  ['whoami', (_a, ctx) => ctx.user],
  ['date', () => new Date().toISOString()],
  ['echo', (args) => args.join(' ')],
  ['term', (_a, ctx) => (ctx.terminal ? `${ctx.terminal.term} ${ctx.terminal.cols}x${ctx.terminal.rows}` : 'no terminal')],
  ['uptime', () => `server up ${Math.round(process.uptime())} s`],
  ['exit', (args) => Number(args[0] ?? 0) || 0],
]);

/** Runs a command; one that throws prints its message (as a shell builtin failing) rather than taking the shell down. */
function runCommand(command: Command, name: string, args: string[], ctx: ShellContext): { text: string; failed: boolean } {
  try {
    return { text: String(command(args, ctx)), failed: false };
  } catch (err) {
    return { text: `${name}: ${err instanceof Error ? err.message : String(err)}`, failed: true };
  }
}

export class DemoShell {
  private line = '';
  private closed = false;
  private lastWasCR = false;

  constructor(
    private io: ShellIO,
    private readonly ctx: ShellContext,
  ) {}

  private get nl(): string {
    return this.ctx.terminal ? '\r\n' : '\n';
  }

  start(): void {
    this.io.write(`Welcome to the sshdaemon demo, ${this.ctx.user}. Type 'help'; 'exit' quits.${this.nl}$ `);
  }

  resize(cols: number, rows: number): void {
    if (this.ctx.terminal) this.ctx.terminal = { ...this.ctx.terminal, cols, rows };
  }

  /** Handles one chunk of input; what it prints goes out in one write. */
  input(data: Buffer): void {
    const io = this.io;
    let out = '';
    let exitCode: number | undefined;
    this.io = { write: (text) => void (out += text), exit: (code) => void (exitCode = code) };
    try {
      this.handle(data);
    } finally {
      this.io = io;
    }
    if (out) io.write(out);
    if (exitCode !== undefined) io.exit(exitCode);
  }

  private handle(data: Buffer): void {
    const echo = this.ctx.terminal !== undefined;
    for (const ch of data.toString('utf8')) {
      if (this.closed) return;
      const wasCR = this.lastWasCR;
      this.lastWasCR = ch === '\r';
      if (ch === '\n' && wasCR) continue; // CR LF is one Enter
      if (ch === '\r' || ch === '\n') {
        if (echo) this.io.write('\r\n');
        this.run(this.line);
        this.line = '';
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, this.line.length - (/[\uDC00-\uDFFF]$/.test(this.line) ? 2 : 1));
          if (echo) this.io.write('\b \b');
        }
      } else if (ch === '\x03') {
        this.line = '';
        this.io.write(`^C${this.nl}$ `);
      } else if (ch === '\x04') {
        if (this.line === '') return this.finish(0);
      } else if (ch >= ' ' && this.line.length < MAX_LINE) {
        this.line += ch;
        if (echo) this.io.write(ch);
      }
    }
  }

  /** Runs one command line without a terminal, as for `ssh host 'command'`. */
  static execute(text: string, ctx: ShellContext): { output: string; code: number } {
    const [name, ...args] = text.trim().split(/\s+/);
    const command = COMMANDS.get(name);
    if (!command) return { output: `${name}: command not found\n`, code: 127 };
    const result = runCommand(command, name, args, ctx);
    if (result.failed) return { output: `${result.text}\n`, code: 1 };
    return name === 'exit' ? { output: '', code: Number(result.text) } : { output: `${result.text}\n`, code: 0 };
  }

  /** The client closed its input (EOF): end like a shell reading end of file. */
  end(): void {
    if (!this.closed) this.finish(0);
  }

  private run(text: string): void {
    const [name, ...args] = text.trim().split(/\s+/);
    if (!name) return this.io.write('$ ');
    const command = COMMANDS.get(name);
    if (!command) return this.io.write(`${name}: command not found${this.nl}$ `);
    const result = runCommand(command, name, args, this.ctx);
    if (name === 'exit' && !result.failed) return this.finish(Number(result.text));
    this.io.write(`${result.text}${this.nl}$ `);
  }

  private finish(code: number): void {
    this.closed = true;
    this.io.write(`bye${this.nl}`);
    this.io.exit(code);
  }
}
