/**
 * Authentication attacked with hand-made packets (issue 16: items 2, 5, 8 and 11; issue 18: item 6):
 * an ssh2 Client finishes the key exchange, then the test sends USERAUTH messages it builds itself
 * and reads the replies raw (test/fixtures/rawAuth.ts). What real clients cannot send is sent here.
 * The reference is OpenSSH's sshd (auth2.c, auth2-pubkey.c, auth2-passwd.c, dispatch.c).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCodes, type SSHDaemon, type SSHUserAuthRequestEventArgs } from '../src';
import { publicKeyBlob } from '../src/certs/opensshKey';
import { encodeString } from '../src/packet/wire';
import { withBareDaemon } from './fixtures/bareDaemon';
import { requireBinary, run } from './fixtures/clients';
import { until } from './fixtures/wait';
import { authPayload, CAPTURED, rawClient, replyStrings, sshSignature, withRawClient, type RawClient } from './fixtures/rawAuth';

const TIMEOUT = { timeout: 60_000 };
const USER = 'alice';

/** A fresh Ed25519 key: the private KeyObject, its SSH blob and the blob in base64 (authParam). */
function ed25519Key() {
  const { privateKey } = generateKeyPairSync('ed25519');
  const blob = publicKeyBlob(privateKey);
  return { privateKey, blob, blobBase64: blob.toString('base64') };
}

/** The next reply must be of `type`; returns its payload. */
async function expectReply(c: RawClient, type: number, what: string): Promise<Buffer> {
  const m = await c.next();
  assert.equal(m?.type, type, `${what}: expected message ${type}, got ${m ? `${m.type} ${m.payload.toString('latin1')}` : 'nothing'}`);
  return m!.payload;
}

/** Every SSHUserAuthRequest, copied as the handlers left it. */
function recordAuth(daemon: SSHDaemon): SSHUserAuthRequestEventArgs[] {
  const seen: SSHUserAuthRequestEventArgs[] = [];
  daemon.on('SSHUserAuthRequest', (e) => void queueMicrotask(() => seen.push({ ...e })));
  return seen;
}

/** Resolves when the daemon fired Disconnected for every connection it had. */
async function allDisconnected(daemon: SSHDaemon, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (daemon.sshConnections.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return daemon.sshConnections.size === 0;
}

// ---- SERVICE_REQUEST before USERAUTH_REQUEST -------------------------------------------------

test('a USERAUTH_REQUEST before SERVICE_REQUEST ssh-userauth is answered UNIMPLEMENTED and never evaluated, as sshd', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const services: string[] = [];
    daemon.prependListener('SSHServiceRequest', (e) => void services.push(e.service));
    const seen = recordAuth(daemon);
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'pw'));
    await withRawClient(
      port,
      async (c) => {
        // The password a handler accepts, sent before the service: sshd's dispatch_protocol_error answers it.
        const seqno = c.send(authPayload.password(USER, 'pw'));
        const unimplemented = await expectReply(c, CAPTURED.UNIMPLEMENTED, 'early request');
        assert.equal(unimplemented.readUInt32BE(1), seqno, 'UNIMPLEMENTED names the sequence number of the request');
        assert.deepEqual(services, [], 'SSHServiceRequest was not skipped: it has not fired yet');
        c.send(Buffer.concat([Buffer.from([5]), encodeString('ssh-userauth')]));
        await expectReply(c, CAPTURED.SERVICE_ACCEPT, 'service request');
        c.send(authPayload.password(USER, 'pw'));
        await expectReply(c, CAPTURED.USERAUTH_SUCCESS, 'the same request after the service');
      },
      { serviceRequest: false },
    );
    assert.deepEqual(services, ['ssh-userauth', 'ssh-connection']);
    assert.deepEqual(
      seen.map((e) => e.authMethod),
      ['password'],
      'only the request after SERVICE_ACCEPT fired the event',
    );
  }),
);

