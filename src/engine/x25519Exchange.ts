/**
 * curve25519-sha256 with raw X25519 keys through JWK, not DER.
 *
 * ssh2 1.17.0's `Curve25519Exchange` (kex.js) exports its public key as DER SPKI and cuts the last
 * 32 bytes, and builds a DER SPKI around the client's 32 bytes (with its BER writer) to import it:
 * OpenSSL 3's DER encoder and decoder cost about 80 µs each on this machine, where the same keys go
 * through JWK (`x` is the raw key, RFC 8037) in 2 and 8 µs: about 0.15 ms of every handshake's
 * server CPU. The bytes sent and the shared secret are the same (RFC 7748 keys are their 32 raw
 * bytes either way).
 *
 * Per exchange object of our connections (the `_kex` setter in handshakeControl.ts calls
 * {@link speedUpX25519}); in-process ssh2 clients keep ssh2's code. Loud checks: the object must
 * have ssh2's `generateKeys`, `getPublicKey`, `computeSecret` and `_keys` shape, and the first
 * exchange of the process runs both ways and compares the public key and the secret (throws on a
 * difference: ssh2 changed).
 */
import { createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';

interface X25519ExchangeObject {
  type: string;
  _keys: { publicKey: KeyObject; privateKey: KeyObject } | null;
  generateKeys(): void;
  getPublicKey(): Buffer;
  computeSecret(otherPublicKey: Buffer): Buffer | Error;
}

/** ssh2's `convertToMpint` (kex.js) is private: the same SSH mpint encoding of a positive secret. */
function toMpint(secret: Buffer): Buffer {
  let i = 0;
  while (i < secret.length - 1 && secret[i] === 0) i++;
  const body = secret.subarray(i);
  return body[0] & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : Buffer.from(body);
}

function getPublicKey(this: X25519ExchangeObject): Buffer {
  this.generateKeys();
  return Buffer.from(this._keys!.publicKey.export({ format: 'jwk' }).x as string, 'base64url');
}

function computeSecret(this: X25519ExchangeObject, otherPublicKey: Buffer): Buffer | Error {
  this.generateKeys();
  try {
    // OpenSSL refuses a key that is not 32 bytes and an all-zero (low-order) result, as with DER.
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: otherPublicKey.toString('base64url') }, format: 'jwk' });
    return toMpint(diffieHellman({ privateKey: this._keys!.privateKey, publicKey }));
  } catch (ex) {
    return ex as Error;
  }
}

let verified = false;
let exchanges = 0;

/** Exchanges given the JWK path so far in this process (tests). */
export function x25519FastExchanges(): number {
  return exchanges;
}

/** Gives one of our connections' curve25519 exchange objects the JWK path (no-op for other exchanges). */
export function speedUpX25519(kex: object | undefined): void {
  const x = kex as Partial<X25519ExchangeObject> | undefined;
  if (!x || x.type !== '25519') return;
  if (typeof x.generateKeys !== 'function' || typeof x.getPublicKey !== 'function' || typeof x.computeSecret !== 'function') {
    throw new Error(
      'sshdaemon engine (x25519Exchange): ssh2 Curve25519Exchange lost generateKeys/getPublicKey/computeSecret; ssh2 version changed?',
    );
  }
  if (!verified) verifyOnce(x as X25519ExchangeObject);
  x.getPublicKey = getPublicKey;
  x.computeSecret = computeSecret;
  exchanges++;
}

/** The first exchange: ssh2's methods and ours must agree on the public key and on a secret. */
function verifyOnce(kex: X25519ExchangeObject): void {
  const theirs = kex.getPublicKey();
  const ours = getPublicKey.call(kex);
  if (!('_keys' in kex) || !kex._keys || !theirs.equals(ours)) {
    throw new Error('sshdaemon engine (x25519Exchange): the raw X25519 public key differs from ssh2s; ssh2 version changed?');
  }
  // A peer key of our own making: both paths must derive the same secret from it.
  const peer = Buffer.from(kex._keys.publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const a = kex.computeSecret(peer);
  const b = computeSecret.call(kex, peer);
  if (!(a instanceof Buffer) || !(b instanceof Buffer) || !a.equals(b)) {
    throw new Error('sshdaemon engine (x25519Exchange): the X25519 secret differs from ssh2s; ssh2 version changed?');
  }
  verified = true;
}
