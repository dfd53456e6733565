/**
 * Client-initiated key re-exchange before authentication is refused.
 *
 * ssh2 serves every KEXINIT a client sends after the first one (RFC 4253 section 9 lets either side
 * re-key at any time). Before authentication that is CPU nobody accounts for: a client that re-keys
 * with `diffie-hellman-group18-sha512` and a trivial public value costs the server an 8192-bit
 * exponentiation per exchange and itself almost nothing (667 exchanges in 15 s on one connection,
 * 10 s of server CPU, in an adversarial review), while MaxStartups, PerSourcePenalties and
 * ConnectionRateLimit only count connections. No real client re-keys before logging in (they re-key
 * after a volume of data or an hour), so a second KEXINIT before authentication is a protocol error.
 *
 * The first KEXINIT never reaches ssh2's dispatch table (the key-exchange decipher handles it);
 * every later one does, as entry 20: that entry is tapped, for protocols of our connections only.
 */
import { SSH_MSG_KEXINIT as KEXINIT } from '../packet/messages';
import type { Ssh2Connection } from './ssh2Types';

/* eslint-disable @typescript-eslint/no-require-imports */
const MESSAGE_HANDLERS: Array<((proto: object, payload: Buffer) => unknown) | undefined> = require('ssh2/lib/protocol/handlers.js');
/* eslint-enable @typescript-eslint/no-require-imports */

interface Gate {
  allowed(): boolean;
  refused(): void;
}

const gates = new WeakMap<object, Gate>();
let installed = false;

/** Taps ssh2's KEXINIT dispatch entry (once; installEngine.ts calls it). */
export function installRekeyGate(): void {
  if (installed) return;
  const original = MESSAGE_HANDLERS[KEXINIT];
  if (typeof original !== 'function') throw new Error('sshdaemon engine: ssh2 handler table has no KEXINIT entry; ssh2 version changed?');
  installed = true;
  MESSAGE_HANDLERS[KEXINIT] = (proto: object, payload: Buffer) => {
    const gate = gates.get(proto);
    if (gate && !gate.allowed()) return gate.refused();
    // ssh2 keeps the KEXINIT for the exchange hash, computed when a later packet arrives; a
    // connection reading into a reused buffer (transientReads.ts) would overwrite it, so ours get a copy.
    return original(proto, gate ? Buffer.from(payload) : payload);
  };
}

/**
 * Gates the client's re-keys on one connection: a KEXINIT after the first key exchange is served
 * only while `allowed()` (authenticated); otherwise `refused()` runs (and should disconnect) and
 * ssh2 never sees it.
 */
export function gateClientRekey(conn: Ssh2Connection, allowed: () => boolean, refused: () => void): void {
  installRekeyGate();
  gates.set((conn as unknown as { _protocol: object })._protocol, { allowed, refused });
}

/** Whether the gate is in ssh2's dispatch table (the adapter's version check). */
export function rekeyGateInstalled(): boolean {
  return installed;
}
