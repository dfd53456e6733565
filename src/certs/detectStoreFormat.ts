/** cstAuto: which store format some bytes are, judged from their content alone. */
import { looksLikePpk } from './puttyPpk';
import { looksLikeSshPublicKey } from './sshPublicKeyFile';
import type { CertStoreFormat } from './storeLoader';
import { derKind } from './x509Store';

/** What cstAuto recognises, for the "unknown content" message. */
export const AUTO_FORMATS =
  'PEM private key (PKCS#1, SEC1, PKCS#8, encrypted PKCS#8), OpenSSH private key, PuTTY PPK v2/v3, PKCS#12/PFX (DER or base64), ' +
  'SSH public key (OpenSSH line, RFC 4716, wire blob), X.509 certificate or public key (PEM/DER), PKCS#7/P7B';

/** Text markers, checked in order: private keys first, so a PEM file with a key and its certificate loads the key. */
const TEXT_MARKERS: readonly [RegExp, CertStoreFormat][] = [
  [/-----BEGIN (OPENSSH |RSA |EC |ENCRYPTED |)PRIVATE KEY-----/, 'pem'],
  [/-----BEGIN (PKCS7|CERTIFICATE CHAIN)-----/, 'p7b'],
  [/-----BEGIN ((X509 )?CERTIFICATE|(RSA )?PUBLIC KEY)-----/, 'x509'],
];

/** The store format of `content`, or undefined when it is none cstAuto knows. */
export function detectStoreFormat(content: Buffer): CertStoreFormat | undefined {
  if (looksLikePpk(content)) return 'ppk';
  const head = content.toString('latin1');
  for (const [marker, format] of TEXT_MARKERS) if (marker.test(head)) return format;
  if (looksLikeSshPublicKey(content)) return 'ssh-public-key';
  return derKind(content);
}

/**
 * The format of a store's bytes, also accepting base64 text of DER (a PFX pasted into the
 * AltSSHCertStore setting): then `content` is the decoded DER.
 */
export function detectStore(content: Buffer): { format: CertStoreFormat; content: Buffer } | undefined {
  const format = detectStoreFormat(content);
  if (format) return { format, content };
  // Paths use the base64 alphabet too; only a decoding that parses as PFX/P7B/X.509 DER counts.
  const compact = content.toString('latin1').replace(/\s+/g, '');
  if (compact.length < 64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  const der = Buffer.from(compact, 'base64');
  const kind = derKind(der);
  return kind ? { format: kind, content: der } : undefined;
}
