/**
 * SSH_MSG_USERAUTH_REQUEST (RFC 4252 5, 7, 8; RFC 4256 3.1) and SSH_MSG_USERAUTH_INFO_RESPONSE
 * (RFC 4256 3.4) decoded from the raw payload, message number first. Decoding throws
 * SSHDaemonError(MalformedPayload) on truncation or trailing bytes; what the fields mean is
 * decided by AuthFlow.
 */
import { SSH_MSG_USERAUTH_INFO_RESPONSE, SSH_MSG_USERAUTH_REQUEST } from '../packet/messages';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { WireReader } from '../packet/wire';

/** The fields every request has. */
interface RequestHead {
  /** User name (UTF-8). */
  readonly user: string;
  /** Service to start after authentication (`ssh-connection`). */
  readonly service: string;
}

/** A decoded USERAUTH_REQUEST, by method. */
export type UserAuthRequest =
  | (RequestHead & { readonly method: 'none' })
  | (RequestHead & {
      readonly method: 'password';
      readonly password: string;
      /** Present for a password-change request (the change flag set). */
      readonly newPassword?: string;
    })
  | (RequestHead & {
      readonly method: 'publickey';
      /** The public key algorithm name as the client sent it (`rsa-sha2-256`, `ssh-ed25519-cert-v01@openssh.com`, ...). */
      readonly algorithm: string;
      /** The key (or certificate) blob. */
      readonly blob: Buffer;
      /** The SSH signature (`string algorithm, string signature`); absent for a query. */
      readonly signature?: Buffer;
      /** The payload up to the signature: with the session id, what the signature covers (RFC 4252 7). */
      readonly signedPart: Buffer;
    })
  | (RequestHead & {
      readonly method: 'keyboard-interactive';
      /** The submethods hint, a comma list (RFC 4256 3.1). */
      readonly submethods: string;
    })
  | (RequestHead & { readonly method: 'other'; readonly name: string });

function malformed(what: string): SSHDaemonError {
  return new SSHDaemonError(ErrorCodes.MalformedPayload, `Malformed ${what}`);
}

function ended(r: WireReader, what: string): void {
  if (r.remaining !== 0) throw malformed(`${what}: ${r.remaining} trailing bytes`);
}

type MethodDecoder = (r: WireReader, head: RequestHead, payload: Buffer) => UserAuthRequest;

const DECODERS: Readonly<Record<string, MethodDecoder>> = {
  none: (_r, head) => ({ ...head, method: 'none' }),
  password: (r, head) => {
    const change = r.boolean();
    const password = r.string();
    const newPassword = change ? r.string() : undefined;
    return { ...head, method: 'password', password, newPassword };
  },
  publickey: (r, head, payload) => {
    const signed = r.boolean();
    const algorithm = r.string();
    const blob = r.bytes();
    const signedPart = payload.subarray(0, r.offset);
    const signature = signed ? r.bytes() : undefined;
    return { ...head, method: 'publickey', algorithm, blob, signature, signedPart };
  },
  'keyboard-interactive': (r, head) => {
    r.bytes(); // language tag, deprecated (RFC 4256 3.1)
    const submethods = r.string();
    return { ...head, method: 'keyboard-interactive', submethods };
  },
};

/** Decodes a USERAUTH_REQUEST payload; methods other than the four above come back as `other`. */
export function decodeUserAuthRequest(payload: Buffer): UserAuthRequest {
  if (payload[0] !== SSH_MSG_USERAUTH_REQUEST) throw malformed('USERAUTH_REQUEST: wrong message number');
  const r = new WireReader(payload, 1);
  const head = { user: r.string(), service: r.string() };
  const name = r.string();
  const decode = Object.hasOwn(DECODERS, name) ? DECODERS[name] : undefined;
  if (!decode) return { ...head, method: 'other', name };
  const request = decode(r, head, payload);
  ended(r, `USERAUTH_REQUEST (${name})`);
  return request;
}

/**
 * The answers of a USERAUTH_INFO_RESPONSE, or the number announced when it is not `expected`
 * (the strings are then not read: a client cannot make the daemon parse a huge list).
 */
export function decodeInfoResponse(payload: Buffer, expected: number): { answers: string[] } | { count: number } {
  if (payload[0] !== SSH_MSG_USERAUTH_INFO_RESPONSE) throw malformed('USERAUTH_INFO_RESPONSE: wrong message number');
  const r = new WireReader(payload, 1);
  const count = r.uint32();
  if (count !== expected) return { count };
  const answers: string[] = [];
  for (let i = 0; i < count; i++) answers.push(r.string());
  ended(r, 'USERAUTH_INFO_RESPONSE');
  return { answers };
}
