/**
 * OpenSSH certificates (src/certs/openSSHCertificate.ts): the blob a client presents in a publickey
 * request (`*-cert-v01@openssh.com`), before any signature is checked.
 * Contract:
 * - parseOpenSSHCertificate / parseOpenSSHCertificateText / checkUserCertificate never throw;
 * - a parsed certificate re-encodes field by field to exactly its blob (PROTOCOL.certkeys; names
 *   with invalid UTF-8 excepted, which read as U+FFFD), its
 *   signed data is the blob before the signature, at most 256 principals, no NUL in names;
 * - checkUserCertificate on a certificate re-signed by a trusted CA (mode byte odd: built from the
 *   fuzz input; even: the input's own certificate, re-signed) accepts only a user certificate
 *   valid at `now`, naming the user, with known well-formed critical options, from an address
 *   inside source-address (checked against node's BlockList), and refuses anything else with a
 *   stable code.
 */
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import {
  checkUserCertificate,
  type OpenSSHCertificate,
  parseOpenSSHCertificate,
  parseOpenSSHCertificateText,
} from '../../../src/certs/openSSHCertificate';
import { check } from './contract';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, n));
  return b;
};
const str = (s: Buffer | string) => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([u32(b.length), b]);
};

// A fixed CA and certified key (Ed25519, from RFC 8032 test vector 1's secret), so runs repeat.
const CA_PRIVATE = createPrivateKey({
  key: Buffer.concat([
    Buffer.from('302e020100300506032b657004220420', 'hex'),
    Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'),
  ]),
  format: 'der',
  type: 'pkcs8',
});
const CA_RAW = (createPublicKey(CA_PRIVATE).export({ format: 'der', type: 'spki' }) as Buffer).subarray(12);
const CA_BLOB = Buffer.concat([str('ssh-ed25519'), str(CA_RAW)]);
const USER_KEY = Buffer.from('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', 'hex');
const NOW = 1_800_000_000n;
const USERS = ['alice', 'root', '', 'a,b'];
const ADDRESSES = ['192.0.2.1', '10.1.2.3', '127.0.0.1', '2001:db8::1', '::1', 'fe80::1'];

function reencode(c: OpenSSHCertificate): Buffer {
  const principals = Buffer.concat(c.principals.map((p) => str(p)));
  const options = (list: OpenSSHCertificate['extensions']) => Buffer.concat(list.map((o) => Buffer.concat([str(o.name), str(o.data)])));
  // The certified key's fields are the public key blob after its type string.
  const keyFields = c.publicKey.subarray(4 + c.publicKey.readUInt32BE(0));
  return Buffer.concat([
    str(c.certKeyType),
    str(c.nonce),
    keyFields,
    u64(c.serial),
    u32(c.type),
    str(c.keyId),
    str(principals),
    u64(c.validAfter),
    u64(c.validBefore),
    str(options(c.criticalOptions)),
    str(options(c.extensions)),
    str(c.reserved),
    str(c.signatureKey),
    str(c.signature),
  ]);
}

/** The certificate's fields up to the signature key, signed by the fuzz CA. */
function resign(signedPrefixUntilKey: Buffer): Buffer {
  const signed = Buffer.concat([signedPrefixUntilKey, str(CA_BLOB)]);
  return Buffer.concat([signed, str(Buffer.concat([str('ssh-ed25519'), str(sign(null, signed, CA_PRIVATE))]))]);
}

class Cursor {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  byte(): number {
    return this.at < this.b.length ? this.b[this.at++] : 0;
  }
  take(n: number): Buffer {
    const v = this.b.subarray(this.at, this.at + n);
    this.at += v.length;
    return v;
  }
  text(max: number): string {
    return this.take(this.byte() % (max + 1)).toString('latin1');
  }
}

const OPTION_NAMES = [
  'force-command',
  'source-address',
  'verify-required',
  'permit-pty',
  'permit-port-forwarding',
  'permit-agent-forwarding',
  'permit-X11-forwarding',
  'permit-user-rc',
  'no-touch-required',
  'x-unknown@example.com',
];

/** A certificate body built from fuzz bytes: type, validity, principals, options, extensions. */
function build(c: Cursor): Buffer {
  const principals = Array.from({ length: c.byte() % 5 }, () => (c.byte() & 1 ? USERS[c.byte() % USERS.length] : c.text(12)));
  const option = () => {
    const name = c.byte() & 1 ? OPTION_NAMES[c.byte() % OPTION_NAMES.length] : c.text(20);
    const data = c.byte() % 4 === 0 ? c.take(c.byte() % 16) : c.byte() % 3 === 0 ? Buffer.alloc(0) : str(c.text(60));
    return Buffer.concat([str(name), str(data)]);
  };
  const critical = Array.from({ length: c.byte() % 4 }, option);
  const extensions = Array.from({ length: c.byte() % 5 }, option);
  const after = NOW + BigInt((c.byte() % 5) - 2) * 1000n;
  const before = c.byte() % 4 === 0 ? 0xffffffffffffffffn : NOW + BigInt((c.byte() % 5) - 2) * 1000n;
  return Buffer.concat([
    str('ssh-ed25519-cert-v01@openssh.com'),
    str(c.take(8)),
    str(USER_KEY),
    u64(BigInt(c.byte())),
    u32(c.byte() % 4 === 3 ? 2 : 1),
    str(c.text(16)),
    str(Buffer.concat(principals.map((p) => str(p)))),
    u64(after),
    u64(before),
    str(Buffer.concat(critical)),
    str(Buffer.concat(extensions)),
    str(''),
  ]);
}

