/**
 * Key stores (src/certs: PEM, OpenSSH, PuTTY PPK v2/v3, PKCS#12/PFX, SSH public keys, X.509, P7B,
 * through `new Certificate(storeType, Buffer)`) and the client key blobs and signatures of
 * publickey authentication (src/certs/sshSignature.ts, `Certificate.matches`).
 * Contract:
 * - `new Certificate` throws only SSHDaemonError CorruptKey, BadKeyPassword, SubjectNotFound or
 *   UnsupportedStoreType (a PPK naming an encryption PPK does not have); never anything else;
 * - a loaded key is consistent: its public blob decodes to the same key and `matches` it; a
 *   private key signs what its public key verifies; `toOpenSSH()` loads back to the same key;
 * - mode 7 (client bytes): parseSshPublicKey, checkSshSignature and Certificate.matches never throw;
 *   a signature accepted is one node verifies with the blob's key and an algorithm of its key type.
 * PPK files get their MAC recomputed (mode bit 0x10) so mutations reach past the integrity check.
 */
import { createHash, createHmac, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { checkSshSignature, parseSshPublicKey } from '../../../src/certs/sshSignature';
import { Certificate } from '../../../src/certs/Certificate';
import { CertStoreTypes } from '../../../src/certs/CertStoreTypes';
import { publicKeyFromBlob } from '../../../src/certs/sshKeyBlob';
import { ErrorCodes } from '../../../src/errors/SSHDaemonError';
import { check, daemonError, refusedOnly } from './contract';

const STORE_TYPES = [
  CertStoreTypes.cstAuto,
  CertStoreTypes.cstPEMKeyBlob,
  CertStoreTypes.cstPFXBlob,
  CertStoreTypes.cstPPKBlob,
  CertStoreTypes.cstSSHPublicKeyBlob,
  CertStoreTypes.cstPublicKeyBlob,
  CertStoreTypes.cstP7BBlob,
];
const documented = daemonError(
  ErrorCodes.CorruptKey,
  ErrorCodes.BadKeyPassword,
  ErrorCodes.SubjectNotFound,
  ErrorCodes.UnsupportedStoreType,
);
const MESSAGE = Buffer.from('fuzz: data signed by a loaded key');
const SIG_SCHEMES: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ssh-rsa': ['rsa-sha2-256', 'rsa-sha2-512', 'ssh-rsa'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
};

const str = (b: Buffer | string) => {
  const v = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(v.length);
  return Buffer.concat([len, v]);
};

/** Recomputes the Private-MAC of an unencrypted PPK so that the parser goes past it. */
function fixPpkMac(text: string): string {
  const lines = text.split(/\r?\n/);
  const header = /^PuTTY-User-Key-File-(\d+): *(\S+)/.exec(lines[0] ?? '');
  if (!header) return text;
  const field = (name: string) =>
    lines
      .find((l) => l.startsWith(`${name}: `))
      ?.slice(name.length + 2)
      .trim() ?? '';
  const blob = (name: string) => {
    const i = lines.findIndex((l) => l.startsWith(`${name}: `));
    if (i < 0) return Buffer.alloc(0);
    return Buffer.from(lines.slice(i + 1, i + 1 + Number(field(name)) || 0).join(''), 'base64');
  };
  if (field('Encryption') !== 'none') return text;
  const data = Buffer.concat([header[2], 'none', field('Comment'), blob('Public-Lines'), blob('Private-Lines')].map((f) => str(f)));
  const mac =
    header[1] === '2'
      ? createHmac('sha1', createHash('sha1').update('putty-private-key-file-mac-key').digest()).update(data).digest('hex')
      : createHmac('sha256', Buffer.alloc(0)).update(data).digest('hex');
  return lines.map((l) => (l.startsWith('Private-MAC: ') ? `Private-MAC: ${mac}` : l)).join('\n');
}

