/**
 * OpenSSH user certificates (PROTOCOL.certkeys, `*-cert-v01@openssh.com`): a parser and the checks
 * sshd applies to a certificate presented for publickey authentication against TrustedUserCAKeys
 * (sshkey.c cert_parse + sshkey_cert_check_authority, auth2-pubkey.c user_cert_trusted_ca,
 * auth-options.c cert_option_list, auth.c auth_authorise_keyopts).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { blobKeyType } from './sshKeyBlob';
import { encodeString, WireReader } from '../packet/wire';
import { normaliseAddress } from '../policy/addressMatch';
import { checkSshSignature, DEFAULT_SIGNATURE_ALGORITHMS, parseSshPublicKey } from './sshSignature';

/** Certificate type field: a user certificate (PROTOCOL.certkeys SSH_CERT_TYPE_USER). */
export const SSH_CERT_TYPE_USER = 1;
/** Certificate type field: a host certificate (SSH_CERT_TYPE_HOST). */
export const SSH_CERT_TYPE_HOST = 2;

/** `valid before` of a certificate that never expires. */
export const CERT_VALID_FOREVER = 0xffffffffffffffffn;

/** OpenSSH's SSHKEY_CERT_MAX_PRINCIPALS. */
const MAX_PRINCIPALS = 256;

/** Certificate key types, with the plain key type and how many public key fields follow the nonce. */
const CERT_KEY_TYPES: Readonly<Record<string, { readonly plain: string; readonly publicFields: number }>> = {
  'ssh-ed25519-cert-v01@openssh.com': { plain: 'ssh-ed25519', publicFields: 1 },
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp256', publicFields: 2 },
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp384', publicFields: 2 },
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp521', publicFields: 2 },
  'ssh-rsa-cert-v01@openssh.com': { plain: 'ssh-rsa', publicFields: 2 },
};

/**
 * Public key algorithm names of publickey requests that carry a certificate blob, with the blob's
 * key type: the rsa-sha2 names only pick the signature hash of an `ssh-rsa-cert-v01` blob.
 */
const CERT_ALGORITHMS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(Object.keys(CERT_KEY_TYPES).map((t) => [t, t])),
  'rsa-sha2-256-cert-v01@openssh.com': 'ssh-rsa-cert-v01@openssh.com',
  'rsa-sha2-512-cert-v01@openssh.com': 'ssh-rsa-cert-v01@openssh.com',
};

/**
 * The certificate key type a publickey request naming `publicKeyAlgorithm` must present (e.g.
 * `ssh-rsa-cert-v01@openssh.com` for `rsa-sha2-512-cert-v01@openssh.com`); undefined when the
 * algorithm is not a certificate algorithm.
 */
export function certificateKeyType(publicKeyAlgorithm: string): string | undefined {
  return Object.hasOwn(CERT_ALGORITHMS, publicKeyAlgorithm) ? CERT_ALGORITHMS[publicKeyAlgorithm] : undefined;
}

/** One critical option or extension: its name and its raw data field. */
export interface CertificateOption {
  /** The option name (`force-command`, `permit-pty`, ...). */
  readonly name: string;
  /** The data field as sent; for force-command and source-address it holds one SSH string. */
  readonly data: Buffer;
}

