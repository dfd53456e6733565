/**
 * OpenSSH host certificates for the daemon's host keys (sshd `HostCertificate`): loaded from a
 * `*-cert.pub` file or its text and checked against the key they certify before anything listens,
 * so a certificate every client would refuse is an error at load, not a failed login later.
 */
import { readFileSync } from 'node:fs';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { CERT_VALID_FOREVER, parseOpenSSHCertificateText, SSH_CERT_TYPE_HOST, type OpenSSHCertificate } from './openSSHCertificate';
import { checkSshSignature, DEFAULT_SIGNATURE_ALGORITHMS } from './sshSignature';

/** What a host certificate is checked against: the host key it certifies. */
export interface CertifiedHostKey {
  /** The host key's plain SSH public key blob. */
  readonly publicKeyBlob: Buffer;
  /** True when `blob` is the same public key (decoded comparison). */
  matches(blob: Buffer): boolean;
  /** For messages, e.g. `SHA256:...`. */
  readonly fingerprint: string;
}

const CERT_LINE = /^\s*[a-z0-9-]+-cert-v01@openssh\.com\s/;

function when(seconds: bigint): string {
  if (seconds === CERT_VALID_FOREVER) return 'forever';
  const ms = Number(seconds) * 1000;
  return Number.isFinite(ms) && ms < 8.64e15 ? new Date(ms).toISOString() : String(seconds);
}

/**
 * Loads and checks the host certificate given in setting `setting` for `hostKey`: `value` is the
 * text of a `*-cert.pub` file (`type base64 [comment]`) or a path to one. Checked as OpenSSH
 * clients check a host certificate (sshconnect.c check_host_cert, sshkey.c
 * sshkey_cert_check_authority): it must be an OpenSSH certificate whose CA signature verifies
 * (SHA-1 `ssh-rsa` CA signatures are refused, as clients' CASignatureAlgorithms default does),
 * certify this host key, be a host certificate (type 2), be valid at `now` (seconds since the
 * epoch; default now) and carry no critical option (none is defined for host certificates:
 * clients refuse any).
 * @throws SSHDaemonError KeyFileNotFound when the file cannot be read; InvalidHostCertificate
 * naming the setting and the problem otherwise.
 */
export function loadHostCertificate(
  setting: string,
  value: string,
  hostKey: CertifiedHostKey,
  now = Date.now() / 1000,
): OpenSSHCertificate {
  let text = value;
  if (!CERT_LINE.test(value)) {
    try {
      text = readFileSync(value.trim(), 'utf8');
    } catch (err) {
      throw new SSHDaemonError(
        ErrorCodes.KeyFileNotFound,
        `${setting}: cannot read host certificate file '${value.trim()}': ${(err as Error).message} (give the path or the text of a *-cert.pub file)`,
      );
    }
  }
  const bad = (problem: string) => new SSHDaemonError(ErrorCodes.InvalidHostCertificate, `${setting}: ${problem}`);
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '' && !l.trim().startsWith('#')) ?? '';
  const parsed = parseOpenSSHCertificateText(line);
  if (!parsed.ok)
    throw bad(`not an OpenSSH certificate (${parsed.reason}); expected the contents of a *-cert.pub file made by ssh-keygen -s CA -h`);
  const cert = parsed.certificate;
  const sig = checkSshSignature(cert.signatureKey, cert.signedData, cert.signature, { allowedAlgorithms: DEFAULT_SIGNATURE_ALGORITHMS });
  if (!sig.ok) throw bad(`the CA signature of the certificate does not verify (${sig.reason})`);
  if (!hostKey.matches(cert.publicKey)) {
    throw bad(`the certificate (key id '${cert.keyId}') certifies another key (${cert.keyType}), not the host key ${hostKey.fingerprint}`);
  }
  if (cert.type !== SSH_CERT_TYPE_HOST)
    throw bad(`the certificate (key id '${cert.keyId}') is a user certificate; sign the host key with ssh-keygen -h`);
  const t = BigInt(Math.floor(now));
  if (t < cert.validAfter) throw bad(`the certificate (key id '${cert.keyId}') is not valid before ${when(cert.validAfter)}`);
  if (t >= cert.validBefore) throw bad(`the certificate (key id '${cert.keyId}') expired at ${when(cert.validBefore)}`);
  if (cert.criticalOptions.length > 0) {
    throw bad(
      `the certificate (key id '${cert.keyId}') has critical option ${JSON.stringify(cert.criticalOptions[0].name.slice(0, 64))}; clients refuse host certificates with critical options`,
    );
  }
  return cert;
}