test('a refused ssh-userauth service disconnects (SERVICE_NOT_AVAILABLE) and the request sent behind it is not evaluated', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.removeAllListeners('SSHServiceRequest');
    daemon.on('SSHServiceRequest', async (e) => {
      await new Promise((r) => setTimeout(r, 50));
      e.accept = false;
    });
    const seen = recordAuth(daemon);
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = true));
    const c = await rawClient(port, { serviceRequest: false });
    c.send(Buffer.concat([Buffer.from([5]), encodeString('ssh-userauth')]));
    c.send(authPayload.none(USER)); // pipelined while the service is being decided
    const reply = await expectReply(c, CAPTURED.DISCONNECT, 'refused service');
    assert.equal(reply.readUInt32BE(1), 7, 'SSH_DISCONNECT_SERVICE_NOT_AVAILABLE');
    assert.ok(await allDisconnected(daemon), 'the daemon closed the connection');
    c.end();
    assert.deepEqual(seen, []);
  }),
);

test('pipelined requests are decided one at a time in arrival order (RFC 4252 5), also with an async handler', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const order: string[] = [];
    daemon.on('SSHUserAuthRequest', async (e) => {
      order.push(e.authParam);
      await new Promise((r) => setTimeout(r, 30));
      e.accept = e.authParam === 'third';
    });
    await withRawClient(port, async (c) => {
      for (const p of ['first', 'second', 'third']) c.send(authPayload.password(USER, p));
      await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'first');
      await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'second');
      await expectReply(c, CAPTURED.USERAUTH_SUCCESS, 'third');
    });
    assert.deepEqual(order, ['first', 'second', 'third']);
  }),
);

// ---- publickey queries cannot change the method list (Go CVE-2024-45337 pattern) -------------

test('two-factor publickey,password: a key QUERY plus the password does not log in; the signed key plus the password does', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const key = ed25519Key();
    const blob = key.blob;
    // OpenSSH `AuthenticationMethods publickey,password`, written the way the docs' two-factor pattern
    // reads without isQuery: the key passes the first step, the password the second.
    daemon.defaultAuthMethods = 'publickey';
    const seen = recordAuth(daemon);
    daemon.on('SSHUserAuthRequest', (e) => {
      if (e.authMethod === 'publickey' && e.authParam === key.blobBase64) {
        e.accept = true;
        e.partialSuccess = true;
        e.availableMethods = 'password';
      }
      if (e.authMethod === 'password') e.accept = e.authParam === 'pw';
    });
    // The attack: the public key (no private key needed), then the password.
    await withRawClient(port, async (c) => {
      c.send(authPayload.query(USER, 'ssh-ed25519', blob));
      await expectReply(c, CAPTURED.USERAUTH_60, 'USERAUTH_PK_OK for the query');
      c.send(authPayload.password(USER, 'pw'));
      const failure = await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'password after a mere query');
      assert.deepEqual(replyStrings(failure, 1), ['publickey'], 'the method list is still the first step');
      assert.equal(failure[failure.length - 1], 0, 'no partial success');
    });
    assert.deepEqual(
      seen.map((e) => [e.authMethod, e.isQuery]),
      [['publickey', true]],
      'the password never reached the handler',
    );

    // The honest client: a signature proves the key, then the password completes the login.
    seen.length = 0;
    await withRawClient(port, async (c) => {
      c.send(authPayload.signed(c.sessionId, USER, 'ssh-ed25519', blob, sshSignature(key.privateKey, 'ssh-ed25519', null)));
      const partial = await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'signed key');
      assert.deepEqual(replyStrings(partial, 1), ['password']);
      assert.equal(partial[partial.length - 1], 1, 'partial success');
      c.send(authPayload.password(USER, 'pw'));
      await expectReply(c, CAPTURED.USERAUTH_SUCCESS, 'password after the signed key');
    });
    assert.deepEqual(
      seen.map((e) => [e.authMethod, e.isQuery]),
      [
        ['publickey', false],
        ['password', false],
      ],
    );
  }),
);