/** A parsed OpenSSH certificate. Parsing checks structure only; {@link checkUserCertificate} decides trust. */
export interface OpenSSHCertificate {
  /** The certificate key type, e.g. `ssh-ed25519-cert-v01@openssh.com`. */
  readonly certKeyType: string;
  /** The certified key's plain type, e.g. `ssh-ed25519`. */
  readonly keyType: string;
  /** The random nonce the CA put first. */
  readonly nonce: Buffer;
  /** The certified key as a plain SSH public key blob (what signs the publickey request). */
  readonly publicKey: Buffer;
  /** The serial number the CA gave. */
  readonly serial: bigint;
  /** 1 for a user certificate (SSH_CERT_TYPE_USER), 2 for a host certificate (SSH_CERT_TYPE_HOST). */
  readonly type: number;
  /** The key id the CA gave (`ssh-keygen -I`); logged, not checked. */
  readonly keyId: string;
  /** Empty means no principal list at all (refused by default, see {@link UserCertificateCheckOptions}). */
  readonly principals: readonly string[];
  /** Seconds since the epoch; the certificate is valid from this instant. */
  readonly validAfter: bigint;
  /** Seconds since the epoch; valid strictly before this instant. 2^64-1 (`CERT_VALID_FOREVER`) = no expiry. */
  readonly validBefore: bigint;
  /** Critical options (`force-command`, `source-address`, ...): an unknown one refuses the certificate. */
  readonly criticalOptions: readonly CertificateOption[];
  /** Extensions (`permit-pty`, `permit-port-forwarding`, ...): what the certificate grants. */
  readonly extensions: readonly CertificateOption[];
  /** The reserved field (empty). */
  readonly reserved: Buffer;
  /** The CA's public key blob. */
  readonly signatureKey: Buffer;
  /** The CA's signature in SSH wire encoding. */
  readonly signature: Buffer;
  /** The algorithm named in {@link signature}, e.g. `rsa-sha2-512`. */
  readonly signatureAlgorithm: string;
  /** Everything the CA signed: the blob up to (not including) the signature field. */
  readonly signedData: Buffer;
  /** The whole certificate blob. */
  readonly blob: Buffer;
}

/**
 * A parsed certificate, or why the blob is not one.
 * @property ok True when the blob parsed.
 * @property certificate The certificate.
 * @property reason Why the blob is not a certificate.
 */
export type CertificateParseResult =
  { readonly ok: true; readonly certificate: OpenSSHCertificate } | { readonly ok: false; readonly reason: string };

/** A string field that OpenSSH reads as a C string: embedded NULs are refused (sshbuf_get_cstring). */
function cstring(r: WireReader, what: string): string {
  const b = r.bytes();
  if (b.includes(0)) throw new Error(`${what} contains a NUL byte`);
  return b.toString('utf8');
}

function readOptions(section: Buffer, what: string): CertificateOption[] {
  const r = new WireReader(section);
  const out: CertificateOption[] = [];
  while (r.remaining > 0) out.push({ name: cstring(r, `${what} name`), data: r.bytes() });
  return out;
}

function readPrincipals(section: Buffer): string[] {
  const r = new WireReader(section);
  const out: string[] = [];
  while (r.remaining > 0) {
    if (out.length >= MAX_PRINCIPALS) throw new Error(`more than ${MAX_PRINCIPALS} principals`);
    out.push(cstring(r, 'principal'));
  }
  return out;
}

/**
 * Parses an OpenSSH certificate blob (the base64-decoded second field of `*-cert.pub`). Refuses
 * unknown key types and certificate types, truncation, trailing bytes, a certified key this module
 * cannot use, NULs in names and more than 256 principals. Never throws.
 */
