/**
 * OpenSSH user certificates and SSH signatures, against certificates and signatures made by the
 * real ssh-keygen (openssh-client): parsing, sshd's TrustedUserCAKeys checks, and verification of
 * every supported signature algorithm.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CERT_VALID_FOREVER,
  certificateKeyType,
  checkUserCertificate,
  parseOpenSSHCertificate,
  parseOpenSSHCertificateText,
  SSH_CERT_TYPE_HOST,
  SSH_CERT_TYPE_USER,
  type OpenSSHCertificate,
  type UserCertificateCheckOptions,
} from '../src/certs/openSSHCertificate';
import { checkSshSignature, parseSshPublicKey, signatureAlgorithmFor, verifySshSignature } from '../src/certs/sshSignature';
import { publicKeyBlob } from '../src/certs/opensshKey';
import { encodeString, encodeUint32, WireReader } from '../src/packet/wire';
import { requireBinary } from './fixtures/clients';

let keygen = '';
let dir = '';
let serial = 0;

function runKeygen(args: string[]): string {
  const r = spawnSync(keygen, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `ssh-keygen ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** The blob of an OpenSSH `type base64 comment` public key or certificate file. */
function blobOfFile(path: string): Buffer {
  return Buffer.from(readFileSync(join(dir, path), 'utf8').trim().split(/\s+/)[1], 'base64');
}

const USER_KEYS = { ed25519: ['-t', 'ed25519'], ecdsa256: ['-t', 'ecdsa', '-b', '256'], rsa: ['-t', 'rsa', '-b', '2048'] } as const;
const CA_KEYS = { caEd25519: ['-t', 'ed25519'], caRsa: ['-t', 'rsa', '-b', '2048'], caEcdsa: ['-t', 'ecdsa', '-b', '384'] } as const;
const SIGN_ONLY_KEYS = { ecdsa384: ['-t', 'ecdsa', '-b', '384'], ecdsa521: ['-t', 'ecdsa', '-b', '521'] } as const;
type UserKey = keyof typeof USER_KEYS;
type CaKey = keyof typeof CA_KEYS;

/** Plain public key blobs of every generated key, by file name. */
const pub: Record<string, Buffer> = {};

/** Certifies a copy of `userKey`.pub with ssh-keygen -s `ca` and returns the certificate blob. */
function certify(userKey: string, ca: string, args: string[] = ['-n', 'alice,bob']): Buffer {
  const name = `cert${++serial}`;
  copyFileSync(join(dir, `${userKey}.pub`), join(dir, `${name}.pub`));
  runKeygen(['-q', '-s', ca, '-I', `id-${name}`, '-z', String(serial), ...args, `${name}.pub`]);
  return blobOfFile(`${name}-cert.pub`);
}

function parsed(blob: Buffer): OpenSSHCertificate {
  const p = parseOpenSSHCertificate(blob);
  assert.ok(p.ok, p.ok ? '' : p.reason);
  return p.certificate;
}

function check(blob: Buffer, opts: Partial<UserCertificateCheckOptions> = {}) {
  return checkUserCertificate(blob, { user: 'alice', trustedCAs: [pub.caEd25519, pub.caRsa, pub.caEcdsa], ...opts });
}

function refused(blob: Buffer, code: string, opts: Partial<UserCertificateCheckOptions> = {}): string {
  const r = check(blob, opts);
  assert.equal(r.ok, false, `expected refusal ${code}`);
  assert.ok(!r.ok);
  assert.equal(r.code, code, r.reason);
  return r.reason;
}