test('publickey,publickey: the key that passed the first step is refused for the second (sshd auth2_key_already_used)', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const key = ed25519Key();
    const blob = key.blob;
    let steps = 0;
    const seen = recordAuth(daemon);
    daemon.on('SSHUserAuthRequest', (e) => {
      if (e.authMethod !== 'publickey' || e.isQuery) return void (e.accept = e.authMethod === 'publickey');
      e.accept = true;
      e.partialSuccess = ++steps === 1;
    });
    await withRawClient(port, async (c) => {
      const signer = sshSignature(key.privateKey, 'ssh-ed25519', null);
      c.send(authPayload.signed(c.sessionId, USER, 'ssh-ed25519', blob, signer));
      await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'first step (partial)');
      c.send(authPayload.signed(c.sessionId, USER, 'ssh-ed25519', blob, signer));
      const again = await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'the same key again');
      assert.equal(again[again.length - 1], 0, 'refused, not a partial success');
    });
    assert.equal(seen.length, 1, 'the reused key never reached the handler');
  }),
);

// ---- MaxAuthAttempts: nothing is evaluated afterwards -------------------------------------------

test(
  'MaxAuthAttempts: guesses pipelined past the limit reach no handler, and the daemon closes the socket while the client keeps it open',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      daemon.config('MaxAuthAttempts=3');
      const seen = recordAuth(daemon);
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'right'));
      const disconnected = once(daemon, 'Disconnected');
      const c = await rawClient(port);
      // One burst, the right password after the limit: none of it may be evaluated once the limit is hit.
      for (const p of ['g1', 'g2', 'g3', 'g4', 'right', 'right']) c.send(authPayload.password(USER, p));
      await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'g1');
      await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'g2');
      const bye = await expectReply(c, CAPTURED.DISCONNECT, 'g3 reaches the limit');
      assert.equal(bye.readUInt32BE(1), 14, 'SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE');
      const [e] = (await disconnected) as [{ statusCode: number }];
      assert.equal(e.statusCode, ErrorCodes.AuthAttemptsExceeded);
      assert.equal(c.isClosed(), false, 'the client never closed its side: the daemon did');
      assert.equal(await c.next(500), undefined, 'no reply after the DISCONNECT');
      c.end();
      assert.deepEqual(
        seen.map((x) => x.authParam),
        ['g1', 'g2', 'g3'],
      );
    }),
);

test(
  'MaxAuthAttempts with keyboard-interactive: after the limit a right answer is neither evaluated nor able to keep the connection',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      daemon.config('MaxAuthAttempts=3');
      daemon.defaultAuthMethods = 'keyboard-interactive';
      daemon.keyboardInteractivePrompts = [{ prompt: 'Code: ', echo: false }];
      const answers: string[] = [];
      daemon.on('SSHUserAuthRequest', (e) => {
        if (e.authMethod === 'keyboard-interactive-1') answers.push(e.authParam);
        e.accept = e.authMethod === 'keyboard-interactive' || e.authParam === '424242';
      });
      const c = await rawClient(port);
      // Each new request abandons the round before it (RFC 4256): the old engine kept evaluating them after its DISCONNECT.
      for (const a of ['1', '2', '3', '424242', '424242']) {
        c.send(authPayload.keyboardInteractive(USER));
        c.send(authPayload.infoResponse([a]));
      }
      for (let i = 0; i < 2; i++) {
        await expectReply(c, CAPTURED.USERAUTH_60, `INFO_REQUEST ${i + 1}`);
        await expectReply(c, CAPTURED.USERAUTH_FAILURE, `wrong answer ${i + 1}`);
      }
      await expectReply(c, CAPTURED.USERAUTH_60, 'INFO_REQUEST 3');
      await expectReply(c, CAPTURED.DISCONNECT, 'the third wrong answer reaches the limit');
      assert.ok(await allDisconnected(daemon), 'the daemon closed the connection while the client kept its side open');
      assert.equal(
        c.received.some((m) => m.type === CAPTURED.USERAUTH_SUCCESS),
        false,
      );
      c.end();
      assert.deepEqual(answers, ['1', '2', '3']);
    }),
);

// ---- key type, signature algorithm and hash bound together --------------------------------------

