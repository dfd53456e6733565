/** Inputs the fuzzer found, kept as regression tests. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { test } from 'node:test';
import { plainPacket } from './fuzz/generators';
import { fuzzDaemon } from './fuzz/runFuzz';
import { parseProxyHeader } from '../src/policy/proxyProtocol';

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
