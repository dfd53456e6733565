/**
 * Interoperability with PuTTY's command-line client `plink` (Debian: putty-tools).
 *
 * PuTTY prefers keyboard-interactive over password and `-pw` does not answer keyboard-interactive
 * prompts, so with `-batch` it gives up on our two-prompt challenge ("Cannot answer interactive
 * prompts in batch mode"). These tests therefore offer only `password,publickey`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { SSHUserAuthRequestEventArgs } from '../src';
import { requireBinary, run, type RunResult } from './fixtures/clients';
import { PASSWORD, USER, patternBytes, registryDrained, sha256Hex, startTestServer, type TestServer } from './fixtures/testServer';

const TIMEOUT = { timeout: 60_000 };
/** PuTTY keeps its random seed under $HOME/.putty; keep it out of the real home. */
const HOME = mkdtempSync(join(tmpdir(), 'putty-home-'));
after(() => rmSync(HOME, { recursive: true, force: true }));

interface Harness {
  server: TestServer;
  /** Every auth request, by reference: `accept` holds the handler's final decision. */
  auths: SSHUserAuthRequestEventArgs[];
  plink(command: string, auth: string[], input?: Buffer): Promise<RunResult>;
}

/** Runs `body` against a fresh daemon, then checks the registry drained and closes the daemon. */
async function withServer(asyncHandlers: boolean, body: (h: Harness) => Promise<void>): Promise<void> {
  const plinkPath = requireBinary('plink');
  const server = await startTestServer({ asyncHandlers, authMethods: 'password,publickey' });
  const auths: SSHUserAuthRequestEventArgs[] = [];
  server.daemon.on('SSHUserAuthRequest', (e) => void auths.push(e));
  const plink = (command: string, auth: string[], input?: Buffer) =>
    run(plinkPath, ['-batch', '-ssh', '-noagent', '-P', String(server.port), '-l', USER, ...auth, '-hostkey', server.hostKey.fingerprint, '127.0.0.1', command], {
      input,
      timeoutMs: 45_000,
      env: { HOME },
    });
  try {
    await body({ server, auths, plink });
    await registryDrained(server.daemon);
  } finally {
    await server.close();
  }
}

const accepted = (auths: SSHUserAuthRequestEventArgs[]) => auths.filter((a) => a.accept).map((a) => a.authMethod);

test('plink: password exec prints stdout and exits 0; exit N gives status N', TIMEOUT, () =>
  withServer(false, async ({ plink, auths }) => {
    const r = await plink('echo hi', ['-pw', PASSWORD]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'hi\n');
    const seven = await plink('exit 7', ['-pw', PASSWORD]);
    assert.equal(seven.code, 7, seven.stderr);
    assert.equal(seven.stdout.length, 0);
    assert.deepEqual(accepted(auths), ['password', 'password']);
  }),
);

test('plink: a wrong password is refused and never accepted', TIMEOUT, () =>
  withServer(false, async ({ plink, auths, server }) => {
    const r = await plink('echo hi', ['-pw', 'not-the-password']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /password was not accepted|Access denied/i);
    assert.ok(auths.some((a) => a.authMethod === 'password' && a.authParam === 'not-the-password'), 'the daemon saw the password attempt');
    assert.deepEqual(accepted(auths), []);
    assert.equal(server.events.filter((e) => e.name === 'SSHChannelOpened').length, 0);
  }),
);

test('plink: publickey with a .ppk converted by puttygen (async handlers)', TIMEOUT, () =>
  withServer(true, async ({ plink, auths, server }) => {
    const puttygen = requireBinary('puttygen');
    const ppk = join(HOME, 'key.ppk');
    const conv = await run(puttygen, [server.userKey.privateKeyPath, '-O', 'private', '-o', ppk], { timeoutMs: 15_000, env: { HOME } });
    assert.equal(conv.code, 0, `puttygen: ${conv.stderr}`);
    const r = await plink('echo key', ['-i', ppk]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'key\n');
    assert.deepEqual([...new Set(accepted(auths))], ['publickey']);
    assert.ok(auths.every((a) => a.authMethod !== 'publickey' || a.authParam === server.userKey.blobBase64));
  }),
);

test('plink: 16 MiB upload through sha256 and 32 MiB download from bytes', TIMEOUT, () =>
  withServer(false, async ({ plink }) => {
    const up = randomBytes(16 * 1024 * 1024);
    const u = await plink('sha256', ['-pw', PASSWORD], up);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(u.stdout.toString(), sha256Hex(up) + '\n');

    const n = 32 * 1024 * 1024;
    const d = await plink(`bytes ${n}`, ['-pw', PASSWORD]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout.length, n);
    assert.equal(sha256Hex(d.stdout), sha256Hex(patternBytes(n)));
  }),
);
