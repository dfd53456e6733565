/**
 * Structure check of SSH_MSG_USERAUTH_REQUEST (RFC 4252 section 5, 7, 8; RFC 4256 3.1) before
 * ssh2 parses it. ssh2's reader advances past a length field even when the string it announces is
 * truncated, so a malformed request reaches its parser with fields shifted or undefined: a
 * publickey request could throw a TypeError inside ssh2 (found by the sshAuth fuzz target), and
 * undefined fields were handed to the auth flow. A request that fails this check is a protocol error.
 */
import { WireReader } from '../packet/wire';

/** Fields after the method name, per method: 'flag' is a boolean that adds one more string when true. */
const METHOD_FIELDS: ReadonlyMap<string, readonly ('string' | 'flag')[]> = new Map([
  ['none', []],
  ['password', ['flag', 'string']],
  ['publickey', ['flag', 'string', 'string']],
  ['keyboard-interactive', ['string', 'string']],
  ['hostbased', ['string', 'string', 'string', 'string', 'string']],
]);

/** True when user, service, method and the method's fields are all there (trailing bytes are allowed, as ssh2 does). */
export function wellFormedUserauthRequest(payload: Buffer): boolean {
  try {
    const r = new WireReader(payload, 1);
    r.bytes();
    r.bytes();
    const fields = METHOD_FIELDS.get(r.string());
    if (!fields) return true; // unknown methods are ssh2's to refuse
    let extra = 0;
    for (const field of fields) {
      if (field === 'flag') extra += r.boolean() ? 1 : 0;
      else r.bytes();
    }
    for (let i = 0; i < extra; i++) r.bytes(); // new password, or the signature
    return true;
  } catch {
    return false;
  }
}
