/**
 * Fuzz inputs: a seeded PRNG and generators for what arrives before authentication (raw bytes on a
 * socket) and after it (SSH payloads sent through an authenticated ssh2 client).
 */

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** Flips, overwrites, inserts or deletes a few bytes. */
  mutate(input: Buffer): Buffer {
    let b = Buffer.from(input);
    const edits = 1 + this.int(4);
    for (let e = 0; e < edits; e++) {
      const at = b.length ? this.int(b.length) : 0;
      switch (this.int(5)) {
        case 0:
          if (b.length) b[at] ^= 1 << this.int(8);
          break;
        case 1:
          if (b.length) b[at] = this.pick([0, 0xff, 0x7f, 0x80, this.int(256)]);
          break;
        case 2:
          b = Buffer.concat([b.subarray(0, at), this.bytes(1 + this.int(8)), b.subarray(at)]);
          break;
        case 3:
          b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + this.int(8)))]);
          break;
        default:
          // A length field set to an extreme value.
          if (b.length >= at + 4) b.writeUInt32BE(this.pick([0, 1, 0x7fffffff, 0xffffffff, 0x100000, this.int(2 ** 32)]), at);
      }
    }
    return b;
  }
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const str = (s: string | Buffer) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);

/** An unencrypted binary packet (RFC 4253 6) around `payload`, padded to 8 bytes. */
export function plainPacket(payload: Buffer): Buffer {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  return Buffer.concat([u32(1 + payload.length + pad), Buffer.from([pad]), payload, Buffer.alloc(pad)]);
}

/** A client KEXINIT that the daemon would accept, to mutate from. */
export function clientKexInit(rng: Rng): Buffer {
  const lists = [
    'curve25519-sha256,ext-info-c,kex-strict-c-v00@openssh.com',
    'ssh-ed25519,rsa-sha2-512',
    'aes128-gcm@openssh.com,chacha20-poly1305@openssh.com',
    'aes128-gcm@openssh.com,chacha20-poly1305@openssh.com',
    'hmac-sha2-256-etm@openssh.com',
    'hmac-sha2-256-etm@openssh.com',
    'none',
    'none',
    '',
    '',
  ];
  return Buffer.concat([Buffer.from([20]), rng.bytes(16), ...lists.map((l) => str(l)), Buffer.from([0]), u32(0)]);
}

const VERSION = 'SSH-2.0-fuzz_1.0\r\n';

/** Bytes a hostile client sends before authentication, by kind. */
export const PRE_AUTH: ReadonlyArray<{ name: string; make: (rng: Rng) => Buffer }> = [
  { name: 'random bytes', make: (rng) => rng.bytes(rng.int(4096)) },
  { name: 'mutated version line', make: (rng) => rng.mutate(Buffer.from(VERSION)) },
  {
    name: 'odd version lines',
    make: (rng) =>
      Buffer.from(
        rng.pick([
          'SSH-1.5-old\r\n',
          'SSH-2.0-\r\n',
          `SSH-2.0-${'x'.repeat(300)}\r\n`,
          'SSH-2.0-nocrlf',
          'GET / HTTP/1.1\r\n\r\n',
          `${'banner line\r\n'.repeat(60)}SSH-2.0-x\r\n`,
          'SSH-2.0-a\0b\r\n',
        ]),
      ),
  },
  { name: 'garbage after version', make: (rng) => Buffer.concat([Buffer.from(VERSION), rng.bytes(rng.int(2048))]) },
  { name: 'mutated KEXINIT', make: (rng) => Buffer.concat([Buffer.from(VERSION), plainPacket(rng.mutate(clientKexInit(rng)))]) },
  { name: 'bad packet framing', make: (rng) => Buffer.concat([Buffer.from(VERSION), rng.mutate(plainPacket(clientKexInit(rng)))]) },
  {
    name: 'oversized or truncated packet',
    make: (rng) => {
      const p = plainPacket(clientKexInit(rng));
      return Buffer.concat([
        Buffer.from(VERSION),
        rng.next() < 0.5
          ? Buffer.concat([u32(rng.pick([35000, 262144, 0x7fffffff])), rng.bytes(rng.int(512))])
          : p.subarray(0, rng.int(p.length)),
      ]);
    },
  },
  {
    name: 'messages out of order',
    make: (rng) =>
      Buffer.concat([
        Buffer.from(VERSION),
        plainPacket(clientKexInit(rng)),
        plainPacket(Buffer.concat([Buffer.from([rng.pick([5, 21, 30, 50, 80, 90, 94, rng.int(256)])]), rng.bytes(rng.int(64))])),
      ]),
  },
];