/** A daemon whose handler accepts every publickey request: any refusal below is the daemon's own. */
async function acceptingAnyKey(
  body: (port: number, seen: SSHUserAuthRequestEventArgs[], errors: string[], daemon: SSHDaemon) => Promise<void>,
): Promise<void> {
  await withBareDaemon(async ({ daemon, port, errors }) => {
    const seen = recordAuth(daemon);
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'publickey'));
    await body(port, seen, errors, daemon);
  });
}

/** Sends one request on a fresh connection and returns the reply type. */
async function replyTo(port: number, payload: (c: RawClient) => Buffer): Promise<number | undefined> {
  return withRawClient(port, async (c) => {
    c.send(payload(c));
    return (await c.next())?.type;
  });
}

test(
  'relabelled keys are refused before the handler: ed25519 name on an RSA blob (SHA-1 signature), an ECDSA curve mismatch',
  TIMEOUT,
  () =>
    acceptingAnyKey(async (port, seen) => {
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const rsaBlob = publicKeyBlob(rsa);
      // The issue's request: labelled ssh-ed25519, an RSA key blob, a SHA-1 RSA signature.
      assert.equal(
        await replyTo(port, (c) => authPayload.signed(c.sessionId, USER, 'ssh-ed25519', rsaBlob, sshSignature(rsa, 'ssh-ed25519', 'sha1'))),
        CAPTURED.USERAUTH_FAILURE,
      );
      assert.equal(
        await replyTo(port, (c) => authPayload.signed(c.sessionId, USER, 'ssh-ed25519', rsaBlob, sshSignature(rsa, 'ssh-rsa', 'sha1'))),
        CAPTURED.USERAUTH_FAILURE,
      );
      assert.equal(await replyTo(port, () => authPayload.query(USER, 'ssh-ed25519', rsaBlob)), CAPTURED.USERAUTH_FAILURE);
      const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      assert.equal(
        await replyTo(port, () => authPayload.query(USER, 'ecdsa-sha2-nistp384', publicKeyBlob(p256))),
        CAPTURED.USERAUTH_FAILURE,
      );
      const ed = generateKeyPairSync('ed25519').privateKey;
      assert.equal(await replyTo(port, () => authPayload.query(USER, 'rsa-sha2-256', publicKeyBlob(ed))), CAPTURED.USERAUTH_FAILURE);
      assert.deepEqual(seen, [], 'no relabelled key reached the handler');
      // The control: the same RSA key, named and signed properly, logs in.
      assert.equal(
        await replyTo(port, (c) =>
          authPayload.signed(c.sessionId, USER, 'rsa-sha2-256', rsaBlob, sshSignature(rsa, 'rsa-sha2-256', 'sha256')),
        ),
        CAPTURED.USERAUTH_SUCCESS,
      );
    }),
);

test('SHA-1 RSA signatures are refused while ssh-rsa is not allowed: as ssh-rsa, and dressed as rsa-sha2-256 (Error 1011)', TIMEOUT, () =>
  acceptingAnyKey(async (port, seen, errors, daemon) => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const blob = publicKeyBlob(rsa);
    assert.equal(
      await replyTo(port, (c) => authPayload.signed(c.sessionId, USER, 'ssh-rsa', blob, sshSignature(rsa, 'ssh-rsa', 'sha1'))),
      CAPTURED.USERAUTH_FAILURE,
    );
    assert.equal(await replyTo(port, () => authPayload.query(USER, 'ssh-rsa', blob)), CAPTURED.USERAUTH_FAILURE);
    // Announced rsa-sha2-256, signed with SHA-1 (the signature names ssh-rsa, or lies and names rsa-sha2-256).
    assert.equal(
      await replyTo(port, (c) => authPayload.signed(c.sessionId, USER, 'rsa-sha2-256', blob, sshSignature(rsa, 'ssh-rsa', 'sha1'))),
      CAPTURED.USERAUTH_FAILURE,
    );
    assert.equal(
      await replyTo(port, (c) => authPayload.signed(c.sessionId, USER, 'rsa-sha2-256', blob, sshSignature(rsa, 'rsa-sha2-256', 'sha1'))),
      CAPTURED.USERAUTH_FAILURE,
    );
    assert.equal(
      await replyTo(port, (c) => authPayload.signed(c.sessionId, USER, 'rsa-sha2-512', blob, sshSignature(rsa, 'rsa-sha2-256', 'sha256'))),
      CAPTURED.USERAUTH_FAILURE,
    );
    assert.deepEqual(seen, []);
    assert.equal(errors.filter((e) => e.startsWith(`${ErrorCodes.SignatureInvalid} `)).length, 3, errors.join('\n'));
    // Listing ssh-rsa switches SHA-1 back on, for that name only.
    daemon.config('SSHPubKeyAuthSigAlgorithms=ssh-rsa,rsa-sha2-256');
    assert.equal(
      await replyTo(port, (c) => authPayload.signed(c.sessionId, USER, 'ssh-rsa', blob, sshSignature(rsa, 'ssh-rsa', 'sha1'))),
      CAPTURED.USERAUTH_SUCCESS,
    );
  }),
);

