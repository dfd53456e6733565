/**
 * UseProxyProtocol: the client address from a PROXY v1/v2 header is what remoteHost, AllowedClients
 * and the limits see. In-process clients write the header themselves; then a real HAProxy
 * (send-proxy and send-proxy-v2) in front of two `sshdaemon` processes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Client } from 'ssh2';
import type { SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { freePort, portOpen } from './fixtures/net';
import { startListening } from './fixtures/processes';

const TIMEOUT = { timeout: 60_000 };
const DIR = mkdtempSync(join(tmpdir(), 'proxy-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v2Header(src: string, srcPort: number): Buffer {
  const v6 = src.includes(':');
  const addr = v6 ? Buffer.alloc(36) : Buffer.alloc(12);
  if (v6) {
    const full = src
      .replace('::', ':' + '0:'.repeat(8 - src.split(':').filter(Boolean).length))
      .split(':')
      .filter(Boolean);
    full.forEach((g, i) => addr.writeUInt16BE(parseInt(g, 16), i * 2));
    addr.writeUInt16BE(1, 30); // dst ::1
    addr.writeUInt16BE(srcPort, 32);
    addr.writeUInt16BE(22, 34);
  } else {
    src.split('.').forEach((o, i) => (addr[i] = Number(o)));
    [127, 0, 0, 1].forEach((o, i) => (addr[4 + i] = o));
    addr.writeUInt16BE(srcPort, 8);
    addr.writeUInt16BE(22, 10);
  }
  const head = Buffer.from([0x21, v6 ? 0x21 : 0x11, 0, 0]);
  head.writeUInt16BE(addr.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, addr]);
}

/** Logs in through a socket that first sends `header`; resolves to the remoteHost:remotePort the daemon recorded. */
async function loginWithHeader(daemon: SSHDaemon, port: number, header: Buffer | string): Promise<string> {
  const sock: Socket = tcpConnect(port, '127.0.0.1');
  await once(sock, 'connect');
  sock.write(header);
  const seen = new Promise<string>((resolve) =>
    daemon.once('SSHUserAuthRequest', (e) => {
      const c = daemon.sshConnections.get(e.connectionId)!;
      resolve(`${c.remoteHost}:${c.remotePort}`);
    }),
  );
  const client = new Client();
  client.on('error', () => undefined);
  client.connect({ sock, username: 'u', password: 'p', readyTimeout: 10_000 });
  const result = await seen;
  client.end();
  return result;
}

/** What a raw client receives before the server closes (refusals send nothing). */
async function rawSend(port: number, data: string | Buffer): Promise<{ bytes: number; closed: boolean }> {
  const sock = tcpConnect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  let bytes = 0;
  sock.on('data', (d: Buffer) => (bytes += d.length));
  await once(sock, 'connect');
  sock.write(data);
  const closed = await Promise.race([once(sock, 'close').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 7000))]);
  sock.destroy();
  return { bytes, closed };
}

test('PROXY v1 and v2 (IPv4 and IPv6): remoteHost is the client named in the header', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.config('UseProxyProtocol=true');
    assert.equal(await loginWithHeader(daemon, port, 'PROXY TCP4 203.0.113.7 127.0.0.1 40001 22\r\n'), '203.0.113.7:40001');
    assert.equal(await loginWithHeader(daemon, port, v2Header('198.51.100.9', 40002)), '198.51.100.9:40002');
    assert.equal(await loginWithHeader(daemon, port, v2Header('2001:db8::5', 40003)), '2001:db8::5:40003');
    // A dual-stack balancer names an IPv4 client as an IPv4-mapped IPv6 address: it is the IPv4 client.
    assert.equal(await loginWithHeader(daemon, port, v2Header('::ffff:c633:6409', 40004)), '198.51.100.9:40004');
    assert.equal(await loginWithHeader(daemon, port, 'PROXY TCP6 ::FFFF:C633:6409 ::1 40005 22\r\n'), '198.51.100.9:40005');
    // A balancer's health check (v1 UNKNOWN) keeps the TCP peer's address.
    assert.match(await loginWithHeader(daemon, port, 'PROXY UNKNOWN\r\n'), /^127\.0\.0\.1:\d+$/);
  }),
);

