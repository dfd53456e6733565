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
export function acceptCertificate(
  cert: OpenSSHCertificate,
  login: CertificateLogin,
): { ok: true; restrictions: SessionRestrictions } | { ok: false; reason: string } {
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