test('DSA keys are refused (gone from OpenSSH 10), under their own name or relabelled', TIMEOUT, () =>
  acceptingAnyKey(async (port, seen, _errors, daemon) => {
    const dir = mkdtempSync(join(tmpdir(), 'sshd-dsa-'));
    const r = await run(requireBinary('ssh-keygen'), ['-q', '-t', 'dsa', '-m', 'PEM', '-N', '', '-f', join(dir, 'id_dsa')], {
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const blob = Buffer.from(readFileSync(join(dir, 'id_dsa.pub'), 'utf8').split(' ')[1], 'base64');
    const pem = readFileSync(join(dir, 'id_dsa'), 'utf8');
    const dsaSign = (name: string) => (data: Buffer) =>
      Buffer.concat([encodeString(name), encodeString(sign('sha1', data, { key: pem, dsaEncoding: 'ieee-p1363' }))]);
    assert.equal(
      await replyTo(port, (c) => authPayload.signed(c.sessionId, USER, 'ssh-dss', blob, dsaSign('ssh-dss'))),
      CAPTURED.USERAUTH_FAILURE,
    );
    assert.equal(await replyTo(port, () => authPayload.query(USER, 'ssh-dss', blob)), CAPTURED.USERAUTH_FAILURE);
    assert.equal(
      await replyTo(port, (c) => authPayload.signed(c.sessionId, USER, 'ssh-ed25519', blob, dsaSign('ssh-ed25519'))),
      CAPTURED.USERAUTH_FAILURE,
    );
    assert.equal(
      await replyTo(port, (c) => authPayload.signed(c.sessionId, USER, 'rsa-sha2-256', blob, dsaSign('rsa-sha2-256'))),
      CAPTURED.USERAUTH_FAILURE,
    );
    assert.deepEqual(seen, []);
    assert.throws(() => daemon.config('SSHPubKeyAuthSigAlgorithms=ssh-dss'), /SSHPubKeyAuthSigAlgorithms/);
  }),
);

test('RequiredRSASize: a 768-bit RSA key is refused by default, a 2048-bit one once the minimum is 3072; 1024 is the floor', TIMEOUT, () =>
  acceptingAnyKey(async (port, seen, _errors, daemon) => {
    assert.equal(daemon.config('RequiredRSASize'), '1024', "OpenSSH's default");
    const small = generateKeyPairSync('rsa', { modulusLength: 768 }).privateKey;
    assert.equal(
      await replyTo(port, (c) =>
        authPayload.signed(c.sessionId, USER, 'rsa-sha2-256', publicKeyBlob(small), sshSignature(small, 'rsa-sha2-256', 'sha256')),
      ),
      CAPTURED.USERAUTH_FAILURE,
    );
    assert.equal(await replyTo(port, () => authPayload.query(USER, 'rsa-sha2-512', publicKeyBlob(small))), CAPTURED.USERAUTH_FAILURE);
    const k2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const signed2048 = (c: RawClient) =>
      authPayload.signed(c.sessionId, USER, 'rsa-sha2-512', publicKeyBlob(k2048), sshSignature(k2048, 'rsa-sha2-512', 'sha512'));
    daemon.config('RequiredRSASize=3072');
    assert.equal(await replyTo(port, signed2048), CAPTURED.USERAUTH_FAILURE);
    assert.deepEqual(seen, []);
    daemon.config('RequiredRSASize=2048');
    assert.equal(await replyTo(port, signed2048), CAPTURED.USERAUTH_SUCCESS);
    assert.throws(() => daemon.config('RequiredRSASize=768'), /RequiredRSASize.*1024/);
  }),
);

test(
  "RSA keys past OpenSSH's 16384-bit maximum or with a public exponent over 64 bits are refused before the event (each would cost milliseconds per pre-auth verify)",
  TIMEOUT,
  () =>
    acceptingAnyKey(async (port, seen) => {
      const mpint = (b: Buffer) => encodeString(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
      const odd = (bytes: number) => {
        const b = randomBytes(bytes);
        b[0] |= 0x80;
        b[bytes - 1] |= 1;
        return b;
      };
      const rsaBlob = (e: Buffer, n: Buffer) => Buffer.concat([encodeString('ssh-rsa'), mpint(e), mpint(n)]);
      const hugeExponent = rsaBlob(odd(383), odd(384)); // a 3064-bit exponent on a 3072-bit modulus
      const hugeModulus = rsaBlob(Buffer.from([1, 0, 1]), odd(16384 / 8 + 8));
      for (const blob of [hugeExponent, hugeModulus]) {
        assert.equal(await replyTo(port, () => authPayload.query(USER, 'rsa-sha2-256', blob)), CAPTURED.USERAUTH_FAILURE);
      }
      assert.deepEqual(seen, [], 'no handler saw either key');
      const normal = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      assert.equal(
        await replyTo(port, () => authPayload.query(USER, 'rsa-sha2-256', publicKeyBlob(normal))),
        CAPTURED.USERAUTH_60,
        'a usual key (e = 65537) still passes',
      );
    }),
);

// ---- PK_OK, password change, after success -----------------------------------------------------

test('USERAUTH_PK_OK repeats the algorithm the client named (RFC 4252 7), rsa-sha2-256/512 included', TIMEOUT, () =>
  acceptingAnyKey(async (port) => {
    const rsa = publicKeyBlob(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    for (const algorithm of ['rsa-sha2-256', 'rsa-sha2-512']) {
      await withRawClient(port, async (c) => {
        c.send(authPayload.query(USER, algorithm, rsa));
        const ok = await expectReply(c, CAPTURED.USERAUTH_60, algorithm);
        const [name] = replyStrings(ok, 1);
        assert.equal(name, algorithm);
        assert.deepEqual(ok.subarray(1 + 4 + name.length + 4), rsa, 'and the key blob');
      });
    }
  }),
);

test('a password-change request is refused as by sshd without PAM: no event, counted; a password is always a string', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.config('MaxAuthAttempts=2');
    const seen = recordAuth(daemon);
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = true));
    await withRawClient(port, async (c) => {
      c.send(authPayload.passwordChange(USER, 'old', 'new'));
      await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'change request');
      c.send(authPayload.passwordChange(USER, 'old', 'new'));
      await expectReply(c, CAPTURED.DISCONNECT, 'the second one reaches MaxAuthAttempts 2');
    });
    assert.equal(seen.length, 0, 'no event for a change request');
    await withRawClient(port, async (c) => {
      c.send(authPayload.password(USER, 'pw'));
      await expectReply(c, CAPTURED.USERAUTH_SUCCESS, 'plain password');
    });
    assert.deepEqual(
      seen.map((e) => [e.authMethod, typeof e.authParam, e.authParam]),
      [['password', 'string', 'pw']],
    );
  }),
);

