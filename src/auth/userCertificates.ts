import { existsSync, readFileSync } from 'node:fs';
import type { SessionRestrictions } from '../policy/SessionRestrictions';
import { checkUserCertificate, type CertificateRestrictions, type OpenSSHCertificate } from '../certs/openSSHCertificate';

/** A certificate's critical options and extensions as the restrictions the daemon enforces. */
export function certificateSessionRestrictions(r: CertificateRestrictions): SessionRestrictions {
  return {
    forceCommand: r.forceCommand,
    pty: r.permitPty,
    portForwarding: r.permitPortForwarding,
    agentForwarding: r.permitAgentForwarding,
    x11Forwarding: r.permitX11Forwarding,
    userRc: r.permitUserRc,
    environment: {},
  };
}

const KEY_LINE = /^\s*(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521))\s+([A-Za-z0-9+/]+={0,2})(?:\s.*)?$/;

/** Parses OpenSSH public key lines (`type base64 [comment]`, `#` comments); throws naming the bad line. */
export function parseCAKeyLines(text: string): Buffer[] {
  const keys: Buffer[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim() || line.trim().startsWith('#')) return;
    const m = KEY_LINE.exec(line);
    if (!m) throw new Error(`line ${i + 1} is not an OpenSSH public key (ssh-ed25519, ecdsa-sha2-nistp*, ssh-rsa)`);
    keys.push(Buffer.from(m[2], 'base64'));
  });
  return keys;
}

/**
 * The TrustedUserCAKeys setting: public key lines, or the path of a file of them (read on each
 * use, so a rotated CA file takes effect for the next login, as with sshd).
 */
export function trustedCAsFromSetting(value: string): Buffer[] {
  const text = value.trim();
  if (!text) return [];
  return parseCAKeyLines(KEY_LINE.test(text.split(/\r?\n/)[0]) ? text : readFileSync(text, 'utf8'));
}

/** Validates a TrustedUserCAKeys value at config() time; returns the problem, if any. */
export function trustedCAsProblem(value: string): string | undefined {
  const text = value.trim();
  if (!text) return undefined;
  if (!KEY_LINE.test(text.split(/\r?\n/)[0]) && !existsSync(text)) return `no such file: ${text}`;
  try {
    trustedCAsFromSetting(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Who presents the certificate, for {@link acceptCertificate}. */
export interface CertificateLogin {
  readonly user: string;
  readonly address: string;
  readonly trustedCAs: readonly Buffer[];
  /** authorized_keys `principals=`: names the certificate must carry instead of the user name. */
  readonly principals?: readonly string[];
  readonly allowedSignatureAlgorithms?: readonly string[];
}

/** The sshd check of a user certificate against trusted CAs, with its restrictions in daemon terms. */
export function acceptCertificate(cert: OpenSSHCertificate, login: CertificateLogin): { ok: true; restrictions: SessionRestrictions } | { ok: false; reason: string } {
  const result = checkUserCertificate(cert, {
    user: login.user,
    trustedCAs: login.trustedCAs,
    sourceAddress: login.address,
    authorizedPrincipals: login.principals,
    allowedSignatureAlgorithms: login.allowedSignatureAlgorithms,
  });
  if (!result.ok) return { ok: false, reason: result.reason };
  return { ok: true, restrictions: certificateSessionRestrictions(result.restrictions) };
}
