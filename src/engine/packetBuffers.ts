/**
 * ssh2's outbound packet allocation (`allocPacket` of each cipher in lib/protocol/crypto.js),
 * replaced for the ciphers of our connections: padding from a pooled random block instead of one
 * `randomFillSync` per packet (paddingPool.ts), and bulk packets carved from a reused buffer instead
 * of a fresh 32 KiB `Buffer.allocUnsafe` each.
 *
 * The layout is ssh2's, byte for byte: length, padding length, payload, padding (to the cipher's
 * block, at least 4 bytes; the length field counts or not as each class does), and the room the
 * AEAD bindings encrypt their tag into. Each class's `allocPacket` and `encrypt` text in crypto.js is
 * pinned by SHA-256 below; `checkPacketBuffers()` (run by installEngine) throws if any differs (ssh2 changed), and a cipher
 * of a class not in the table keeps ssh2's own allocation.
 *
 * Reuse. A fresh 32 KiB buffer per packet costs an allocation, cold cache lines and GC; writing the
 * same memory again is several times cheaper (bench/notes.md). A packet's memory is free once the
 * socket no longer holds it: Node keeps each written chunk, corked or handed to libuv, until its
 * write completes, and counts it in `writableLength` until then. So the arena is a bump allocator
 * that starts over only when `writableLength` is 0 (nothing the socket holds can point into it), and
 * otherwise packets fall back to `Buffer.allocUnsafe`. When full it first flushes the tick's batch
 * (writeBatching.ts), so a bulk tick is written in arena-sized writevs. Arenas are borrowed from a
 * small process-wide free list while a connection sends bulk data and returned as soon as its socket
 * holds nothing (after a flush, on 'drain', at 'close'): idle connections hold none. Packets under
 * 4 KiB keep Node's pooled `allocUnsafe`. Only plain `net.Socket`s get an arena (a JS Duplex could
 * report a chunk written while it still holds it).
 *
 * Installed per connection by wrapping `proto._onHandshakeComplete`, which kex.js calls right after
 * it installs the cipher of each key exchange (checked by installEngine), before it drains the packets
 * queued during the exchange. In-process ssh2 clients are untouched.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { paddingPool } from './paddingPool';
import type { Ssh2Connection } from './ssh2Types';
import { checkSources, type WriteBatch } from './writeBatching';

/* eslint-disable @typescript-eslint/no-require-imports */
const cryptoModule: {
  CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>;
  MAC_INFO: Record<string, { len: number }>;
  NullCipher: new (seqno: number, onWrite: (d: Uint8Array) => void) => CipherInstance;
  createCipher(config: object): CipherInstance;
} = require('ssh2/lib/protocol/crypto.js');
/* eslint-enable @typescript-eslint/no-require-imports */

interface CipherInstance {
  allocPacket(payloadLen: number): Buffer;
  encrypt(packet: Buffer): void;
  free(): void;
  _encBlockLen?: number;
  _aadLen?: number;
  _macLen?: number;
}

/** Padding block, bytes of the length field outside the padded part, bytes allocated after the packet. */
interface Layout {
  block: number;
  aad: number;
  trailer: number;
}

type LayoutOf = (cipher: CipherInstance) => Layout | undefined;
const fixed =
  (block: number, aad: number, trailer: number): LayoutOf =>
  () => ({ block, aad, trailer });
const generic =
  (withMac: boolean): LayoutOf =>
  (c) =>
    typeof c._encBlockLen === 'number' && typeof c._aadLen === 'number' && (!withMac || typeof c._macLen === 'number')
      ? { block: c._encBlockLen, aad: c._aadLen, trailer: withMac ? (c._macLen as number) : 0 }
      : undefined;

/**
 * Per ssh2 1.17.0 cipher class: SHA-256 (first 16 hex digits) of the text of `allocPacket` and
 * `encrypt` in crypto.js, and the layout its `allocPacket` builds. `encrypt` is pinned too: reuse relies on
 * it writing the packet (or copies) through `_onWrite` and keeping no reference after it returns.
 */
const CLASSES: Record<string, { alloc: string; encrypt: string; layout: LayoutOf }> = {
  NullCipher: { alloc: 'c4909a9b3ba4a445', encrypt: 'ff76f80c05d298c4', layout: fixed(8, 0, 0) },
  AESGCMCipherBinding: { alloc: '7eda521a01bfe25d', encrypt: 'faf767f4644bd44f', layout: fixed(16, 4, 16) },
  AESGCMCipherNative: { alloc: 'cc217713cde19cdd', encrypt: '0fcc191639c4768c', layout: fixed(16, 4, 0) },
  ChaChaPolyCipherBinding: { alloc: 'f665799b434eb20c', encrypt: 'a340ab685444f6a8', layout: fixed(8, 4, 16) },
  ChaChaPolyCipherNative: { alloc: 'cc7f39fe8a3150c0', encrypt: '924aa774c8f6cb05', layout: fixed(8, 4, 0) },
  GenericCipherBinding: { alloc: '2a8c4537747f6f58', encrypt: '753a065db92751e9', layout: generic(true) },
  GenericCipherNative: { alloc: '9051d2fb84209d4f', encrypt: 'b7b0e95f1bd0da75', layout: generic(false) },
};

