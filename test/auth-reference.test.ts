/**
 * The hand-made authentication sequences of auth-attacks.test.ts, sent to OpenSSH's sshd and to the
 * daemon in the same test: the daemon must answer as sshd does (the expected value is sshd's).
 * sshd authorises the same keys through an authorized_keys file; the daemon through a handler that
 * accepts exactly those keys, so every refusal below is the server's own check.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SSHDaemon } from '../src';
import { publicKeyBlob } from '../src/certs/opensshKey';
import { encodeString } from '../src/packet/wire';
import { withBareDaemon } from './fixtures/bareDaemon';
import { requireBinary, run } from './fixtures/clients';
import { authPayload, CAPTURED, rawClient, replyStrings, sshSignature, type RawClient } from './fixtures/rawAuth';
import { withSshd } from './fixtures/sshdReference';

const TIMEOUT = { timeout: 120_000 };

interface Key {
  blob: Buffer;
  line: string;
  /** SSH signature blob naming `name`, made with `hash`. */
  signer(name: string, hash: string | null): (data: Buffer) => Buffer;
}

function nodeKey(privateKey: KeyObject): Key {
  const blob = publicKeyBlob(privateKey);
  const type = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString();
  return { blob, line: `${type} ${blob.toString('base64')}`, signer: (name, hash) => sshSignature(privateKey, name, hash) };
}

