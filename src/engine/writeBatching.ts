/**
 * The packets ssh2 produces in one tick go to the socket as one write (a `writev`), not one write
 * per packet.
 *
 * ssh2 1.17.0 hands every encrypted packet to its `onWrite` callback (server.js: `socket.write(data)`
 * when the socket is writable); the AES-GCM and ChaCha20 bindings call it once per packet, the
 * pure-JS ciphers several times. A bulk transfer is one syscall and one WriteWrap per 32 KiB packet,
 * the largest item in the server's profile (bench/notes.md). Here the connection's socket is corked
 * on the first write of a tick and uncorked in `process.nextTick`, so Node hands everything written
 * in between to the kernel as one `writev`, in order.
 *
 * What the channel layer relies on is unchanged: corked bytes count in `socket.writableLength`
 * (OutBufferSize, OutBufferHardLimit), `write()` returns false past the high-water mark as before, so
 * 'drain' comes when the batch is written. `end()` uncorks before it finishes (Node's Writable), so a
 * DISCONNECT followed by `end()` goes out first; `destroy()` without an error writes what is corked
 * first too (the instance's `destroy` is wrapped), as the packets of the tick were written before it
 * before. A destroy with an error (the peer reset) drops them, as the socket is gone anyway.
 *
 * Only for protocols of our connections: `proto._onWrite` (Protocol.js keeps its config's onWrite
 * there; kex.js hands it to every cipher it creates at NEWKEYS) and the handshake cipher's copy of it
 * are replaced when the connection is attached, before the first NEWKEYS. In-process ssh2 clients
 * are untouched. `checkWriteBatching()` (run by installEngine) throws if ssh2's sources no longer read as this expects.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Ssh2Connection } from './ssh2Types';

/** Source lines this patch depends on, per ssh2 file (whitespace-insensitive). */
const EXPECTED_SOURCES: Record<string, RegExp[]> = {
  'ssh2/lib/protocol/Protocol.js': [
    /this\._onWrite = \(data\) => \{ onWrite\(data\); \};/,
    /this\._cipher = new NullCipher\(0, this\._onWrite\);/,
  ],
  'ssh2/lib/protocol/kex.js': [/outbound: \{\s*onWrite: this\._protocol\._onWrite,/],
  'ssh2/lib/server.js': [/onWrite: \(data\) => \{\s*if \(isWritable\(socket\)\)\s*socket\.write\(data\);\s*\},/],
};

/** Throws when an ssh2 source no longer contains what the patch relies on. */
export function checkSources(expected: Record<string, RegExp[]>, patch: string): void {
  for (const [file, patterns] of Object.entries(expected)) {
    const text = readFileSync(require.resolve(file), 'utf8');
    for (const re of patterns) {
      if (!re.test(text)) throw new Error(`sshdaemon engine (${patch}): ${file} no longer matches ${re}; ssh2 version changed?`);
    }
  }
}

let checked = false;

/** Throws when ssh2's sources no longer read as this patch expects; run once by installEngine (installEngine.ts). */
export function checkWriteBatching(): void {
  if (checked) return;
  checkSources(EXPECTED_SOURCES, 'writeBatching');
  checked = true;
}

interface BatchedProtocol {
  _onWrite(data: Uint8Array): void;
  _cipher?: { _onWrite?: (data: Uint8Array) => void };
}

/** One connection's batch: its socket is corked from the first write of a tick until the tick ends. */
export class WriteBatch {
  private corked = false;
  /** Written through the batch since it was installed (a packet's writes bump it once or more). */
  writes = 0;
  /** Runs after the flush at the end of each tick (the packet arena is returned when nothing is pending). */
  afterTick: (() => void) | undefined;
  private readonly endOfTick = () => {
    this.flush();
    this.afterTick?.();
  };

  constructor(readonly socket: Socket) {}

  /** Called before each of ssh2's socket writes. */
  willWrite(): void {
    this.writes++;
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(this.endOfTick);
  }

  /** Hands what is corked to the socket now (a writev; the kernel takes it or Node queues it). */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }
}

const batches = new WeakMap<object, WriteBatch>();

/**
 * Batches the connection's writes per tick. Call before its first NEWKEYS (when ssh2 has read the
 * client's identification); the ciphers of every later key exchange write through the batch.
 */
export function batchWrites(conn: Ssh2Connection): WriteBatch {
  const { _protocol: proto, _sock: socket } = conn as unknown as { _protocol: BatchedProtocol; _sock: Socket };
  const existing = batches.get(proto);
  if (existing) return existing;
  const onWrite = proto._onWrite;
  if (typeof onWrite !== 'function') throw new Error('sshdaemon engine: ssh2 Protocol has no _onWrite; ssh2 version changed?');
  if (typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function')
    throw new Error('sshdaemon engine: the connection has no corkable socket');
  const batch = new WriteBatch(socket);
  const batched = (data: Uint8Array) => {
    batch.willWrite();
    onWrite(data);
  };
  proto._onWrite = batched;
  // The handshake cipher took its own reference at construction: KEXDH_REPLY and NEWKEYS go together too.
  if (proto._cipher && proto._cipher._onWrite === onWrite) proto._cipher._onWrite = batched;
  const destroy = socket.destroy;
  socket.destroy = function (this: Socket, err?: Error) {
    if (!err) batch.flush();
    return destroy.call(this, err);
  };
  batches.set(proto, batch);
  return batch;
}