/** ssh2's crypto.js as installed: methods are pinned by their text on disk (instrumenting tools, such as the fuzzer's, rewrite what `Function.prototype.toString` returns). */
function cryptoSource(): string {
  return readFileSync(require.resolve('ssh2/lib/protocol/crypto.js'), 'utf8');
}

/** SHA-256 (16 hex digits) of a method of a class of crypto.js, from `  name(` to its closing `  }` at the same depth. */
export function methodHash(source: string, className: string, method: string): string | undefined {
  const start = source.indexOf(`\nclass ${className} {`);
  if (start < 0) return undefined;
  const end = source.indexOf('\n}\n', start);
  const body = source.slice(start, end < 0 ? undefined : end + 1);
  const at = body.indexOf(`\n  ${method}(`);
  if (at < 0) return undefined;
  const close = body.indexOf('\n  }\n', at);
  if (close < 0) return undefined;
  return createHash('sha256')
    .update(body.slice(at, close + 4))
    .digest('hex')
    .slice(0, 16);
}

/** Cipher prototypes whose sources matched, with their layout. */
const layouts = new Map<object, LayoutOf>();

/** Builds one cipher of every class ssh2 can make here and checks each class against the table. */
function verifyCipherClasses(): void {
  const source = cryptoSource();
  const probes: CipherInstance[] = [new cryptoModule.NullCipher(0, () => undefined)];
  const mac = cryptoModule.MAC_INFO['hmac-sha2-256-etm@openssh.com'];
  for (const name of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes128-ctr']) {
    const info = cryptoModule.CIPHER_INFO[name];
    if (!info || !mac) throw new Error(`sshdaemon engine (packetBuffers): ssh2 crypto.js lacks ${name}; ssh2 version changed?`);
    for (const forceNative of [false, true]) {
      const outbound = {
        onWrite: () => undefined,
        seqno: 0,
        cipherInfo: info,
        cipherKey: Buffer.alloc(info.keyLen),
        cipherIV: Buffer.alloc(info.ivLen),
        macInfo: mac,
        macKey: Buffer.alloc(mac.len),
        forceNative,
      };
      probes.push(cryptoModule.createCipher({ outbound }));
    }
  }
  for (const probe of probes) {
    const proto = Object.getPrototypeOf(probe) as CipherInstance & { constructor: { name: string } };
    const name = proto.constructor.name;
    const pinned = CLASSES[name];
    const got = { alloc: methodHash(source, name, 'allocPacket'), encrypt: methodHash(source, name, 'encrypt') };
    probe.free();
    if (!pinned) throw new Error(`sshdaemon engine (packetBuffers): unknown ssh2 cipher class ${name}; ssh2 version changed?`);
    if (got.alloc !== pinned.alloc || got.encrypt !== pinned.encrypt) {
      throw new Error(
        `sshdaemon engine (packetBuffers): ssh2 ${name}.allocPacket/encrypt changed (${got.alloc}/${got.encrypt}); ssh2 version changed?`,
      );
    }
    if (!pinned.layout(probe))
      throw new Error(`sshdaemon engine (packetBuffers): ssh2 ${name} lacks its block/MAC fields; ssh2 version changed?`);
    layouts.set(proto, pinned.layout);
  }
}

/** The ssh2 cipher classes whose allocation is replaced (all that ssh2 can build; filled by {@link checkPacketBuffers}). */
export function patchedCipherClasses(): string[] {
  return [...layouts.keys()].map((p) => (p as { constructor: { name: string } }).constructor.name);
}

let packetBuffersChecked = false;

/**
 * Checks the ssh2 sources this patch relies on and learns each cipher class's layout; throws when
 * ssh2 changed. Run once by installEngine (installEngine.ts), before the first connection.
 */