test('USERAUTH_REQUEST after success is ignored, as sshd (dispatch_protocol_ignore)', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const seen = recordAuth(daemon);
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
    await withRawClient(port, async (c) => {
      c.send(authPayload.password(USER, 'pw'));
      await expectReply(c, CAPTURED.USERAUTH_SUCCESS, 'login');
      c.send(authPayload.password(USER, 'other'));
      // A global request nobody serves: its REQUEST_FAILURE comes after whatever the ignored request caused.
      c.send(Buffer.concat([Buffer.from([80]), encodeString('nobody@example.com'), Buffer.from([1])]));
      await expectReply(c, CAPTURED.REQUEST_FAILURE, 'the barrier');
    });
    assert.deepEqual(
      seen.map((e) => e.authParam),
      ['pw'],
    );
  }),
);

// ---- keyboard-interactive: prompts chosen per round, zero prompts refused --------------------------

/** Decodes SSH_MSG_USERAUTH_INFO_REQUEST (RFC 4256 3.2). */
function infoRequest(payload: Buffer): { name: string; instructions: string; prompts: { prompt: string; echo: boolean }[] } {
  let p = 1;
  const str = () => {
    const len = payload.readUInt32BE(p);
    const s = payload.subarray(p + 4, p + 4 + len).toString();
    p += 4 + len;
    return s;
  };
  const name = str();
  const instructions = str();
  str(); // language tag
  const count = payload.readUInt32BE(p);
  p += 4;
  const prompts = [];
  for (let i = 0; i < count; i++) {
    const prompt = str();
    prompts.push({ prompt, echo: payload[p++] !== 0 });
  }
  return { name, instructions, prompts };
}

