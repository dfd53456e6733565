/**
 * SSH wire signatures made with node:crypto (RFC 4253 6.6 `string algorithm, string signature`):
 * what the daemon signs itself, e.g. the host-key proofs of `hostkeys-prove-00@openssh.com`.
 */
import { sign, type KeyObject } from 'node:crypto';
import { encodeMpint, encodeString } from '../packet/wire';

/** Digest and, for ECDSA, the width of r and s, per signature algorithm. */
const SCHEMES: Readonly<Record<string, { keyType: string; hash: string | null; ecdsaWidth?: number }>> = {
  'ssh-ed25519': { keyType: 'ssh-ed25519', hash: null },
  'ecdsa-sha2-nistp256': { keyType: 'ecdsa-sha2-nistp256', hash: 'sha256', ecdsaWidth: 32 },
  'ecdsa-sha2-nistp384': { keyType: 'ecdsa-sha2-nistp384', hash: 'sha384', ecdsaWidth: 48 },
  'ecdsa-sha2-nistp521': { keyType: 'ecdsa-sha2-nistp521', hash: 'sha512', ecdsaWidth: 66 },
  'rsa-sha2-512': { keyType: 'ssh-rsa', hash: 'sha512' },
  'rsa-sha2-256': { keyType: 'ssh-rsa', hash: 'sha256' },
  'ssh-rsa': { keyType: 'ssh-rsa', hash: 'sha1' },
};

/**
 * Signs `data` with `privateKey` (of SSH key type `keyType`) using signature algorithm
 * `algorithm` and returns the SSH wire signature: Ed25519 raw (RFC 8709), ECDSA as
 * `mpint r, mpint s` (RFC 5656 3.1.2), RSA PKCS#1 v1.5 (RFC 8332).
 * @throws Error when the algorithm is unknown or does not fit the key type.
 */
export function sshSign(privateKey: KeyObject, keyType: string, algorithm: string, data: Buffer): Buffer {
  const scheme = Object.hasOwn(SCHEMES, algorithm) ? SCHEMES[algorithm] : undefined;
  if (!scheme || scheme.keyType !== keyType) throw new Error(`cannot sign with ${algorithm} using a ${keyType} key`);
  let raw: Buffer;
  if (scheme.ecdsaWidth) {
    const rs = sign(scheme.hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const w = scheme.ecdsaWidth;
    const big = (b: Buffer) => BigInt(`0x${b.toString('hex') || '0'}`);
    raw = Buffer.concat([encodeMpint(big(rs.subarray(0, w))), encodeMpint(big(rs.subarray(w)))]);
  } else {
    raw = sign(scheme.hash, data, privateKey);
  }
  return Buffer.concat([encodeString(algorithm), encodeString(raw)]);
}
