/**
 * A connection's socket read into one reused buffer instead of a fresh ArrayBuffer per read.
 *
 * Node hands every socket read to JavaScript in a new ArrayBuffer (64 KiB at most). Under an upload
 * that is one ArrayBuffer per read, plus one per SSH packet that spans two reads (ssh2 assembles it), and V8 (Node 20's and later) counts ArrayBuffer memory allocated
 * since the last mark-compact against its old-generation limit: a process whose heap is past V8's
 * 8 MiB activation threshold then runs back-to-back mark-compacts, about doubling an SFTP upload's
 * CPU (bench/notes.md, "The upload regime"). With Node's `onread` user buffer (the same machinery
 * as `net.connect({ onread })`, attached to an accepted socket) the kernel writes into one buffer
 * that ssh2 parses in place, and nothing is allocated per read.
 *
 * The price is that every view of the read is overwritten by the next one, so everything that keeps
 * bytes beyond the parse must copy them. What this module does for ssh2: the decipher's pending
 * packet (ssh2 keeps a view of the read while a packet's MAC or tag has not arrived) is copied after
 * each read, and re-key KEXINIT payloads are copied by rekeyGate.ts. What callers must do: the
 * channel layer copies channel data for every consumer that does not copy what it keeps itself
 * (`copiesInput`), and channel-open and channel-request payloads are copied already
 * (ssh2Internals.ts `takePayload`). Only authenticated connections switch, and only for consumers
 * built for it (the SFTP session), so a mistake cannot reach authentication.
 *
 * Behind loud checks: `checkTransientReads()` (installEngine) throws if ssh2's socket reader no longer
 * reads as expected; the switch itself declines (returns false, nothing changed) when Node's socket
 * lacks the `onread` machinery or the socket holds unread data.
 */
import type { Socket } from 'node:net';
import { checkSources } from './writeBatching';
import type { Ssh2Connection } from './ssh2Types';

/**
 * The read buffer, one for the whole process: a read is parsed to the end before the event loop
 * runs the next one (of any socket), so connections can share it. 1 MiB reads take an upload in
 * a few syscalls per MiB, and ssh2 allocates only for the one packet per read that continues in
 * the next read (it keeps that packet in a buffer of its own).
 */
export const READ_BUFFER_SIZE = 1024 * 1024;
let shared: Buffer | undefined;

/** Counters for tests and diagnostics: switches made and declined, reads, pending packets copied. */
const stats = { switched: 0, declined: 0, reads: 0, pendingCopied: 0 };

/** A snapshot of the counters. */
export function transientReadStats(): Readonly<typeof stats> {
  return { ...stats };
}

const SSH2_READER = /socket\.on\('data', \(data\) => \{\s*try \{\s*proto\.parse\(data, 0, data\.length\);/;

let checked = false;

/** Throws when ssh2's socket reader no longer reads as this module expects; run once by installEngine. */
export function checkTransientReads(): void {
  if (checked) return;
  checkSources({ 'ssh2/lib/server.js': [SSH2_READER] }, 'transientReads');
  checked = true;
}

interface OnreadSymbols {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

/** Node's private onread slots on a net.Socket (lib/internal/stream_base_commons.js), found by name. */
function onreadSymbols(socket: Socket): OnreadSymbols | undefined {
  const own = Object.getOwnPropertySymbols(socket);
  const find = (name: string) => own.find((s) => s.description === name);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  return buffer && callback && generator ? { buffer, callback, generator } : undefined;
}

interface Decipher {
  _packet?: Uint8Array | null;
}

interface Internals {
  _protocol: { parse(chunk: Buffer, start: number, end: number): void; _decipher?: Decipher };
  _sock: Socket & { _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } | null };
}

type DataListener = (this: Socket, chunk: Buffer) => void;

/**
 * Switches an authenticated connection's socket to one reused read buffer. Returns whether it did;
 * false leaves the connection as it was. Irreversible for the socket's life.
 */
export function readIntoReusedBuffer(conn: Ssh2Connection): boolean {
  const { _protocol: proto, _sock: socket } = conn as unknown as Internals;
  const symbols = onreadSymbols(socket);
  const handle = socket?._handle;
  const slots = socket as unknown as Record<symbol, unknown>;
  const listeners = (socket?.listeners('data') ?? []) as DataListener[];
  const readers = listeners.filter((l) => SSH2_READER.test(`socket.on('data', ${l.toString()}`));
  const usable =
    symbols !== undefined &&
    typeof handle?.useUserBuffer === 'function' &&
    !socket.destroyed &&
    socket.readableLength === 0 &&
    (slots[symbols.buffer] ?? null) === null &&
    readers.length === 1;
  if (!usable) {
    stats.declined++;
    return false;
  }
  // The other listeners (the connection's outbound-bound check) still hear of every read.
  const others = listeners.filter((l) => l !== readers[0]);

  const buffer = (shared ??= Buffer.allocUnsafeSlow(READ_BUFFER_SIZE));
  const onChunk = (nread: number, buf: Buffer): void => {
    stats.reads++;
    const chunk = buf.subarray(0, nread);
    try {
      // Looked up each time: stopInbound (inboundGuard.ts) replaces parse to stop reading.
      proto.parse(chunk, 0, nread);
    } catch (err) {
      // As ssh2's own reader does with a protocol error.
      conn.emit('error', err);
      try {
        if (socket.writable) socket.end();
      } catch {
        // the socket is gone already
      }
      return;
    }
    // A packet whose MAC or tag is still to come is kept as a view of this read: copy it.
    const pending = proto._decipher?._packet;
    if (pending && pending.buffer === buf.buffer) {
      proto._decipher!._packet = Buffer.from(pending);
      stats.pendingCopied++;
    }
    for (const listener of others) listener.call(socket, chunk);
  };
  slots[symbols!.generator] = null;
  slots[symbols!.callback] = onChunk;
  slots[symbols!.buffer] = buffer;
  handle!.useUserBuffer!(buffer);
  stats.switched++;
  return true;
}
