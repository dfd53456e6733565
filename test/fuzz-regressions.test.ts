/** Inputs the fuzzer found, kept as regression tests. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { plainPacket } from './fuzz/generators';
import { fuzzDaemon } from './fuzz/runFuzz';
import { parseProxyHeader } from '../src/policy/proxyProtocol';
import { AuthorizedKeys } from '../src/auth/authorizedKeys';
import { createHmac, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  Certificate,
  CertStoreTypes,
  ErrorCodes,
  getSSHParam,
  LocalFileSystem,
  setSSHParam,
  SFTPSession,
  type SSHDaemonError,
} from '../src';
import { tagPayload } from '../src/packet/layouts';
import { WireReader } from '../src/packet/wire';
import { decodeRequestParams } from '../src/packet/requestParams';
import { refusedRequest, RESTRICTED } from '../src/policy/SessionRestrictions';
import { publicKeyFromBlob } from '../src/certs/sshKeyBlob';
import { connect, startHarness } from './fuzz/targets/sshHarness';
import { sftpPackets } from './fixtures/rawSftp';
import { bool, MSG, msg, str as sshString, u32 as sshU32 } from './fuzz/targets/sshWire';
import { packet as sftpPacket } from './fixtures/rawSftp';

async function send(port: number, data: Buffer): Promise<void> {
  const s = tcpConnect(port, '127.0.0.1');
  s.on('error', () => undefined);
  s.on('data', () => undefined);
  await once(s, 'connect');
  s.write(data);
  await Promise.race([once(s, 'close'), new Promise((r) => setTimeout(r, 3000))]);
  s.destroy();
}

test('seed 20261123: a key exchange message (30) before KEXINIT is a named protocol error, not a TypeError inside ssh2', async () => {
  const daemon = fuzzDaemon();
  const errors: string[] = [];
  daemon.on('Error', (e) => void errors.push(e.description));
  await daemon.startListening();
  try {
    for (const type of [21, 30, 31, 49]) {
      await send(
        daemon.localPort,
        Buffer.concat([Buffer.from('SSH-2.0-fuzz\r\n'), plainPacket(Buffer.from([type, 0, 0, 0, 4, 1, 2, 3, 4]))]),
      );
    }
    const end = Date.now() + 5000;
    while (daemon.sshConnections.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  } finally {
    await daemon.shutdown();
  }
  assert.deepEqual(
    errors,
    [21, 30, 31, 49].map((t) => `Protocol error: key exchange message ${t} before the client's KEXINIT`),
  );
});

// Jazzer.js findings (test/fuzz/targets/); each input is also in the target's corpus, replayed by fuzz-parsers.test.ts.

test('proxyProtocol: a PROXY v1 line longer than 107 bytes is refused even when its CRLF has arrived; both addresses and ports are checked', () => {
  // The fuzzer's input: a TCP4 line with a bad destination address and a 90-byte destination "port" before the CRLF.
  const found = Buffer.from('PROXY TCP4 192.0.2.1 1100.1 56324 22\r\x02SSH\0\0\0\0-2.0-OpenSSH_' + '\xff'.repeat(53) + '9.2\r\n', 'latin1');
  assert.deepEqual(parseProxyHeader(found), { done: false, error: 'PROXY v1 line longer than 107 bytes' });
  const unknown = Buffer.from(`PROXY UNKNOWN ${'x'.repeat(100)}\r\n`);
  assert.equal(parseProxyHeader(unknown).done, false);
  for (const line of [
    'PROXY TCP4 192.0.2.1 1100.1 56324 22',
    'PROXY TCP4 192.0.2.1 ::1 56324 22',
    'PROXY TCP4 192.0.2.1 10.0.0.1 56324 65536',
    'PROXY TCP4 192.0.2.1 10.0.0.1 56324 x',
    'PROXY constructor a b 1 2',
    'PROXY __proto__ a b 1 2',
  ]) {
    const parsed = parseProxyHeader(Buffer.from(`${line}\r\n`));
    assert.equal(parsed.done, false, line);
    assert.match((parsed as { error: string }).error, /^malformed PROXY v1 line/, line);
  }
  // The longest lines still parse: the specification's 107-byte UNKNOWN example, and the longest TCP6 line.
  const longest = Buffer.from(
    'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n',
  );
  assert.equal(longest.length, 107);
  assert.deepEqual(parseProxyHeader(longest), { done: true, header: { version: 1, rest: Buffer.alloc(0) } });
  const tcp6 = Buffer.from('PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n');
  assert.deepEqual(parseProxyHeader(tcp6), {
    done: true,
    header: { version: 1, address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535, rest: Buffer.alloc(0) },
  });
});

test('authorizedKeys: an expiry-time that is no calendar time (day 50, month 13, 31 February, hour 24) makes the line a problem, as sshd refuses it', () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII+kJ0+wJKbVfDtuGpklHm0Qe4Kj90eosepDvTe+pwwC';
  for (const spec of ['10150050', '20231301', '20230231Z', '202301012400', '20230101235960Z']) {
    const keys = AuthorizedKeys.parse(`expiry-time="${spec}" ${key}`);
    assert.equal(keys.entries.length, 0, spec);
    assert.match(keys.problems[0]?.reason ?? '', /is not a valid date and time/, spec);
  }
  const ok = AuthorizedKeys.parse(`expiry-time="20240229235959Z" ${key}`);
  assert.equal(ok.entries[0]?.expiresAt?.toISOString(), '2024-02-29T23:59:59.000Z');
});

test('authorizedKeys: from= with a CIDR mask beyond its family (/61 on IPv4) refuses the key, as sshd; find() does not throw', () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII+kJ0+wJKbVfDtuGpklHm0Qe4Kj90eosepDvTe+pwwC';
  const blob = Buffer.from(key.split(' ')[1], 'base64');
  for (const from of ['191.0.2.0/61,::1', '127.0.0.1,::/129', '*,10.0.0.0/33']) {
    const keys = AuthorizedKeys.parse(`from="${from}" ${key}`);
    for (const address of ['127.0.0.1', '::1', '191.0.2.9']) {
      const match = keys.find(blob, { user: 'u', address });
      assert.equal(match.ok, false, `${from} ${address}`);
    }
  }
  assert.equal(AuthorizedKeys.parse(`from="191.0.2.0/24,::1/128" ${key}`).find(blob, { user: 'u', address: '::1' }).ok, true);
});

test(
  'authorizedKeys: a from= glob with many stars is matched in linear time (the RegExp it replaced backtracked for hours against an IPv6 address)',
  { timeout: 60_000 },
  () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII+kJ0+wJKbVfDtuGpklHm0Qe4Kj90eosepDvTe+pwwC';
    const blob = Buffer.from(key.split(' ')[1], 'base64');
    const address = '1111:1111:1111:1111:1111:1111:1111:1111';
    assert.equal(AuthorizedKeys.parse(`from="${'*1'.repeat(30)}*x" ${key}`).find(blob, { user: 'u', address }).ok, false);
    assert.equal(AuthorizedKeys.parse(`from="${'*1'.repeat(30)}*" ${key}`).find(blob, { user: 'u', address }).ok, true);
    assert.equal(AuthorizedKeys.parse(`from="1111:*:11?1:*" ${key}`).find(blob, { user: 'u', address }).ok, true);
    assert.equal(AuthorizedKeys.parse(`from="*:2222:*" ${key}`).find(blob, { user: 'u', address }).ok, false);
  },
);

test("keyStores: a PPK whose private scalar is not the public point's partner is refused (it loaded, and signed what its public key does not verify)", () => {
  const str = (b: Buffer | string) => {
    const v = typeof b === 'string' ? Buffer.from(b) : b;
    const n = Buffer.alloc(4);
    n.writeUInt32BE(v.length);
    return Buffer.concat([n, v]);
  };
  const ppk = (publicOf: KeyObject, privateOf: KeyObject) => {
    const pub = publicOf.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(pub.x!, 'base64url'), Buffer.from(pub.y!, 'base64url')]);
    const publicBlob = Buffer.concat([str('ecdsa-sha2-nistp384'), str('nistp384'), str(point)]);
    const privateBlob = str(Buffer.concat([Buffer.alloc(1), Buffer.from(privateOf.export({ format: 'jwk' }).d!, 'base64url')]));
    const mac = createHmac('sha256', Buffer.alloc(0))
      .update(Buffer.concat(['ecdsa-sha2-nistp384', 'none', 'fuzz', publicBlob, privateBlob].map((f) => str(f))))
      .digest('hex');
    const lines = (b: Buffer) => b.toString('base64').match(/.{1,64}/g)!;
    return [
      'PuTTY-User-Key-File-3: ecdsa-sha2-nistp384',
      'Encryption: none',
      'Comment: fuzz',
      `Public-Lines: ${lines(publicBlob).length}`,
      ...lines(publicBlob),
      `Private-Lines: ${lines(privateBlob).length}`,
      ...lines(privateBlob),
      `Private-MAC: ${mac}`,
      '',
    ].join('\n');
  };
  const a = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  const b = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  assert.equal(new Certificate(CertStoreTypes.cstPPKBlob, ppk(a, a)).keyType, 'ecdsa-sha2-nistp384');
  assert.throws(
    () => new Certificate(CertStoreTypes.cstPPKBlob, ppk(a, b)),
    (err: SSHDaemonError) =>
      err.code === ErrorCodes.CorruptKey && /does not form a ecdsa-sha2-nistp384 key matching the public part/.test(err.message),
  );
});

test("keyStores: a damaged PEM RSA key (the fuzzer's input, base64 lines shuffled) is refused; OpenSSL imports it and it signed what its public key does not verify", () => {
  const found = readFileSync(join(__dirname, 'fuzz', 'corpus', 'keyStores', 'finding-pem-rsa-damaged')).subarray(1);
  assert.throws(
    () => new Certificate(CertStoreTypes.cstPEMKeyBlob, found),
    (err: SSHDaemonError) => err.code === ErrorCodes.CorruptKey && /does not match its public key/.test(err.message),
  );
  // A key whose modulus is damaged imports the same way.
  const jwk = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' });
  const n = Buffer.from(jwk.n!, 'base64url');
  n[n.length - 1] ^= 2;
  const damaged = createPrivateKey({ key: { ...jwk, n: n.toString('base64url') }, format: 'jwk' })
    .export({ type: 'pkcs1', format: 'pem' })
    .toString();
  assert.throws(
    () => new Certificate(CertStoreTypes.cstPEMKeyBlob, damaged),
    (err: SSHDaemonError) => err.code === ErrorCodes.CorruptKey && /does not match its public key/.test(err.message),
  );
  // The fuzzer's second input: a wrong private exponent with intact CRT values signs correctly, but
  // toOpenSSH() (which keeps d) wrote a key that does not. Refused at load now.
  const wrongD = readFileSync(join(__dirname, 'fuzz', 'corpus', 'keyStores', 'finding-pem-rsa-wrong-d')).subarray(1);
  assert.throws(
    () => new Certificate(CertStoreTypes.cstPEMKeyBlob, wrongD),
    (err: SSHDaemonError) => err.code === ErrorCodes.CorruptKey,
  );
  const d = Buffer.from(jwk.d!, 'base64url');
  d[d.length - 1] ^= 2;
  const crtIntact = createPrivateKey({ key: { ...jwk, d: d.toString('base64url') }, format: 'jwk' })
    .export({ type: 'pkcs1', format: 'pem' })
    .toString();
  assert.throws(
    () => new Certificate(CertStoreTypes.cstPEMKeyBlob, crtIntact),
    (err: SSHDaemonError) => err.code === ErrorCodes.CorruptKey && /does not match its public key/.test(err.message),
  );
  for (const kind of ['rsa-3072', 'ed25519', 'ecdsa-p256'] as const) {
    const key = Certificate.generate(kind);
    assert.ok(new Certificate(CertStoreTypes.cstPEMKeyBlob, key.toOpenSSH()).publicKeyBlob.equals(key.publicKeyBlob), kind);
  }
});

test('keyStores: a P7B whose certificate holds a public key node cannot decode is CorruptKey, not a bare OpenSSL Error', () => {
  const found = readFileSync(join(__dirname, 'fuzz', 'corpus', 'keyStores', 'finding-p7b-undecodable-key')).subarray(1);
  assert.throws(
    () => new Certificate(CertStoreTypes.cstP7BBlob, found),
    (err: SSHDaemonError) => err.code === ErrorCodes.CorruptKey && /PKCS#7/.test(err.message),
  );
});

test('sftp: a file or directory opened while the channel closes is closed too (each such open kept its descriptor until garbage collection)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sftp-leak-'));
  // LocalFileSystem, counting the handles it gives out and the ones closed.
  const local = new LocalFileSystem(root);
  let open = 0;
  const opened: Promise<unknown>[] = [];
  const counted = <T extends { close(): Promise<void> }>(p: Promise<T>): Promise<T> => {
    const q = p.then((h) => {
      open++;
      const close = h.close.bind(h);
      h.close = async () => {
        open--;
        await close();
      };
      return h;
    });
    opened.push(q);
    return q;
  };
  const fileSystem = Object.assign(Object.create(local) as LocalFileSystem, {
    open: (...a: Parameters<LocalFileSystem['open']>) => counted(local.open(...a)),
    opendir: (...a: Parameters<LocalFileSystem['opendir']>) => counted(local.opendir(...a)),
  });
  try {
    const ended: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      const session = new SFTPSession({ fileSystem }, { send: async () => undefined, holdInput: () => undefined, close: () => undefined });
      ended.push(once(session, 'ended'));
      // INIT, then OPEN(CREAT|TRUNC|WRITE) or OPENDIR, and the channel closes at once.
      session.data(
        Buffer.concat([
          sftpPacket(1, sshU32(3)),
          i % 2 ? sftpPacket(11, sshU32(1), sshString('/')) : sftpPacket(3, sshU32(1), sshString(`/f${i}`), sshU32(0x1a), sshU32(0)),
        ]),
      );
      session.shutdown();
    }
    await Promise.all([...ended, ...opened]);
    // The sessions close what they get back after ending: wait for that, up to 10 s.
    for (const deadline = Date.now() + 10_000; open > 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
    assert.equal(opened.length, 20);
    assert.equal(open, 0, 'handles left open after their sessions ended');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('sftp: an EXTENDED request named after an Object.prototype member (constructor, toString, hasOwnProperty) is OP_UNSUPPORTED; it handed a non-Buffer reply to the channel and stalled the session', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sftp-ext-'));
  try {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__']) {
      const replies: unknown[] = [];
      const session = new SFTPSession(
        { fileSystem: new LocalFileSystem(root) },
        // A send may carry several small replies (replyBatch.ts).
        {
          send: async (p) => void replies.push(...(Buffer.isBuffer(p) ? sftpPackets(p) : [p])),
          holdInput: () => undefined,
          close: () => undefined,
        },
      );
      session.data(
        Buffer.concat([sftpPacket(1, sshU32(3)), sftpPacket(200, sshU32(7), sshString(name)), sftpPacket(16, sshU32(8), sshString('/'))]),
      );
      // Three replies are due (VERSION, STATUS, NAME); a stalled session gives two. Wait up to 10 s.
      for (const deadline = Date.now() + 10_000; replies.length < 3 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
      assert.equal(replies.length, 3, `${name}: replies`);
      assert.ok(
        replies.every((r) => Buffer.isBuffer(r)),
        name,
      );
      const status = replies[1] as Buffer;
      assert.deepEqual([status[4], status.readUInt32BE(5), status.readUInt32BE(9)], [101, 7, 8], `${name}: STATUS OP_UNSUPPORTED for id 7`);
      assert.equal((replies[2] as Buffer)[4], 104, `${name}: the next request (REALPATH) is answered`);
      session.shutdown();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('sshParam: request and channel types named after Object.prototype members read as unknown layouts; setSSHParam refuses such field types with InvalidFieldValue (all threw TypeErrors)', () => {
  const request = (type: string) =>
    Buffer.concat([
      Buffer.from([0, 0, 0, 0, 0, 0, 0, type.length]),
      Buffer.from(type),
      Buffer.from([1]),
      Buffer.from([0, 0, 0, 2]),
      Buffer.from('hi'),
    ]);
  for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
    assert.equal(getSSHParam(request(name), 'RequestType'), name);
    assert.equal(getSSHParam(request(name), '#3'), 'hi', name);
    const open = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('hi')]);
    assert.equal(getSSHParam(tagPayload(open, { kind: 'channel-open', channelType: name }), '#0'), 'hi', name);
    assert.throws(
      () => setSSHParam(null, name as 's', 'x'),
      (err: SSHDaemonError) => err.code === ErrorCodes.InvalidFieldValue,
      name,
    );
  }
});

test('sshChannel: a channel request named after an Object.prototype member is an unknown request with no parameters (hasOwnProperty disconnected the client as malformed; constructor handed the parser itself to handlers as params)', () => {
  for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
    assert.deepEqual(decodeRequestParams(name, new WireReader(Buffer.from([0, 0, 0, 1, 65]))), {}, name);
  }
  assert.deepEqual(decodeRequestParams('exec', new WireReader(Buffer.from([0, 0, 0, 1, 65]))), { command: 'A' });
});

test('the same kind elsewhere: authorized_keys option "constructor", a restriction flag lookup and an ECDSA curve named "constructor" are unknown names, not Object.prototype members', () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII+kJ0+wJKbVfDtuGpklHm0Qe4Kj90eosepDvTe+pwwC';
  assert.deepEqual(
    AuthorizedKeys.parse(`constructor ${key}`).problems.map((p) => p.reason),
    ['unknown option "constructor"'],
  );
  assert.equal(refusedRequest(RESTRICTED, 'constructor'), undefined);
  const str = (s: string) => Buffer.concat([Buffer.from([0, 0, 0, s.length]), Buffer.from(s)]);
  assert.throws(
    () => publicKeyFromBlob(Buffer.concat([str('ecdsa-sha2-constructor'), str('constructor'), str('x')])),
    /unsupported ECDSA curve constructor/,
  );
});

test('authorizedKeys: a key blob whose type length field is longer than the blob is refused (subarray clipped it, so "ssh-ed25519" still matched)', () => {
  const clipped = Buffer.concat([Buffer.from([0, 4, 0, 11]), Buffer.from('ssh-ed25519')]).toString('base64');
  const keys = AuthorizedKeys.parse(`ssh-ed25519 ${clipped}`);
  assert.equal(keys.entries.length, 0);
  assert.match(keys.problems[0]?.reason ?? '', /key blob does not hold a ssh-ed25519 key/);
  assert.equal(AuthorizedKeys.parse('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII+kJ0+wJKbVfDtuGpklHm0Qe4Kj90eosepDvTe+pwwC').entries.length, 1);
});

test('keyStores: a PFX whose certificate holds a public key node cannot decode is CorruptKey too (any error a loader lets through is)', () => {
  const found = readFileSync(join(__dirname, 'fuzz', 'corpus', 'keyStores', 'finding-pfx-undecodable-key'));
  const password = found[0] & 0x20 ? 'fuzz' : '';
  assert.throws(
    () => new Certificate(CertStoreTypes.cstPFXBlob, found.subarray(1), password),
    (err: SSHDaemonError) => err.code === ErrorCodes.CorruptKey,
  );
});

test('sshAuth: a USERAUTH_REQUEST with a truncated field is a named protocol error, not a TypeError inside ssh2 (its reader skipped the bad length and read shifted fields; the daemon parses these itself now)', async () => {
  const h = await startHarness();
  const errors: string[] = [];
  const onError = (e: { description: string }) => void errors.push(e.description);
  h.daemon.on('Error', onError);
  try {
    const conn = await connect(h, false);
    // publickey, signed, with an algorithm name whose length runs past the packet: ssh2 then read
    // the key and signature from the wrong places and dereferenced the missing algorithm.
    const bad = msg(
      MSG.USERAUTH_REQUEST,
      sshString('fuzz'),
      sshString('ssh-connection'),
      sshString('publickey'),
      bool(true),
      sshU32(0xfffffff0),
      sshString('k'),
      sshString('sssss'),
    );
    // Twice, in one write: nothing after the first may be parsed (a second refusal threw inside ssh2).
    conn.send(bad);
    conn.send(bad);
    assert.ok(await conn.until(() => false, 10_000), 'the daemon closes the connection');
    await conn.close();
    assert.deepEqual(errors, ['Malformed USERAUTH_REQUEST: Malformed SSH payload: truncated string']);
  } finally {
    h.daemon.off('Error', onError);
    await h.daemon.shutdown();
  }
});
