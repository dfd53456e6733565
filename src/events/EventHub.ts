import { TypedEmitter } from 'tiny-typed-emitter';
import { type ErrorCode, ErrorCodes } from '../errors/SSHDaemonError';
import { publish } from '../observability/diagnostics';
import { escapeLogText } from '../observability/logText';
import type { DecisionEventName, EventArgs, SSHDaemonEvents } from './events';

/** 1 info, 2 verbose, 3 debug. */
export type LogLevel = 1 | 2 | 3;
const LOG_TYPES = ['None', 'Info', 'Verbose', 'Debug'] as const;

/**
 * Notification events whose text field is meant for people and may quote the client (its
 * identification line, its DISCONNECT message): escaped like log lines. `Log` and `Error` are
 * escaped in log() and error().
 */
const HUMAN_TEXT: Partial<Record<keyof SSHDaemonEvents, string>> = { SSHStatus: 'message', Disconnected: 'description' };

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Fires the daemon's events. A listener that throws never reaches the protocol code: it becomes an
 * `Error` event. Decision events wait for listeners that return a Promise.
 */
export class EventHub extends TypedEmitter<SSHDaemonEvents> {
  /** @internal The current `LogLevel` setting. */
  logLevel: () => number = () => 1;
  /** Milliseconds an asynchronous decision may take before it counts as a refusal; 0 = no limit. */
  decisionTimeout: () => number = () => 0;
  /**
   * Each event's listeners as of the last change, taken once per change instead of once per event
   * (`rawListeners()` copies the array on every call: an allocation per data packet). A snapshot is
   * never mutated, so a listener added or removed while an event runs takes effect from the next
   * event, as with `emit()`.
   */
  private readonly snapshots = new Map<string | symbol, readonly ((args: never) => unknown)[]>();

  constructor() {
    super();
    const changed = (name: string | symbol) => void this.snapshots.delete(name);
    this.on('newListener' as keyof SSHDaemonEvents, changed as never);
    this.on('removeListener' as keyof SSHDaemonEvents, changed as never);
  }

  private listenersOf(name: keyof SSHDaemonEvents): readonly ((args: never) => unknown)[] {
    let list = this.snapshots.get(name);
    if (!list) {
      list = this.rawListeners(name) as unknown as ((args: never) => unknown)[];
      this.snapshots.set(name, list);
    }
    return list;
  }

  /** @internal Fires a notification event; a throwing listener fires `Error` instead of propagating. */
  fire<E extends keyof SSHDaemonEvents>(name: E, args: EventArgs<E>): void {
    const field = HUMAN_TEXT[name];
    if (field) {
      const text = (args as unknown as Record<string, unknown>)[field];
      if (typeof text === 'string') args = { ...args, [field]: escapeLogText(text) };
    }
    const listeners = this.listenersOf(name);
    for (let i = 0; i < listeners.length; i++) {
      try {
        const r = (listeners[i] as (a: EventArgs<E>) => unknown).call(this, args);
        if (r instanceof Promise) r.catch((err) => this.listenerFailed(name, args, err));
      } catch (err) {
        this.listenerFailed(name, args, err);
      }
    }
  }

  /**
   * @internal
   * Fires a notification event whose asynchronous listeners the caller waits for (SSHChannelDataIn,
   * SSHChannelRequested): true when every listener completed, false when one threw; a Promise of that
   * when a listener returned one (a rejection also fires `Error` and settles as false). Synchronous
   * listeners cost no microtask.
   */
  fireAwaitable<E extends keyof SSHDaemonEvents>(name: E, args: EventArgs<E>): boolean | Promise<boolean> {
    let ok = true;
    let pending: Promise<unknown>[] | undefined;
    const listeners = this.listenersOf(name);
    for (let i = 0; i < listeners.length; i++) {
      try {
        const r = (listeners[i] as (a: EventArgs<E>) => unknown).call(this, args);
        if (r && typeof (r as Promise<unknown>).then === 'function') (pending ??= []).push(r as Promise<unknown>);
      } catch (err) {
        ok = false;
        this.listenerFailed(name, args, err);
      }
    }
    if (!pending) return ok;
    return Promise.allSettled(pending).then((results) => {
      for (const r of results) {
        if (r.status === 'rejected') {
          ok = false;
          this.listenerFailed(name, args, r.reason);
        }
      }
      return ok;
    });
  }

  /**
   * @internal
   * Runs the listeners of a decision event. Returns true when every listener completed, false when
   * one threw or rejected (the caller then refuses); a Promise of that when a listener was asynchronous.
   */
  decide<E extends DecisionEventName>(name: E, args: EventArgs<E>): boolean | Promise<boolean> {
    const pending: Promise<unknown>[] = [];
    let ok = true;
    for (const listener of this.rawListeners(name)) {
      try {
        const r = (listener as (a: EventArgs<E>) => unknown).call(this, args);
        if (r && typeof (r as Promise<unknown>).then === 'function') pending.push(r as Promise<unknown>);
      } catch (err) {
        ok = false;
        this.listenerFailed(name, args, err);
      }
    }
    if (pending.length === 0) return ok;
    const settled = Promise.allSettled(pending).then((results) => {
      for (const r of results) {
        if (r.status === 'rejected') {
          ok = false;
          this.listenerFailed(name, args, r.reason);
        }
      }
      return ok;
    });
    const limit = this.decisionTimeout();
    if (limit <= 0) return settled;
    // A handler that never settles must not hold the connection (and its memory) forever.
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        this.listenerFailed(name, args, new Error(`no decision within ${limit} ms (HandlerTimeout); refused`));
        resolve(false);
      }, limit);
      timer.unref();
    });
    return Promise.race([settled, expired]).finally(() => clearTimeout(timer));
  }

  /** @internal Fires `Error`; the description is escaped (it may quote the client). */
  error(connectionId: string, errorCode: ErrorCode, text: string): void {
    const description = escapeLogText(text);
    publish('error', () => ({ connectionId, errorCode, description }));
    if (this.listenerCount('Error') === 0) return;
    for (const listener of this.rawListeners('Error')) {
      try {
        listener.call(this, { connectionId, errorCode, description });
      } catch {
        // an Error listener that throws has nowhere left to report to
      }
    }
  }

  /** @internal Fires `Log` when `level` is within `LogLevel`; the message is escaped (it may quote the client). */
  log(connectionId: string, level: LogLevel, message: string): void {
    if (level > this.logLevel() || this.listenerCount('Log') === 0) return;
    this.fire('Log', { connectionId, logLevel: level, message: escapeLogText(message), logType: LOG_TYPES[level] });
  }

  private listenerFailed(name: string, args: unknown, err: unknown): void {
    const connectionId = (args as { connectionId?: string }).connectionId ?? '';
    if (name === 'Error') return;
    this.error(connectionId, ErrorCodes.HandlerFailed, `${name} handler failed: ${describe(err)}`);
  }
}

/** Continues with `then` synchronously when the decision was synchronous, keeping the fast path free of microtasks. */
export function afterDecision<T>(result: boolean | Promise<boolean>, then: (ok: boolean) => T): T | Promise<T> {
  return typeof result === 'boolean' ? then(result) : result.then(then);
}