function inSourceAddress(list: string, address: string): boolean | undefined {
  const blocks = new BlockList();
  for (const entry of list.split(',')) {
    const [net, bits] = entry.split('/');
    const family = isIPv4(net) ? 'ipv4' : isIPv6(net) ? 'ipv6' : undefined;
    if (!family) return undefined;
    try {
      blocks.addSubnet(net, bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits), family);
    } catch {
      return undefined;
    }
  }
  return blocks.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

/** Verdicts by code, for a look at how deep the inputs reach (not used by the contract). */
export const verdicts: Record<string, number> = {};

function checkTrusted(blob: Buffer, cursor: Cursor): void {
  const parsed = parseOpenSSHCertificate(blob);
  if (!parsed.ok) return;
  const cert = parsed.certificate;
  const user = USERS[cursor.byte() % USERS.length];
  const address = ADDRESSES[cursor.byte() % ADDRESSES.length];
  let verdict: ReturnType<typeof checkUserCertificate>;
  try {
    verdict = checkUserCertificate(blob, { user, now: Number(NOW), trustedCAs: [CA_BLOB], sourceAddress: address });
  } catch (err) {
    check(false, `checkUserCertificate threw ${(err as Error).stack}`);
  }
  verdicts[verdict.ok ? 'accepted' : verdict.code] = (verdicts[verdict.ok ? 'accepted' : verdict.code] ?? 0) + 1;
  if (!verdict.ok) {
    check(typeof verdict.code === 'string' && verdict.reason.length > 0, 'a refusal has a code and a reason');
    if (verdict.code === 'source-address-mismatch') {
      const sa = cert.criticalOptions.find((o) => o.name === 'source-address')!;
      const inside = inSourceAddress(sa.data.subarray(4).toString('utf8'), address);
      check(inside !== true, `${address} is inside source-address ${sa.data.subarray(4).toString('utf8')} but was refused`);
    }
    return;
  }
  check(cert.type === 1, 'accepted a host certificate');
  check(cert.validAfter <= NOW && NOW < cert.validBefore, 'accepted outside the validity window');
  check(cert.principals.includes(user), `accepted for '${user}', who is not among ${JSON.stringify(cert.principals)}`);
  for (const o of cert.criticalOptions)
    check(['force-command', 'source-address', 'verify-required'].includes(o.name), `accepted with critical option '${o.name}'`);
  const sa = verdict.restrictions.sourceAddress;
  if (sa !== undefined) check(inSourceAddress(sa, address) === true, `accepted ${address} outside source-address ${sa}`);
  const fc = cert.criticalOptions.find((o) => o.name === 'force-command');
  check((fc === undefined) === (verdict.restrictions.forceCommand === undefined), 'force-command lost or invented');
  for (const [ext, flag] of [
    ['permit-pty', 'permitPty'],
    ['permit-port-forwarding', 'permitPortForwarding'],
  ] as const) {
    check(verdict.restrictions[flag] === cert.extensions.some((e) => e.name === ext), `${ext} does not match ${flag}`);
  }
}

export function fuzz(data: Buffer): void {
  const mode = data.length ? data[0] : 0;
  const body = data.subarray(1);
  const cursor = new Cursor(body);
  if (mode & 1) {
    checkTrusted(resign(build(cursor)), cursor);
    return;
  }
  const parsed = parseOpenSSHCertificate(body);
  if (parsed.ok) {
    const c = parsed.certificate;
    const again = reencode(c);
    if (!again.equals(body)) {
      // Names are read as UTF-8 (as ssh2 reads the user name): invalid bytes become U+FFFD, so only
      // then may the re-encoding differ, and it must parse to the same fields.
      const texts = [c.keyId, ...c.principals, ...c.criticalOptions.map((o) => o.name), ...c.extensions.map((o) => o.name)];
      check(
        texts.some((t) => t.includes('\ufffd')),
        'the parsed fields do not re-encode to the blob',
      );
      const re = parseOpenSSHCertificate(again);
      check(
        re.ok && re.certificate.keyId === c.keyId && JSON.stringify(re.certificate.principals) === JSON.stringify(c.principals),
        're-encoding a certificate with replaced characters',
      );
    }
    check(c.signedData.equals(body.subarray(0, body.length - 4 - c.signature.length)), 'signed data is the blob before the signature');
    check(c.principals.length <= 256, 'more than 256 principals');
    check(
      ![c.keyId, ...c.principals, ...c.criticalOptions.map((o) => o.name), ...c.extensions.map((o) => o.name)].some((s) =>
        s.includes('\0'),
      ),
      'a NUL in a name',
    );
    check(c.certKeyType.startsWith(c.keyType) && c.certKeyType.endsWith('-cert-v01@openssh.com'), 'key type');
    // The input's own certificate, re-signed by the trusted CA, through the checks.
    const until = c.signedData.length - 4 - c.signatureKey.length;
    checkTrusted(resign(body.subarray(0, until)), cursor);
  } else {
    check(typeof parsed.reason === 'string' && parsed.reason.length > 0, 'a refusal has a reason');
  }
  const text = parseOpenSSHCertificateText(`ssh-ed25519-cert-v01@openssh.com ${body.toString('base64')} comment`);
  check(
    text.ok === (parsed.ok && parsed.certificate.certKeyType === 'ssh-ed25519-cert-v01@openssh.com'),
    'the text form and the blob disagree',
  );
  checkUserCertificate(body, { user: 'alice', trustedCAs: [CA_BLOB] });
}