export function parseOpenSSHCertificate(blob: Buffer): CertificateParseResult {
  try {
    const r = new WireReader(blob);
    const certKeyType = r.string();
    const layout = Object.hasOwn(CERT_KEY_TYPES, certKeyType) ? CERT_KEY_TYPES[certKeyType] : undefined;
    if (!layout) return { ok: false, reason: `not an OpenSSH certificate key type: ${JSON.stringify(certKeyType.slice(0, 64))}` };
    const nonce = r.bytes();
    const fieldsStart = r.offset;
    for (let i = 0; i < layout.publicFields; i++) r.bytes();
    const publicKey = Buffer.concat([encodeString(layout.plain), blob.subarray(fieldsStart, r.offset)]);
    const key = parseSshPublicKey(publicKey);
    if (!key.ok) return { ok: false, reason: `certified key: ${key.reason}` };
    const serial = r.uint64();
    const type = r.uint32();
    if (type !== SSH_CERT_TYPE_USER && type !== SSH_CERT_TYPE_HOST) return { ok: false, reason: `unknown certificate type ${type}` };
    const keyId = cstring(r, 'key id');
    const principals = readPrincipals(r.bytes());
    const validAfter = r.uint64();
    const validBefore = r.uint64();
    const criticalOptions = readOptions(r.bytes(), 'critical option');
    const extensions = readOptions(r.bytes(), 'extension');
    const reserved = r.bytes();
    const signatureKey = r.bytes();
    const signedData = blob.subarray(0, r.offset);
    const signature = r.bytes();
    if (r.remaining !== 0) return { ok: false, reason: `${r.remaining} trailing bytes after the certificate signature` };
    const signatureAlgorithm = new WireReader(signature).string();
    const certificate: OpenSSHCertificate = {
      certKeyType,
      keyType: layout.plain,
      nonce,
      publicKey,
      serial,
      type,
      keyId,
      principals,
      validAfter,
      validBefore,
      criticalOptions,
      extensions,
      reserved,
      signatureKey,
      signature,
      signatureAlgorithm,
      signedData,
      blob,
    };
    return { ok: true, certificate };
  } catch (err) {
    return { ok: false, reason: `malformed certificate (${(err as Error).message})` };
  }
}

/**
 * Parses the text form `type base64 [comment]` of a `*-cert.pub` file; the type word must match
 * the blob's. Never throws.
 */