/** The handler pattern the docs showed: check each answer, accept the final event. */
function documentedKeyboardHandler(daemon: SSHDaemon, right: string[]): void {
  daemon.on('SSHUserAuthRequest', (e) => {
    const k = /^keyboard-interactive-(\d+)$/.exec(e.authMethod);
    if (k) e.accept = e.authParam === right[Number(k[1]) - 1];
    if (e.authMethod === 'keyboard-interactive') e.accept = true;
  });
}

test('keyboard-interactive with no prompts configured (the property default []) is refused: no INFO_REQUEST, no login', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.defaultAuthMethods = 'keyboard-interactive';
    assert.deepEqual(daemon.keyboardInteractivePrompts, []);
    const seen = recordAuth(daemon);
    documentedKeyboardHandler(daemon, ['secret']);
    await withRawClient(port, async (c) => {
      c.send(authPayload.keyboardInteractive(USER));
      await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'an empty round');
      c.send(authPayload.infoResponse([])); // the answer the old engine took for a login
      await expectReply(c, CAPTURED.UNIMPLEMENTED, 'an answer nobody asked for');
    });
    assert.deepEqual(seen, []);
  }),
);

test(
  'SSHUserAuthPrompt sets the round at the client request (no none probe needed); a wrong answer is refused, the right one logs in',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      daemon.defaultAuthMethods = 'keyboard-interactive';
      const rounds: [number, string][] = [];
      daemon.on('SSHUserAuthPrompt', (e) => {
        rounds.push([e.round, e.submethods]);
        if (e.round === 1) {
          e.prompts = [{ prompt: 'Password: ', echo: false }];
          e.instructions = `Hello ${e.user}`;
          e.name = 'Login';
        }
      });
      documentedKeyboardHandler(daemon, ['secret']);
      await withRawClient(port, async (c) => {
        c.send(authPayload.keyboardInteractive(USER, 'pam'));
        const info = infoRequest(await expectReply(c, CAPTURED.USERAUTH_60, 'INFO_REQUEST'));
        assert.deepEqual(info, { name: 'Login', instructions: `Hello ${USER}`, prompts: [{ prompt: 'Password: ', echo: false }] });
        c.send(authPayload.infoResponse(['wrong']));
        await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'wrong answer');
        c.send(authPayload.keyboardInteractive(USER));
        await expectReply(c, CAPTURED.USERAUTH_60, 'INFO_REQUEST again');
        c.send(authPayload.infoResponse(['secret', 'extra']));
        await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'two answers to one prompt');
        c.send(authPayload.keyboardInteractive(USER));
        await expectReply(c, CAPTURED.USERAUTH_60, 'INFO_REQUEST a third time');
        c.send(authPayload.infoResponse(['secret']));
        await expectReply(c, CAPTURED.USERAUTH_SUCCESS, 'right answer');
      });
      assert.deepEqual(
        rounds,
        [
          [1, 'pam'],
          [1, ''],
          [1, ''],
          [2, ''],
        ],
        'round 2 was offered after the accepted round, and left empty',
      );
    }),
);

