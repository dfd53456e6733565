/** The checks a publickey request passes before SSHUserAuthRequest fires (sshd's userauth_pubkey). */
import { parseSshPublicKey, checkSshSignature } from '../certs/sshSignature';
import type { UserAuthReplies } from '../engine/EngineWire';
import { ErrorCodes } from '../errors/SSHDaemonError';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import type { AuthHost } from './AuthHost';
import { shown } from './authValues';
import type { UserAuthRequest } from './userAuthRequest';

/** A USERAUTH_REQUEST of method publickey. */
export type PublicKeyRequest = Extract<UserAuthRequest, { method: 'publickey' }>;

/**
 * The checks sshd's userauth_pubkey makes before it looks the key up, in its order: a known
 * algorithm, allowed by SSHPubKeyAuthSigAlgorithms; a key blob that decodes to exactly that
 * algorithm's key type ("key type mismatch for decoded key"); not used in an earlier step;
 * RequiredRSASize. Returns the refusal reason, or undefined.
 */
export function keyProblem(
  host: AuthHost,
  usedKeys: ReadonlySet<string> | undefined,
  algorithm: string,
  sigAlgorithm: string | undefined,
  keyBlob: Buffer,
  decodedType: string,
): string | undefined {
  if (!sigAlgorithm) return `unsupported public key algorithm ${shown(algorithm)}`;
  if (!host.allowedSignatureAlgorithms().includes(sigAlgorithm))
    return `signature algorithm ${sigAlgorithm} not in SSHPubKeyAuthSigAlgorithms`;
  const key = parseSshPublicKey(keyBlob);
  if (!key.ok) return key.reason;
  if (key.type !== decodedType) return `key type mismatch for decoded key (received ${key.type}, expected ${shown(algorithm)})`;
  if (usedKeys?.has(keyBlob.toString('base64'))) return `refusing previously-used ${key.type} key`;
  const minimum = host.requiredRsaBits();
  if (key.rsaBits !== undefined && key.rsaBits < minimum) return `RSA key of ${key.rsaBits} bits is under RequiredRSASize ${minimum}`;
  return undefined;
}

/**
 * The signature must be by the presented key, name exactly the request's algorithm (RFC 8332 3.2:
 * a client may not ask with rsa-sha2-512 and sign with SHA-1) and cover the session identifier
 * and the request (RFC 4252 7). A bad one fires Error 1011.
 */
export function signatureVerifies(
  host: AuthHost,
  conn: ConnectionRecord,
  replies: UserAuthReplies,
  req: PublicKeyRequest,
  keyBlob: Buffer,
  sigAlgorithm: string,
  fingerprint: string,
): boolean {
  const sessionId = replies.sessionId();
  const length = Buffer.alloc(4);
  length.writeUInt32BE(sessionId.length);
  const signed = Buffer.concat([length, sessionId, req.signedPart]);
  const verified = checkSshSignature(keyBlob, signed, req.signature!, {
    expectedAlgorithm: sigAlgorithm,
    allowedAlgorithms: host.allowedSignatureAlgorithms(),
  });
  if (verified.ok) return true;
  host.hub.error(
    conn.id,
    ErrorCodes.SignatureInvalid,
    `publickey signature for ${shown(req.user)} with key ${fingerprint} does not verify: ${verified.reason}`,
  );
  return false;
}
