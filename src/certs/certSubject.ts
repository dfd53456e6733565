/**
 * The IPWorks subject selector for stores that hold several certificates (PFX, PEM certificate
 * bundles, P7B). Rules, in order (see docs/host-keys.md):
 *  1. `*` or `` selects the first entry.
 *  2. `attr=value[, attr=value...]` selects the first certificate whose subject has every listed
 *     pair (order-free, case-insensitive; `E` means emailAddress, `S` means ST).
 *  3. a bare value selects the first certificate whose CN equals it (case-insensitive).
 *  4. if 2/3 found nothing, the first certificate whose subject text (`CN=..., O=..., C=...`)
 *     contains the selector, case-insensitive: IPWorks' "subjects containing the value" fallback.
 */
import type { X509Certificate } from 'node:crypto';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';

const ALIASES: Record<string, string> = { e: 'emailaddress', s: 'st' };

interface Rdn {
  attr: string;
  value: string;
}

function rdnsOf(cert: X509Certificate): Rdn[] {
  // Node prints one `attr=value` per line, most significant first.
  return cert.subject
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const eq = line.indexOf('=');
      return { attr: line.slice(0, eq).trim().toLowerCase(), value: line.slice(eq + 1).trim() };
    });
}

/** The subject as IPWorks shows it: `CN=host.example, O=Org, C=US` (least significant first). */
export function formatSubject(cert: X509Certificate): string {
  return rdnsOf(cert)
    .reverse()
    .map((r) => `${r.attr === 'emailaddress' ? 'E' : r.attr.toUpperCase()}=${r.value}`)
    .join(', ');
}

/** True for the selectors that mean "the first entry". */
export function selectsFirst(subject: string): boolean {
  const s = subject.trim();
  return s === '' || s === '*';
}

function exactMatch(selector: string, cert: X509Certificate): boolean {
  const rdns = rdnsOf(cert);
  const lower = (s: string) => s.trim().toLowerCase();
  if (!selector.includes('=')) return rdns.some((r) => r.attr === 'cn' && lower(r.value) === lower(selector));
  const wanted = selector.split(',').map((pair) => {
    const eq = pair.indexOf('=');
    const attr = lower(pair.slice(0, eq));
    return { attr: Object.hasOwn(ALIASES, attr) ? ALIASES[attr] : attr, value: lower(pair.slice(eq + 1)) };
  });
  return wanted.every((w) => rdns.some((r) => r.attr === w.attr && lower(r.value) === w.value));
}

/** Index of the certificate the selector picks among `certs` (undefined entries never match), or -1. */
export function pickBySubject(selector: string, certs: readonly (X509Certificate | undefined)[]): number {
  if (selectsFirst(selector)) return certs.length ? 0 : -1;
  const exact = certs.findIndex((c) => c !== undefined && exactMatch(selector, c));
  if (exact >= 0) return exact;
  const needle = selector.trim().toLowerCase();
  return certs.findIndex((c) => c !== undefined && formatSubject(c).toLowerCase().includes(needle));
}

/** The SubjectNotFound error, listing the subjects that are there. */
export function subjectNotFound(subject: string, where: string, certs: readonly X509Certificate[]): SSHDaemonError {
  const seen = certs.length ? certs.map((c) => `'${formatSubject(c)}'`).join(', ') : 'none';
  return new SSHDaemonError(
    ErrorCodes.SubjectNotFound,
    `No entry in ${where} has a certificate matching subject '${subject}' (subjects present: ${seen}; '*' selects the first entry)`,
  );
}
