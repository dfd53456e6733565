/**
 * SSH public key blobs and SSH wire signatures checked with node:crypto alone, independent of the
 * engine: RFC 4253 6.6 (`string algorithm, string signature`), RFC 8332 (rsa-sha2-*), RFC 5656
 * (ecdsa-sha2-*) and RFC 8709 (ssh-ed25519).
 */
import { verify, type KeyObject } from 'node:crypto';
import { blobKeyType, publicKeyFromBlob, SSH_KEY_TYPES } from './sshKeyBlob';
import { WireReader } from '../packet/wire';

/** How one signature algorithm is checked: the key type it needs and the digest it signs. */
interface SignatureScheme {
  readonly keyType: string;
  /** undefined for Ed25519, which hashes internally. */
  readonly hash?: string;
}

const SIGNATURE_SCHEMES: Readonly<Record<string, SignatureScheme>> = {
  'ssh-ed25519': { keyType: 'ssh-ed25519' },
  'ecdsa-sha2-nistp256': { keyType: 'ecdsa-sha2-nistp256', hash: 'sha256' },
  'ecdsa-sha2-nistp384': { keyType: 'ecdsa-sha2-nistp384', hash: 'sha384' },
  'ecdsa-sha2-nistp521': { keyType: 'ecdsa-sha2-nistp521', hash: 'sha512' },
  'rsa-sha2-256': { keyType: 'ssh-rsa', hash: 'sha256' },
  'rsa-sha2-512': { keyType: 'ssh-rsa', hash: 'sha512' },
  'ssh-rsa': { keyType: 'ssh-rsa', hash: 'sha1' },
};

/**
 * Signature algorithms accepted when the caller names none: everything but SHA-1 `ssh-rsa`, as
 * OpenSSH >= 8.8 (PubkeyAcceptedAlgorithms) and >= 8.2 (CASignatureAlgorithms) default to.
 */
export const DEFAULT_SIGNATURE_ALGORITHMS: readonly string[] = Object.freeze([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
]);

/**
 * The signature algorithm a publickey request for `publicKeyAlgorithm` must carry (RFC 8332 3,
 * PROTOCOL.certkeys): certificate names sign with their plain algorithm, so
 * `rsa-sha2-512-cert-v01@openssh.com` needs an `rsa-sha2-512` signature.
 */
const SIGNATURE_OF_PUBLICKEY_ALGORITHM: Readonly<Record<string, string>> = {
  'ssh-ed25519': 'ssh-ed25519',
  'ecdsa-sha2-nistp256': 'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384': 'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521': 'ecdsa-sha2-nistp521',
  'ssh-rsa': 'ssh-rsa',
  'rsa-sha2-256': 'rsa-sha2-256',
  'rsa-sha2-512': 'rsa-sha2-512',
  'ssh-ed25519-cert-v01@openssh.com': 'ssh-ed25519',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': 'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': 'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': 'ecdsa-sha2-nistp521',
  'ssh-rsa-cert-v01@openssh.com': 'ssh-rsa',
  'rsa-sha2-256-cert-v01@openssh.com': 'rsa-sha2-256',
  'rsa-sha2-512-cert-v01@openssh.com': 'rsa-sha2-512',
};

/** The signature algorithm a publickey auth request naming `publicKeyAlgorithm` must be signed with; undefined when unknown. */
export function signatureAlgorithmFor(publicKeyAlgorithm: string): string | undefined {
  return Object.hasOwn(SIGNATURE_OF_PUBLICKEY_ALGORITHM, publicKeyAlgorithm)
    ? SIGNATURE_OF_PUBLICKEY_ALGORITHM[publicKeyAlgorithm]
    : undefined;
}

/**
 * The key type a plain signature algorithm needs (`ssh-rsa` for rsa-sha2-256/512, each ECDSA curve
 * its own type); undefined for unknown names and certificate algorithms.
 */
export function signatureKeyType(signatureAlgorithm: string): string | undefined {
  return Object.hasOwn(SIGNATURE_SCHEMES, signatureAlgorithm) ? SIGNATURE_SCHEMES[signatureAlgorithm].keyType : undefined;
}

/** Bytes of each of r and s in an ECDSA signature (the curve order size, RFC 5656), by algorithm. */
const ECDSA_SIZES: Readonly<Record<string, number>> = {
  'ecdsa-sha2-nistp256': 32,
  'ecdsa-sha2-nistp384': 48,
  'ecdsa-sha2-nistp521': 66,
};

/** OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE (and the RequiredRSASize default since 9.1). */
const RSA_MIN_BITS = 1024;
/** OpenSSH's SSH_RSA_MAXIMUM_MODULUS_SIZE. */
const RSA_MAX_BITS = 16384;
/**
 * Largest public exponent, in bits: OpenSSL's limit for moduli above 3072 bits, applied to all. A
 * huge exponent costs a verifier milliseconds per attempt before authentication; real keys use 65537.
 */
const RSA_MAX_EXPONENT_BITS = 64;

/** A plain SSH public key decoded into a node KeyObject. */
export interface SshPublicKey {
  /** The blob's key type: `ssh-ed25519`, `ecdsa-sha2-nistp256`, ..., `ssh-rsa`. */
  readonly type: string;
  readonly key: KeyObject;
  /** RSA modulus length in bits; undefined for other types. */
  readonly rsaBits?: number;
}

/** Success with a value, or failure with a sentence saying why. */
export type Checked<T> = ({ readonly ok: true } & T) | { readonly ok: false; readonly reason: string };

/** An mpint as an unsigned big-endian magnitude (leading zero bytes removed); undefined when negative. */
function unsignedMpint(raw: Buffer): Buffer | undefined {
  if (raw.length > 0 && raw[0] & 0x80) return undefined;
  let i = 0;
  while (i < raw.length && raw[i] === 0) i++;
  return raw.subarray(i);
}

/**
 * Decodes a plain SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp*`, `ssh-rsa`; no
 * certificates) into a KeyObject with the shared blob decoder, and applies OpenSSH's RSA size
 * limits and a 64-bit cap on the public exponent. Never throws: malformed blobs, points off the curve and trailing bytes are a reason.
 */
export function parseSshPublicKey(blob: Buffer): Checked<SshPublicKey> {
  // One publickey login parses the same blob three times (query, signed request, signature), and the
  // same users come back: KeyObjects are immutable, so the last few hundred are kept (a 30% share
  // of the key checks' CPU in the handshake profile was importing the same key again).
  const id = blob.length <= MAX_CACHED_BLOB ? blob.toString('latin1') : undefined;
  const known = id === undefined ? undefined : parsedKeys.get(id);
  if (known) {
    parsedKeys.delete(id!);
    parsedKeys.set(id!, known);
    return known;
  }
  const parsed = parseUncached(blob);
  if (id !== undefined) {
    parsedKeys.set(id, parsed);
    if (parsedKeys.size > PARSED_KEY_CACHE) parsedKeys.delete(parsedKeys.keys().next().value!);
  }
  return parsed;
}

/** Parsed keys kept, least recently used first (bounded: a client trying many keys only turns it over). */
const PARSED_KEY_CACHE = 512;
/** Blobs above this (RSA beyond 8192 bits) are parsed every time rather than kept. */
const MAX_CACHED_BLOB = 1100;
const parsedKeys = new Map<string, Checked<SshPublicKey>>();

function parseUncached(blob: Buffer): Checked<SshPublicKey> {
  const type = blobKeyType(blob);
  if (type === undefined || !(SSH_KEY_TYPES as readonly string[]).includes(type)) {
    return { ok: false, reason: `unsupported public key type ${JSON.stringify(type ?? '')}` };
  }
  let key: KeyObject;
  try {
    key = publicKeyFromBlob(blob);
  } catch (err) {
    return { ok: false, reason: `malformed ${type} public key (${(err as Error).message})` };
  }
  if (type !== 'ssh-rsa') return { ok: true, type, key };
  const rsaBits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (rsaBits < RSA_MIN_BITS) return { ok: false, reason: `RSA key of ${rsaBits} bits is under the ${RSA_MIN_BITS}-bit minimum` };
  if (rsaBits > RSA_MAX_BITS) return { ok: false, reason: `RSA key of ${rsaBits} bits is over the ${RSA_MAX_BITS}-bit maximum` };
  const exponentBits = (key.asymmetricKeyDetails?.publicExponent ?? 0n).toString(2).length;
  if (exponentBits > RSA_MAX_EXPONENT_BITS)
    return { ok: false, reason: `RSA public exponent of ${exponentBits} bits is over ${RSA_MAX_EXPONENT_BITS} bits` };
  return { ok: true, type, key, rsaBits };
}

