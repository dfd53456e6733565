/** Inputs the fuzzer found, kept as regression tests. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { test } from 'node:test';
import { plainPacket } from './fuzz/generators';
import { fuzzDaemon } from './fuzz/runFuzz';
import { parseProxyHeader } from '../src/policy/proxyProtocol';
import { AuthorizedKeys } from '../src/auth/authorizedKeys';

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
      await send(daemon.localPort, Buffer.concat([Buffer.from('SSH-2.0-fuzz\r\n'), plainPacket(Buffer.from([type, 0, 0, 0, 4, 1, 2, 3, 4]))]));
    }
    const end = Date.now() + 5000;
    while (daemon.sshConnections.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  } finally {
    await daemon.shutdown();
  }
  assert.deepEqual(errors, [21, 30, 31, 49].map((t) => `Protocol error: key exchange message ${t} before the client's KEXINIT`));
});

// Jazzer.js findings (test/fuzz/targets/); each input is also in the target's corpus, replayed by fuzz-parsers.test.ts.

test('proxyProtocol: a PROXY v1 line longer than 107 bytes is refused even when its CRLF has arrived; both addresses and ports are checked', () => {
  // The fuzzer's input: a TCP4 line with a bad destination address and a 90-byte destination "port" before the CRLF.
  const found = Buffer.from('PROXY TCP4 192.0.2.1 1100.1 56324 22\r\x02SSH\0\0\0\0-2.0-OpenSSH_' + '\xff'.repeat(53) + '9.2\r\n', 'latin1');
  assert.deepEqual(parseProxyHeader(found), { done: false, error: 'PROXY v1 line longer than 107 bytes' });
  const unknown = Buffer.from(`PROXY UNKNOWN ${'x'.repeat(100)}\r\n`);
  assert.equal(parseProxyHeader(unknown).done, false);
  for (const line of ['PROXY TCP4 192.0.2.1 1100.1 56324 22', 'PROXY TCP4 192.0.2.1 ::1 56324 22', 'PROXY TCP4 192.0.2.1 10.0.0.1 56324 65536', 'PROXY TCP4 192.0.2.1 10.0.0.1 56324 x', 'PROXY constructor a b 1 2', 'PROXY __proto__ a b 1 2']) {
    const parsed = parseProxyHeader(Buffer.from(`${line}\r\n`));
    assert.equal(parsed.done, false, line);
    assert.match((parsed as { error: string }).error, /^malformed PROXY v1 line/, line);
  }
  // The longest lines still parse: the specification's 107-byte UNKNOWN example, and the longest TCP6 line.
  const longest = Buffer.from('PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n');
  assert.equal(longest.length, 107);
  assert.deepEqual(parseProxyHeader(longest), { done: true, header: { version: 1, rest: Buffer.alloc(0) } });
  const tcp6 = Buffer.from('PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n');
  assert.deepEqual(parseProxyHeader(tcp6), { done: true, header: { version: 1, address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535, rest: Buffer.alloc(0) } });
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

test('authorizedKeys: a from= glob with many stars is matched in linear time (the RegExp it replaced backtracked for hours against an IPv6 address)', { timeout: 60_000 }, () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII+kJ0+wJKbVfDtuGpklHm0Qe4Kj90eosepDvTe+pwwC';
  const blob = Buffer.from(key.split(' ')[1], 'base64');
  const address = '1111:1111:1111:1111:1111:1111:1111:1111';
  assert.equal(AuthorizedKeys.parse(`from="${'*1'.repeat(30)}*x" ${key}`).find(blob, { user: 'u', address }).ok, false);
  assert.equal(AuthorizedKeys.parse(`from="${'*1'.repeat(30)}*" ${key}`).find(blob, { user: 'u', address }).ok, true);
  assert.equal(AuthorizedKeys.parse(`from="1111:*:11?1:*" ${key}`).find(blob, { user: 'u', address }).ok, true);
  assert.equal(AuthorizedKeys.parse(`from="*:2222:*" ${key}`).find(blob, { user: 'u', address }).ok, false);
});
