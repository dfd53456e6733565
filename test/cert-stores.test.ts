/**
 * Every host-key store format of `Certificate`, with keys made by real tools (ssh-keygen, puttygen,
 * openssl), never by our code. A store that can be a host key is served by a daemon and OpenSSH's
 * `ssh-keyscan | ssh-keygen -lf -` must print the fingerprint that the tools give for the original key.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Certificate, CertStoreTypes, ErrorCodes, SSHDaemon, SSHDaemonError } from '../src';
import { requireBinary, run } from './fixtures/clients';

const TIMEOUT = { timeout: 120_000 };
const HOST_KEY_ALGORITHMS =
  'SSHPublicKeyAlgorithms=ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256';

let dir = '';
const file = (name: string) => join(dir, name);

/** Runs a tool; a failure fails the test with its stderr. */
async function tool(name: string, args: string[], input?: string | Buffer): Promise<Buffer> {
  const r = await run(requireBinary(name), args, { input, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${name} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function fingerprintIn(text: string): string {
  const m = /SHA256:[A-Za-z0-9+/]+/.exec(text);
  assert.ok(m, `no SHA256 fingerprint in: ${text}`);
  return m[0];
}

/** `ssh-keygen -lf` of a public or unencrypted private key file, or of stdin text. */
async function sshKeygenFingerprint(pathOrText: string, stdin = false): Promise<string> {
  return fingerprintIn((await tool('ssh-keygen', ['-lf', stdin ? '-' : pathOrText], stdin ? pathOrText : undefined)).toString());
}

/** Fingerprint of a PuTTY key, through puttygen's OpenSSH public export and ssh-keygen. */
async function ppkFingerprint(path: string, passFile = '/dev/null'): Promise<string> {
  const pub = `${path}.pub`;
  await tool('puttygen', [path, '--old-passphrase', passFile, '-O', 'public-openssh', '-o', pub]);
  return sshKeygenFingerprint(pub);
}

/**
 * Fingerprint of an OpenSSL key. ssh-keygen 9.2 cannot read Ed25519 PKCS#8, so Ed25519 is derived by
 * hand from openssl's DER SubjectPublicKeyInfo (its last 32 bytes are the key; RFC 8709 blob).
 */
async function opensslFingerprint(keyPath: string, pass = ''): Promise<string> {
  const passArgs = pass ? ['-passin', `pass:${pass}`] : [];
  const text = (await tool('openssl', ['pkey', '-in', keyPath, ...passArgs, '-noout', '-text'])).toString();
  if (/ED25519/i.test(text)) {
    const spki = await tool('openssl', ['pkey', '-in', keyPath, ...passArgs, '-pubout', '-outform', 'DER']);
    const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(spki.subarray(spki.length - 32))]);
    return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  }
  const pem = await tool('openssl', ['pkey', '-in', keyPath, ...passArgs, '-pubout']);
  const pubPath = file(`pub-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(pubPath, pem);
  return sshKeygenFingerprint((await tool('ssh-keygen', ['-i', '-m', 'PKCS8', '-f', pubPath])).toString(), true);
}

/** Serves `cert` as the host key; returns what OpenSSH's ssh-keyscan sees, as `ssh-keygen -lf -` prints it. */
async function scannedFingerprint(cert: Certificate): Promise<string> {
  const daemon = new SSHDaemon();
  try {
    daemon.sshCert = cert;
    daemon.localHost = '127.0.0.1';
    daemon.localPort = 0;
    daemon.config(HOST_KEY_ALGORITHMS);
    await daemon.startListening();
    const type = cert.keyType === 'ssh-ed25519' ? 'ed25519' : cert.keyType === 'ssh-rsa' ? 'rsa' : 'ecdsa';
    const scan = await tool('ssh-keyscan', ['-p', String(daemon.localPort), '-t', type, '127.0.0.1']);
    assert.ok(scan.length > 0, `ssh-keyscan got no ${type} key`);
    return await sshKeygenFingerprint(scan.toString(), true);
  } finally {
    await daemon.shutdown();
  }
}

/** Asserts a Certificate loads the tool's key and OpenSSH sees exactly that host key. */
async function assertServes(cert: Certificate, expected: string, keyType: string): Promise<void> {
  assert.equal(cert.hasPrivateKey, true);
  assert.equal(cert.keyType, keyType);
  assert.equal(cert.fingerprint, expected);
  assert.equal(await scannedFingerprint(cert), expected);
}

function assertCode(fn: () => unknown, code: number, message: RegExp): SSHDaemonError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SSHDaemonError, `expected SSHDaemonError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  return caught;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cert-stores-'));
  writeFileSync(file('pass'), 'pw-123');
  writeFileSync(file('wrong'), 'not-it');
});
after(() => rmSync(dir, { recursive: true, force: true }));

// ---- PEM (6, 7) ---------------------------------------------------------------------------------

test('PEM file/blob: OpenSSL PKCS#8, encrypted PKCS#8, ssh-keygen PKCS#1/SEC1/OpenSSH keys are served as made', TIMEOUT, async () => {
  await tool('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', file('ossl-ed.pem')]);
  await tool('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', file('ossl-ec.pem')]);
  await tool('openssl', [
    'pkcs8',
    '-topk8',
    '-v2',
    'aes256',
    '-in',
    file('ossl-ec.pem'),
    '-passout',
    'pass:pw-123',
    '-out',
    file('ossl-ec-enc.pem'),
  ]);
  await tool('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-f', file('kg-rsa')]);
  await tool('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '521', '-m', 'PEM', '-N', '', '-f', file('kg-ec521')]);
  await tool('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pw-123', '-f', file('kg-ed-enc')]);
  assert.match(readFileSync(file('kg-rsa'), 'utf8'), /BEGIN RSA PRIVATE KEY/);
  assert.match(readFileSync(file('kg-ec521'), 'utf8'), /BEGIN EC PRIVATE KEY/);
  assert.match(readFileSync(file('ossl-ec-enc.pem'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);

  await assertServes(
    new Certificate(CertStoreTypes.cstPEMKeyFile, file('ossl-ed.pem')),
    await opensslFingerprint(file('ossl-ed.pem')),
    'ssh-ed25519',
  );
  await assertServes(
    new Certificate(CertStoreTypes.cstPEMKeyFile, file('ossl-ec-enc.pem'), 'pw-123'),
    await opensslFingerprint(file('ossl-ec.pem')),
    'ecdsa-sha2-nistp384',
  );
  await assertServes(
    new Certificate(CertStoreTypes.cstPEMKeyFile, file('kg-rsa')),
    await sshKeygenFingerprint(file('kg-rsa.pub')),
    'ssh-rsa',
  );
  await assertServes(
    new Certificate(CertStoreTypes.cstPEMKeyBlob, readFileSync(file('kg-ec521'))),
    await sshKeygenFingerprint(file('kg-ec521.pub')),
    'ecdsa-sha2-nistp521',
  );
  await assertServes(
    new Certificate(CertStoreTypes.cstPEMKeyBlob, readFileSync(file('kg-ed-enc'), 'utf8'), 'pw-123'),
    await sshKeygenFingerprint(file('kg-ed-enc.pub')),
    'ssh-ed25519',
  );

  assertCode(
    () => new Certificate(CertStoreTypes.cstPEMKeyFile, file('ossl-ec-enc.pem'), 'wrong'),
    ErrorCodes.BadKeyPassword,
    /wrong password/,
  );
  assertCode(() => new Certificate(CertStoreTypes.cstPEMKeyFile, file('kg-ed-enc'), 'wrong'), ErrorCodes.BadKeyPassword, /wrong password/);
  assertCode(() => new Certificate(CertStoreTypes.cstPEMKeyFile, file('kg-ed-enc')), ErrorCodes.BadKeyPassword, /password is required/);
  const pem = readFileSync(file('kg-rsa'), 'utf8');
  writeFileSync(file('truncated.pem'), pem.slice(0, pem.length / 2) + '\n-----END RSA PRIVATE KEY-----\n');
  assertCode(
    () => new Certificate(CertStoreTypes.cstPEMKeyFile, file('truncated.pem')),
    ErrorCodes.CorruptKey,
    /PEM private key: cannot parse file/,
  );
  assertCode(() => new Certificate(CertStoreTypes.cstPEMKeyFile, file('missing.pem')), ErrorCodes.KeyFileNotFound, /Cannot read key file/);
});