/** SSH payloads an authenticated client sends (message number first), by kind; `channel` is an open session's server id. */
export const POST_AUTH: ReadonlyArray<{ name: string; make: (rng: Rng, channel: number) => Buffer }> = [
  {
    name: 'mutated channel request',
    make: (rng, ch) => {
      const type = rng.pick([
        'exec',
        'shell',
        'pty-req',
        'env',
        'subsystem',
        'window-change',
        'signal',
        'x11-req',
        'auth-agent-req@openssh.com',
        'exit-status',
        'break',
        rng.bytes(8).toString('latin1'),
      ]);
      const body = Buffer.concat([Buffer.from([98]), u32(ch), str(type), Buffer.from([rng.int(2)]), rng.bytes(rng.int(64))]);
      return rng.next() < 0.5 ? rng.mutate(body) : body;
    },
  },
  {
    name: 'window adjust',
    make: (rng, ch) =>
      Buffer.concat([
        Buffer.from([93]),
        u32(rng.pick([ch, ch + 1, 0xffffffff, rng.int(100)])),
        u32(rng.pick([0, 1, 0x7fffffff, 0xffffffff, rng.int(2 ** 32)])),
      ]),
  },
  { name: 'data past the window', make: (rng, ch) => Buffer.concat([Buffer.from([94]), u32(ch), str(rng.bytes(32768 + rng.int(32768)))]) },
  {
    name: 'data to a wrong channel',
    make: (rng, ch) =>
      Buffer.concat([Buffer.from([rng.pick([94, 95, 96, 97])]), u32(rng.pick([ch + 1, 12345, 0xffffffff])), str(rng.bytes(rng.int(64)))]),
  },
  {
    name: 'unknown message number',
    make: (rng) =>
      Buffer.concat([
        Buffer.from([rng.pick([0, 3, 4, 6, 7, 8, 9, 10, 19, 29, 35, 49, 59, 69, 79, 87, 88, 89, 101, 127, 192, 255])]),
        rng.bytes(rng.int(128)),
      ]),
  },
  {
    name: 'mutated channel open',
    make: (rng) =>
      rng.mutate(
        Buffer.concat([
          Buffer.from([90]),
          str(rng.pick(['session', 'direct-tcpip', 'x11', 'forwarded-tcpip', 'bogus'])),
          u32(rng.int(1000)),
          u32(rng.int(2 ** 32)),
          u32(rng.int(2 ** 32)),
          rng.bytes(rng.int(64)),
        ]),
      ),
  },
  {
    name: 'mutated global request',
    make: (rng) =>
      rng.mutate(
        Buffer.concat([
          Buffer.from([80]),
          str(rng.pick(['tcpip-forward', 'cancel-tcpip-forward', 'keepalive@openssh.com', 'no-more-sessions@openssh.com', 'x'])),
          Buffer.from([rng.int(2)]),
          rng.bytes(rng.int(32)),
        ]),
      ),
  },
  { name: 'request on a closed channel', make: (_rng, ch) => Buffer.concat([Buffer.from([97]), u32(ch)]) },
  {
    name: 'auth message after auth',
    make: (rng) =>
      Buffer.concat([
        Buffer.from([50]),
        str('u'),
        str('ssh-connection'),
        str(rng.pick(['none', 'password', 'publickey'])),
        rng.bytes(rng.int(32)),
      ]),
  },
];