before(() => {
  keygen = requireBinary('ssh-keygen');
  dir = mkdtempSync(join(tmpdir(), 'sshdaemon-certs-'));
  for (const [name, type] of Object.entries({ ...USER_KEYS, ...CA_KEYS, ...SIGN_ONLY_KEYS })) {
    runKeygen(['-q', ...type, '-N', '', '-C', name, '-f', name]);
    pub[name] = blobOfFile(`${name}.pub`);
  }
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('valid certificates from ssh-keygen', () => {
  for (const user of Object.keys(USER_KEYS) as UserKey[]) {
    for (const ca of Object.keys(CA_KEYS) as CaKey[]) {
      test(`${user} key certified by ${ca} is accepted with its fields read back`, () => {
        const blob = certify(user, ca, ['-n', 'alice,bob', '-V', '-5m:+1h']);
        const cert = parsed(blob);
        const plain = { ed25519: 'ssh-ed25519', ecdsa256: 'ecdsa-sha2-nistp256', rsa: 'ssh-rsa' }[user];
        assert.equal(cert.certKeyType, `${plain}-cert-v01@openssh.com`);
        assert.equal(cert.keyType, plain);
        assert.deepEqual(cert.publicKey, pub[user], 'plain blob of the certified key');
        assert.deepEqual(cert.signatureKey, pub[ca]);
        assert.equal(cert.type, SSH_CERT_TYPE_USER);
        assert.equal(cert.serial, BigInt(serial));
        assert.equal(cert.keyId, `id-cert${serial}`);
        assert.deepEqual(cert.principals, ['alice', 'bob']);
        assert.equal(cert.nonce.length, 32);
        const nowS = BigInt(Math.floor(Date.now() / 1000));
        assert.ok(cert.validAfter <= nowS && cert.validBefore > nowS);
        assert.equal(cert.criticalOptions.length, 0);
        assert.deepEqual(
          cert.extensions.map((e) => e.name),
          ['permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty', 'permit-user-rc'],
        );
        assert.equal(cert.signatureAlgorithm, { caEd25519: 'ssh-ed25519', caRsa: 'rsa-sha2-512', caEcdsa: 'ecdsa-sha2-nistp384' }[ca]);
        assert.deepEqual(Buffer.concat([cert.signedData, encodeString(cert.signature)]), blob);

        for (const user of ['alice', 'bob']) {
          const r = check(blob, { user });
          assert.ok(r.ok, r.ok ? '' : r.reason);
          assert.deepEqual(r.restrictions, {
            verifyRequired: false,
            permitPty: true,
            permitPortForwarding: true,
            permitAgentForwarding: true,
            permitX11Forwarding: true,
            permitUserRc: true,
            noTouchRequired: false,
          });
        }
      });
    }
  }

  test('the text form of a -cert.pub file parses, and its type word must match the blob', () => {
    const blob = certify('ed25519', 'caEd25519');
    const text = readFileSync(join(dir, `cert${serial}-cert.pub`), 'utf8');
    const p = parseOpenSSHCertificateText(text);
    assert.ok(p.ok && p.certificate.blob.equals(blob));
    const lie = parseOpenSSHCertificateText(text.replace('ssh-ed25519-cert', 'ssh-rsa-cert'));
    assert.ok(!lie.ok && /blob is ssh-ed25519-cert/.test(lie.reason));
    assert.equal(parseOpenSSHCertificateText('garbage').ok, false);
  });

  test('-V forever: valid after 0, valid before 0xffffffffffffffff, accepted far in the future', () => {
    const cert = parsed(certify('ed25519', 'caEd25519', ['-n', 'alice']));
    assert.equal(cert.validAfter, 0n);
    assert.equal(cert.validBefore, CERT_VALID_FOREVER);
    assert.ok(check(cert.blob, { now: new Date('2999-01-01T00:00:00Z') }).ok);
  });
});

describe('restrictions from critical options and extensions', () => {
  test('force-command, source-address and -O no-pty are read back; the client address must match', () => {
    const blob = certify('ed25519', 'caEd25519', [
      '-n',
      'alice',
      '-O',
      'force-command=/usr/bin/printf "%s\\n" hi',
      '-O',
      'source-address=127.0.0.1,10.0.0.0/8,2001:db8::/32',
      '-O',
      'no-pty',
    ]);
    const cert = parsed(blob);
    assert.deepEqual(
      cert.criticalOptions.map((o) => o.name),
      ['force-command', 'source-address'],
    );
    for (const address of ['127.0.0.1', '::ffff:127.0.0.1', '10.200.3.4', '2001:db8:1::7']) {
      const r = check(blob, { sourceAddress: address });
      assert.ok(r.ok, `${address}: ${r.ok ? '' : r.reason}`);
      assert.deepEqual(r.restrictions, {
        forceCommand: '/usr/bin/printf "%s\\n" hi',
        sourceAddress: '127.0.0.1,10.0.0.0/8,2001:db8::/32',
        verifyRequired: false,
        permitPty: false,
        permitPortForwarding: true,
        permitAgentForwarding: true,
        permitX11Forwarding: true,
        permitUserRc: true,
        noTouchRequired: false,
      });
    }
    for (const address of ['192.168.1.10', '127.0.0.2', '11.0.0.1', '2001:db9::1', 'not-an-address']) {
      assert.match(refused(blob, 'source-address-mismatch', { sourceAddress: address }), /not permitted/);
    }
    assert.match(refused(blob, 'source-address-mismatch'), /client address is unknown/);
  });

  test('-O clear drops every permission; -O clear -O permit-pty grants only the pty', () => {
    const none = check(certify('ecdsa256', 'caRsa', ['-n', 'alice', '-O', 'clear']));
    assert.ok(none.ok);
    assert.deepEqual(none.restrictions, {
      verifyRequired: false,
      permitPty: false,
      permitPortForwarding: false,
      permitAgentForwarding: false,
      permitX11Forwarding: false,
      permitUserRc: false,
      noTouchRequired: false,
    });
    const pty = check(certify('ecdsa256', 'caRsa', ['-n', 'alice', '-O', 'clear', '-O', 'permit-pty']));
    assert.ok(pty.ok);
    assert.equal(pty.restrictions.permitPty, true);
    assert.equal(pty.restrictions.permitPortForwarding, false);
  });

  test('an unknown critical option refuses the certificate; an unknown extension is ignored', () => {
    const crit = certify('rsa', 'caEd25519', ['-n', 'alice', '-O', 'critical:foo@example.com=bar']);
    assert.deepEqual(parsed(crit).criticalOptions, [{ name: 'foo@example.com', data: encodeString('bar') }]);
    assert.match(refused(crit, 'unknown-critical-option'), /foo@example\.com/);
    const ext = check(certify('rsa', 'caEd25519', ['-n', 'alice', '-O', 'extension:baz@example.com', '-O', 'no-touch-required']));
    assert.ok(ext.ok, ext.ok ? '' : ext.reason);
    assert.equal(ext.restrictions.noTouchRequired, true);
  });

  test('verify-required is a known critical option (it only binds FIDO keys)', () => {
    const r = check(certify('ed25519', 'caEcdsa', ['-n', 'alice', '-O', 'verify-required']));
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.restrictions.verifyRequired, true);
  });

  test('malformed or repeated critical options are refused as sshd does', () => {
    const hostBits = certify('ed25519', 'caEd25519', ['-n', 'alice', '-O', 'critical:source-address=10.1.2.3/8']);
    assert.match(refused(hostBits, 'source-address-invalid', { sourceAddress: '10.1.2.3' }), /host bits/);
    const spaces = certify('ed25519', 'caEd25519', ['-n', 'alice', '-O', 'critical:source-address=10.0.0.0/8, 1.2.3.4']);
    refused(spaces, 'source-address-invalid', { sourceAddress: '10.0.0.1' });
    const wildcard = certify('ed25519', 'caEd25519', ['-n', 'alice', '-O', 'critical:source-address=10.*']);
    refused(wildcard, 'source-address-invalid', { sourceAddress: '10.0.0.1' });
    const twice = certify('ed25519', 'caEd25519', ['-n', 'alice', '-O', 'critical:force-command=x', '-O', 'force-command=y']);
    assert.match(refused(twice, 'bad-option'), /multiple force-command/);
    const bare = certify('ed25519', 'caEd25519', ['-n', 'alice', '-O', 'critical:force-command']);
    assert.match(refused(bare, 'bad-option'), /corrupt/);
  });
});

describe('refusals', () => {
  test('expired (-V -2d:-1d), unless checked at a time inside the window', () => {
    const blob = certify('ed25519', 'caEd25519', ['-n', 'alice', '-V', '-2d:-1d']);
    assert.equal(refused(blob, 'expired'), 'Certificate invalid: expired');
    assert.ok(check(blob, { now: Date.now() / 1000 - 1.5 * 86400 }).ok);
    const cert = parsed(blob);
    assert.equal(refused(blob, 'expired', { now: Number(cert.validBefore) }), 'Certificate invalid: expired', 'valid before is exclusive');
    assert.ok(check(blob, { now: Number(cert.validAfter) }).ok, 'valid after is inclusive');
  });

  test('not yet valid (-V +1d:+2d)', () => {
    const blob = certify('ecdsa256', 'caEcdsa', ['-n', 'alice', '-V', '+1d:+2d']);
    assert.equal(refused(blob, 'not-yet-valid'), 'Certificate invalid: not yet valid');
    assert.ok(check(blob, { now: new Date(Date.now() + 1.5 * 86400_000) }).ok);
  });

  test('principal not listed; AuthorizedPrincipals-style lists; no exact match means no wildcard', () => {
    const blob = certify('rsa', 'caRsa', ['-n', 'alice,ops*']);
    assert.match(refused(blob, 'principal-not-listed', { user: 'mallory' }), /"mallory" is not a listed principal/);
    refused(blob, 'principal-not-listed', { user: 'opsadmin' });
    assert.ok(check(blob, { user: 'root', authorizedPrincipals: ['ops*', 'dba'] }).ok);
    refused(blob, 'principal-not-listed', { user: 'alice', authorizedPrincipals: ['dba'] });
  });

  test('a certificate without principals is refused unless explicitly allowed', () => {
    const blob = certify('ed25519', 'caEd25519', []);
    assert.deepEqual(parsed(blob).principals, []);
    assert.equal(refused(blob, 'no-principals', { user: 'anyone' }), 'Certificate lacks principal list');
    assert.ok(check(blob, { user: 'anyone', allowEmptyPrincipals: true }).ok);
  });

  test('host certificate (-h)', () => {
    const blob = certify('ed25519', 'caEd25519', ['-h', '-n', 'alice']);
    assert.equal(parsed(blob).type, SSH_CERT_TYPE_HOST);
    assert.equal(refused(blob, 'not-user-certificate'), 'Certificate invalid: not a user certificate');
  });

  test('untrusted CA', () => {
    const blob = certify('ed25519', 'caRsa', ['-n', 'alice']);
    refused(blob, 'untrusted-ca', { trustedCAs: [pub.caEd25519, pub.caEcdsa] });
    refused(blob, 'untrusted-ca', { trustedCAs: [] });
  });

  test('self-signed: a key certified by itself', () => {
    for (const user of Object.keys(USER_KEYS) as UserKey[]) {
      const blob = certify(user, user, ['-n', 'alice']);
      assert.deepEqual(parsed(blob).signatureKey, pub[user]);
      assert.match(refused(blob, 'self-signed'), /self-signed/);
    }
  });

  test('a tampered signature or signed field fails verification', () => {
    for (const ca of Object.keys(CA_KEYS) as CaKey[]) {
      const blob = certify('ecdsa256', ca, ['-n', 'alice']);
      const sig = Buffer.from(blob);
      sig[sig.length - 5] ^= 0x01;
      assert.match(refused(sig, 'bad-signature'), /does not verify/);
      const field = Buffer.from(blob);
      field[field.indexOf('alice')] = 'A'.charCodeAt(0);
      refused(field, 'bad-signature', { user: 'Alice' });
    }
  });

  test('SHA-1 ssh-rsa CA signatures are refused unless allowed; rsa-sha2-256 is accepted', () => {
    const sha1 = certify('ed25519', 'caRsa', ['-n', 'alice', '-t', 'ssh-rsa']);
    assert.equal(parsed(sha1).signatureAlgorithm, 'ssh-rsa');
    assert.match(refused(sha1, 'ca-signature-algorithm'), /ssh-rsa/);
    assert.ok(check(sha1, { allowedSignatureAlgorithms: ['ssh-rsa', 'rsa-sha2-256'] }).ok);
    const sha256 = certify('ed25519', 'caRsa', ['-n', 'alice', '-t', 'rsa-sha2-256']);
    assert.equal(parsed(sha256).signatureAlgorithm, 'rsa-sha2-256');
    assert.ok(check(sha256).ok);
    refused(sha256, 'ca-signature-algorithm', { allowedSignatureAlgorithms: ['rsa-sha2-512'] });
  });

  test('a certificate as CA key is refused', () => {
    const caCert = certify('ed25519', 'caEd25519', ['-n', 'ca']);
    const cert = parsed(certify('rsa', 'caEd25519', ['-n', 'alice']));
    // Swap the signature key for a certificate: signedData ends with string(signature key).
    const head = cert.signedData.subarray(0, cert.signedData.length - 4 - cert.signatureKey.length);
    const forged = Buffer.concat([head, encodeString(caCert), encodeString(cert.signature)]);
    assert.deepEqual(parsed(forged).signatureKey, caCert);
    refused(forged, 'ca-is-certificate', { trustedCAs: [caCert, pub.caEd25519] });
  });

  test('truncated, extended and garbage blobs are refused with a reason, never thrown', () => {
    for (const ca of ['caEd25519', 'caRsa'] as const) {
      const blob = certify('rsa', ca, ['-n', 'alice', '-O', 'force-command=ls']);
      for (let len = 0; len < blob.length; len++) {
        const cut = blob.subarray(0, len);
        const p = parseOpenSSHCertificate(cut);
        assert.equal(p.ok, false, `prefix of ${len} bytes parsed`);
        assert.ok(!p.ok && p.reason.length > 0);
        assert.equal(check(cut).ok, false);
      }
      const longer = Buffer.concat([blob, Buffer.from([0])]);
      const p = parseOpenSSHCertificate(longer);
      assert.ok(!p.ok && /trailing/.test(p.reason));
      assert.equal(refused(longer, 'malformed').length > 0, true);
    }
    for (let i = 0; i < 200; i++) {
      const junk = randomBytes(i * 3);
      assert.equal(parseOpenSSHCertificate(junk).ok, false);
    }
    // A plausible header with absurd lengths.
    const header = Buffer.concat([encodeString('ssh-ed25519-cert-v01@openssh.com'), encodeUint32(0xffffffff)]);
    assert.equal(parseOpenSSHCertificate(header).ok, false);
    assert.equal(parseOpenSSHCertificate(pub.ed25519).ok, false, 'a plain key is not a certificate');
  });
});

/** PROTOCOL.sshsig: the armored signature's public key, the SSH signature inside it, and the data it signs. */
function readSshsig(armored: string, message: Buffer): { publicKey: Buffer; signature: Buffer; signedData: Buffer } {
  const b64 = armored.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const r = new WireReader(Buffer.from(b64, 'base64'));
  assert.equal(r.buf.subarray(0, 6).toString('latin1'), 'SSHSIG');
  r.offset = 6;
  assert.equal(r.uint32(), 1);
  const publicKey = r.bytes();
  const namespace = r.bytes();
  const reserved = r.bytes();
  const hashAlg = r.string();
  const signature = r.bytes();
  const digest = createHash(hashAlg).update(message).digest();
  const signedData = Buffer.concat([
    Buffer.from('SSHSIG'),
    encodeString(namespace),
    encodeString(reserved),
    encodeString(hashAlg),
    encodeString(digest),
  ]);
  return { publicKey, signature, signedData };
}

function sshsig(key: string): { publicKey: Buffer; signature: Buffer; signedData: Buffer } {
  const message = Buffer.from(`message for ${key} ${serial++}\n`);
  const file = `msg${serial}`;
  writeFileSync(join(dir, file), message);
  runKeygen(['-Y', 'sign', '-q', '-f', key, '-n', 'sshdaemon-test', file]);
  return readSshsig(readFileSync(join(dir, `${file}.sig`), 'utf8'), message);
}

function sigAlgorithm(signature: Buffer): string {
  return new WireReader(signature).string();
}

/** The same signature relabeled with another algorithm name. */
function relabel(signature: Buffer, algorithm: string): Buffer {
  const r = new WireReader(signature);
  r.string();
  return Buffer.concat([encodeString(algorithm), encodeString(r.bytes())]);
}

describe('verifySshSignature against ssh-keygen signatures', () => {
  const SSHSIG_KEYS = {
    ed25519: 'ssh-ed25519',
    ecdsa256: 'ecdsa-sha2-nistp256',
    ecdsa384: 'ecdsa-sha2-nistp384',
    ecdsa521: 'ecdsa-sha2-nistp521',
    rsa: 'rsa-sha2-512',
  };
  for (const [key, algorithm] of Object.entries(SSHSIG_KEYS)) {
    test(`${algorithm} (ssh-keygen -Y sign with the ${key} key)`, () => {
      const s = sshsig(key);
      assert.deepEqual(s.publicKey, pub[key]);
      assert.equal(sigAlgorithm(s.signature), algorithm);
      assert.equal(verifySshSignature(pub[key], s.signedData, s.signature), true);
      assert.deepEqual(checkSshSignature(pub[key], s.signedData, s.signature, { expectedAlgorithm: algorithm }), { ok: true, algorithm });
      // Wrong data, wrong key of the same type, and a flipped signature byte.
      assert.equal(verifySshSignature(pub[key], Buffer.concat([s.signedData, Buffer.from('x')]), s.signature), false);
      const other = key === 'ed25519' ? pub.caEd25519 : key === 'rsa' ? pub.caRsa : key === 'ecdsa384' ? pub.caEcdsa : undefined;
      if (other) assert.equal(verifySshSignature(other, s.signedData, s.signature), false);
      const flipped = Buffer.from(s.signature);
      flipped[flipped.length - 3] ^= 0x40;
      assert.equal(verifySshSignature(pub[key], s.signedData, flipped), false);
      // Every truncation of the signature is refused without throwing.
      for (let len = 0; len < s.signature.length; len += 7) {
        assert.equal(verifySshSignature(pub[key], s.signedData, s.signature.subarray(0, len)), false);
      }
      assert.equal(verifySshSignature(pub[key], s.signedData, Buffer.concat([s.signature, Buffer.from([0])])), false);
    });
  }

  test('rsa-sha2-256 and SHA-1 ssh-rsa (certificate signatures by an RSA CA)', () => {
    const sha256 = parsed(certify('ed25519', 'caRsa', ['-n', 'alice', '-t', 'rsa-sha2-256']));
    assert.equal(verifySshSignature(pub.caRsa, sha256.signedData, sha256.signature), true);
    const sha1 = parsed(certify('ed25519', 'caRsa', ['-n', 'alice', '-t', 'ssh-rsa']));
    assert.equal(sha1.signatureAlgorithm, 'ssh-rsa');
    const denied = checkSshSignature(pub.caRsa, sha1.signedData, sha1.signature);
    assert.ok(!denied.ok && /ssh-rsa is not allowed/.test(denied.reason));
    assert.equal(verifySshSignature(pub.caRsa, sha1.signedData, sha1.signature, ['ssh-rsa']), true);
  });

  test('the algorithm name must fit the key and match the signature', () => {
    const ed = sshsig('ed25519');
    const rsa = sshsig('rsa');
    const ec = sshsig('ecdsa256');
    // An RSA signature verified with the ed25519 key, or an ECDSA signature with a P-384 key.
    const misfit = checkSshSignature(pub.ed25519, rsa.signedData, rsa.signature);
    assert.ok(!misfit.ok && /does not fit a ssh-ed25519 key/.test(misfit.reason));
    assert.equal(verifySshSignature(pub.ecdsa384, ec.signedData, ec.signature), false);
    assert.equal(verifySshSignature(pub.ecdsa384, ec.signedData, relabel(ec.signature, 'ecdsa-sha2-nistp384')), false);
    assert.equal(verifySshSignature(pub.ed25519, ed.signedData, relabel(ed.signature, 'ecdsa-sha2-nistp256')), false);
    // An rsa-sha2-512 signature claimed as rsa-sha2-256 or ssh-rsa.
    assert.equal(verifySshSignature(pub.rsa, rsa.signedData, relabel(rsa.signature, 'rsa-sha2-256')), false);
    assert.equal(verifySshSignature(pub.rsa, rsa.signedData, relabel(rsa.signature, 'ssh-rsa'), ['ssh-rsa']), false);
    const unexpected = checkSshSignature(pub.rsa, rsa.signedData, rsa.signature, { expectedAlgorithm: 'rsa-sha2-256' });
    assert.ok(!unexpected.ok && /not the expected rsa-sha2-256/.test(unexpected.reason));
    assert.equal(verifySshSignature(pub.ed25519, ed.signedData, relabel(ed.signature, 'ssh-dss')), false);
    // A certificate blob is not a plain key.
    const certBlob = certify('ed25519', 'caEd25519', ['-n', 'alice']);
    assert.equal(verifySshSignature(certBlob, ed.signedData, ed.signature), false);
  });

  test('garbage keys and signatures return false', () => {
    const ed = sshsig('ed25519');
    for (const junk of [
      Buffer.alloc(0),
      Buffer.from([0, 0, 0]),
      randomBytes(80),
      encodeString('ssh-ed25519'),
      Buffer.concat([encodeUint32(0xfffffff0), randomBytes(8)]),
    ]) {
      assert.equal(verifySshSignature(pub.ed25519, ed.signedData, junk), false);
      assert.equal(verifySshSignature(junk, ed.signedData, ed.signature), false);
      assert.equal(parseSshPublicKey(junk).ok, false);
    }
    // An EC point off the curve.
    const bad = Buffer.concat([
      encodeString('ecdsa-sha2-nistp256'),
      encodeString('nistp256'),
      encodeString(Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)])),
    ]);
    const p = parseSshPublicKey(bad);
    assert.ok(!p.ok, 'point off the curve accepted');
    // RSA under 1024 bits.
    const small = generateKeyPairSync('rsa', { modulusLength: 768 }).publicKey;
    const s = parseSshPublicKey(publicKeyBlob(small));
    assert.ok(!s.ok && /under the 1024-bit minimum/.test(s.reason));
    for (const key of Object.keys(USER_KEYS)) assert.ok(parseSshPublicKey(pub[key]).ok);
  });
});

