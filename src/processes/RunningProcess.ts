import type { Readable, Writable } from 'node:stream';

/** What to start: the program, its argv and environment (nothing else is inherited), its folder. */
export interface ProcessLaunch {
  readonly file: string;
  readonly args: readonly string[];
  /** argv[0] when it differs from `file` (a login shell's `-bash`); not possible in a pty. */
  readonly argv0?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

/** How a program ended: an exit code, a signal, or a failure to start it. */
export interface ProcessEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | number | null;
  /** The program could not be started (spawn failed). */
  readonly error?: Error;
}

/** A started program, with pipes or a pseudo-terminal. */
export interface RunningProcess {
  /** Its pid, which also names its session and process group (0 if it did not start). */
  readonly pid: number;
  /** Its standard input (the terminal's input with a pty). */
  readonly stdin: Writable;
  /** Its standard output (everything written to the terminal with a pty), ending once nothing can write to it any more. */
  readonly stdout: Readable;
  /** Its standard error, separate only without a pty. */
  readonly stderr?: Readable;
  /** Settles when the program itself has exited (output may still be arriving). */
  readonly exited: Promise<ProcessEnd>;
  /** A terminal's new size (pty only). */
  resize?(cols: number, rows: number): void;
  /** Closes our ends of its pipes or terminal. */
  release(): void;
}
