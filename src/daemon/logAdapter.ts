/** Sends the daemon's `Log` and `Error` events to a logger your application already has. */
import type { SSHDaemon } from './SSHDaemon';
import type { ErrorEventArgs, LogEventArgs } from '../events/events';

/** pino, bunyan and the like: structured fields first, then the message. */
export interface StructuredLogger {
  /** Receives `Log` level 1. */
  info(fields: object, message: string): void;
  /** Receives `Log` levels 2 and 3. */
  debug(fields: object, message: string): void;
  /** Receives `Error` events. */
  error(fields: object, message: string): void;
  /** pino's `child`; its presence tells the adapter this is a structured logger. */
  child(bindings: object): unknown;
}

/** `console` and anything with `log` / `error` taking a line. */
export interface LineLogger {
  /** Receives `Log` lines. */
  log(line: string): void;
  /** Receives `Error` lines. */
  error(line: string): void;
}

const LEVEL_METHOD = { 1: 'info', 2: 'debug', 3: 'debug' } as const;

function isStructured(logger: StructuredLogger | LineLogger): logger is StructuredLogger {
  return typeof (logger as StructuredLogger).child === 'function';
}

/**
 * Forwards `Log` (levels 1-3 as info/debug) and `Error` events; returns a function that stops it.
 * Their texts arrive escaped (see {@link escapeLogText}): a client's user name cannot forge a line.
 * Lines for `console`: `[connectionId] message`. Fields for pino: `{ connectionId, logLevel }` or
 * `{ connectionId, errorCode }`.
 *
 * ```ts
 * attachLogger(daemon, pino());      // JSON lines
 * attachLogger(daemon, console);     // plain lines
 * ```
 */
export function attachLogger(daemon: SSHDaemon, logger: StructuredLogger | LineLogger): () => void {
  const onLog = isStructured(logger)
    ? (e: LogEventArgs) =>
        logger[LEVEL_METHOD[e.logLevel as 1 | 2 | 3] ?? 'info'](
          { connectionId: e.connectionId || undefined, logLevel: e.logLevel },
          e.message,
        )
    : (e: LogEventArgs) => logger.log(`[${e.connectionId || '-'}] ${e.message}`);
  const onError = isStructured(logger)
    ? (e: ErrorEventArgs) => logger.error({ connectionId: e.connectionId || undefined, errorCode: e.errorCode }, e.description)
    : (e: ErrorEventArgs) => logger.error(`[${e.connectionId || '-'}] error ${e.errorCode}: ${e.description}`);
  daemon.on('Log', onLog);
  daemon.on('Error', onError);
  return () => {
    daemon.off('Log', onLog);
    daemon.off('Error', onError);
  };
}
