/** Small helpers the fuzz targets share to state a parser's contract. */
import { SSHDaemonError } from '../../../src/errors/SSHDaemonError';

/** A broken contract: thrown by a target, reported by Jazzer.js as a finding with the input saved. */
export class ContractViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractViolation';
  }
}

export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new ContractViolation(typeof message === 'string' ? message : message());
}

/**
 * Runs `fn`; an error that `documented` accepts is returned (the parser's documented refusal),
 * anything else (TypeError, RangeError, a bare Error from a dependency) is a contract violation.
 */
export function refusedOnly<T>(fn: () => T, documented: (err: unknown) => boolean, what: string): { value: T } | { error: unknown } {
  try {
    return { value: fn() };
  } catch (err) {
    if (err instanceof ContractViolation) throw err;
    if (!documented(err)) throw new ContractViolation(`${what} threw an undocumented ${describe(err)}`);
    return { error: err };
  }
}

export async function refusedOnlyAsync<T>(
  fn: () => Promise<T>,
  documented: (err: unknown) => boolean,
  what: string,
): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await fn() };
  } catch (err) {
    if (err instanceof ContractViolation) throw err;
    if (!documented(err)) throw new ContractViolation(`${what} threw an undocumented ${describe(err)}`);
    return { error: err };
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${err.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`;
  return `non-Error ${typeof err}: ${String(err)}`;
}

/** The daemon's own error with one of the given codes. */
export const daemonError =
  (...codes: number[]) =>
  (err: unknown) =>
    err instanceof SSHDaemonError && (codes.length === 0 || codes.includes(err.code));

/** Splits fuzz bytes into a control byte (choosing a mode) and the rest. */
export function split(data: Buffer): { mode: number; body: Buffer } {
  return { mode: data.length ? data[0] : 0, body: data.subarray(1) };
}
