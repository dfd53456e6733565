import { readFileSync } from 'node:fs';
import type { SSHUserAuthRequestEventArgs } from '../events/events';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { patternListAllows } from '../policy/patternList';
import { combineRestrictions, RESTRICTED, type SessionRestrictions, UNRESTRICTED } from '../policy/SessionRestrictions';
import type { OpenSSHCertificate } from '../certs/openSSHCertificate';
import { acceptCertificate } from './userCertificates';

/** One usable line of an OpenSSH `authorized_keys` file. */
export interface AuthorizedKey {
  /** 1-based line number in the source. */
  readonly line: number;
  /** Key type as written: `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, ... */
  readonly keyType: string;
  /** The SSH wire-format public key blob. */
  readonly blob: Buffer;
  /** The comment after the key ('' when none). */
  readonly comment: string;
  /** `cert-authority`: the key is a CA whose user certificates are accepted. */
  readonly certAuthority: boolean;
  /** `from="pattern-list"`: client addresses allowed (globs, CIDR, `!` negation). */
  readonly from?: string;
  /** `principals="a,b"` (with cert-authority): names a certificate must carry instead of the user name. */
  readonly principals?: readonly string[];
  /** `expiry-time="timespec"`: the key is refused from this moment on. */
  readonly expiresAt?: Date;
  /** What the options allow the session to do. */
  readonly restrictions: SessionRestrictions;
  /** Every option as written, in order (`no-pty` has value undefined). */
  readonly options: ReadonlyArray<readonly [string, string | undefined]>;
}

/** A line that was skipped, as sshd skips it, with the reason. */
export interface AuthorizedKeysProblem {
  /** 1-based line number in the source. */
  readonly line: number;
  /** Why sshd would reject the line. */
  readonly reason: string;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type OptionEffect = (entry: Mutable<AuthorizedKey>, r: Mutable<SessionRestrictions>, value: string | undefined) => void;

const flag =
  (name: keyof SessionRestrictions, on: boolean): OptionEffect =>
  (_e, r) =>
    void ((r as Record<string, unknown>)[name] = on);
const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** sshd(8) key options: whether each takes a value, and its effect. `restrict` is applied first. */
const OPTIONS: Record<string, { value: boolean; effect: OptionEffect }> = {
  'agent-forwarding': { value: false, effect: flag('agentForwarding', true) },
  'cert-authority': { value: false, effect: (e) => void (e.certAuthority = true) },
  command: { value: true, effect: (_e, r, v) => void (r.forceCommand = v) },
  environment: {
    value: true,
    effect: (_e, r, v) => {
      const i = (v ?? '').indexOf('=');
      if (i <= 0) throw new Error(`environment="${v}" is not NAME=value`);
      r.environment = { ...r.environment, [v!.slice(0, i)]: v!.slice(i + 1) };
    },
  },
  'expiry-time': { value: true, effect: (e, _r, v) => void (e.expiresAt = parseTimespec(v ?? '')) },
  from: { value: true, effect: (e, _r, v) => void (e.from = v) },
  'no-agent-forwarding': { value: false, effect: flag('agentForwarding', false) },
  'no-port-forwarding': { value: false, effect: flag('portForwarding', false) },
  'no-pty': { value: false, effect: flag('pty', false) },
  'no-user-rc': { value: false, effect: flag('userRc', false) },
  'no-x11-forwarding': { value: false, effect: flag('x11Forwarding', false) },
  permitlisten: { value: true, effect: (_e, r, v) => void (r.permitListen = [...(r.permitListen ?? []), v ?? '']) },
  permitopen: { value: true, effect: (_e, r, v) => void (r.permitOpen = [...(r.permitOpen ?? []), v ?? '']) },
  'port-forwarding': { value: false, effect: flag('portForwarding', true) },
  principals: { value: true, effect: (e, _r, v) => void (e.principals = list(v)) },
  pty: { value: false, effect: flag('pty', true) },
  restrict: { value: false, effect: () => undefined },
  'user-rc': { value: false, effect: flag('userRc', true) },
  'x11-forwarding': { value: false, effect: flag('x11Forwarding', true) },
  // FIDO and tunnel options: accepted so the line stays usable; they have no meaning here.
  'no-touch-required': { value: false, effect: () => undefined },
  'verify-required': { value: false, effect: () => undefined },
  tunnel: { value: true, effect: () => undefined },
};

const KEY_TYPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/;

/** `YYYYMMDD[Z]` or `YYYYMMDDHHMM[SS][Z]`; without `Z` the local time zone, as sshd. */
function parseTimespec(text: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/i.exec(text);
  if (!m) throw new Error(`expiry-time="${text}" is not YYYYMMDD[HHMM[SS]][Z]`);
  const [y, mo, d, h = '0', mi = '0', s = '0'] = m.slice(1, 7).map((x) => x ?? undefined) as string[];
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const date = m[7] ? new Date(Date.UTC(...parts)) : new Date(...parts);
  // Date rolls 20231350 over into 2024; sshd's strptime refuses such a time, so does this (and a
  // day past the month's end, which strptime would let mktime roll over).
  const utc = Boolean(m[7]);
  const read = utc
    ? [date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
    : [date.getFullYear(), date.getMonth(), date.getDate(), date.getHours(), date.getMinutes(), date.getSeconds()];
  if (read.some((v, i) => v !== parts[i])) throw new Error(`expiry-time="${text}" is not a valid date and time`);
  return date;
}

/** Splits `opt,opt="a,b",opt` at commas outside double quotes; `\"` escapes a quote. */
function splitOptions(text: string): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  let i = 0;
  while (i < text.length) {
    const nameMatch = /^[A-Za-z0-9-]+/.exec(text.slice(i));
    if (!nameMatch) throw new Error(`bad option syntax at "${text.slice(i)}"`);
    const name = nameMatch[0].toLowerCase();
    i += nameMatch[0].length;
    let value: string | undefined;
    if (text[i] === '=') {
      if (text[i + 1] !== '"') throw new Error(`option ${name}: value must be in double quotes`);
      i += 2;
      value = '';
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && text[i + 1] === '"') i++;
        value += text[i++];
      }
      if (text[i] !== '"') throw new Error(`option ${name}: missing closing quote`);
      i++;
    }
    out.push([name, value]);
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`expected "," after option ${name}`);
      i++;
    }
  }
  return out;
}