test('zero prompts chosen explicitly send an instructions-only round; the final event decides', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.defaultAuthMethods = 'keyboard-interactive';
    daemon.keyboardInteractivePrompts = [{ prompt: 'Unused: ', echo: true }];
    daemon.on('SSHUserAuthPrompt', (e) => {
      if (e.round === 1) {
        e.prompts = [];
        e.instructions = 'Approve the login on your phone.';
      }
    });
    const methods: string[] = [];
    daemon.on('SSHUserAuthRequest', (e) => {
      methods.push(e.authMethod);
      e.accept = e.authMethod === 'keyboard-interactive';
    });
    await withRawClient(port, async (c) => {
      c.send(authPayload.keyboardInteractive(USER));
      assert.deepEqual(infoRequest(await expectReply(c, CAPTURED.USERAUTH_60, 'INFO_REQUEST')), {
        name: '',
        instructions: 'Approve the login on your phone.',
        prompts: [],
      });
      c.send(authPayload.infoResponse([]));
      await expectReply(c, CAPTURED.USERAUTH_SUCCESS, 'approved');
    });
    assert.deepEqual(methods, ['keyboard-interactive']);
  }),
);

test('a new request in the middle of a round ends it without counting a failure (RFC 4256, sshd auth2_challenge_stop)', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.config('MaxAuthAttempts=2');
    daemon.defaultAuthMethods = 'keyboard-interactive';
    daemon.keyboardInteractivePrompts = [{ prompt: 'Code: ', echo: false }];
    documentedKeyboardHandler(daemon, ['secret']);
    await withRawClient(port, async (c) => {
      for (let i = 0; i < 4; i++) {
        c.send(authPayload.keyboardInteractive(USER));
        await expectReply(c, CAPTURED.USERAUTH_60, `abandoned round ${i + 1}`);
      }
      c.send(authPayload.infoResponse(['wrong']));
      await expectReply(c, CAPTURED.USERAUTH_FAILURE, 'the first counted failure');
      c.send(authPayload.keyboardInteractive(USER));
      await expectReply(c, CAPTURED.USERAUTH_60, 'a fresh round');
      c.send(authPayload.infoResponse(['secret']));
      await expectReply(c, CAPTURED.USERAUTH_SUCCESS, 'still allowed: abandoned rounds did not count');
    });
  }),
);

// ---- re-keys before authentication ----------------------------------------------------------------

test(
  'a client re-key before authentication is refused as a protocol error (an adversarial review burned 10 s of server CPU in 15 s with group18 re-keys no connection limit saw); after login re-keys work',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'pw'));
      const kexes: string[] = [];
      daemon.on('SSHStatus', (e) => void (e.message.startsWith('Key exchange complete') && kexes.push(e.connectionId)));
      await withRawClient(port, async (c) => {
        (c.client as unknown as { _protocol: { rekey(): void } })._protocol.rekey();
        const reply = await c.next(10_000);
        assert.equal(reply?.type, CAPTURED.DISCONNECT, 'the second KEXINIT before login is answered with DISCONNECT');
        await until('the daemon ends the connection', () => c.serverEnded() || c.isClosed());
      });
      assert.ok(
        errors.some((e) => e.includes('key re-exchange before authentication refused')),
        errors.join('\n'),
      );
      assert.equal(kexes.length, 1, 'only the first key exchange ran');
      const { connect } = await import('./helpers-ssh2');
      const client = await connect(port, { password: 'pw' });
      (client as unknown as { _protocol: { rekey(): void } })._protocol.rekey();
      await until('the logged-in client re-keyed', () => kexes.filter((id) => id !== kexes[0]).length === 2);
      client.end();
    }),
);