/** The raw signature in the form node's verify takes, or a reason; `key` already fits the algorithm. */
function nodeSignature(algorithm: string, raw: Buffer, key: SshPublicKey): Buffer | string {
  if (algorithm === 'ssh-ed25519') return raw.length === 64 ? raw : `ed25519 signature is ${raw.length} bytes, not 64`;
  const size = Object.hasOwn(ECDSA_SIZES, algorithm) ? ECDSA_SIZES[algorithm] : undefined;
  if (size) {
    // RFC 5656 3.1.2: string(mpint r, mpint s); node takes r||s at fixed width (IEEE P1363).
    const r = new WireReader(raw);
    const parts = [unsignedMpint(r.bytes()), unsignedMpint(r.bytes())];
    if (r.remaining !== 0) return 'trailing bytes in the ECDSA signature blob';
    const out = Buffer.alloc(2 * size);
    for (const [i, part] of parts.entries()) {
      if (!part || part.length > size) return 'ECDSA signature value out of range';
      part.copy(out, (i + 1) * size - part.length);
    }
    return out;
  }
  // RSA (RFC 8332 3): OpenSSH left-pads a short signature to the modulus length, and so do we.
  const modBytes = Math.ceil((key.rsaBits ?? 0) / 8);
  if (raw.length > modBytes) return `RSA signature of ${raw.length} bytes is longer than the ${modBytes}-byte modulus`;
  return raw.length === modBytes ? raw : Buffer.concat([Buffer.alloc(modBytes - raw.length), raw]);
}

/** Options of {@link checkSshSignature}. */
export interface SshSignatureOptions {
  /** Signature algorithms accepted; default {@link DEFAULT_SIGNATURE_ALGORITHMS} (no SHA-1 `ssh-rsa`). */
  readonly allowedAlgorithms?: readonly string[];
  /**
   * The one algorithm the signature must name, e.g. {@link signatureAlgorithmFor} of the publickey
   * request's algorithm, so a client cannot announce rsa-sha2-512 and sign with another hash.
   */
  readonly expectedAlgorithm?: string;
}

/**
 * Verifies an SSH wire signature (`string algorithm, string raw-signature`) over `signedData`
 * with a plain SSH public key blob. The signature algorithm must be allowed, known, fit the key
 * type (rsa-sha2-* and ssh-rsa on ssh-rsa keys, each ecdsa curve on its own key type) and leave no
 * trailing bytes. Never throws; on failure says why.
 */
export function checkSshSignature(
  publicKeyBlob: Buffer,
  signedData: Buffer,
  signature: Buffer,
  options: SshSignatureOptions = {},
): Checked<{ readonly algorithm: string }> {
  try {
    const r = new WireReader(signature);
    const algorithm = r.string();
    const raw = r.bytes();
    if (r.remaining !== 0) return { ok: false, reason: `${r.remaining} trailing bytes after the signature` };
    const shown = JSON.stringify(algorithm.slice(0, 64));
    if (options.expectedAlgorithm !== undefined && algorithm !== options.expectedAlgorithm) {
      return { ok: false, reason: `signature algorithm ${shown} is not the expected ${options.expectedAlgorithm}` };
    }
    const scheme = Object.hasOwn(SIGNATURE_SCHEMES, algorithm) ? SIGNATURE_SCHEMES[algorithm] : undefined;
    if (!scheme) return { ok: false, reason: `unsupported signature algorithm ${shown}` };
    if (!(options.allowedAlgorithms ?? DEFAULT_SIGNATURE_ALGORITHMS).includes(algorithm)) {
      return { ok: false, reason: `signature algorithm ${algorithm} is not allowed` };
    }
    const key = parseSshPublicKey(publicKeyBlob);
    if (!key.ok) return key;
    if (key.type !== scheme.keyType) return { ok: false, reason: `signature algorithm ${algorithm} does not fit a ${key.type} key` };
    const sig = nodeSignature(algorithm, raw, key);
    if (typeof sig === 'string') return { ok: false, reason: sig };
    const good = verify(scheme.hash ?? null, signedData, { key: key.key, dsaEncoding: 'ieee-p1363' }, sig);
    return good ? { ok: true, algorithm } : { ok: false, reason: `${algorithm} signature does not verify` };
  } catch (err) {
    return { ok: false, reason: `malformed signature (${(err as Error).message})` };
  }
}

/**
 * Whether `signature` (SSH wire encoding) is a valid signature of `signedData` by the plain key
 * `publicKeyBlob`, with an algorithm in `allowedAlgorithms` (default: no SHA-1 `ssh-rsa`).
 * Never throws. See {@link checkSshSignature} for the reason on failure.
 */
export function verifySshSignature(
  publicKeyBlob: Buffer,
  signedData: Buffer,
  signature: Buffer,
  allowedAlgorithms?: readonly string[],
): boolean {
  return checkSshSignature(publicKeyBlob, signedData, signature, { allowedAlgorithms }).ok;
}
