/** Authentication as the in-process ssh2 client sees it: the none probe, availableMethods, two-factor, banners, failing handlers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, type AnyAuthMethod, type AuthenticationType, type ConnectConfig } from 'ssh2';
import { ErrorCodes, type SSHUserAuthRequestEventArgs } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { makeUserKey } from './fixtures/testServer';

interface AuthRound {
  methodsLeft: AuthenticationType[] | null;
  partialSuccess: boolean | null;
}

interface LoginResult {
  ok: boolean;
  rounds: AuthRound[];
  banners: string[];
  error?: string;
  /** The DISCONNECT reason code, when the server disconnected. */
  reason?: number;
}

/** Logs in offering `methods` in order; records what the server advertised after each step. */
function login(port: number, methods: (AnyAuthMethod | null)[], extra: Partial<ConnectConfig> = {}): Promise<LoginResult> {
  return new Promise((resolve) => {
    const rounds: AuthRound[] = [];
    const banners: string[] = [];
    const queue = [...methods];
    const c = new Client();
    c.on('banner', (m: string) => void banners.push(m));
    c.on('ready', () => {
      c.end();
      resolve({ ok: true, rounds, banners });
    });
    c.on('error', (err: Error & { code?: unknown }) =>
      resolve({ ok: false, rounds, banners, error: err.message, reason: typeof err.code === 'number' ? err.code : undefined }),
    );
    c.connect({
      host: '127.0.0.1',
      port,
      username: 'alice',
      readyTimeout: 10_000,
      ...extra,
      authHandler: (methodsLeft, partialSuccess, next) => {
        rounds.push({ methodsLeft, partialSuccess });
        const m = queue.shift();
        next(m === undefined || m === null ? (false as never) : m);
      },
    });
  });
}

const none = (): AnyAuthMethod => ({ type: 'none', username: 'alice' });
const password = (p: string): AnyAuthMethod => ({ type: 'password', username: 'alice', password: p });

test('the none probe fires SSHUserAuthRequest; its availableMethods is what the client is offered', () =>
  withBareDaemon(async ({ daemon, port }) => {
    const seen: SSHUserAuthRequestEventArgs[] = [];
    daemon.on('SSHUserAuthRequest', (e) => {
      seen.push({ ...e });
      if (e.authMethod === 'none') e.availableMethods = 'password';
      else e.accept = e.authMethod === 'password' && e.authParam === 'pw';
    });
    const r = await login(port, [none(), password('pw')]);
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(r.rounds[1].methodsLeft, ['password']);
    assert.deepEqual(
      seen.map((e) => e.authMethod),
      ['none', 'password'],
    );
    assert.equal(seen[0].availableMethods, daemon.defaultAuthMethods, 'availableMethods starts as defaultAuthMethods');
  }));

test('accepting none logs in without credentials', () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'none'));
    const r = await login(port, [none()]);
    assert.equal(r.ok, true, r.error);
  }));

test('partialSuccess: password then publickey (two-factor); the key alone is not enough', () =>
  withBareDaemon(async ({ daemon, port }) => {
    const key = makeUserKey('ed25519');
    const passed = new Map<string, Set<string>>();
    daemon.on('SSHUserAuthRequest', (e) => {
      const done = passed.get(e.connectionId) ?? new Set<string>();
      passed.set(e.connectionId, done);
      if (e.authMethod === 'password' && e.authParam === 'pw') {
        done.add('password');
        e.accept = true;
        e.partialSuccess = true;
        e.availableMethods = 'publickey';
      } else if (e.authMethod === 'publickey' && e.authParam === key.blobBase64) {
        e.accept = done.has('password');
        if (!e.accept) e.availableMethods = 'password';
      } else if (e.authMethod === 'none') e.availableMethods = 'password,publickey';
    });
    const publickey: AnyAuthMethod = { type: 'publickey', username: 'alice', key: key.privateKeyText };
    const both = await login(port, [none(), password('pw'), publickey]);
    assert.equal(both.ok, true, both.error);
    assert.deepEqual(both.rounds[2], { methodsLeft: ['publickey'], partialSuccess: true });

    // ssh2 asks first ("would you accept this key?"): what a handler writes during a query is
    // discarded, so the list stays as the none probe set it.
    const keyOnly = await login(port, [none(), publickey]);
    assert.equal(keyOnly.ok, false);
    assert.deepEqual(keyOnly.rounds[2]?.methodsLeft, ['password', 'publickey']);
  }));

test('UserAuthBanner[connectionId] set inside SSHUserAuthRequest reaches the client before the reply', () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.on('SSHUserAuthRequest', (e) => {
      if (e.authMethod === 'none') daemon.config(`UserAuthBanner[${e.connectionId}]=Authorised use only.`);
      e.accept = e.authMethod === 'password' && e.authParam === 'pw';
    });
    const r = await login(port, [none(), password('pw')]);
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(
      r.banners.map((b) => b.trim()),
      ['Authorised use only.'],
    );
  }));