export function parseOpenSSHCertificateText(text: string): CertificateParseResult {
  const [type, b64] = text.trim().split(/\s+/);
  if (!type || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { ok: false, reason: 'not a `type base64 [comment]` line' };
  const parsed = parseOpenSSHCertificate(Buffer.from(b64, 'base64'));
  if (parsed.ok && parsed.certificate.certKeyType !== type) {
    return { ok: false, reason: `line says ${type} but the blob is ${parsed.certificate.certKeyType}` };
  }
  return parsed;
}

/** What a certificate allows, from its critical options and extensions (absent extension = not permitted). */
export interface CertificateRestrictions {
  /** critical option force-command: run this instead of what the client asks for. */
  readonly forceCommand?: string;
  /** critical option source-address: the comma-separated CIDR list the client address was checked against. */
  readonly sourceAddress?: string;
  /** critical option verify-required: only meaningful for FIDO (sk-*) keys, which this module does not accept. */
  readonly verifyRequired: boolean;
  /** extension permit-pty: a terminal may be allocated. */
  readonly permitPty: boolean;
  /** extension permit-port-forwarding: TCP forwarding is allowed. */
  readonly permitPortForwarding: boolean;
  /** extension permit-agent-forwarding: agent forwarding is allowed. */
  readonly permitAgentForwarding: boolean;
  /** extension permit-X11-forwarding: X11 forwarding is allowed. */
  readonly permitX11Forwarding: boolean;
  /** extension permit-user-rc: ~/.ssh/rc may run. */
  readonly permitUserRc: boolean;
  /** extension no-touch-required: only meaningful for FIDO keys. */
  readonly noTouchRequired: boolean;
}

type ExtensionFlag =
  'permitPty' | 'permitPortForwarding' | 'permitAgentForwarding' | 'permitX11Forwarding' | 'permitUserRc' | 'noTouchRequired';

/** The extensions sshd knows (auth-options.c); others are ignored, as they only grant. */
const EXTENSION_FLAGS: Readonly<Record<string, ExtensionFlag>> = {
  'permit-pty': 'permitPty',
  'permit-port-forwarding': 'permitPortForwarding',
  'permit-agent-forwarding': 'permitAgentForwarding',
  'permit-X11-forwarding': 'permitX11Forwarding',
  'permit-user-rc': 'permitUserRc',
  'no-touch-required': 'noTouchRequired',
};

/** Why {@link checkUserCertificate} refused a certificate. */
export type CertificateRefusal =
  | 'malformed'
  | 'ca-is-certificate'
  | 'self-signed'
  | 'untrusted-ca'
  | 'ca-signature-algorithm'
  | 'bad-signature'
  | 'not-user-certificate'
  | 'not-yet-valid'
  | 'expired'
  | 'no-principals'
  | 'principal-not-listed'
  | 'unknown-critical-option'
  | 'bad-option'
  | 'source-address-invalid'
  | 'source-address-mismatch';

/**
 * Result of {@link checkUserCertificate}.
 * @property ok True when the certificate is accepted for the user.
 * @property certificate The accepted certificate.
 * @property restrictions What its critical options and extensions allow.
 * @property code Why it was refused, as a stable code.
 * @property reason Why it was refused, in words (what sshd would log).
 */
export type UserCertificateResult =
  | { readonly ok: true; readonly certificate: OpenSSHCertificate; readonly restrictions: CertificateRestrictions }
  | { readonly ok: false; readonly code: CertificateRefusal; readonly reason: string };

/** Inputs of {@link checkUserCertificate}, mirroring sshd's TrustedUserCAKeys path. */
export interface UserCertificateCheckOptions {
  /** The user name being logged in to; must be one of the certificate's principals. */
  readonly user: string;
  /** The verification time: a Date or seconds since the epoch; default now. */
  readonly now?: Date | number;
  /** CA public key blobs (plain keys, as in TrustedUserCAKeys), compared byte for byte with the signature key. */
  readonly trustedCAs: readonly Buffer[];
  /** The client's IP address; required to accept a certificate carrying source-address. */
  readonly sourceAddress?: string;
  /** Algorithms the CA may have signed with (sshd CASignatureAlgorithms); default no SHA-1 `ssh-rsa`. */
  readonly allowedSignatureAlgorithms?: readonly string[];
  /**
   * As sshd's AuthorizedPrincipalsFile: when given, a certificate principal must be in this list
   * and {@link user} is not compared.
   */
  readonly authorizedPrincipals?: readonly string[];
  /**
   * Accept a certificate with no principals for any user, as OpenSSH < 10.3 did for
   * `cert-authority` lines in authorized_keys. Default false: sshd refuses such certificates via
   * TrustedUserCAKeys ("Certificate lacks principal list"), and since 10.3 everywhere.
   */
  readonly allowEmptyPrincipals?: boolean;
}

function refuse(code: CertificateRefusal, reason: string): UserCertificateResult {
  return { ok: false, code, reason };
}

function nowSeconds(now: Date | number | undefined): bigint {
  const seconds = now === undefined ? Date.now() / 1000 : now instanceof Date ? now.getTime() / 1000 : now;
  return Number.isFinite(seconds) ? BigInt(Math.floor(seconds)) : 0n;
}

/** The value of force-command / source-address: exactly one SSH string, no NUL, nothing after it. */
function optionString(option: CertificateOption): string | undefined {
  try {
    const r = new WireReader(option.data);
    const value = cstring(r, option.name);
    return r.remaining === 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/** An IP address as family and 32/128-bit integer; undefined when not an address. */
function ipValue(address: string): { family: 4 | 6; value: bigint } | undefined {
  if (isIPv4(address)) return { family: 4, value: address.split('.').reduce((v, o) => (v << 8n) | BigInt(o), 0n) };
  if (!isIPv6(address)) return undefined;
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipValue(v4[1])!.value;
    text = `${text.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const groups = (s: string | undefined): string[] => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return { family: 6, value: all.reduce((v, g) => (v << 16n) | BigInt(`0x${g}`), 0n) };
}

interface Network {
  readonly family: 4 | 6;
  readonly value: bigint;
  readonly bits: number;
}

/**
 * Parses a source-address list as OpenSSH's addr_match_cidr_list: comma separated addresses or
 * CIDR blocks with the host part zero; no wildcards, negation, spaces or empty entries.
 */
function parseCidrList(list: string): Network[] | string {
  const out: Network[] = [];
  for (const entry of list.split(',')) {
    if (entry === '') return `empty entry in source-address ${JSON.stringify(list)}`;
    if (entry.length > 46 + 3 || !/^[0-9a-fA-F.:/]+$/.test(entry)) return `invalid source-address entry ${JSON.stringify(entry)}`;
    const [addr, mask, extra] = entry.split('/');
    const ip = ipValue(addr);
    const width = ip?.family === 4 ? 32 : 128;
    const bits = mask === undefined ? width : /^\d+$/.test(mask) ? Number(mask) : NaN;
    if (!ip || extra !== undefined || !(bits >= 0 && bits <= width)) return `invalid source-address entry ${JSON.stringify(entry)}`;
    const hostMask = (1n << BigInt(width - bits)) - 1n;
    if (ip.value & hostMask) return `source-address entry ${JSON.stringify(entry)} has host bits set`;
    out.push({ family: ip.family, value: ip.value, bits });
  }
  return out;
}

function inNetworks(address: string, networks: readonly Network[]): boolean {
  const ip = ipValue(normaliseAddress(address.replace(/%.*$/, '')));
  if (!ip) return false;
  const width = ip.family === 4 ? 32 : 128;
  return networks.some((n) => n.family === ip.family && ip.value >> BigInt(width - n.bits) === n.value >> BigInt(width - n.bits));
}

type CriticalOutcome =
  { forceCommand?: string; sourceAddress?: string; networks?: Network[]; verifyRequired: boolean } | UserCertificateResult;

/** Reads the critical options as auth-options.c cert_option_list with crit=1: anything unknown refuses the certificate. */
function readCriticalOptions(options: readonly CertificateOption[]): CriticalOutcome {
  const out: { forceCommand?: string; sourceAddress?: string; networks?: Network[]; verifyRequired: boolean } = { verifyRequired: false };
  for (const option of options) {
    switch (option.name) {
      case 'force-command':
      case 'source-address': {
        const value = optionString(option);
        if (value === undefined) return refuse('bad-option', `Certificate option "${option.name}" corrupt`);
        if (option.name === 'force-command') {
          if (out.forceCommand !== undefined) return refuse('bad-option', 'Certificate has multiple force-command options');
          out.forceCommand = value;
          break;
        }
        if (out.sourceAddress !== undefined) return refuse('bad-option', 'Certificate has multiple source-address options');
        const networks = parseCidrList(value);
        if (typeof networks === 'string')
          return refuse('source-address-invalid', `Certificate source-address contents invalid: ${networks}`);
        out.sourceAddress = value;
        out.networks = networks;
        break;
      }
      case 'verify-required':
        if (option.data.length !== 0) return refuse('bad-option', 'Certificate option "verify-required" corrupt (extra data)');
        out.verifyRequired = true;
        break;
      default:
        return refuse('unknown-critical-option', `Certificate critical option "${option.name}" is not supported`);
    }
  }
  return out;
}

function principalProblem(cert: OpenSSHCertificate, opts: UserCertificateCheckOptions): UserCertificateResult | undefined {
  if (cert.principals.length === 0) {
    return opts.allowEmptyPrincipals ? undefined : refuse('no-principals', 'Certificate lacks principal list');
  }
  // User certificate principals are compared exactly: no wildcards (sshkey_cert_check_authority).
  if (opts.authorizedPrincipals) {
    if (cert.principals.some((p) => opts.authorizedPrincipals!.includes(p))) return undefined;
    return refuse('principal-not-listed', 'Certificate does not contain an authorized principal');
  }
  if (cert.principals.includes(opts.user)) return undefined;
  return refuse('principal-not-listed', `Certificate invalid: name "${opts.user}" is not a listed principal`);
}

/**
 * Decides whether a certificate authenticates `opts.user` as sshd does for TrustedUserCAKeys, in
 * this order: the CA key is a plain key, trusted, signed with an allowed algorithm and its
 * signature verifies; the certificate is a user certificate, inside its validity window
 * (valid after <= now < valid before), lists the user (or an authorized principal); every critical
 * option is known and well formed; the client address is in source-address. Unknown extensions
 * are ignored. Never throws.
 *
 * This does not check the publickey request's own signature: verify that with
 * `certificate.publicKey` (see sshSignature.ts).
 */
export function checkUserCertificate(certificate: OpenSSHCertificate | Buffer, opts: UserCertificateCheckOptions): UserCertificateResult {
  let cert: OpenSSHCertificate;
  if (Buffer.isBuffer(certificate)) {
    const parsed = parseOpenSSHCertificate(certificate);
    if (!parsed.ok) return refuse('malformed', parsed.reason);
    cert = parsed.certificate;
  } else {
    cert = certificate;
  }

  // A certificate cannot act as a CA (sshkey_type_is_valid_ca).
  if (certificateKeyType(blobKeyType(cert.signatureKey) ?? '') !== undefined) {
    return refuse('ca-is-certificate', 'Certificate signature key is itself a certificate');
  }
  if (!opts.trustedCAs.some((ca) => ca.equals(cert.signatureKey))) {
    if (cert.signatureKey.equals(cert.publicKey)) {
      return refuse('self-signed', 'Certificate is self-signed: its signature key is the certified key, not a trusted CA');
    }
    return refuse('untrusted-ca', 'Certificate signature key is not a trusted CA');
  }
  const allowed = opts.allowedSignatureAlgorithms ?? DEFAULT_SIGNATURE_ALGORITHMS;
  if (!allowed.includes(cert.signatureAlgorithm)) {
    return refuse(
      'ca-signature-algorithm',
      `Certificate signature algorithm ${JSON.stringify(cert.signatureAlgorithm.slice(0, 64))} is not allowed`,
    );
  }
  const sig = checkSshSignature(cert.signatureKey, cert.signedData, cert.signature, { allowedAlgorithms: allowed });
  if (!sig.ok) return refuse('bad-signature', `Certificate signature does not verify: ${sig.reason}`);

  if (cert.type !== SSH_CERT_TYPE_USER) return refuse('not-user-certificate', 'Certificate invalid: not a user certificate');
  const now = nowSeconds(opts.now);
  if (now < cert.validAfter) return refuse('not-yet-valid', 'Certificate invalid: not yet valid');
  if (now >= cert.validBefore) return refuse('expired', 'Certificate invalid: expired');
  const principal = principalProblem(cert, opts);
  if (principal) return principal;

  const critical = readCriticalOptions(cert.criticalOptions);
  if ('ok' in critical) return critical;
  const flags: Record<ExtensionFlag, boolean> = {
    permitPty: false,
    permitPortForwarding: false,
    permitAgentForwarding: false,
    permitX11Forwarding: false,
    permitUserRc: false,
    noTouchRequired: false,
  };
  for (const ext of cert.extensions) {
    const flag = Object.hasOwn(EXTENSION_FLAGS, ext.name) ? EXTENSION_FLAGS[ext.name] : undefined;
    if (!flag) continue;
    if (ext.data.length !== 0) return refuse('bad-option', `Certificate option "${ext.name}" corrupt (extra data)`);
    flags[flag] = true;
  }
  if (critical.networks) {
    if (opts.sourceAddress === undefined) {
      return refuse('source-address-mismatch', 'Certificate restricts source-address but the client address is unknown');
    }
    if (!inNetworks(opts.sourceAddress, critical.networks)) {
      return refuse('source-address-mismatch', `Your address '${opts.sourceAddress}' is not permitted to use this certificate for login.`);
    }
  }
  const restrictions: CertificateRestrictions = {
    ...(critical.forceCommand !== undefined ? { forceCommand: critical.forceCommand } : {}),
    ...(critical.sourceAddress !== undefined ? { sourceAddress: critical.sourceAddress } : {}),
    verifyRequired: critical.verifyRequired,
    ...flags,
  };
  return { ok: true, certificate: cert, restrictions };
}