/** The authorised keys of every test: RSA 2048, RSA 768, ECDSA P-256 and, from ssh-keygen, DSA. */
async function makeKeys(): Promise<Record<'rsa' | 'rsa768' | 'p256' | 'dsa', Key>> {
  const dir = mkdtempSync(join(tmpdir(), 'sshd-ref-dsa-'));
  const r = await run(requireBinary('ssh-keygen'), ['-q', '-t', 'dsa', '-m', 'PEM', '-N', '', '-f', join(dir, 'id_dsa')], {
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const dsaLine = readFileSync(join(dir, 'id_dsa.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  const pem = readFileSync(join(dir, 'id_dsa'), 'utf8');
  return {
    rsa: nodeKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
    rsa768: nodeKey(generateKeyPairSync('rsa', { modulusLength: 768 }).privateKey),
    p256: nodeKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
    dsa: {
      blob: Buffer.from(dsaLine.split(' ')[1], 'base64'),
      line: dsaLine,
      signer: (name, hash) => (data) =>
        Buffer.concat([encodeString(name), encodeString(sign(hash, data, { key: pem, dsaEncoding: 'ieee-p1363' }))]),
    },
  };
}

/** A daemon that accepts exactly `keys` for publickey (query and signed) and no password, with MaxAuthAttempts as `maxTries`. */
function likeSshd(daemon: SSHDaemon, keys: Key[], maxTries: number): void {
  daemon.config(`MaxAuthAttempts=${maxTries}`);
  daemon.defaultAuthMethods = 'publickey,password';
  daemon.on(
    'SSHUserAuthRequest',
    (e) => void (e.accept = e.authMethod === 'publickey' && keys.some((k) => k.blob.toString('base64') === e.authParam)),
  );
}

/**
 * Runs `sequence` against sshd and against the daemon (same keys, same MaxAuthTries, `options` for
 * sshd and `configure` for the daemon when a test needs more); returns both observations.
 */
async function both<T>(
  keys: Key[],
  maxTries: number,
  sequence: (port: number, user: string) => Promise<T>,
  more: { options?: string[]; configure?: (daemon: SSHDaemon) => void } = {},
): Promise<{ sshd: T; ours: T }> {
  const sshd = await withSshd(
    keys.map((k) => k.line),
    [`MaxAuthTries ${maxTries}`, ...(more.options ?? [])],
    (s) => sequence(s.port, s.user),
  );
  let ours: T | undefined;
  await withBareDaemon(async ({ daemon, port }) => {
    if (more.configure) more.configure(daemon);
    else likeSshd(daemon, keys, maxTries);
    ours = await sequence(port, 'tester');
  });
  return { sshd, ours: ours as T };
}

/** One request on a fresh connection; the reply's message number. */
async function single(port: number, payload: (c: RawClient) => Buffer, opts?: { serviceRequest?: boolean }): Promise<number | undefined> {
  const c = await rawClient(port, opts);
  try {
    c.send(payload(c));
    return (await c.next())?.type;
  } finally {
    c.end();
  }
}

test(
  'as sshd: a USERAUTH_REQUEST before SERVICE_REQUEST gets UNIMPLEMENTED with its sequence number, and is not evaluated',
  TIMEOUT,
  async () => {
    const keys = await makeKeys();
    const { sshd, ours } = await both([keys.rsa], 6, async (port, user) => {
      const c = await rawClient(port, { serviceRequest: false });
      try {
        const seqno = c.send(
          authPayload.signed(Buffer.alloc(0), user, 'rsa-sha2-256', keys.rsa.blob, keys.rsa.signer('rsa-sha2-256', 'sha256')),
        );
        const early = await c.next();
        c.send(Buffer.concat([Buffer.from([5]), encodeString('ssh-userauth')]));
        const accept = await c.next();
        c.send(authPayload.signed(c.sessionId, user, 'rsa-sha2-256', keys.rsa.blob, keys.rsa.signer('rsa-sha2-256', 'sha256')));
        const after = await c.next();
        return { early: early?.type, namesIt: early?.payload.readUInt32BE(1) === seqno, accept: accept?.type, after: after?.type };
      } finally {
        c.end();
      }
    });
    assert.deepEqual(sshd, {
      early: CAPTURED.UNIMPLEMENTED,
      namesIt: true,
      accept: CAPTURED.SERVICE_ACCEPT,
      after: CAPTURED.USERAUTH_SUCCESS,
    });
    assert.deepEqual(ours, sshd);
  },
);

test(
  'as sshd: relabelled keys, SHA-1 in rsa-sha2 clothing, DSA and 768-bit RSA are refused though authorised; the proper request logs in',
  TIMEOUT,
  async () => {
    const keys = await makeKeys();
    const { sshd, ours } = await both(Object.values(keys), 50, async (port, user) => {
      const signed = (name: string, key: Key, sigName: string, hash: string | null) => (c: RawClient) =>
        authPayload.signed(c.sessionId, user, name, key.blob, key.signer(sigName, hash));
      return {
        ed25519NameOnRsaQuery: await single(port, () => authPayload.query(user, 'ssh-ed25519', keys.rsa.blob)),
        ed25519NameOnRsaSha1: await single(port, signed('ssh-ed25519', keys.rsa, 'ssh-rsa', 'sha1')),
        rsaSha256NameSha1Signature: await single(port, signed('rsa-sha2-256', keys.rsa, 'ssh-rsa', 'sha1')),
        rsaSha256NameLyingSignature: await single(port, signed('rsa-sha2-256', keys.rsa, 'rsa-sha2-256', 'sha1')),
        sshRsaSha1: await single(port, signed('ssh-rsa', keys.rsa, 'ssh-rsa', 'sha1')),
        p256AsP384: await single(port, () => authPayload.query(user, 'ecdsa-sha2-nistp384', keys.p256.blob)),
        dsa: await single(port, signed('ssh-dss', keys.dsa, 'ssh-dss', 'sha1')),
        dsaAsEd25519: await single(port, signed('ssh-ed25519', keys.dsa, 'ssh-ed25519', 'sha1')),
        rsa768: await single(port, signed('rsa-sha2-256', keys.rsa768, 'rsa-sha2-256', 'sha256')),
        proper: await single(port, signed('rsa-sha2-256', keys.rsa, 'rsa-sha2-256', 'sha256')),
      };
    });
    const F = CAPTURED.USERAUTH_FAILURE;
    assert.deepEqual(sshd, {
      ed25519NameOnRsaQuery: F,
      ed25519NameOnRsaSha1: F,
      rsaSha256NameSha1Signature: F,
      rsaSha256NameLyingSignature: F,
      sshRsaSha1: F,
      p256AsP384: F,
      dsa: F,
      dsaAsEd25519: F,
      rsa768: F,
      proper: CAPTURED.USERAUTH_SUCCESS,
    });
    assert.deepEqual(ours, sshd);
  },
);

test('as sshd: USERAUTH_PK_OK names the algorithm of the query (rsa-sha2-256, rsa-sha2-512)', TIMEOUT, async () => {
  const keys = await makeKeys();
  const { sshd, ours } = await both([keys.rsa], 6, async (port, user) => {
    const names: string[] = [];
    for (const algorithm of ['rsa-sha2-256', 'rsa-sha2-512']) {
      const c = await rawClient(port);
      c.send(authPayload.query(user, algorithm, keys.rsa.blob));
      const m = await c.next();
      names.push(m?.type === CAPTURED.USERAUTH_60 ? replyStrings(m.payload, 1)[0] : `reply ${m?.type}`);
      c.end();
    }
    return names;
  });
  assert.deepEqual(sshd, ['rsa-sha2-256', 'rsa-sha2-512']);
  assert.deepEqual(ours, sshd);
});

test(
  'as sshd: guesses pipelined past MaxAuthTries end in a DISCONNECT and a closed socket; a password change counts as a failure',
  TIMEOUT,
  async () => {
    const keys = await makeKeys();
    const { sshd, ours } = await both([keys.rsa], 3, async (port, user) => {
      const c = await rawClient(port);
      c.send(authPayload.passwordChange(user, 'old', 'new'));
      for (let i = 0; i < 6; i++) c.send(authPayload.password(user, `guess-${i}`));
      const replies: number[] = [];
      for (let m = await c.next(); m; m = await c.next(2000)) replies.push(m.type);
      // The client keeps its side open and keeps sending: only a server that stopped reading and closed resets it.
      const until = Date.now() + 10_000;
      while (!c.isClosed() && Date.now() < until) {
        try {
          c.send(authPayload.password(user, 'more'));
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const closed =
        c.isClosed() || (await Promise.race([c.closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]));
      c.end();
      return { replies, closed };
    });
    assert.deepEqual(sshd, { replies: [CAPTURED.USERAUTH_FAILURE, CAPTURED.USERAUTH_FAILURE, CAPTURED.DISCONNECT], closed: true });
    assert.deepEqual(ours, sshd);
  },
);

test(
  'as sshd with AuthenticationMethods publickey,password: a key query does not open the password step, the signed key does',
  TIMEOUT,
  async () => {
    const keys = await makeKeys();
    const { sshd, ours } = await both(
      [keys.rsa],
      6,
      async (port, user) => {
        const c = await rawClient(port);
        try {
          const reply = async () => {
            const m = await c.next();
            return m?.type === CAPTURED.USERAUTH_FAILURE
              ? { failure: replyStrings(m.payload, 1)[0], partial: m.payload[m.payload.length - 1] }
              : m?.type;
          };
          c.send(authPayload.query(user, 'rsa-sha2-256', keys.rsa.blob));
          const query = await reply();
          c.send(authPayload.password(user, 'not-the-password'));
          const passwordAfterQuery = await reply();
          c.send(authPayload.signed(c.sessionId, user, 'rsa-sha2-256', keys.rsa.blob, keys.rsa.signer('rsa-sha2-256', 'sha256')));
          const signedKey = await reply();
          return { query, passwordAfterQuery, signedKey };
        } finally {
          c.end();
        }
      },
      {
        options: ['AuthenticationMethods publickey,password'],
        // The same policy as a handler would write it without isQuery (see auth-attacks.test.ts).
        configure: (daemon) => {
          daemon.defaultAuthMethods = 'publickey';
          daemon.on('SSHUserAuthRequest', (e) => {
            if (e.authMethod === 'publickey' && e.authParam === keys.rsa.blob.toString('base64')) {
              e.accept = true;
              e.partialSuccess = true;
              e.availableMethods = 'password';
            }
            if (e.authMethod === 'password') e.accept = false;
          });
        },
      },
    );
    assert.deepEqual(sshd, {
      query: CAPTURED.USERAUTH_60,
      passwordAfterQuery: { failure: 'publickey', partial: 0 },
      signedKey: { failure: 'password', partial: 1 },
    });
    assert.deepEqual(ours, sshd);
  },
);
