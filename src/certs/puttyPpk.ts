/**
 * PuTTY private key files (PPK), versions 2 and 3, as PuTTY's sshpubk.c writes them:
 *  - v2: `aes256-cbc` keyed by SHA-1(0,pass)||SHA-1(1,pass), zero IV; HMAC-SHA1 keyed by
 *    SHA-1("putty-private-key-file-mac-key" || pass) (pass = '' when unencrypted).
 *  - v3: Argon2id/i/d(pass, salt) -> 80 bytes = AES key 32 || IV 16 || MAC key 32; HMAC-SHA256
 *    (empty MAC key when unencrypted).
 * The MAC covers algorithm, encryption, comment, public blob and the decrypted private blob.
 * Version 1 (`Private-Hash`, PuTTY before 0.52) is refused: it has no MAC over the public part.
 */
import { createDecipheriv, createHash, createHmac, createPublicKey, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import type * as Argon2 from '@noble/hashes/argon2';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { encodeString, encodeUint32 } from '../packet/wire';
import { publicKeyBlob } from './opensshKey';
import { blobKeyType, privateKeyFromPuttyBlobs, publicKeyFromBlob } from './sshKeyBlob';
import { badPassword, corruptKey, messageOf, type KeyLoader, type LoadContext } from './storeLoader';

const FORMAT = 'PuTTY PPK';
const ARGON2_NAMES = { Argon2id: 'argon2id', Argon2i: 'argon2i', Argon2d: 'argon2d' } as const;
/** @noble/hashes' Argon2, loaded only for an encrypted PPK v3 (half a MiB of code no daemon needs otherwise). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const argon2 = (): typeof Argon2 => require('@noble/hashes/argon2') as typeof Argon2;
/** Guards against a file that asks Argon2 for absurd work: 1 GiB memory, 255 lanes. */
const ARGON2_MAX_MEMORY_KIB = 1024 * 1024;
const ARGON2_MAX_PARALLELISM = 255;

interface PpkFile {
  version: 2 | 3;
  algorithm: string;
  encryption: string;
  comment: string;
  fields: Map<string, string>;
  publicBlob: Buffer;
  privateBlob: Buffer;
  mac: Buffer;
}

/** True when the bytes start like a PPK file (used by cstAuto). */
export function looksLikePpk(content: Buffer): boolean {
  return /^\uFEFF?\s*PuTTY-User-Key-File-\d+:/.test(content.subarray(0, 64).toString('utf8'));
}

function parsePpk(text: string): PpkFile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = /^PuTTY-User-Key-File-(\d+): *(\S+)\s*$/.exec(lines[0] ?? '');
  if (!header) throw new Error('no "PuTTY-User-Key-File-N: algorithm" header line');
  const version = Number(header[1]);
  if (version !== 2 && version !== 3)
    throw new Error(`PPK version ${version} is not supported (versions 2 and 3 are; convert with \`puttygen key.ppk -o new.ppk\`)`);
  const fields = new Map<string, string>();
  const blobs = new Map<string, Buffer>();
  for (let i = 1; i < lines.length; i++) {
    const m = /^([A-Za-z0-9-]+): ?(.*)$/.exec(lines[i]);
    if (!m) {
      if (lines[i].trim() === '') continue;
      throw new Error(`line ${i + 1} is not "Name: value"`);
    }
    const [, name, value] = m;
    if (!name.endsWith('-Lines')) {
      fields.set(name, value.trim());
      continue;
    }
    const count = Number(value);
    if (!Number.isInteger(count) || count < 0 || i + count >= lines.length)
      throw new Error(`${name}: ${value} lines announced, file too short`);
    const base64 = lines.slice(i + 1, i + 1 + count).join('');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new Error(`${name}: not base64`);
    blobs.set(name, Buffer.from(base64, 'base64'));
    i += count;
  }
  const need = (name: string): string => {
    const v = fields.get(name);
    if (v === undefined) throw new Error(`missing "${name}:" line`);
    return v;
  };
  const publicBlob = blobs.get('Public-Lines');
  const privateBlob = blobs.get('Private-Lines');
  if (!publicBlob || !privateBlob) throw new Error('missing Public-Lines or Private-Lines');
  const mac = need('Private-MAC');
  if (!/^[0-9a-fA-F]+$/.test(mac)) throw new Error('Private-MAC is not hex');
  return {
    version,
    algorithm: header[2],
    encryption: need('Encryption'),
    comment: fields.get('Comment') ?? '',
    fields,
    publicBlob,
    privateBlob,
    mac: Buffer.from(mac, 'hex'),
  };
}

interface Keys {
  cipherKey?: Buffer;
  iv?: Buffer;
  macKey: Buffer;
}

function v2Keys(passphrase: string, encrypted: boolean): Keys {
  const pass = Buffer.from(encrypted ? passphrase : '', 'utf8');
  const sha1 = (...parts: Buffer[]) => createHash('sha1').update(Buffer.concat(parts)).digest();
  const macKey = sha1(Buffer.from('putty-private-key-file-mac-key'), pass);
  if (!encrypted) return { macKey };
  const cipherKey = Buffer.concat([sha1(encodeUint32(0), pass), sha1(encodeUint32(1), pass)]).subarray(0, 32);
  return { cipherKey, iv: Buffer.alloc(16), macKey };
}