test('AllowedClients, DeniedClients and refusal counts see the proxied address; no or bad header is refused', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.config('UseProxyProtocol=true');
    daemon.config('DeniedClients=203.0.113.66,198.51.100.*');
    const denied = await rawSend(port, 'PROXY TCP4 203.0.113.66 127.0.0.1 40001 22\r\nSSH-2.0-x\r\n');
    assert.deepEqual(denied, { bytes: 0, closed: true });
    // IPv4 clients through a dual-stack balancer (IPv4-mapped IPv6, v2 and v1) meet IPv4 wildcard rules.
    assert.deepEqual(await rawSend(port, Buffer.concat([v2Header('::ffff:c633:6409', 40001), Buffer.from('SSH-2.0-x\r\n')])), {
      bytes: 0,
      closed: true,
    });
    assert.deepEqual(await rawSend(port, 'PROXY TCP6 0:0:0:0:0:ffff:c633:640a ::1 40001 22\r\nSSH-2.0-x\r\n'), { bytes: 0, closed: true });
    assert.equal(await loginWithHeader(daemon, port, 'PROXY TCP4 203.0.113.67 127.0.0.1 40001 22\r\n'), '203.0.113.67:40001');
    const noHeader = await rawSend(port, 'SSH-2.0-OpenSSH_9.2\r\n');
    assert.deepEqual(noHeader, { bytes: 0, closed: true }, 'a client that skips the balancer is refused');
    const bad = await rawSend(port, 'PROXY TCP4 not-an-address 127.0.0.1 1 22\r\n');
    assert.deepEqual(bad, { bytes: 0, closed: true });
    assert.deepEqual(daemon.refusalCounts(), { DeniedClients: 3, UseProxyProtocol: 2 });
    daemon.config('ProxyProtocolTrustedProxies=10.0.0.0/8');
    assert.deepEqual(
      await rawSend(port, 'PROXY TCP4 203.0.113.67 127.0.0.1 40001 22\r\n'),
      { bytes: 0, closed: true },
      'only trusted balancers may send headers',
    );
  }),
);

const MAIN = join(__dirname, '..', 'src', 'cli', 'main.ts');

test(
  'HAProxy (send-proxy and send-proxy-v2) in front of two sshdaemon processes: both see the real client address, AllowedClients applies to it',
  { timeout: 90_000 },
  async () => {
    const haproxyBin = requireBinary('haproxy');
    const allowed = ['--config', 'AllowedClients=127.0.0.2'];
    const startDaemon = (name: string) =>
      startListening([
        '--import',
        'tsx',
        MAIN,
        '--port',
        '0',
        '--data',
        join(DIR, name),
        '--user',
        'pat:pw',
        '--config',
        'UseProxyProtocol=true',
        ...allowed,
      ]);
    const d1 = await startDaemon('d1');
    const d2 = await startDaemon('d2');
    const front = await freePort();
    const cfg = join(DIR, 'haproxy.cfg');
    writeFileSync(
      cfg,
      [
        'global',
        '  maxconn 100',
        'defaults',
        '  mode tcp',
        '  timeout connect 5s',
        '  timeout client 30s',
        '  timeout server 30s',
        'frontend ssh',
        `  bind 127.0.0.1:${front}`,
        '  default_backend daemons',
        'backend daemons',
        '  balance roundrobin',
        `  server d1 127.0.0.1:${d1.port} send-proxy`,
        `  server d2 127.0.0.1:${d2.port} send-proxy-v2`,
        '',
      ].join('\n'),
    );
    const haproxy = spawn(haproxyBin, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let haproxyOut = '';
    haproxy.stdout!.on('data', (d: Buffer) => (haproxyOut += d.toString()));
    haproxy.stderr!.on('data', (d: Buffer) => (haproxyOut += d.toString()));
    try {
      const end = Date.now() + 10_000;
      while (!(await portOpen(front, '127.0.0.2'))) {
        // from an allowed client, so the probe is no refusal
        if (haproxy.exitCode !== null || Date.now() > end) throw new Error(`haproxy did not start: ${haproxyOut}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const ssh = (source: string) =>
        run(
          requireBinary('sshpass'),
          [
            '-p',
            'pw',
            requireBinary('ssh'),
            '-b',
            source,
            ...opensshArgs(front),
            '-o',
            'PreferredAuthentications=password',
            'pat@127.0.0.1',
            'whoami',
          ],
          { timeoutMs: 30_000 },
        );
      for (let i = 0; i < 2; i++) {
        const r = await ssh('127.0.0.2');
        assert.equal(r.stdout.toString().trim(), 'pat', r.stderr);
      }
      assert.match(d1.output(), /connection from 127\.0\.0\.2:\d+/, 'send-proxy (v1) daemon saw the client');
      assert.match(d2.output(), /connection from 127\.0\.0\.2:\d+/, 'send-proxy-v2 daemon saw the client');
      const refused = await ssh('127.0.0.3');
      assert.notEqual(refused.code, 0);
      assert.match(d1.output() + d2.output(), /connection from 127\.0\.0\.3:\d+ refused by AllowedClients/);
      assert.doesNotMatch(
        d1.output() + d2.output(),
        /connection from 127\.0\.0\.1:/,
        'the balancer (127.0.0.1) is never taken for the client',
      );
    } finally {
      haproxy.kill();
      await d1.stop('SIGTERM');
      await d2.stop('SIGTERM');
    }
  },
);
