/**
 * OpenSSH's host-key rotation extension, server side (PROTOCOL 2.5, sshd-session.c notify_hostkeys,
 * serverloop.c server_input_hostkeys_prove):
 * - after authentication the server sends `hostkeys-00@openssh.com` (want-reply false) with every
 *   loaded host key as a plain public key blob (certificates are never sent);
 * - a client with UpdateHostKeys asks `hostkeys-prove-00@openssh.com` for the keys it does not know
 *   yet; the server answers REQUEST_SUCCESS with one signature per key, in request order, over
 *   string "hostkeys-prove-00@openssh.com", string session identifier, string host key blob.
 *   RSA keys sign with the RSA algorithm negotiated in the key exchange, else rsa-sha2-512 or
 *   rsa-sha2-256 when the client's KEXINIT listed it, else ssh-rsa (as sshd).
 *   Any key that is not one of ours fails the whole request (REQUEST_FAILURE), as sshd.
 * Bounds beyond sshd (its work is bounded by the packet size only): a request may name each key
 * once and no more keys than are loaded, and a connection gets at most
 * {@link MAX_PROVE_REQUESTS} answers; the rest fail without signing anything.
 */
import type { Certificate } from '../certs/Certificate';
import { sshSign } from '../certs/sshSign';
import { encodeString, WireReader } from '../packet/wire';

/** Prove requests answered per connection: an OpenSSH client sends one per hostkeys-00 received (one). */
export const MAX_PROVE_REQUESTS = 4;

/** The request names (PROTOCOL 2.5). */
export const HOSTKEYS_NAME = 'hostkeys-00@openssh.com';
export const HOSTKEYS_PROVE_NAME = 'hostkeys-prove-00@openssh.com';

/**
 * Clients that cannot cope with hostkeys-00@openssh.com (OpenSSH compat.c SSH_BUG_HOSTKEYS),
 * matched against the software-and-comments part of the identification line.
 */
const HOSTKEYS_BUG = /^(Cisco-1\.|TeraTerm SSH|TTSSH\/1\.5\.|TTSSH\/2\.[1-6]|TTSSH\/2\.7[0-2])/;

/** Whether the client named by its identification line (`SSH-2.0-...`) is sent hostkeys-00. */
export function clientTakesHostKeys(identification: string): boolean {
  const software = identification.replace(/^SSH-[^-]*-/, '');
  return !HOSTKEYS_BUG.test(software);
}

/** The SSH_MSG_GLOBAL_REQUEST payload announcing `keys` (plain public key blobs). */
export function hostKeysAnnouncement(keys: readonly Certificate[]): Buffer {
  return Buffer.concat([
    Buffer.from([80]),
    encodeString(HOSTKEYS_NAME),
    Buffer.from([0]),
    ...keys.map((k) => encodeString(k.publicKeyBlob)),
  ]);
}

/** The RSA signature algorithm of a proof (see the module comment). */
export function proofRsaAlgorithm(negotiatedHostKey: string | undefined, clientHostKeyAlgorithms: readonly string[]): string {
  const base = (negotiatedHostKey ?? '').replace(/-cert-v01@openssh\.com$/, '');
  if (base === 'rsa-sha2-512' || base === 'rsa-sha2-256' || base === 'ssh-rsa') return base;
  const listed = (alg: string) => clientHostKeyAlgorithms.includes(alg) || clientHostKeyAlgorithms.includes(`${alg}-cert-v01@openssh.com`);
  if (listed('rsa-sha2-512')) return 'rsa-sha2-512';
  if (listed('rsa-sha2-256')) return 'rsa-sha2-256';
  return 'ssh-rsa';
}

/** What a prove request is answered with from this connection's facts. */
export interface ProveContext {
  /** The loaded host keys (with private keys). */
  readonly keys: readonly Certificate[];
  /** The session identifier. */
  readonly sessionId: Buffer;
  /** The host key algorithm negotiated in the current key exchange. */
  readonly negotiatedHostKey: string | undefined;
  /** The host key algorithms of the client's KEXINIT. */
  readonly clientHostKeyAlgorithms: readonly string[];
}

/**
 * The REQUEST_SUCCESS data for a hostkeys-prove-00@openssh.com request body (`data`: the key
 * blobs as SSH strings), or why it fails. Never throws; signs nothing unless every key is ours.
 */
export function proveHostKeys(data: Buffer, ctx: ProveContext): { ok: true; reply: Buffer } | { ok: false; reason: string } {
  const wanted: Certificate[] = [];
  try {
    const r = new WireReader(data);
    while (r.remaining > 0) {
      if (wanted.length >= ctx.keys.length) return { ok: false, reason: `more keys than the ${ctx.keys.length} loaded host keys` };
      const blob = r.bytes();
      const key = ctx.keys.find((k) => k.publicKeyBlob.equals(blob));
      if (!key) return { ok: false, reason: 'a key that is not one of the host keys' };
      if (wanted.includes(key)) return { ok: false, reason: `host key ${key.fingerprint} named twice` };
      wanted.push(key);
    }
  } catch {
    return { ok: false, reason: 'a malformed key list' };
  }
  const parts: Buffer[] = [];
  for (const key of wanted) {
    const algorithm = key.keyType === 'ssh-rsa' ? proofRsaAlgorithm(ctx.negotiatedHostKey, ctx.clientHostKeyAlgorithms) : key.keyType;
    const signed = Buffer.concat([encodeString(HOSTKEYS_PROVE_NAME), encodeString(ctx.sessionId), encodeString(key.publicKeyBlob)]);
    try {
      parts.push(encodeString(sshSign(key.privateKey!, key.keyType, algorithm, signed)));
    } catch (err) {
      return { ok: false, reason: `signing with ${key.fingerprint} failed: ${(err as Error).message}` };
    }
  }
  return { ok: true, reply: Buffer.concat(parts) };
}