/** Splits a line into the options field (if any) and the rest, respecting quotes in the options. */
function splitLine(line: string): { options: string; rest: string } {
  const firstWord = /^\S+/.exec(line)?.[0] ?? '';
  if (KEY_TYPE.test(firstWord) || /-cert-v01@openssh\.com$/.test(firstWord)) return { options: '', rest: line };
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\' && quoted) i++;
    else if (line[i] === '"') quoted = !quoted;
    else if (!quoted && /\s/.test(line[i])) return { options: line.slice(0, i), rest: line.slice(i).trim() };
  }
  return { options: line, rest: '' };
}

function parseEntry(text: string, line: number): AuthorizedKey {
  const { options, rest } = splitLine(text);
  const [keyType, b64, ...comment] = rest.split(/\s+/);
  if (!keyType || !KEY_TYPE.test(keyType)) throw new Error(`unknown or missing key type "${keyType ?? ''}"`);
  if (!b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error('missing or invalid base64 key');
  const blob = Buffer.from(b64, 'base64');
  const typeLen = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  // The length field must be exactly the type's: subarray() would clip a longer one to the blob.
  if (typeLen !== keyType.length || blob.subarray(4, 4 + typeLen).toString('latin1') !== keyType)
    throw new Error(`key blob does not hold a ${keyType} key`);
  const opts = options ? splitOptions(options) : [];
  const restricts = opts.some(([n]) => n === 'restrict');
  const entry: Mutable<AuthorizedKey> = {
    line,
    keyType,
    blob,
    comment: comment.join(' '),
    certAuthority: false,
    restrictions: UNRESTRICTED,
    options: opts,
  };
  const r: Mutable<SessionRestrictions> = { ...(restricts ? RESTRICTED : UNRESTRICTED) };
  for (const [name, value] of opts) {
    const known = Object.hasOwn(OPTIONS, name) ? OPTIONS[name] : undefined;
    if (!known) throw new Error(`unknown option "${name}"`);
    if (known.value !== (value !== undefined))
      throw new Error(known.value ? `option ${name} needs ="value"` : `option ${name} takes no value`);
    known.effect(entry, r, value);
  }
  if (entry.principals && !entry.certAuthority) throw new Error('principals= is only valid with cert-authority');
  entry.restrictions = Object.freeze(r);
  return Object.freeze(entry);
}

/**
 * The outcome of looking a presented key up: the line that authorises it, or why none does.
 * @property ok True when a line authorises the key.
 * @property entry The line that authorises the key.
 * @property restrictions What that line's options allow (set it on `SSHUserAuthRequest.restrictions`).
 * @property reason Why no line authorises the key, for the log.
 */
export type AuthorizedKeyMatch =
  | { readonly ok: true; readonly entry: AuthorizedKey; readonly restrictions: SessionRestrictions }
  | { readonly ok: false; readonly reason: string };

/** Who is logging in, from where, for {@link AuthorizedKeys.find}. */
export interface AuthorizationContext {
  /** The user name logging in. */
  readonly user: string;
  /** The client's IP address (`SSHConnection.remoteHost`). */
  readonly address: string;
  /** The time for `expiry-time` and certificate validity; default now. */
  readonly now?: Date;
}

/**
 * An OpenSSH `authorized_keys` file: keys with their options (`from=`, `command=`, `no-pty`,
 * `restrict`, `permitopen=`, `expiry-time=`, `cert-authority`, ...). Lines sshd would reject are
 * skipped and listed in {@link problems}.
 */
export class AuthorizedKeys {
  private constructor(
    /** The usable keys, in file order. */
    readonly entries: readonly AuthorizedKey[],
    /** The lines that were skipped, and why. */
    readonly problems: readonly AuthorizedKeysProblem[],
    /** Where the text came from (for messages): a path, or 'authorized_keys'. */
    readonly source: string,
  ) {}

  /** Parses `authorized_keys` text; `source` names it in {@link problems}. */
  static parse(text: string, source = 'authorized_keys'): AuthorizedKeys {
    const entries: AuthorizedKey[] = [];
    const problems: AuthorizedKeysProblem[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      try {
        entries.push(parseEntry(line, i + 1));
      } catch (err) {
        problems.push({ line: i + 1, reason: (err as Error).message });
      }
    });
    return new AuthorizedKeys(entries, problems, source);
  }

  /** Reads a file; a missing or unreadable file throws `SSHDaemonError` (KeyFileNotFound). */
  static fromFile(path: string): AuthorizedKeys {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new SSHDaemonError(ErrorCodes.KeyFileNotFound, `Cannot read authorized_keys file ${path}: ${(err as Error).message}`);
    }
    return AuthorizedKeys.parse(text, path);
  }

  /**
   * The line that authorises a plain public key for this client, checking `from=` and
   * `expiry-time=`. Certificates go through {@link findCertificateAuthority}.
   */
  find(blob: Buffer, ctx: AuthorizationContext): AuthorizedKeyMatch {
    let reason = `key not listed in ${this.source}`;
    for (const entry of this.entries) {
      if (entry.certAuthority || !entry.blob.equals(blob)) continue;
      const refused = this.refusal(entry, ctx);
      if (!refused) return { ok: true, entry, restrictions: entry.restrictions };
      reason = refused;
    }
    return { ok: false, reason };
  }

  /** The `cert-authority` lines for a CA key, usable by this client (`from=`, `expiry-time=` checked). */
  findCertificateAuthority(caBlob: Buffer, ctx: AuthorizationContext): AuthorizedKeyMatch {
    let reason = `certificate authority not listed as cert-authority in ${this.source}`;
    for (const entry of this.entries) {
      if (!entry.certAuthority || !entry.blob.equals(caBlob)) continue;
      const refused = this.refusal(entry, ctx);
      if (!refused) return { ok: true, entry, restrictions: entry.restrictions };
      reason = refused;
    }
    return { ok: false, reason };
  }

  /**
   * A user certificate signed by a `cert-authority` key of this file, checked as sshd does
   * (validity, principals or the line's `principals=`, critical options, source-address); the
   * restrictions are the line's options and the certificate's, whichever is stricter.
   */
  findCertificate(cert: OpenSSHCertificate, ctx: AuthorizationContext): AuthorizedKeyMatch {
    const ca = this.findCertificateAuthority(cert.signatureKey, ctx);
    if (!ca.ok) return ca;
    const verdict = acceptCertificate(cert, {
      user: ctx.user,
      address: ctx.address,
      trustedCAs: [ca.entry.blob],
      principals: ca.entry.principals,
    });
    if (!verdict.ok) return { ok: false, reason: `${this.source} line ${ca.entry.line}: ${verdict.reason}` };
    const restrictions = combineRestrictions(ca.entry.restrictions, verdict.restrictions);
    if (!restrictions)
      return { ok: false, reason: `${this.source} line ${ca.entry.line}: command= and the certificate's force-command differ` };
    return { ok: true, entry: ca.entry, restrictions };
  }

  /**
   * The one-call use from an `SSHUserAuthRequest` handler: for a publickey request whose key (or
   * certificate authority) this file authorises for the client at `address`, sets `e.accept` and
   * `e.restrictions`; otherwise leaves the event alone. Returns the match or the reason.
   *
   * ```ts
   * daemon.on('SSHUserAuthRequest', (e) => {
   *   if (e.authMethod === 'publickey') keys.authorize(e, daemon.sshConnections.get(e.connectionId)!.remoteHost);
   * });
   * ```
   */
  authorize(e: SSHUserAuthRequestEventArgs, address: string, now?: Date): AuthorizedKeyMatch {
    if (e.authMethod !== 'publickey' || !e.publicKey) return { ok: false, reason: 'not a publickey request' };
    const ctx = { user: e.user, address, now };
    const cert = e.publicKey.certificate;
    const match = cert ? this.findCertificate(cert, ctx) : this.find(e.publicKey.blob, ctx);
    if (match.ok) {
      e.accept = true;
      e.restrictions = match.restrictions;
    }
    return match;
  }

  private refusal(entry: AuthorizedKey, ctx: AuthorizationContext): string | undefined {
    if (entry.from !== undefined && !patternListAllows(ctx.address, entry.from)) {
      return `${this.source} line ${entry.line}: client address ${ctx.address} not allowed by from="${entry.from}"`;
    }
    if (entry.expiresAt && (ctx.now ?? new Date()).getTime() >= entry.expiresAt.getTime()) {
      return `${this.source} line ${entry.line}: key expired at ${entry.expiresAt.toISOString()}`;
    }
    return undefined;
  }
}