// ---- PFX (2, 3) ---------------------------------------------------------------------------------

test('PFX file/blob: OpenSSL 3 default (AES-256/PBKDF2, SHA-256 MAC) and -legacy (3DES/RC2, SHA-1 MAC) PKCS#12', TIMEOUT, async () => {
  await tool('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', file('pfx-ed.pem')]);
  await tool('openssl', [
    'req',
    '-x509',
    '-key',
    file('pfx-ed.pem'),
    '-subj',
    '/O=Example Org/CN=host.example',
    '-days',
    '30',
    '-out',
    file('pfx-ed.crt'),
  ]);
  await tool('openssl', [
    'pkcs12',
    '-export',
    '-inkey',
    file('pfx-ed.pem'),
    '-in',
    file('pfx-ed.crt'),
    '-passout',
    'pass:pw-123',
    '-out',
    file('ed.pfx'),
  ]);
  const info = (await run(requireBinary('openssl'), ['pkcs12', '-in', file('ed.pfx'), '-info', '-noout', '-passin', 'pass:pw-123'])).stderr;
  assert.match(info, /AES-256-CBC/, 'OpenSSL default PKCS#12 is expected to use AES-256-CBC');

  await tool('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file('pfx-rsa.pem')]);
  await tool('openssl', [
    'req',
    '-x509',
    '-key',
    file('pfx-rsa.pem'),
    '-subj',
    '/CN=legacy.example',
    '-days',
    '30',
    '-out',
    file('pfx-rsa.crt'),
  ]);
  await tool('openssl', [
    'pkcs12',
    '-export',
    '-legacy',
    '-inkey',
    file('pfx-rsa.pem'),
    '-in',
    file('pfx-rsa.crt'),
    '-certfile',
    file('pfx-ed.crt'),
    '-passout',
    'pass:pw-123',
    '-out',
    file('rsa-legacy.pfx'),
  ]);
  const legacyInfo = (
    await run(requireBinary('openssl'), ['pkcs12', '-legacy', '-in', file('rsa-legacy.pfx'), '-info', '-noout', '-passin', 'pass:pw-123'])
  ).stderr;
  assert.match(legacyInfo, /pbeWithSHA1And3-KeyTripleDES-CBC/);
  await tool('openssl', [
    'pkcs12',
    '-export',
    '-inkey',
    file('pfx-ed.pem'),
    '-in',
    file('pfx-ed.crt'),
    '-passout',
    'pass:',
    '-out',
    file('nopass.pfx'),
  ]);

  const edFp = await opensslFingerprint(file('pfx-ed.pem'));
  const rsaFp = await opensslFingerprint(file('pfx-rsa.pem'));
  const ed = new Certificate(CertStoreTypes.cstPFXFile, file('ed.pfx'), 'pw-123');
  assert.equal(ed.certificateSubject, 'CN=host.example, O=Example Org');
  await assertServes(ed, edFp, 'ssh-ed25519');
  await assertServes(new Certificate(CertStoreTypes.cstPFXBlob, readFileSync(file('rsa-legacy.pfx')), 'pw-123'), rsaFp, 'ssh-rsa');
  assert.equal(new Certificate(CertStoreTypes.cstPFXFile, file('nopass.pfx')).fingerprint, edFp);
  // base64 text, as the AltSSHCertStore setting would carry it
  assert.equal(new Certificate(CertStoreTypes.cstPFXBlob, readFileSync(file('ed.pfx')).toString('base64'), 'pw-123').fingerprint, edFp);

  // subject rule: CN value, attr=value pairs in any order, case-insensitive; '' and '*' take the first key
  for (const subject of [
    'host.example',
    'CN=HOST.EXAMPLE',
    'o=example org, cn=host.example',
    'CN=host.example, O=Example Org',
    '',
    '*',
    'example org',
  ]) {
    assert.equal(new Certificate(CertStoreTypes.cstPFXFile, file('ed.pfx'), 'pw-123', subject).fingerprint, edFp, `subject '${subject}'`);
  }
  assertCode(
    () => new Certificate(CertStoreTypes.cstPFXFile, file('ed.pfx'), 'pw-123', 'CN=other.example'),
    ErrorCodes.SubjectNotFound,
    /matching subject 'CN=other.example'.*'CN=host.example, O=Example Org'/,
  );
  // the extra certificate (host.example) in the legacy PFX has no key: it cannot be selected
  assertCode(
    () => new Certificate(CertStoreTypes.cstPFXFile, file('rsa-legacy.pfx'), 'pw-123', 'CN=host.example'),
    ErrorCodes.SubjectNotFound,
    /subjects present: 'CN=legacy.example'/,
  );
  assert.equal(new Certificate(CertStoreTypes.cstPFXFile, file('rsa-legacy.pfx'), 'pw-123', 'legacy.example').fingerprint, rsaFp);

  assertCode(
    () => new Certificate(CertStoreTypes.cstPFXFile, file('ed.pfx'), 'wrong'),
    ErrorCodes.BadKeyPassword,
    /PKCS#12 \(PFX\): wrong password for file .*ed\.pfx/,
  );
  assertCode(
    () => new Certificate(CertStoreTypes.cstPFXFile, file('rsa-legacy.pfx'), ''),
    ErrorCodes.BadKeyPassword,
    /password is required/,
  );
  const der = readFileSync(file('ed.pfx'));
  assertCode(
    () => new Certificate(CertStoreTypes.cstPFXBlob, der.subarray(0, der.length - 40), 'pw-123'),
    ErrorCodes.CorruptKey,
    /PKCS#12 \(PFX\): cannot parse the PFXBlob blob/,
  );
  assertCode(() => new Certificate(CertStoreTypes.cstPFXBlob, Buffer.from('not a pfx at all'), 'pw-123'), ErrorCodes.CorruptKey, /PKCS#12/);
});

// ---- PPK (14, 15) -------------------------------------------------------------------------------

const PPK_TYPES: [string, string[], string][] = [
  ['ed25519', ['-t', 'ed25519'], 'ssh-ed25519'],
  ['p256', ['-t', 'ecdsa', '-b', '256'], 'ecdsa-sha2-nistp256'],
  ['p384', ['-t', 'ecdsa', '-b', '384'], 'ecdsa-sha2-nistp384'],
  ['p521', ['-t', 'ecdsa', '-b', '521'], 'ecdsa-sha2-nistp521'],
  ['rsa', ['-t', 'rsa', '-b', '2048'], 'ssh-rsa'],
];

test('PPK file/blob: v2 and v3, unencrypted and encrypted, every key type, served as puttygen made them', TIMEOUT, async () => {
  for (const [name, args, keyType] of PPK_TYPES) {
    for (const version of [2, 3]) {
      const plain = file(`${name}-v${version}.ppk`);
      const enc = file(`${name}-v${version}-enc.ppk`);
      // v3 passes kept low for test speed; PuTTY's default cost is covered below
      const params = version === 3 ? `version=3,passes=2` : 'version=2';
      await tool('puttygen', [...args, '--ppk-param', `version=${version}`, '--new-passphrase', '/dev/null', '-o', plain]);
      await tool('puttygen', [...args, '--ppk-param', params, '--new-passphrase', file('pass'), '-o', enc]);
      assert.match(readFileSync(plain, 'utf8'), new RegExp(`^PuTTY-User-Key-File-${version}: ${keyType}\\r?\\nEncryption: none`));
      assert.match(readFileSync(enc, 'utf8'), /Encryption: aes256-cbc/);
      const plainFp = await ppkFingerprint(plain);
      const encFp = await ppkFingerprint(enc, file('pass'));
      const a = new Certificate(CertStoreTypes.cstPPKFile, plain);
      const b = new Certificate(CertStoreTypes.cstPPKBlob, readFileSync(enc), 'pw-123');
      assert.equal(a.keyType, keyType);
      assert.equal(a.fingerprint, plainFp, `${name} v${version}`);
      assert.equal(b.fingerprint, encFp, `${name} v${version} encrypted`);
      // served: every key type once unencrypted (v3) and once encrypted (v2)
      if (version === 3) await assertServes(a, plainFp, keyType);
      if (version === 2) await assertServes(b, encFp, keyType);
    }
  }
});

test('PPK v3: Argon2id at PuTTY default cost, Argon2i and Argon2d (parallelism 2) all decrypt', TIMEOUT, async () => {
  const variants: [string, string][] = [
    ['default', 'version=3'],
    ['argon2i', 'kdf=argon2i,passes=3'],
    ['argon2d', 'kdf=argon2d,passes=3,memory=1024,parallelism=2'],
  ];
  for (const [name, params] of variants) {
    const path = file(`kdf-${name}.ppk`);
    await tool('puttygen', ['-t', 'ed25519', '--ppk-param', params, '--new-passphrase', file('pass'), '-o', path]);
    const kdf = /Key-Derivation: (\S+)/.exec(readFileSync(path, 'utf8'))?.[1];
    assert.equal(kdf, name === 'default' ? 'Argon2id' : name === 'argon2i' ? 'Argon2i' : 'Argon2d');
    const cert = new Certificate(CertStoreTypes.cstPPKFile, path, 'pw-123');
    assert.equal(cert.fingerprint, await ppkFingerprint(path, file('pass')));
    if (name === 'default') await assertServes(cert, cert.fingerprint, 'ssh-ed25519');
  }
});

test('PPK errors: wrong/missing passphrase, tampered and truncated files; startListening never reached', TIMEOUT, async () => {
  for (const version of [2, 3]) {
    const enc = file(`err-v${version}-enc.ppk`);
    const plain = file(`err-v${version}.ppk`);
    await tool('puttygen', [
      '-t',
      'ed25519',
      '--ppk-param',
      version === 3 ? 'version=3,passes=2' : 'version=2',
      '--new-passphrase',
      file('pass'),
      '-o',
      enc,
    ]);
    await tool('puttygen', ['-t', 'ed25519', '--ppk-param', `version=${version}`, '--new-passphrase', '/dev/null', '-o', plain]);
    assertCode(
      () => new Certificate(CertStoreTypes.cstPPKFile, enc, 'wrong'),
      ErrorCodes.BadKeyPassword,
      /PuTTY PPK: wrong password for file .*the MAC does not verify/,
    );
    assertCode(() => new Certificate(CertStoreTypes.cstPPKFile, enc), ErrorCodes.BadKeyPassword, /password is required/);

    const text = readFileSync(plain, 'utf8');
    // one private-key character changed: the MAC catches it
    const tampered = text.replace(/(Private-Lines: 1\r?\n)(.)/, (_m, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'));
    assert.notEqual(tampered, text);
    assertCode(
      () => new Certificate(CertStoreTypes.cstPPKBlob, tampered),
      ErrorCodes.CorruptKey,
      /Private-MAC does not match: the file was modified/,
    );
    // the comment of an encrypted file changed, right passphrase: modified, not a password problem
    const encText = readFileSync(enc, 'utf8');
    assertCode(
      () => new Certificate(CertStoreTypes.cstPPKBlob, encText.replace(/Comment: .*/, 'Comment: evil'), 'pw-123'),
      ErrorCodes.CorruptKey,
      /modified/,
    );
    assertCode(
      () => new Certificate(CertStoreTypes.cstPPKBlob, text.slice(0, text.indexOf('Private-Lines'))),
      ErrorCodes.CorruptKey,
      /PuTTY PPK: cannot parse the PPKBlob blob: .*missing/,
    );
    assertCode(
      () => new Certificate(CertStoreTypes.cstPPKBlob, text.replace(/Private-MAC: .*/, '')),
      ErrorCodes.CorruptKey,
      /missing "Private-MAC:"/,
    );
  }

  // As an AltSSHCert the bad store stops startListening() before anything binds.
  const daemon = new SSHDaemon();
  try {
    daemon.sshCert = Certificate.generate('ed25519');
    daemon.localHost = '127.0.0.1';
    daemon.localPort = 0;
    daemon.config('AltSSHCertCount=1');
    daemon.config(`AltSSHCertStore[0]=${file('err-v3-enc.ppk')}`);
    daemon.config(`AltSSHCertStoreType[0]=${CertStoreTypes.cstPPKFile}`);
    daemon.config('AltSSHCertStorePassword[0]=wrong');
    await assert.rejects(
      daemon.startListening(),
      (e: unknown) => e instanceof SSHDaemonError && e.code === ErrorCodes.BadKeyPassword && /PuTTY PPK: wrong password/.test(e.message),
    );
    assert.equal(daemon.listening, false);
    assert.equal(daemon.address(), undefined);
  } finally {
    await daemon.shutdown();
  }
});

// ---- SSH public keys (10, 13) -------------------------------------------------------------------

test('SSH public key file/blob: OpenSSH line, RFC 4716, wire blob; matches() and no host-key use', TIMEOUT, async () => {
  await tool('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@example', '-f', file('pub-ed')]);
  await tool('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', file('pub-rsa')]);
  writeFileSync(file('pub-ed.rfc4716'), await tool('ssh-keygen', ['-e', '-f', file('pub-ed.pub')]));
  assert.match(readFileSync(file('pub-ed.rfc4716'), 'utf8'), /---- BEGIN SSH2 PUBLIC KEY ----/);
  const edFp = await sshKeygenFingerprint(file('pub-ed.pub'));
  const rsaFp = await sshKeygenFingerprint(file('pub-rsa.pub'));
  const line = readFileSync(file('pub-ed.pub'), 'utf8');
  const wire = Buffer.from(line.split(' ')[1], 'base64');
  const otherWire = Buffer.from(readFileSync(file('pub-rsa.pub'), 'utf8').split(' ')[1], 'base64');

  const forms: [string, Certificate][] = [
    ['one-line file', new Certificate(CertStoreTypes.cstSSHPublicKeyFile, file('pub-ed.pub'))],
    ['RFC 4716 file', new Certificate(CertStoreTypes.cstSSHPublicKeyFile, file('pub-ed.rfc4716'))],
    ['one-line blob', new Certificate(CertStoreTypes.cstSSHPublicKeyBlob, line)],
    ['RFC 4716 blob', new Certificate(CertStoreTypes.cstSSHPublicKeyBlob, readFileSync(file('pub-ed.rfc4716')))],
    ['wire blob', new Certificate(CertStoreTypes.cstSSHPublicKeyBlob, wire)],
    ['base64 of the wire blob (authParam)', new Certificate(CertStoreTypes.cstSSHPublicKeyBlob, wire.toString('base64'))],
  ];
  for (const [form, cert] of forms) {
    assert.equal(cert.hasPrivateKey, false, form);
    assert.equal(cert.privateKey, undefined, form);
    assert.equal(cert.keyType, 'ssh-ed25519', form);
    assert.equal(cert.fingerprint, edFp, form);
    assert.equal(cert.publicKeyOpenSSH, line.split(' ').slice(0, 2).join(' '), form);
    assert.equal(cert.matches(wire), true, form);
    assert.equal(cert.matches(otherWire), false, form);
    assert.equal(cert.matches(Buffer.from('garbage')), false, form);
  }
  const rsa = new Certificate(CertStoreTypes.cstSSHPublicKeyFile, file('pub-rsa.pub'));
  assert.equal(rsa.fingerprint, rsaFp);
  assert.equal(rsa.matches(otherWire), true);
  assert.equal(rsa.matches(wire), false);

  const pub = forms[0][1];
  assertCode(() => pub.toOpenSSH(), ErrorCodes.NoHostKey, /holds only a public key/);
  assertCode(() => pub.save(file('never')), ErrorCodes.NoHostKey, /holds only a public key/);
  assert.throws(() => statSync(file('never')), /ENOENT/);
  const daemon = new SSHDaemon();
  try {
    assertCode(() => (daemon.sshCert = pub), ErrorCodes.NoHostKey, /sshCert: .*holds only a public key/);
    assert.equal(daemon.sshCert, undefined);
    daemon.sshCert = Certificate.generate('ed25519');
    daemon.localHost = '127.0.0.1';
    daemon.localPort = 0;
    daemon.config('AltSSHCertCount=1');
    daemon.config(`AltSSHCertStore[0]=${file('pub-ed.pub')}`);
    daemon.config(`AltSSHCertStoreType[0]=${CertStoreTypes.cstSSHPublicKeyFile}`);
    await assert.rejects(
      daemon.startListening(),
      (e: unknown) =>
        e instanceof SSHDaemonError && e.code === ErrorCodes.NoHostKey && /AltSSHCertStore\[0\]: .*holds only a public key/.test(e.message),
    );
    assert.equal(daemon.listening, false);
  } finally {
    await daemon.shutdown();
  }

  assertCode(
    () => new Certificate(CertStoreTypes.cstSSHPublicKeyBlob, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK'),
    ErrorCodes.CorruptKey,
    /SSH public key: cannot parse/,
  );
  assertCode(
    () => new Certificate(CertStoreTypes.cstSSHPublicKeyBlob, line.replace('ssh-ed25519', 'ssh-rsa')),
    ErrorCodes.CorruptKey,
    /the line says ssh-rsa but the key inside is ssh-ed25519/,
  );
  assertCode(
    () => new Certificate(CertStoreTypes.cstSSHPublicKeyFile, file('pub-ed')),
    ErrorCodes.CorruptKey,
    /no OpenSSH public key line/,
  );
});

// ---- X.509 public keys and P7B (8, 9, 11, 12) ---------------------------------------------------

test('X.509 certificate and P7B stores give public-only Certificates; subject picks among several', TIMEOUT, async () => {
  for (const name of ['alpha', 'beta']) {
    await tool('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file(`${name}.pem`)]);
    await tool('openssl', [
      'req',
      '-x509',
      '-key',
      file(`${name}.pem`),
      '-subj',
      `/CN=${name}.example`,
      '-days',
      '30',
      '-out',
      file(`${name}.crt`),
    ]);
  }
  writeFileSync(file('bundle.crt'), readFileSync(file('alpha.crt'), 'utf8') + readFileSync(file('beta.crt'), 'utf8'));
  await tool('openssl', ['x509', '-in', file('beta.crt'), '-outform', 'DER', '-out', file('beta.der')]);
  await tool('openssl', ['crl2pkcs7', '-nocrl', '-certfile', file('bundle.crt'), '-out', file('bundle.p7b')]);
  await tool('openssl', ['crl2pkcs7', '-nocrl', '-certfile', file('bundle.crt'), '-outform', 'DER', '-out', file('bundle-der.p7b')]);
  const alphaFp = await opensslFingerprint(file('alpha.pem'));
  const betaFp = await opensslFingerprint(file('beta.pem'));

  const cases: [string, Certificate, string][] = [
    ['PEM certificate file', new Certificate(CertStoreTypes.cstPublicKeyFile, file('alpha.crt')), alphaFp],
    [
      'bundle, subject CN=beta.example',
      new Certificate(CertStoreTypes.cstPublicKeyFile, file('bundle.crt'), '', 'CN=beta.example'),
      betaFp,
    ],
    ['bundle, first', new Certificate(CertStoreTypes.cstPublicKeyFile, file('bundle.crt')), alphaFp],
    ['DER certificate blob', new Certificate(CertStoreTypes.cstPublicKeyBlob, readFileSync(file('beta.der'))), betaFp],
    ['P7B PEM file, subject beta.example', new Certificate(CertStoreTypes.cstP7BFile, file('bundle.p7b'), '', 'beta.example'), betaFp],
    ['P7B DER blob', new Certificate(CertStoreTypes.cstP7BBlob, readFileSync(file('bundle-der.p7b'))), alphaFp],
  ];
  for (const [what, cert, fp] of cases) {
    assert.equal(cert.hasPrivateKey, false, what);
    assert.equal(cert.keyType, 'ecdsa-sha2-nistp256', what);
    assert.equal(cert.fingerprint, fp, what);
  }
  assert.equal(cases[1][1].certificateSubject, 'CN=beta.example');
  assertCode(
    () => new Certificate(CertStoreTypes.cstP7BFile, file('bundle.p7b'), '', 'gamma.example'),
    ErrorCodes.SubjectNotFound,
    /'CN=alpha.example', 'CN=beta.example'/,
  );
  assertCode(() => new Certificate(CertStoreTypes.cstP7BFile, file('alpha.crt')), ErrorCodes.CorruptKey, /PKCS#7 \(P7B\): cannot parse/);
  assertCode(
    () => new Certificate(CertStoreTypes.cstPublicKeyFile, file('alpha.pem')),
    ErrorCodes.CorruptKey,
    /no CERTIFICATE or PUBLIC KEY/,
  );
  assertCode(() => (new SSHDaemon().sshCert = cases[0][1]), ErrorCodes.NoHostKey, /holds only a public key/);
});

// ---- Auto (99) ----------------------------------------------------------------------------------

test('cstAuto detects every format from a file path and from a blob; unknown content names what was tried', TIMEOUT, async () => {
  await tool('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '256', '-N', '', '-C', 'auto', '-f', file('auto-kg')]);
  writeFileSync(file('auto-kg.rfc'), await tool('ssh-keygen', ['-e', '-f', file('auto-kg.pub')]));
  await tool('puttygen', [file('auto-kg'), '--new-passphrase', '/dev/null', '-o', file('auto.ppk')]);
  await tool('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', file('auto-ed.pem')]);
  await tool('openssl', [
    'req',
    '-x509',
    '-key',
    file('auto-ed.pem'),
    '-subj',
    '/CN=auto.example',
    '-days',
    '30',
    '-out',
    file('auto-ed.crt'),
  ]);
  await tool('openssl', [
    'pkcs12',
    '-export',
    '-inkey',
    file('auto-ed.pem'),
    '-in',
    file('auto-ed.crt'),
    '-passout',
    'pass:pw-123',
    '-out',
    file('auto.pfx'),
  ]);
  await tool('openssl', ['crl2pkcs7', '-nocrl', '-certfile', file('auto-ed.crt'), '-outform', 'DER', '-out', file('auto.p7b')]);
  const kgFp = await sshKeygenFingerprint(file('auto-kg.pub'));
  const edFp = await opensslFingerprint(file('auto-ed.pem'));

  const expectations: [string, string, string, string][] = [
    ['auto-kg', 'pem', kgFp, ''], // OpenSSH private key
    ['auto-kg.pub', 'ssh-public-key', kgFp, ''],
    ['auto-kg.rfc', 'ssh-public-key', kgFp, ''],
    ['auto.ppk', 'ppk', kgFp, ''],
    ['auto-ed.pem', 'pem', edFp, ''],
    ['auto.pfx', 'pfx', edFp, 'pw-123'],
    ['auto-ed.crt', 'x509', edFp, ''],
    ['auto.p7b', 'p7b', edFp, ''],
  ];
  for (const [name, format, fp, password] of expectations) {
    const fromPath = new Certificate(CertStoreTypes.cstAuto, file(name), password);
    const fromBlob = new Certificate(CertStoreTypes.cstAuto, readFileSync(file(name)), password);
    for (const cert of [fromPath, fromBlob]) {
      assert.equal(cert.format, format, name);
      assert.equal(cert.fingerprint, fp, name);
    }
  }
  // key text as a string is a blob, anything else a path; base64 PFX text too
  assert.equal(new Certificate(CertStoreTypes.cstAuto, readFileSync(file('auto-kg.pub'), 'utf8')).fingerprint, kgFp);
  assert.equal(new Certificate(CertStoreTypes.cstAuto, readFileSync(file('auto.pfx')).toString('base64'), 'pw-123').format, 'pfx');
  await assertServes(new Certificate(CertStoreTypes.cstAuto, file('auto.ppk')), kgFp, 'ecdsa-sha2-nistp256');

  writeFileSync(file('junk.bin'), Buffer.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8]));
  const junk = assertCode(
    () => new Certificate(CertStoreTypes.cstAuto, file('junk.bin')),
    ErrorCodes.CorruptKey,
    /cstAuto: file .*junk\.bin is not a key store in any known format; tried PEM private key/,
  );
  assert.match(junk.message, /PuTTY PPK/);
  assert.match(junk.message, /PKCS#12\/PFX/);
  assert.match(junk.message, /RFC 4716/);
  assertCode(
    () => new Certificate(CertStoreTypes.cstAuto, Buffer.from('hello world\n')),
    ErrorCodes.CorruptKey,
    /cstAuto: the key blob is not a key store/,
  );
  assertCode(() => new Certificate(CertStoreTypes.cstAuto, file('does-not-exist')), ErrorCodes.KeyFileNotFound, /Cannot read key file/);
  assertCode(() => new Certificate(CertStoreTypes.cstAuto, file('auto.pfx'), 'wrong'), ErrorCodes.BadKeyPassword, /PKCS#12/);
});

// ---- the rest ------------------------------------------------------------------------------------

test('generate(), save() with mode 0600 round-trip through ssh-keygen; unsupported store types say why', TIMEOUT, async () => {
  for (const kind of ['ed25519', 'ecdsa-p256', 'rsa-3072'] as const) {
    const cert = Certificate.generate(kind);
    const path = file(`saved-${kind}`);
    cert.save(path, 'saved');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(await sshKeygenFingerprint(path), cert.fingerprint, kind);
    const pub = (await tool('ssh-keygen', ['-y', '-f', path])).toString().trim();
    assert.equal(pub.split(' ').slice(0, 2).join(' '), cert.publicKeyOpenSSH);
    assert.equal(new Certificate(CertStoreTypes.cstAuto, path).fingerprint, cert.fingerprint);
    assert.ok(createPublicKey(cert.requirePrivateKey('test')).equals(cert.publicKey));
  }
  for (const [type, what] of [
    [CertStoreTypes.cstUser, /Windows user certificate store, which cannot exist on Node\.js/],
    [CertStoreTypes.cstMachine, /Windows machine certificate store/],
    [CertStoreTypes.cstJKSFile, /Java keystore/],
    [CertStoreTypes.cstXMLBlob, /\.NET XML key/],
  ] as const) {
    assertCode(() => new Certificate(type, 'x'), ErrorCodes.UnsupportedStoreType, what);
  }
  assertCode(
    () => new Certificate(42 as CertStoreTypes, 'x'),
    ErrorCodes.UnsupportedStoreType,
    /Unknown store type 42; valid: 2 PFXFile, 3 PFXBlob/,
  );
  assertCode(() => new Certificate(CertStoreTypes.cstPPKFile, Buffer.from('x')), ErrorCodes.InvalidArgument, /takes a file path/);
});

// ---- libraries loaded only for the stores that need them ---------------------------------------

test(
  'node-forge and Argon2 load only when a PKCS#12/PKCS#7 store or an encrypted PPK v3 is read, not for a daemon that serves',
  TIMEOUT,
  async () => {
    await tool('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', file('lazy.pem')]);
    await tool('openssl', ['req', '-x509', '-key', file('lazy.pem'), '-subj', '/CN=lazy.example', '-days', '30', '-out', file('lazy.crt')]);
    await tool('openssl', [
      'pkcs12',
      '-export',
      '-inkey',
      file('lazy.pem'),
      '-in',
      file('lazy.crt'),
      '-passout',
      'pass:pw',
      '-out',
      file('lazy.pfx'),
    ]);
    // A fresh process on the built package, as a user runs it: this one has already loaded both.
    const script = `
    const { SSHDaemon, Certificate, CertStoreTypes } = require(${JSON.stringify(join(__dirname, '..'))});
    const loaded = () => Object.keys(require.cache).filter((k) => /node-forge|argon2/.test(k)).map((k) => k.replace(/.*node_modules./, ''));
    (async () => {
      const daemon = new SSHDaemon();
      daemon.sshCert = Certificate.generate('ed25519');
      daemon.localHost = '127.0.0.1';
      daemon.localPort = 0;
      await daemon.startListening();
      const serving = loaded();
      new Certificate(CertStoreTypes.cstPFXFile, ${JSON.stringify(file('lazy.pfx'))}, 'pw');
      const afterPfx = loaded();
      await daemon.shutdown();
      console.log(JSON.stringify({ serving, afterPfx }));
    })();`;
    const out = await run(process.execPath, ['-e', script]);
    const { serving, afterPfx } = JSON.parse(out.stdout.toString().trim()) as { serving: string[]; afterPfx: string[] };
    assert.deepEqual(serving, [], 'nothing of either while serving');
    assert.ok(
      afterPfx.some((m) => m.startsWith('node-forge')),
      `node-forge once a PFX is read: ${afterPfx.join(', ')}`,
    );
  },
);
