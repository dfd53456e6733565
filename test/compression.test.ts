/**
 * Compression (issue 16.4): delayed zlib@openssh.com only by default, as OpenSSH since 7.4, and every
 * inbound inflate bounded by the largest packet (src/engine/inflateLimit.ts). The bombs are
 * hand-made: an SSH_MSG_IGNORE of 32 MiB of zeros, which the in-process ssh2 client's own zlib
 * stream squeezes into one ~32 KB packet (under the 35000-byte packet limit); uncompressed, it could
 * never be sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, type ConnectConfig } from 'ssh2';
import { ErrorCodes } from '../src';
import { MAX_INFLATED_PACKET } from '../src/engine/inflateLimit';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { sendClientPayload } from './fixtures/net';
import { PASSWORD, USER, patternBytes, sha256Hex } from './fixtures/testServer';
import { withTestServer } from './fixtures/interop';

const TIMEOUT = { timeout: 120_000 };

/** SSH_MSG_IGNORE carrying 32 MiB of zeros: about 32 KB once deflated. */
function bombPayload(): Buffer {
  const payload = Buffer.alloc(32 * 1024 * 1024);
  payload[0] = 2;
  return payload;
}

interface Outcome {
  /** The DISCONNECT reason the daemon sent, if any. */
  reason?: number;
  error?: string;
  ready: boolean;
  /** performance.now() at connect and at close. */
  startedAt: number;
  endedAt: number;
}

/**
 * Connects an ssh2 client that only speaks `compress`; with `login` it authenticates first. Sends
 * one bomb right after the handshake (or the login) and resolves when the connection is gone.
 */
function bomb(port: number, compress: string, login: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const c = new Client();
    const outcome: Outcome = { ready: false, startedAt: performance.now(), endedAt: 0 };
    const fire = () => {
      try {
        sendClientPayload(c, bombPayload());
      } catch (err) {
        outcome.error = (err as Error).message;
      }
    };
    c.on('error', (err: Error & { code?: unknown }) => {
      outcome.error ??= err.message;
      if (typeof err.code === 'number') outcome.reason = err.code;
    });
    c.on('close', () => {
      outcome.endedAt = performance.now();
      resolve(outcome);
    });
    if (login) {
      c.on('ready', () => {
        outcome.ready = true;
        fire();
      });
    } else {
      c.once('handshake', fire); // before SERVICE_REQUEST: unauthenticated
    }
    const config: ConnectConfig = {
      host: '127.0.0.1',
      port,
      username: USER,
      password: PASSWORD,
      readyTimeout: 30_000,
      algorithms: { compress: [compress] as never },
    };
    c.connect(config);
  });
}

test('the default compression list is none,zlib@openssh.com: pre-auth zlib is not offered; ssh -C gets delayed compression', TIMEOUT, () =>
  withTestServer({ authMethods: 'password' }, async ({ server }) => {
    assert.equal(server.daemon.config('SSHCompressionAlgorithms'), 'none,zlib@openssh.com');
    const zlibOnly = await bomb(server.port, 'zlib', false);
    assert.match(
      zlibOnly.error ?? '',
      /no matching .*compression|Handshake failed/i,
      'a client with only pre-auth zlib finds no common method',
    );
    const up = patternBytes(4 * 1024 * 1024);
    const r = await run(
      requireBinary('sshpass'),
      [
        '-p',
        PASSWORD,
        requireBinary('ssh'),
        ...opensshArgs(server.port),
        '-v',
        '-C',
        '-o',
        'PreferredAuthentications=password',
        `${USER}@127.0.0.1`,
        'sha256',
      ],
      {
        input: up,
        timeoutMs: 60_000,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /compression: zlib@openssh\.com/, 'ssh -C negotiated delayed compression');
    assert.equal(r.stdout.toString().trim(), sha256Hex(up), '4 MiB through compressed 32 KiB packets, each within the bound');
  }),
);

test(
  'a pre-auth zlib bomb (when plain zlib is configured) disconnects its sender with COMPRESSION_ERROR while a login on another connection completes',
  TIMEOUT,
  (t) =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      daemon.config('SSHCompressionAlgorithms=zlib,none');
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === PASSWORD));
      const bombs: Outcome[] = [];
      let stop = false;
      // Bombs back to back, from before the login starts until it is done.
      let firstDone: () => void = () => undefined;
      const firstBomb = new Promise<void>((resolve) => (firstDone = resolve));
      const bombing = (async () => {
        while (!stop) {
          bombs.push(await bomb(port, 'zlib', false));
          firstDone();
        }
      })();
      await firstBomb;
      const login = await new Promise<{ ok: boolean; error?: string; startedAt: number; endedAt: number }>((resolve) => {
        const startedAt = performance.now();
        const c = new Client();
        c.on('ready', () => {
          c.end();
          resolve({ ok: true, startedAt, endedAt: performance.now() });
        });
        c.on('error', (err) => resolve({ ok: false, error: err.message, startedAt, endedAt: performance.now() }));
        c.connect({
          host: '127.0.0.1',
          port,
          username: USER,
          password: PASSWORD,
          readyTimeout: 60_000,
          algorithms: { compress: ['none'] },
        });
      });
      stop = true;
      await bombing;
      // Measured, not asserted (no timing assertions): the figure is under 2 s.
      t.diagnostic(`login took ${Math.round(login.endedAt - login.startedAt)} ms while ${bombs.length} bombs were sent and cut off`);
      assert.equal(login.ok, true, login.error);
      assert.ok(
        bombs.some((b) => b.startedAt < login.endedAt && b.endedAt > login.startedAt),
        'a bomb connection was open while the login ran',
      );
      for (const b of bombs) {
        assert.equal(b.reason, 6, `the bomber got DISCONNECT COMPRESSION_ERROR (${b.error})`);
        assert.equal(b.ready, false, 'never authenticated');
      }
      const bounded = errors.filter(
        (e) => e.startsWith(`${ErrorCodes.ProtocolError} `) && e.includes(`inflates past ${MAX_INFLATED_PACKET} bytes`),
      );
      assert.equal(bounded.length, bombs.length, errors.join('\n'));
    }),
);

test('a zlib@openssh.com bomb after authentication is bounded the same way', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port, errors }) => {
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === PASSWORD));
    const outcome = await bomb(port, 'zlib@openssh.com', true);
    assert.equal(outcome.ready, true, 'logged in with delayed compression');
    assert.equal(outcome.reason, 6, `DISCONNECT COMPRESSION_ERROR (${outcome.error})`);
    assert.ok(
      errors.some((e) => e.startsWith(`${ErrorCodes.ProtocolError} `) && e.includes(`inflates past ${MAX_INFLATED_PACKET} bytes`)),
      errors.join('\n'),
    );
  }),
);
