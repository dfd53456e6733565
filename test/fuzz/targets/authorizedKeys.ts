/**
 * OpenSSH `authorized_keys` text (src/auth/authorizedKeys.ts), written by users of a hosting
 * server, and the `from=` pattern lists it carries (src/policy/patternList.ts).
 * Contract:
 * - AuthorizedKeys.parse never throws: every line that is not blank or a comment is an entry or a
 *   problem (with its 1-based line number and a reason), as sshd skips bad lines;
 * - an entry's blob starts with its key type; `principals=` only with cert-authority;
 *   `expiry-time` is the calendar time written (sshd's strptime refuses 20231301 or 2400);
 * - round trip: an entry written back as a line (options quoted, `"` escaped) parses to the same entry;
 * - from= globs match as a reference matcher does, in time linear in pattern x address;
 * - find / findCertificateAuthority with any client address return a verdict and never throw;
 *   a match is a line for that blob whose `from=` allows the address and which has not expired.
 */
import { isDeepStrictEqual } from 'node:util';
import { type AuthorizedKey, AuthorizedKeys } from '../../../src/auth/authorizedKeys';
import { globMatch } from '../../../src/policy/glob';
import { check, refusedOnly } from './contract';

const NOW = new Date('2026-06-01T00:00:00Z');
const ADDRESSES = ['127.0.0.1', '192.0.2.7', '::1', '::ffff:10.1.2.3', '2001:db8::1', '10.0.0.255'];

/** A reference glob: dynamic programming over (pattern, subject) prefixes. */
function referenceGlob(pattern: string, subject: string): boolean {
  const p = pattern.toLowerCase();
  const s = subject.toLowerCase();
  let row = [true, ...Array.from(s, () => false)];
  for (const c of p) {
    const next = [c === '*' && row[0], ...Array.from(s, () => false)];
    for (let j = 1; j <= s.length; j++) next[j] = c === '*' ? row[j] || next[j - 1] : row[j - 1] && (c === '?' || c === s[j - 1]);
    row = next;
  }
  return row[s.length];
}

function quote(value: string): string | undefined {
  // sshd's quoting cannot express a value ending in a backslash or holding `\` before a quote.
  if (/\\$|\\"/.test(value)) return undefined;
  return `"${value.replace(/"/g, '\\"')}"`;
}

function writeLine(e: AuthorizedKey): string | undefined {
  const opts: string[] = [];
  for (const [name, value] of e.options) {
    if (value === undefined) opts.push(name);
    else {
      const q = quote(value);
      if (q === undefined) return undefined;
      opts.push(`${name}=${q}`);
    }
  }
  return [opts.join(','), e.keyType, e.blob.toString('base64'), e.comment].filter(Boolean).join(' ');
}

const PARTS = (d: Date, utc: boolean) =>
  utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];

function checkEntry(e: AuthorizedKey, lines: string[]): void {
  check(e.line >= 1 && e.line <= lines.length, `line number ${e.line}`);
  check(
    e.blob.length >= 4 &&
      e.blob.readUInt32BE(0) === Buffer.byteLength(e.keyType, 'latin1') &&
      e.blob.subarray(4, 4 + e.keyType.length).toString('latin1') === e.keyType,
    'the blob holds the key type',
  );
  check(!e.principals || e.certAuthority, 'principals= without cert-authority');
  check(Object.isFrozen(e) && Object.isFrozen(e.restrictions), 'entries and restrictions are frozen');
  const expiry = e.options.filter(([n]) => n === 'expiry-time').at(-1)?.[1];
  if (expiry !== undefined) {
    check(e.expiresAt instanceof Date && !Number.isNaN(e.expiresAt.getTime()), `expiry-time="${expiry}" gave an invalid date`);
    const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/i.exec(expiry)!;
    const written = m.slice(1, 7).map((x) => Number(x ?? 0));
    check(
      isDeepStrictEqual(PARTS(e.expiresAt!, m[7] !== ''), written),
      () => `expiry-time="${expiry}" was read as ${e.expiresAt!.toISOString()}, not the time written`,
    );
  }
  const line = writeLine(e);
  if (line === undefined) return;
  const again = AuthorizedKeys.parse(line);
  check(again.entries.length === 1, () => `round trip: '${line}' gave ${JSON.stringify(again.problems)}`);
  const a = again.entries[0];
  for (const k of ['keyType', 'comment', 'certAuthority', 'from', 'principals', 'options', 'restrictions'] as const) {
    check(
      isDeepStrictEqual(a[k], e[k]),
      () => `round trip changed ${k}: ${JSON.stringify(e[k])} became ${JSON.stringify(a[k])} via '${line}'`,
    );
  }
  check(a.blob.equals(e.blob) && a.expiresAt?.getTime() === e.expiresAt?.getTime(), 'round trip changed the blob or expiry');
}

export function fuzz(data: Buffer): void {
  const text = data.toString(data.length && data[0] & 1 ? 'latin1' : 'utf8');
  const parsed = AuthorizedKeys.parse(text);
  const lines = text.split(/\r?\n/);
  const content = lines.filter((l) => l.trim() && !l.trim().startsWith('#')).length;
  check(
    parsed.entries.length + parsed.problems.length === content,
    `${content} content lines, ${parsed.entries.length} entries + ${parsed.problems.length} problems`,
  );
  for (const p of parsed.problems)
    check(
      p.line >= 1 && p.line <= lines.length && typeof p.reason === 'string' && p.reason.length > 0,
      'a problem has a line and a reason',
    );
  for (const e of parsed.entries) checkEntry(e, lines);
  const extra = text.split(/\s+/).find((w) => /^[0-9a-f:.]{2,45}$/i.test(w));
  for (const e of parsed.entries) {
    for (const item of (e.from ?? '').split(',').slice(0, 8)) {
      const pattern = item.trim().replace(/^!/, '');
      for (const address of extra ? [...ADDRESSES, extra] : ADDRESSES) {
        check(globMatch(pattern, address) === referenceGlob(pattern, address), `glob '${pattern}' against ${address}`);
      }
    }
    for (const address of extra ? [...ADDRESSES, extra] : ADDRESSES) {
      const ctx = { user: 'fuzz', address, now: NOW };
      for (const [how, find] of [
        ['find', () => parsed.find(e.blob, ctx)],
        ['findCertificateAuthority', () => parsed.findCertificateAuthority(e.blob, ctx)],
      ] as const) {
        const r = refusedOnly(find, () => false, `${how}(${address}) with from=${JSON.stringify(e.from)}`);
        if (!('value' in r)) continue;
        const m = r.value;
        if (m.ok) {
          check(
            m.entry.blob.equals(e.blob) && m.entry.certAuthority === (how === 'findCertificateAuthority'),
            `${how} matched a wrong line`,
          );
          check(!m.entry.expiresAt || m.entry.expiresAt.getTime() > NOW.getTime(), `${how} matched an expired line`);
        } else check(typeof m.reason === 'string' && m.reason.length > 0, 'a refusal has a reason');
      }
    }
  }
}
