/**
 * A deny-list on direct-tcpip destinations, attacked with other spellings of the denied address
 * (issue 16: `2130706433`, `0x7f000001`, `::ffff:127.0.0.1` got past a list of host strings).
 * The list here compares the addresses `resolveDirectTcpipTarget` returns, the ones the daemon
 * then connects to; each spelling goes through OpenSSH (`ssh -W`, `ssh -L`) and a hand-made
 * CHANNEL_OPEN (the ssh2 client sends the host string as given).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { BlockList, connect as tcpConnect, createServer, isIPv6, type Server } from 'node:net';
import { test } from 'node:test';
import type { Client } from 'ssh2';
import { directTcpipTarget, resolveDirectTcpipTarget, type ResolvedForwardTarget, type SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { freePort, portOpen } from './fixtures/net';
import { makeUserKey } from './fixtures/testServer';
import { connect } from './helpers-ssh2';

const TIMEOUT = { timeout: 120_000 };
const key = makeUserKey('ed25519');

/** Spellings of 127.0.0.1 (and of what a connect sends to it), each a way past a list of strings. */
const DENIED_SPELLINGS = [
  '127.0.0.1',
  'localhost',
  '2130706433',
  '0x7f000001',
  '127.1',
  '0177.0.0.1',
  '017700000001',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '0.0.0.0',
  '0',
];

/** A server that answers `<name>:<what it read>` and closes, on `host`. */
async function answering(host: string, name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.once('data', (d: Buffer) => s.end(`${name}:${d.toString()}`)).on('error', () => undefined));
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

/** Denies 127.0.0.1 and ::1 by address; everything else (127.0.0.2 here) is allowed. */
function addressDenyList(daemon: SSHDaemon, decided: ResolvedForwardTarget[]): void {
  const denied = new BlockList();
  denied.addAddress('127.0.0.1', 'ipv4');
  denied.addAddress('::1', 'ipv6');
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'publickey' && e.authParam === key.blobBase64));
  daemon.on('SSHChannelOpenRequest', async (e) => {
    if (e.service !== 'direct-tcpip') return;
    const target = await resolveDirectTcpipTarget(e.parameters).catch(() => undefined);
    if (target) decided.push(target);
    e.accept = target !== undefined && !target.addresses.some((a) => denied.check(a, isIPv6(a) ? 'ipv6' : 'ipv4'));
  });
}

/** A hand-made direct-tcpip open: what came back through the channel, or the open failure. */
function openDirect(c: Client, host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    c.forwardOut('10.9.8.7', 4242, host, port, (err, stream) => {
      if (err) return resolve(`refused: ${err.message}`);
      let got = '';
      stream.on('data', (d: Buffer) => (got += d.toString()));
      stream.on('close', () => resolve(got));
      stream.end('hi');
    });
  });
}

const sshArgs = (port: number) => [...opensshArgs(port), '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', key.privateKeyPath];
const bracketed = (host: string) => (host.includes(':') ? `[${host}]` : host);