function checkLoaded(cert: Certificate): void {
  check(cert.keyType in SIG_SCHEMES, `key type ${cert.keyType}`);
  const again = refusedOnly(
    () => publicKeyFromBlob(cert.publicKeyBlob),
    () => false,
    'publicKeyFromBlob(publicKeyBlob)',
  );
  check('value' in again && again.value.equals(cert.publicKey), 'the public blob does not decode to the public key');
  check(cert.matches(cert.publicKeyBlob), 'matches(publicKeyBlob) is false');
  if (!cert.privateKey) return;
  check(cert.hasPrivateKey, 'hasPrivateKey');
  check(createPublicKey(cert.privateKey).equals(cert.publicKey), "the private key is not the public key's partner");
  const hash = cert.keyType === 'ssh-ed25519' ? null : 'sha256';
  check(verify(hash, MESSAGE, cert.publicKey, sign(hash, MESSAGE, cert.privateKey)), 'a signature by the private key does not verify');
  const reloaded = new Certificate(CertStoreTypes.cstPEMKeyBlob, cert.toOpenSSH('fuzz'));
  check(reloaded.publicKeyBlob.equals(cert.publicKeyBlob), 'toOpenSSH() does not load back to the same key');
}

// Client bytes: one key of each type signs; the fuzz input replaces the blob or the signature.
// Made when the module loads, so that no input pays for the RSA key generation.
const CLIENT_KEYS = [
  Certificate.generate('ed25519'),
  Certificate.generate('ecdsa-p256'),
  new Certificate(
    CertStoreTypes.cstPEMKeyBlob,
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  ),
];
const keys = () => CLIENT_KEYS;

function clientBytes(body: Buffer, pick: number): void {
  const key = keys()[pick % 3];
  const algorithms = SIG_SCHEMES[key.keyType];
  const algorithm = algorithms[(pick >> 2) % algorithms.length];
  const hash =
    { 'ssh-ed25519': null, 'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512', 'ssh-rsa': 'sha1', 'ecdsa-sha2-nistp256': 'sha256' }[
      algorithm
    ] ?? null;
  const raw = sign(hash, MESSAGE, { key: key.privateKey!, dsaEncoding: 'ieee-p1363' });
  const rawSsh = algorithm.startsWith('ecdsa')
    ? Buffer.concat([str(Buffer.concat([Buffer.alloc(1), raw.subarray(0, 32)])), str(Buffer.concat([Buffer.alloc(1), raw.subarray(32)]))])
    : raw;
  const goodSig = Buffer.concat([str(algorithm), str(rawSsh)]);
  const [blob, signature] = pick & 0x40 ? [body, goodSig] : [key.publicKeyBlob, body.length ? body : goodSig];
  const parsed = parseSshPublicKey(blob);
  check(parsed.ok || parsed.reason.length > 0, 'a refusal has a reason');
  const matched = key.matches(blob);
  check(!matched || (parsed.ok && parsed.key.equals(key.publicKey)), 'matches() accepted a blob that is not its key');
  for (const allowedAlgorithms of [
    undefined,
    ['ssh-rsa', 'rsa-sha2-256', 'rsa-sha2-512', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'],
  ]) {
    const result = checkSshSignature(blob, MESSAGE, signature, { allowedAlgorithms });
    if (!result.ok) continue;
    check(parsed.ok, 'a signature was accepted for a blob parseSshPublicKey refuses');
    check(SIG_SCHEMES[parsed.type].includes(result.algorithm), `a ${result.algorithm} signature was accepted for a ${parsed.type} key`);
    check(allowedAlgorithms !== undefined || result.algorithm !== 'ssh-rsa', 'SHA-1 ssh-rsa accepted by default');
    check(parsed.type !== 'ssh-rsa' || (parsed.rsaBits ?? 0) >= 1024, 'an RSA key under 1024 bits');
  }
}

export function fuzz(data: Buffer): void {
  const mode = data.length ? data[0] : 0;
  const body = data.subarray(1);
  if ((mode & 7) === 7) return clientBytes(body, mode >> 3);
  const storeType = STORE_TYPES[(mode & 7) % STORE_TYPES.length];
  const content = mode & 0x10 ? Buffer.from(fixPpkMac(body.toString('utf8'))) : body;
  const password = mode & 0x20 ? 'fuzz' : '';
  const subject = mode & 0x40 ? 'CN=fuzz' : '*';
  const r = refusedOnly(
    () => new Certificate(storeType, content, password, subject),
    documented,
    `new Certificate(${CertStoreTypes[storeType]})`,
  );
  if ('value' in r) checkLoaded(r.value);
}
