/** What every key-store loader takes and returns, and the errors they share. */
import { sign, verify, type KeyObject } from 'node:crypto';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';

/** The store formats a {@link Certificate} can be loaded from (what `cstAuto` detects). */
export type CertStoreFormat = 'pem' | 'pfx' | 'ppk' | 'ssh-public-key' | 'x509' | 'p7b';

export interface LoadContext {
  /** The store password ('' = none). */
  readonly password: string;
  /** The IPWorks subject selector ('*' or '' = first). */
  readonly subject: string;
  /** Where the bytes came from, for messages: `file /x/y.pfx`, `the PFX blob`. */
  readonly where: string;
}

export interface LoadedKey {
  /** Absent for public-only stores (SSH public key, X.509 certificate). */
  readonly privateKey?: KeyObject;
  readonly publicKey: KeyObject;
  /** Subject of the X.509 certificate that came with the key ('' when none). */
  readonly certificateSubject?: string;
}

export type KeyLoader = (content: Buffer, ctx: LoadContext) => LoadedKey;

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A CorruptKey error: the store could be read but its content is not a usable key of that format. */
export function corruptKey(format: string, where: string, why: unknown): SSHDaemonError {
  return new SSHDaemonError(ErrorCodes.CorruptKey, `${format}: cannot parse ${where}: ${messageOf(why)}`, { cause: why });
}

/** A BadKeyPassword error. */
export function badPassword(format: string, where: string, detail: string, password: string): SSHDaemonError {
  const which = password ? 'wrong password' : 'a password is required';
  return new SSHDaemonError(ErrorCodes.BadKeyPassword, `${format}: ${which} for ${where} (${detail})`);
}

const PAIR_PROBE = Buffer.from('sshdaemon: key pair check');

/**
 * Whether a private key signs what the public key verifies. OpenSSL imports damaged RSA and EC
 * private keys (a changed prime or exponent, a scalar for another point) without complaint, and
 * such a host key would sign what no client accepts.
 */
export function keyPairMatches(privateKey: KeyObject, publicKey: KeyObject): boolean {
  const hash = privateKey.asymmetricKeyType === 'ed25519' || privateKey.asymmetricKeyType === 'ed448' ? null : 'sha256';
  try {
    if (privateKey.asymmetricKeyType === 'rsa' && !rsaComponentsAgree(privateKey)) return false;
    return verify(hash, PAIR_PROBE, publicKey, sign(hash, PAIR_PROBE, privateKey));
  } catch {
    return false;
  }
}

const bigOf = (b64url: string | undefined): bigint => BigInt(`0x${Buffer.from(b64url ?? '', 'base64url').toString('hex') || '0'}`);
const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

/**
 * OpenSSL signs with the CRT values alone, so a wrong private exponent goes unnoticed until the
 * key is written out (toOpenSSH keeps d and drops the CRT values): n = pq, ed = 1 mod lcm(p-1, q-1),
 * and the CRT values derived from d, p and q.
 */
function rsaComponentsAgree(privateKey: KeyObject): boolean {
  const jwk = privateKey.export({ format: 'jwk' });
  const [n, e, d, p, q, dp, dq, qi] = [jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi].map(bigOf);
  if (p < 2n || q < 2n || n !== p * q) return false;
  const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
  return (e * d) % lambda === 1n && dp === d % (p - 1n) && dq === d % (q - 1n) && (qi * q) % p === 1n;
}