test(
  'a deny-list of addresses holds against every spelling of 127.0.0.1, through ssh -W and hand-made opens; a list of strings does not',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      const denied = await answering('127.0.0.1', 'denied');
      const allowed = await answering('127.0.0.2', 'allowed');
      const decided: ResolvedForwardTarget[] = [];
      const logs: string[] = [];
      daemon.config('LogLevel=2');
      daemon.on('Log', (e) => void logs.push(e.message));
      addressDenyList(daemon, decided);
      daemon.enableForwarding();
      const c = await connect(port, { privateKey: key.privateKeyText });
      try {
        for (const host of DENIED_SPELLINGS) {
          assert.match(await openDirect(c, host, denied.port), /^refused: .*refused by server/, `hand-made open to '${host}'`);
        }
        assert.match(await openDirect(c, '', denied.port), /^refused/, 'an empty host (net.connect would pick localhost) names nothing');
        // The allowed address, in two spellings: reached, and at the address that was decided on.
        assert.equal(await openDirect(c, '127.0.0.2', allowed.port), 'allowed:hi');
        assert.equal(await openDirect(c, '2130706434', allowed.port), 'allowed:hi');
        assert.deepEqual(decided.find((t) => t.host === '2130706434')?.addresses, ['127.0.0.2']);
        assert.ok(
          logs.some((l) => l === `forwarding to 2130706434:${allowed.port} (127.0.0.2) for 10.9.8.7:4242`),
          logs.join('\n'),
        );
        for (const t of decided.filter((d) => DENIED_SPELLINGS.includes(d.host))) {
          assert.ok(
            ['127.0.0.1', '::1'].includes(t.addresses[0]) || t.host === 'localhost',
            `${t.host} resolved to ${t.addresses.join(',')}`,
          );
        }

        // OpenSSH as the client: ssh -W with the spellings it can express.
        for (const host of ['2130706433', '0x7f000001', '::ffff:127.0.0.1', '127.1', '0']) {
          // LogLevel INFO (ssh keeps the first value): ssh prints the open failure's reason.
          const w = await run(
            requireBinary('ssh'),
            ['-o', 'LogLevel=INFO', ...sshArgs(port), '-W', `${bracketed(host)}:${denied.port}`, 'u@127.0.0.1'],
            { input: 'hi', timeoutMs: 30_000 },
          );
          assert.equal(w.stdout.toString(), '', `ssh -W ${host}`);
          assert.match(w.stderr, /administratively prohibited/, `ssh -W ${host}: ${w.stderr}`);
        }
        const ok = await run(requireBinary('ssh'), [...sshArgs(port), '-W', `0x7f000002:${allowed.port}`, 'u@127.0.0.1'], {
          input: 'hi',
          timeoutMs: 30_000,
        });
        assert.equal(ok.stdout.toString(), 'allowed:hi', ok.stderr);

        // What the issue found: a list of strings lets another spelling through.
        daemon.removeAllListeners('SSHChannelOpenRequest');
        daemon.on('SSHChannelOpenRequest', (e) => {
          if (e.service === 'direct-tcpip') e.accept = !['127.0.0.1', 'localhost', '::1'].includes(directTcpipTarget(e.parameters).host);
        });
        assert.equal(await openDirect(c, '2130706433', denied.port), 'denied:hi', 'the spelling-based list is bypassed');
      } finally {
        c.end();
        denied.server.close();
        allowed.server.close();
      }
    }),
);

test('ssh -L to a denied spelling: the forwarded connection is refused, nothing reaches the service', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const denied = await answering('127.0.0.1', 'denied');
    addressDenyList(daemon, []);
    daemon.on('SSHChannelOpenRequest', (e) => {
      if (e.service === 'session') e.accept = true;
    });
    daemon.enableForwarding();
    let reached = 0;
    denied.server.on('connection', () => void reached++);
    const localPort = await freePort();
    const ssh = spawn(
      requireBinary('ssh'),
      [
        ...sshArgs(port),
        '-o',
        'LogLevel=ERROR',
        '-o',
        'ExitOnForwardFailure=yes',
        '-N',
        '-L',
        `${localPort}:0x7f000001:${denied.port}`,
        'u@127.0.0.1',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    ssh.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const end = Date.now() + 60_000;
      while (!(await portOpen(localPort))) {
        if (Date.now() > end || ssh.exitCode !== null) throw new Error(`ssh -L did not listen: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const s = tcpConnect(localPort, '127.0.0.1');
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('error', () => undefined); // ssh may reset it
      s.on('connect', () => s.write('hi'));
      await new Promise((resolve) => s.on('close', resolve));
      assert.equal(got, '', `ssh closed the local connection: the channel was refused (${stderr})`);
      assert.equal(reached, 0, `the denied service saw no connection (${stderr})`);
    } finally {
      ssh.kill();
      denied.server.close();
    }
  }),
);

test(
  "one resolution per open: the handler's answer is what ForwardingOptions.connect receives and what the daemon connects to",
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      const allowed = await answering('127.0.0.2', 'allowed');
      const decided: ResolvedForwardTarget[] = [];
      addressDenyList(daemon, decided);
      const received: unknown[] = [];
      daemon.enableForwarding({
        connect: (target, _id, connectTcp) => {
          received.push(target);
          return connectTcp(target);
        },
      });
      const c = await connect(port, { privateKey: key.privateKeyText });
      try {
        assert.equal(await openDirect(c, '127.2', allowed.port), 'allowed:hi');
        assert.equal(received.length, 1);
        assert.equal(received[0], decided[0], 'the very object the handler decided on');
        assert.deepEqual((received[0] as ResolvedForwardTarget).addresses, ['127.0.0.2']);
        const first = resolveDirectTcpipTarget(Buffer.from('x'));
        await assert.rejects(first, 'malformed parameters reject');
      } finally {
        c.end();
        allowed.server.close();
      }
    }),
);
