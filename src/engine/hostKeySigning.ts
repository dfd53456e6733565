/**
 * Host keys that sign through a parsed `KeyObject`, not their PEM text.
 *
 * ssh2 1.17.0 signs every key exchange with `crypto.sign(algo, hash, pem)` (keyParser.js
 * `BaseKey.sign`), so OpenSSL parses the host key's PEM again for each signature: about 1.3 ms of an
 * Ed25519 signature's 1.4 ms on this machine, most of a handshake's server CPU (bench/notes.md). Here
 * each host key is parsed once by ssh2 (`parseKey`, handed to the Server already parsed, which it
 * accepts as it is) and given its own `sign` that uses a `KeyObject` made once from the same PEM;
 * the hash algorithm rule (the caller's, else the key's default) and the error-as-return-value
 * contract are ssh2's.
 *
 * Loud checks: the parsed key must carry the private PEM, ssh2's `sign`, and the "Hash Algorithm"
 * symbol; and at install the new `sign` must give a signature ssh2's own `verify` accepts (the same
 * bytes for deterministic Ed25519 and RSA), or the install throws.
 */
import { createPrivateKey, type KeyObject, sign as cryptoSign } from 'node:crypto';

interface ParsedHostKey {
  type: string;
  sign(data: Buffer, algo?: string): Buffer | Error;
  verify(data: Buffer, signature: Buffer, algo?: string): boolean | Error;
  getPrivatePEM(): string | null;
}

/* eslint-disable @typescript-eslint/no-require-imports */
const keyParser: { parseKey(data: string | Buffer): ParsedHostKey | Error } = require('ssh2/lib/protocol/keyParser.js');
/* eslint-enable @typescript-eslint/no-require-imports */

const PROBE = Buffer.from('sshdaemon host key signing probe');

function hashSymbol(key: object): symbol {
  const sym = Object.getOwnPropertySymbols(key).find((s) => s.description === 'Hash Algorithm');
  if (!sym) throw new Error('sshdaemon engine (hostKeySigning): ssh2 parsed keys have no "Hash Algorithm" symbol; ssh2 version changed?');
  return sym;
}

/** One host key for ssh2's Server: parsed once, signing with a KeyObject. Throws what ssh2's parse would. */
export function signingHostKey(text: string): { key: ParsedHostKey } {
  const parsed = keyParser.parseKey(text);
  if (parsed instanceof Error) throw new Error(`Cannot parse privateKey: ${parsed.message}`);
  const pem = parsed.getPrivatePEM();
  if (typeof pem !== 'string' || typeof parsed.sign !== 'function' || typeof parsed.verify !== 'function') {
    throw new Error('sshdaemon engine (hostKeySigning): ssh2 parsed key has no private PEM, sign() or verify(); ssh2 version changed?');
  }
  const original = parsed.sign;
  const keyObject: KeyObject = createPrivateKey(pem);
  const hash = hashSymbol(parsed);
  parsed.sign = function (this: ParsedHostKey & Record<symbol, unknown>, data: Buffer, algo?: string): Buffer | Error {
    const alg = algo && typeof algo === 'string' ? algo : (this[hash] as string | null | undefined);
    try {
      return cryptoSign(alg ?? null, data, keyObject);
    } catch (ex) {
      return ex as Error;
    }
  };
  const ours = parsed.sign(PROBE);
  const theirs = original.call(parsed, PROBE);
  if (!(ours instanceof Buffer) || !(theirs instanceof Buffer) || parsed.verify(PROBE, ours) !== true) {
    throw new Error(
      `sshdaemon engine (hostKeySigning): the KeyObject signature of a ${parsed.type} host key does not verify; ssh2 version changed?`,
    );
  }
  if (
    parsed.type !== 'ecdsa-sha2-nistp256' &&
    parsed.type !== 'ecdsa-sha2-nistp384' &&
    parsed.type !== 'ecdsa-sha2-nistp521' &&
    !ours.equals(theirs)
  ) {
    throw new Error(
      `sshdaemon engine (hostKeySigning): a ${parsed.type} host key signs differently through its KeyObject; ssh2 version changed?`,
    );
  }
  return { key: parsed };
}
