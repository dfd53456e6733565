import { createHash } from 'node:crypto';
import type { OpenSSHCertificate } from './openSSHCertificate';

/** A client's public key as presented in publickey authentication. */
export interface PublicKeyInfo {
  /** Key type from the blob: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ... */
  readonly algorithm: string;
  /** The SSH wire-format public key blob. */
  readonly blob: Buffer;
  /** `SHA256:...` exactly as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  /** The `authorized_keys` form: `type base64`. */
  readonly openSSH: string;
  /**
   * For an OpenSSH certificate (`*-cert-v01@openssh.com`): the parsed certificate. `blob` and
   * `openSSH` are then the certificate's, `fingerprint` is the certified key's (as sshd logs it).
   */
  readonly certificate?: OpenSSHCertificate;
}

/** OpenSSH's SHA256 fingerprint of a key blob. */
export function sha256Fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

export function describeCertificate(cert: OpenSSHCertificate): PublicKeyInfo {
  return {
    algorithm: cert.certKeyType,
    blob: cert.blob,
    fingerprint: sha256Fingerprint(cert.publicKey),
    openSSH: `${cert.certKeyType} ${cert.blob.toString('base64')}`,
    certificate: cert,
  };
}

export function describePublicKey(blob: Buffer): PublicKeyInfo {
  const typeLen = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const algorithm = blob.subarray(4, 4 + typeLen).toString('latin1');
  return {
    algorithm,
    blob,
    fingerprint: sha256Fingerprint(blob),
    openSSH: `${algorithm} ${blob.toString('base64')}`,
  };
}