test('a handler that throws or rejects refuses the attempt, fires Error, and the daemon keeps serving', () =>
  withBareDaemon(async ({ daemon, port, errors }) => {
    let mode: 'throw' | 'reject' | 'ok' = 'throw';
    daemon.on('SSHUserAuthRequest', async (e) => {
      if (e.authMethod !== 'password') return;
      e.accept = true; // set before failing: a failed handler must still refuse
      if (mode === 'throw') throw new Error('database down');
    });
    daemon.on('SSHUserAuthRequest', (e) => {
      if (e.authMethod === 'password' && mode === 'reject') return Promise.reject(new Error('timeout talking to LDAP'));
    });
    const thrown = await login(port, [password('pw')]);
    assert.equal(thrown.ok, false);
    assert.ok(
      errors.some((m) => m.startsWith(`${ErrorCodes.HandlerFailed} `) && /database down/.test(m)),
      errors.join('\n'),
    );
    mode = 'reject';
    const rejected = await login(port, [password('pw')]);
    assert.equal(rejected.ok, false);
    assert.ok(
      errors.some((m) => /timeout talking to LDAP/.test(m)),
      errors.join('\n'),
    );
    mode = 'ok';
    assert.equal((await login(port, [password('pw')])).ok, true);
  }));

test('MaxAuthAttempts: the failure that reaches the limit disconnects with reason 14 and fires Error 1010', () =>
  withBareDaemon(async ({ daemon, port, errors }) => {
    daemon.config('MaxAuthAttempts=3');
    const seen: string[] = [];
    daemon.on('SSHUserAuthRequest', (e) => void seen.push(e.authMethod));
    const r = await login(port, [none(), ...Array.from({ length: 6 }, (_, i) => password(`guess-${i}`))]);
    assert.equal(r.ok, false);
    assert.deepEqual(seen, ['none', 'password', 'password', 'password'], 'the none probe does not count; the 3rd failure ends it');
    assert.equal(r.reason, 14, `DISCONNECT reason (NO_MORE_AUTH_METHODS_AVAILABLE): ${r.error}`);
    assert.ok(
      errors.some((m) => m.startsWith(`${ErrorCodes.AuthAttemptsExceeded} `)),
      errors.join('\n'),
    );

    // Only the first 'none' is free: a client repeating it is cut off like any other.
    seen.length = 0;
    const nones = await login(port, Array.from({ length: 10 }, none));
    assert.equal(nones.ok, false);
    assert.equal(seen.length, 4);
  }));

test('keyboard-interactive in two rounds: a password, then a one-time code (SSHUserAuthPrompt round 2)', () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.defaultAuthMethods = 'keyboard-interactive';
    const round = new Map<string, number>();
    daemon.on('SSHUserAuthPrompt', (e) => {
      round.set(e.connectionId, e.round);
      if (e.round === 1) e.prompts = [{ prompt: 'Password: ', echo: false }];
      if (e.round === 2) e.prompts = [{ prompt: 'Verification code: ', echo: true }];
    });
    const answered: string[] = [];
    daemon.on('SSHUserAuthRequest', async (e) => {
      if (e.authMethod === 'keyboard-interactive-1') {
        answered.push(`${round.get(e.connectionId)}:${e.authParam}`);
        await new Promise((r) => setTimeout(r, 5));
        e.accept = e.authParam === (round.get(e.connectionId) === 1 ? 'pw' : '123456');
      }
      if (e.authMethod === 'keyboard-interactive') e.accept = true;
    });
    const session = (answers: string[]) => {
      const asked: string[][] = [];
      const method: AnyAuthMethod = {
        type: 'keyboard-interactive',
        username: 'alice',
        prompt: (_name, _instructions, _lang, prompts, finish) => {
          asked.push(prompts.map((p) => p.prompt));
          finish([answers[asked.length - 1] ?? '']);
        },
      };
      return { asked, method };
    };
    const right = session(['pw', '123456']);
    const ok = await login(port, [right.method]);
    assert.equal(ok.ok, true, ok.error);
    assert.deepEqual(right.asked, [['Password: '], ['Verification code: ']]);
    assert.deepEqual(answered, ['1:pw', '2:123456']);

    answered.length = 0;
    const wrong = session(['pw', '000000']);
    const refused = await login(port, [wrong.method]);
    assert.equal(refused.ok, false);
    assert.deepEqual(wrong.asked, [['Password: '], ['Verification code: ']]);
    assert.deepEqual(answered, ['1:pw', '2:000000']);
  }));
