/**
 * SSH wire-format keys (RFC 4253 section 6.6, RFC 5656, RFC 8709) to Node KeyObjects. The SSH key
 * fields go through JWK because that is the one import path node:crypto offers for raw components.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { WireReader } from '../packet/wire';

/** The curve JWK names of the SSH ECDSA key types, with the coordinate length in bytes. */
const EC_CURVES: Record<string, { crv: string; size: number }> = {
  nistp256: { crv: 'P-256', size: 32 },
  nistp384: { crv: 'P-384', size: 48 },
  nistp521: { crv: 'P-521', size: 66 },
};

/** Key types a host key may have here (what the engine can serve). */
export const SSH_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'] as const;

const b64u = (b: Buffer): string => b.toString('base64url');

/** An mpint's magnitude: the sign byte dropped, optionally left-padded to `size` bytes (JWK wants fixed lengths for EC). */
function unsigned(mpint: Buffer, size = 0): Buffer {
  let start = 0;
  while (start < mpint.length - 1 && mpint[start] === 0) start++;
  const bytes = mpint.subarray(start);
  if (bytes.length >= size) return bytes;
  return Buffer.concat([Buffer.alloc(size - bytes.length), bytes]);
}

const big = (b: Buffer): bigint => (b.length ? BigInt('0x' + b.toString('hex')) : 0n);
function bigBytes(n: bigint): Buffer {
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex');
}

interface PublicParts {
  type: string;
  jwk: JsonWebKey;
}

function readPublic(blob: Buffer): PublicParts {
  const r = new WireReader(blob);
  const type = r.string();
  let jwk: JsonWebKey;
  if (type === 'ssh-ed25519') {
    const pub = r.bytes();
    if (pub.length !== 32) throw new Error(`ssh-ed25519 public key is ${pub.length} bytes, not 32`);
    jwk = { kty: 'OKP', crv: 'Ed25519', x: b64u(pub) };
  } else if (type.startsWith('ecdsa-sha2-')) {
    const curveName = r.string();
    const curve = Object.hasOwn(EC_CURVES, curveName) ? EC_CURVES[curveName] : undefined;
    if (!curve || type !== `ecdsa-sha2-${curveName}`) throw new Error(`unsupported ECDSA curve ${curveName} in ${type}`);
    const q = r.bytes();
    if (q.length !== 1 + 2 * curve.size || q[0] !== 4)
      throw new Error(`${type}: the public point is not an uncompressed ${curve.crv} point`);
    jwk = { kty: 'EC', crv: curve.crv, x: b64u(q.subarray(1, 1 + curve.size)), y: b64u(q.subarray(1 + curve.size)) };
  } else if (type === 'ssh-rsa') {
    const e = r.bytes();
    const n = r.bytes();
    jwk = { kty: 'RSA', e: b64u(unsigned(e)), n: b64u(unsigned(n)) };
  } else {
    throw new Error(`unsupported key type '${type}' (supported: ${SSH_KEY_TYPES.join(', ')})`);
  }
  if (r.remaining !== 0) throw new Error(`${r.remaining} stray bytes after the ${type} public key`);
  return { type, jwk };
}

/** The key type named at the start of a wire blob, or undefined when the blob does not start with one. */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 8) return undefined;
  const len = blob.readUInt32BE(0);
  if (len < 3 || len > 64 || blob.length < 4 + len) return undefined;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return /^[a-z][a-z0-9@.-]+$/.test(type) ? type : undefined;
}

/** A public KeyObject from an SSH public key blob; throws Error naming what is wrong. */
export function publicKeyFromBlob(blob: Buffer): KeyObject {
  return createPublicKey({ key: readPublic(blob).jwk, format: 'jwk' });
}

/**
 * A private KeyObject from an SSH public blob plus PuTTY's private blob (the PPK "Private-Lines"):
 * ed25519 `string seed`, ECDSA `mpint d`, RSA `mpint d, mpint p, mpint q, mpint iqmp`. Trailing
 * bytes are the cipher padding and are ignored.
 */
export function privateKeyFromPuttyBlobs(publicBlob: Buffer, privateBlob: Buffer): KeyObject {
  const { type, jwk } = readPublic(publicBlob);
  const r = new WireReader(privateBlob);
  if (type === 'ssh-ed25519') {
    const seed = r.bytes();
    if (seed.length !== 32) throw new Error(`ssh-ed25519 private key is ${seed.length} bytes, not 32`);
    return createPrivateKey({ key: { ...jwk, d: b64u(seed) }, format: 'jwk' });
  }
  if (type === 'ssh-rsa') {
    const [d, p, q, qi] = [r.bytes(), r.bytes(), r.bytes(), r.bytes()].map(unsigned);
    // PPK leaves out the CRT exponents; JWK needs them.
    const dp = big(d) % (big(p) - 1n);
    const dq = big(d) % (big(q) - 1n);
    return createPrivateKey({
      key: { ...jwk, d: b64u(d), p: b64u(p), q: b64u(q), qi: b64u(qi), dp: b64u(bigBytes(dp)), dq: b64u(bigBytes(dq)) },
      format: 'jwk',
    });
  }
  const curveName = type.slice('ecdsa-sha2-'.length);
  const curve = Object.hasOwn(EC_CURVES, curveName) ? EC_CURVES[curveName] : undefined;
  if (!curve) throw new Error(`unsupported ECDSA curve ${curveName} in ${type}`);
  return createPrivateKey({ key: { ...jwk, d: b64u(unsigned(r.bytes(), curve.size)) }, format: 'jwk' });
}
