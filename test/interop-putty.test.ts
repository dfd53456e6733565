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
import { requireBinary, run, type RunResult } from './fixtures/clients';
import { acceptedMethods, type ServerScope, withTestServer } from './fixtures/interop';
import { PASSWORD, USER, patternBytes, sha256Hex } from './fixtures/testServer';

const TIMEOUT = { timeout: 60_000 };
/** PuTTY keeps its random seed under $HOME/.putty; keep it out of the real home. */
const HOME = mkdtempSync(join(tmpdir(), 'putty-home-'));
after(() => rmSync(HOME, { recursive: true, force: true }));

interface Harness extends ServerScope {
  plink(command: string, auth: string[], input?: Buffer): Promise<RunResult>;
}

/** Runs `body` with a `plink` bound to a fresh daemon (see withTestServer). */
async function withServer(asyncHandlers: boolean, body: (h: Harness) => Promise<void>): Promise<void> {
  const plinkPath = requireBinary('plink');
  await withTestServer({ asyncHandlers, authMethods: 'password,publickey' }, ({ server, auths }) => {
    const plink = (command: string, auth: string[], input?: Buffer) =>
      run(plinkPath, ['-batch', '-ssh', '-noagent', '-P', String(server.port), '-l', USER, ...auth, '-hostkey', server.hostKey.fingerprint, '127.0.0.1', command], {
        input,
        timeoutMs: 45_000,
        env: { HOME },
      });
    return body({ server, auths, plink });
  });
}

test('plink: password exec prints stdout and exits 0; exit N gives status N', TIMEOUT, () =>
  withServer(false, async ({ plink, auths }) => {
    const r = await plink('echo hi', ['-pw', PASSWORD]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'hi\n');
    const seven = await plink('exit 7', ['-pw', PASSWORD]);
    assert.equal(seven.code, 7, seven.stderr);
    assert.equal(seven.stdout.length, 0);
    assert.deepEqual(acceptedMethods(auths), ['password', 'password']);
  }),
);

test('plink: a wrong password is refused and never accepted', TIMEOUT, () =>
  withServer(false, async ({ plink, auths, server }) => {
    const r = await plink('echo hi', ['-pw', 'not-the-password']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /password was not accepted|Access denied/i);
    assert.ok(auths.some((a) => a.authMethod === 'password' && a.authParam === 'not-the-password'), 'the daemon saw the password attempt');
    assert.deepEqual(acceptedMethods(auths), []);
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
    assert.deepEqual([...new Set(acceptedMethods(auths))], ['publickey']);
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
