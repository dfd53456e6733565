/**
 * SSH public keys: the OpenSSH one-line form (`type base64 [comment]`, as in `id_ed25519.pub` and
 * `authorized_keys`), the RFC 4716 `---- BEGIN SSH2 PUBLIC KEY ----` form, the raw wire blob, and
 * the base64 of the wire blob (what `SSHUserAuthRequest` passes as `authParam`). Public only.
 */
import { blobKeyType, publicKeyFromBlob } from './sshKeyBlob';
import { corruptKey, type KeyLoader } from './storeLoader';

const FORMAT = 'SSH public key';
const RFC4716 = /---- BEGIN SSH2 PUBLIC KEY ----\r?\n([\s\S]*?)---- END SSH2 PUBLIC KEY ----/;
const ONE_LINE = /(?:^|\s)((?:ssh|ecdsa|sk)-[A-Za-z0-9@.-]+)\s+(AAAA[A-Za-z0-9+/]+={0,2})(?:\s|$)/;
const BASE64_BLOB = /^AAAA[A-Za-z0-9+/]+={0,2}$/;

/** RFC 4716 body: header lines (`Name: value`, continued by a trailing backslash) then base64. */
function rfc4716Blob(body: string): Buffer {
  const lines = body.split(/\r?\n/);
  let base64 = '';
  let continued = false;
  for (const line of lines) {
    if (continued || /^[^:\s]{1,64}:/.test(line)) {
      continued = line.endsWith('\\');
      continue;
    }
    base64 += line.trim();
  }
  return Buffer.from(base64, 'base64');
}

/** The wire blob in any of the accepted forms; throws Error saying what is wrong. */
export function sshPublicKeyBlob(content: Buffer): Buffer {
  if (blobKeyType(content)) return content;
  const text = content
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trim();
  const block = RFC4716.exec(text);
  if (block) return rfc4716Blob(block[1]);
  if (BASE64_BLOB.test(text)) return Buffer.from(text, 'base64');
  for (const line of text.split(/\r?\n/)) {
    if (line.trim().startsWith('#')) continue;
    const m = ONE_LINE.exec(line);
    if (!m) continue;
    const blob = Buffer.from(m[2], 'base64');
    if (blobKeyType(blob) !== m[1]) throw new Error(`the line says ${m[1]} but the key inside is ${blobKeyType(blob) ?? 'unreadable'}`);
    return blob;
  }
  throw new Error('no OpenSSH public key line (`type base64 [comment]`), RFC 4716 block or key blob found');
}

/** True when the bytes look like an SSH public key in one of the accepted forms (used by cstAuto). */
export function looksLikeSshPublicKey(content: Buffer): boolean {
  if (blobKeyType(content)) return true;
  const text = content.subarray(0, 16384).toString('utf8').trim();
  return RFC4716.test(text) || ONE_LINE.test(text) || (BASE64_BLOB.test(text) && blobKeyType(Buffer.from(text, 'base64')) !== undefined);
}

export const loadSshPublicKey: KeyLoader = (content, { where }) => {
  try {
    return { publicKey: publicKeyFromBlob(sshPublicKeyBlob(content)) };
  } catch (err) {
    throw corruptKey(FORMAT, where, err);
  }
};