describe('algorithm names of publickey requests', () => {
  test('certificate algorithms map to their blob type and plain signature algorithm', () => {
    const table: [string, string | undefined, string | undefined][] = [
      ['ssh-ed25519-cert-v01@openssh.com', 'ssh-ed25519-cert-v01@openssh.com', 'ssh-ed25519'],
      ['ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ecdsa-sha2-nistp256'],
      ['ecdsa-sha2-nistp521-cert-v01@openssh.com', 'ecdsa-sha2-nistp521-cert-v01@openssh.com', 'ecdsa-sha2-nistp521'],
      ['ssh-rsa-cert-v01@openssh.com', 'ssh-rsa-cert-v01@openssh.com', 'ssh-rsa'],
      ['rsa-sha2-256-cert-v01@openssh.com', 'ssh-rsa-cert-v01@openssh.com', 'rsa-sha2-256'],
      ['rsa-sha2-512-cert-v01@openssh.com', 'ssh-rsa-cert-v01@openssh.com', 'rsa-sha2-512'],
      ['rsa-sha2-512', undefined, 'rsa-sha2-512'],
      ['ssh-ed25519', undefined, 'ssh-ed25519'],
      ['toString', undefined, undefined],
    ];
    for (const [algo, blobType, sigAlgo] of table) {
      assert.equal(certificateKeyType(algo), blobType, algo);
      assert.equal(signatureAlgorithmFor(algo), sigAlgo, algo);
    }
  });
});
