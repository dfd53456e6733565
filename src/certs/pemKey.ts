/** PEM private keys (PKCS#1, SEC1, PKCS#8, encrypted PKCS#8 and legacy `Proc-Type` PEM) and OpenSSH `openssh-key-v1`. */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { engineParseKey } from '../engine/ssh2Internals';
import { badPassword, corruptKey, messageOf, type KeyLoader } from './storeLoader';

/** Words OpenSSL and ssh2 use when a passphrase is wrong or missing. */
function passwordProblem(message: string): boolean {
  return /passphrase|bad decrypt|decrypt|password|integrity/i.test(message);
}

export const loadPemKey: KeyLoader = (content, { password, where }) => {
  const text = content.toString('utf8');
  if (text.includes('-----BEGIN OPENSSH PRIVATE KEY-----')) {
    // Node cannot read openssh-key-v1 (and its bcrypt-pbkdf encryption); the engine's parser can.
    const parsed = engineParseKey(text, password || undefined);
    if (parsed instanceof Error) {
      if (passwordProblem(parsed.message)) throw badPassword('OpenSSH private key', where, parsed.message, password);
      throw corruptKey('OpenSSH private key', where, parsed);
    }
    try {
      const privateKey = createPrivateKey(parsed.getPrivatePEM());
      return { privateKey, publicKey: createPublicKey(privateKey) };
    } catch (err) {
      throw corruptKey('OpenSSH private key', where, err);
    }
  }
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    const hint = /-----BEGIN (CERTIFICATE|PUBLIC KEY)-----/.test(text)
      ? ' (it holds only a public key or certificate: use cstPublicKeyFile/cstPublicKeyBlob)'
      : '';
    throw corruptKey('PEM', where, new Error(`no PEM or OpenSSH private key found${hint}`));
  }
  try {
    const privateKey = createPrivateKey({ key: text, format: 'pem', passphrase: password });
    return { privateKey, publicKey: createPublicKey(privateKey) };
  } catch (err) {
    const encrypted = /ENCRYPTED/.test(text);
    if (encrypted && passwordProblem(messageOf(err))) throw badPassword('PEM private key', where, messageOf(err), password);
    throw corruptKey('PEM private key', where, err);
  }
};