export function checkPacketBuffers(): void {
  if (packetBuffersChecked) return;
  checkSources(
    {
      // The cipher of each exchange is installed, then _onHandshakeComplete drains the queue with it.
      'ssh2/lib/protocol/kex.js': [
        /this\._protocol\._cipher = createCipher\(hsCipherConfig\);\s*this\._protocol\._packetRW\.write = hsWrite;\s*hsCipherConfig = undefined;\s*hsWrite = undefined;\s*this\._protocol\._onHandshakeComplete\(negotiated\);/,
      ],
      'ssh2/lib/protocol/Protocol.js': [
        /this\._onHandshakeComplete = \(\.\.\.args\) => \{/,
        /const packet = this\._cipher\.allocPacket\(data\.length\);\s*packet\.set\(data, 5\);/,
      ],
    },
    'packetBuffers',
  );
  verifyCipherClasses();
  packetBuffersChecked = true;
}

/** Size of one arena: eight 32 KiB packets, a bulk tick's write. */
export const ARENA_SIZE = 256 * 1024;
/** Smaller packets keep Node's pooled allocUnsafe (it slices an 8 KiB pool below 4 KiB). */
const MIN_ARENA_PACKET = 4 * 1024;
/** Idle arenas kept for reuse, process-wide. */
const FREE_ARENAS_KEPT = 4;
const freeArenas: Buffer[] = [];

/**
 * How the patched ciphers allocated their packets, process-wide (tests and the bench read it):
 * `arena` bulk packets in arena memory, `pending` bulk packets in fresh memory because the socket
 * still held the arena's bytes, `small` packets under 4 KiB (Node's pool), `arenas` arenas created.
 */
export const packetBufferStats = { arena: 0, pending: 0, small: 0, arenas: 0 };

/** A connection's bump allocator over a borrowed arena; see the module comment. */
class PacketArena {
  private buffer: Buffer | undefined;
  private used = 0;
  /** `batch.writes` when the last packet was handed out: its write bumps the count. */
  private writesAtTake = -1;

  private listening = false;

  constructor(
    private readonly socket: Socket,
    private readonly batch: WriteBatch,
  ) {}

  take(n: number): Buffer | undefined {
    if (n < MIN_ARENA_PACKET || n > ARENA_SIZE || this.socket.destroyed) {
      packetBufferStats.small++;
      return undefined;
    }
    let buffer = this.buffer;
    if (!buffer) {
      if (!this.listening) this.listen();
      buffer = this.buffer = freeArenas.pop() ?? newArena();
      this.used = 0;
    } else if (this.used + n > buffer.length) {
      // The last packet handed out must have been written (no allocation is still being filled).
      if (this.batch.writes !== this.writesAtTake) this.batch.flush();
      if (this.batch.writes === this.writesAtTake || this.socket.writableLength !== 0) {
        packetBufferStats.pending++;
        return undefined;
      }
      this.used = 0;
    }
    packetBufferStats.arena++;
    const at = this.used;
    this.used = at + n;
    this.writesAtTake = this.batch.writes;
    return buffer.subarray(at, at + n);
  }

  /** From the first bulk packet on (connections that never send one pay nothing). */
  private listen(): void {
    this.listening = true;
    this.batch.afterTick = () => this.releaseIfIdle();
    this.socket.on('drain', () => this.releaseIfIdle());
    this.socket.on('close', () => this.release()); // 'close' comes once
  }

  private releaseIfIdle(): void {
    if (this.buffer && this.socket.writableLength === 0 && this.batch.writes !== this.writesAtTake) this.release();
  }

  private release(): void {
    const buffer = this.buffer;
    if (!buffer) return;
    this.buffer = undefined;
    this.used = 0;
    if (freeArenas.length < FREE_ARENAS_KEPT) freeArenas.push(buffer);
  }
}

function newArena(): Buffer {
  packetBufferStats.arenas++;
  return Buffer.allocUnsafeSlow(ARENA_SIZE);
}

/** Replaces the cipher's allocPacket with ours (same layout, pooled padding, arena memory). */
function patchCipher(cipher: CipherInstance | undefined, arena: PacketArena | undefined): void {
  if (!cipher) return;
  const layoutOf = layouts.get(Object.getPrototypeOf(cipher) as object);
  const layout = layoutOf?.(cipher);
  if (!layout) return; // a class the table does not know keeps ssh2's own allocation
  const { block, aad, trailer } = layout;
  const mask = block - 1;
  cipher.allocPacket = (payloadLen: number): Buffer => {
    let pktLen = 5 + payloadLen;
    let padLen = block - ((pktLen - aad) & mask);
    if (padLen < 4) padLen += block;
    pktLen += padLen;
    const size = pktLen + trailer;
    const packet = arena?.take(size) ?? Buffer.allocUnsafe(size);
    packet.writeUInt32BE(pktLen - 4, 0);
    packet[4] = padLen;
    paddingPool.copyTo(packet, 5 + payloadLen, padLen);
    return packet;
  };
}

interface HandshakeProtocol {
  _cipher?: CipherInstance;
  _onHandshakeComplete(...args: unknown[]): void;
}

const patched = new WeakSet<object>();

/**
 * Allocates the connection's outbound packets with pooled padding and, on a plain TCP socket, arena
 * memory. Call before the first NEWKEYS, after {@link batchWrites} made `batch`.
 */
export function reusePacketBuffers(conn: Ssh2Connection, batch: WriteBatch): void {
  const { _protocol: proto, _sock: socket } = conn as unknown as { _protocol: HandshakeProtocol; _sock: Socket };
  if (patched.has(proto)) return;
  const onHandshakeComplete = proto._onHandshakeComplete;
  if (typeof onHandshakeComplete !== 'function')
    throw new Error('sshdaemon engine: ssh2 Protocol has no _onHandshakeComplete; ssh2 version changed?');
  patched.add(proto);
  const arena = Object.getPrototypeOf(socket) === Socket.prototype ? new PacketArena(socket, batch) : undefined;
  proto._onHandshakeComplete = (...args: unknown[]) => {
    patchCipher(proto._cipher, arena);
    return onHandshakeComplete(...args);
  };
}