function v3Keys(ppk: PpkFile, passphrase: string): Keys {
  if (ppk.encryption === 'none') return { macKey: Buffer.alloc(0) };
  const field = (name: string): string => {
    const v = ppk.fields.get(name);
    if (v === undefined) throw new Error(`missing "${name}:" line`);
    return v;
  };
  const kdfName = field('Key-Derivation');
  const kdfExport = Object.hasOwn(ARGON2_NAMES, kdfName) ? ARGON2_NAMES[kdfName as keyof typeof ARGON2_NAMES] : undefined;
  if (!kdfExport) throw new Error(`unknown Key-Derivation ${kdfName} (known: ${Object.keys(ARGON2_NAMES).join(', ')})`);
  const kdf = argon2()[kdfExport];
  const int = (name: string, max: number): number => {
    const n = Number(field(name));
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name}: ${field(name)} is out of range 1..${max}`);
    return n;
  };
  const m = int('Argon2-Memory', ARGON2_MAX_MEMORY_KIB);
  const t = int('Argon2-Passes', 0xffffffff);
  const p = int('Argon2-Parallelism', ARGON2_MAX_PARALLELISM);
  const salt = Buffer.from(field('Argon2-Salt'), 'hex');
  const out = Buffer.from(kdf(Buffer.from(passphrase, 'utf8'), salt, { t, m, p, dkLen: 80 }));
  return { cipherKey: out.subarray(0, 32), iv: out.subarray(32, 48), macKey: out.subarray(48, 80) };
}

function macOf(ppk: PpkFile, macKey: Buffer, privatePlain: Buffer): Buffer {
  const data = Buffer.concat([ppk.algorithm, ppk.encryption, ppk.comment, ppk.publicBlob, privatePlain].map((f) => encodeString(f)));
  return createHmac(ppk.version === 2 ? 'sha1' : 'sha256', macKey)
    .update(data)
    .digest();
}

const PAIR_PROBE = Buffer.from('sshdaemon: PPK key pair check');

/** The private key, or undefined when the blobs do not form a key pair matching the public blob. */
function keyPair(ppk: PpkFile, privatePlain: Buffer): KeyObject | undefined {
  try {
    const key = privateKeyFromPuttyBlobs(ppk.publicBlob, privatePlain);
    if (!publicKeyBlob(key).equals(ppk.publicBlob)) return undefined;
    // The JWK import keeps an ECDSA public point (and RSA modulus) as given without checking the
    // private part against it; only a signature shows that they belong together.
    const hash = ppk.algorithm === 'ssh-ed25519' ? null : 'sha256';
    return verify(hash, PAIR_PROBE, publicKeyFromBlob(ppk.publicBlob), sign(hash, PAIR_PROBE, key)) ? key : undefined;
  } catch {
    return undefined;
  }
}

function load(content: Buffer, { password, where }: LoadContext): KeyObject {
  let ppk: PpkFile;
  try {
    ppk = parsePpk(content.toString('utf8'));
  } catch (err) {
    throw corruptKey(FORMAT, where, err);
  }
  if (blobKeyType(ppk.publicBlob) !== ppk.algorithm) {
    throw corruptKey(
      FORMAT,
      where,
      new Error(`the header names ${ppk.algorithm} but the public key is ${blobKeyType(ppk.publicBlob) ?? 'unreadable'}`),
    );
  }
  if (ppk.encryption !== 'none' && ppk.encryption !== 'aes256-cbc') {
    throw new SSHDaemonError(
      ErrorCodes.UnsupportedStoreType,
      `${FORMAT}: ${where} uses encryption '${ppk.encryption}'; only none and aes256-cbc exist in PPK v2/v3`,
    );
  }
  const encrypted = ppk.encryption === 'aes256-cbc';
  if (encrypted && !password) throw badPassword(FORMAT, where, 'the key is encrypted', password);
  let keys: Keys;
  try {
    keys = ppk.version === 2 ? v2Keys(password, encrypted) : v3Keys(ppk, password);
  } catch (err) {
    throw corruptKey(FORMAT, where, err);
  }
  let privatePlain = ppk.privateBlob;
  if (encrypted) {
    if (privatePlain.length % 16 !== 0)
      throw corruptKey(FORMAT, where, new Error('the encrypted private part is not a whole number of AES blocks'));
    const decipher = createDecipheriv('aes-256-cbc', keys.cipherKey!, keys.iv!).setAutoPadding(false);
    privatePlain = Buffer.concat([decipher.update(privatePlain), decipher.final()]);
  }
  const expected = macOf(ppk, keys.macKey, privatePlain);
  const key = keyPair(ppk, privatePlain);
  if (expected.length !== ppk.mac.length || !timingSafeEqual(expected, ppk.mac)) {
    // A private part that still decrypts to the public key's partner means the passphrase was right
    // and something else in the file (comment, header, public lines) was changed.
    if (encrypted && !key)
      throw badPassword(FORMAT, where, 'the MAC does not verify: wrong passphrase, or the file was modified', password);
    throw corruptKey(FORMAT, where, new Error('the Private-MAC does not match: the file was modified or damaged'));
  }
  if (!key) throw corruptKey(FORMAT, where, new Error(`the private part does not form a ${ppk.algorithm} key matching the public part`));
  return key;
}

export const loadPpk: KeyLoader = (content, ctx) => {
  try {
    const privateKey = load(content, ctx);
    return { privateKey, publicKey: createPublicKey(privateKey) };
  } catch (err) {
    if (err instanceof SSHDaemonError) throw err;
    throw corruptKey(FORMAT, ctx.where, new Error(messageOf(err)));
  }
};
