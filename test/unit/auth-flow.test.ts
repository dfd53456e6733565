// AuthFlow alone: the raw USERAUTH payloads a client would send, a recording stand-in for the
// engine's replies and a named fake host (no socket, no ssh2 transport). What it proves, each in
// milliseconds: nothing is evaluated before ssh-userauth is accepted (UNIMPLEMENTED); an initial
// 'none' is answered with the methods and not counted; an accepted request logs in after the
// ssh-connection service check; what a handler writes to availableMethods is the list sent (and a
// method off the list is refused without an event); partial success answers FAILURE with
// partial=true and the next step logs in; MaxAuthAttempts refusals disconnect (Error 1010) and
// nothing after is evaluated; a publickey query gets PK_OK and cannot change the method list, a
// signed request logs in, a bad signature is refused before any handler (Error 1011);
// keyboard-interactive rounds (prompts, one event per answer, a second round, a wrong answer count,
// a stray INFO_RESPONSE); a change of user and a flood of requests sent ahead are protocol errors.
// Real clients: auth-flow, auth-attacks, auth-reference.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { type AuthHost, AuthFlow } from '../../src/auth/AuthFlow';
import type { UserAuthReplies } from '../../src/engine/EngineWire';
import { ErrorCodes } from '../../src/errors/SSHDaemonError';
import type { SSHUserAuthRequestEventArgs } from '../../src/events/events';
import { EventHub } from '../../src/events/EventHub';
import type { KeyboardInteractivePrompt } from '../../src/packet/keyboardPrompts';
import { encodeString } from '../../src/packet/wire';
import { ConnectionRecord } from '../../src/registry/ConnectionRecord';
import { authPayload, sshSignature } from '../fixtures/rawAuth';

/** Every reply the flow sends, as text, in order. */
class RecordingReplies implements UserAuthReplies {
  readonly sent: string[] = [];
  readonly id = Buffer.alloc(32, 7);
  sessionId(): Buffer {
    return this.id;
  }
  failure(methods: readonly string[], partialSuccess: boolean): void {
    this.sent.push(`failure ${methods.join(',')}${partialSuccess ? ' partial' : ''}`);
  }
  success(): void {
    this.sent.push('success');
  }
  pkOk(algorithm: string): void {
    this.sent.push(`pk-ok ${algorithm}`);
  }
  infoRequest(_name: string, _instructions: string, prompts: readonly KeyboardInteractivePrompt[]): void {
    this.sent.push(`info-request ${prompts.map((p) => p.prompt).join('|')}`);
  }
  unimplemented(seqno: number): void {
    this.sent.push(`unimplemented ${seqno}`);
  }
}

class FakeAuthHost implements AuthHost {
  readonly hub = new EventHub();
  readonly calls: string[] = [];
  readonly errors: number[] = [];
  methods = ['password', 'publickey', 'keyboard-interactive'];
  attempts = 6;
  prompts: KeyboardInteractivePrompt[] = [{ prompt: 'Code: ', echo: false }];
  constructor() {
    this.hub.on('Error', (e) => this.errors.push(e.errorCode));
  }
  defaultAuthMethods(): string[] {
    return [...this.methods];
  }
  maxAuthAttempts(): number {
    return this.attempts;
  }
  allowedSignatureAlgorithms(): string[] {
    return ['ssh-ed25519', 'rsa-sha2-256', 'rsa-sha2-512'];
  }
  requiredRsaBits(): number {
    return 2048;
  }
  trustedUserCAs(): Buffer[] {
    return [];
  }
  keyboardPrompts(): KeyboardInteractivePrompt[] {
    return this.prompts;
  }
  keyboardMessage(): string {
    return '';
  }
  flushBanner(): void {}
  serviceRequested(_conn: ConnectionRecord, service: string): boolean {
    this.calls.push(`service ${service}`);
    return true;
  }
  ended(conn: ConnectionRecord): boolean {
    return conn.closed;
  }
  tooManyFailures(conn: ConnectionRecord): void {
    this.calls.push('too-many-failures');
    conn.closed = true;
  }
  serviceNotAvailable(_conn: ConnectionRecord, description: string): void {
    this.calls.push(`service-not-available ${description}`);
  }
  protocolError(_conn: ConnectionRecord, description: string): void {
    this.calls.push(`protocol-error ${description}`);
  }
  authenticated(conn: ConnectionRecord, user: string): void {
    conn.authenticated = true;
    this.calls.push(`authenticated ${user}`);
  }
}

function flow(configure: (host: FakeAuthHost) => void = () => undefined, accepted = true) {
  const socket = Object.assign(new EventEmitter(), { writableLength: 0, bytesRead: 0, bytesWritten: 0 }) as unknown as Socket;
  const conn = new ConnectionRecord('c1', socket, '127.0.0.1', 1, '127.0.0.1', 0);
  const host = new FakeAuthHost();
  configure(host);
  const replies = new RecordingReplies();
  const auth = new AuthFlow(conn, host, replies);
  const events: SSHUserAuthRequestEventArgs[] = [];
  host.hub.on('SSHUserAuthRequest', (e) => void events.push({ ...e }));
  let seq = 10;
  if (accepted) auth.serviceRequest('ssh-userauth', () => host.calls.push('service-accept'));
  const send = (payload: Buffer) => auth.request(payload, seq++);
  return { conn, host, replies, auth, events, send };
}

/** An ed25519 key as SSH wants it: the key blob, and a signer for RFC 4252 7 data. */
function ed25519(): { blob: Buffer; sign: (data: Buffer) => Buffer; key: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return {
    blob: Buffer.concat([encodeString('ssh-ed25519'), encodeString(raw)]),
    sign: sshSignature(privateKey, 'ssh-ed25519', null),
    key: privateKey,
  };
}

test('before ssh-userauth is accepted a request is answered UNIMPLEMENTED and not evaluated', () => {
  const { auth, replies, events, host } = flow(undefined, false);
  auth.request(authPayload.password('u', 'p'), 3);
  assert.deepEqual(replies.sent, ['unimplemented 3']);
  assert.equal(events.length, 0);
  auth.serviceRequest('ssh-userauth', () => host.calls.push('service-accept'));
  assert.deepEqual(host.calls, ['service ssh-userauth', 'service-accept']);
});

test("an initial 'none' gets the method list and does not count; an accepted password logs in after the service check", () => {
  const { send, replies, conn, host, events } = flow();
  send(authPayload.none('alice'));
  assert.deepEqual(replies.sent, ['failure password,publickey,keyboard-interactive']);
  assert.equal(conn.authFailures, 0);
  host.hub.on('SSHUserAuthRequest', (e) => {
    if (e.authMethod === 'password') e.accept = e.authParam === 'secret';
  });
  send(authPayload.password('alice', 'wrong'));
  assert.equal(conn.authFailures, 1);
  send(authPayload.password('alice', 'secret'));
  assert.deepEqual(replies.sent.slice(1), ['failure password,publickey,keyboard-interactive', 'success']);
  assert.deepEqual(host.calls.slice(-2), ['service ssh-connection', 'authenticated alice']);
  assert.deepEqual(
    events.map((e) => [e.authMethod, e.authParam, e.user]),
    [
      ['none', '', 'alice'],
      ['password', 'wrong', 'alice'],
      ['password', 'secret', 'alice'],
    ],
  );
  send(authPayload.password('alice', 'secret'));
  assert.equal(replies.sent.length, 3, 'nothing is evaluated once authenticated');
});

test("a handler's availableMethods is the list sent; a method off the list is refused without an event", () => {
  const { send, replies, host, events } = flow();
  host.hub.on('SSHUserAuthRequest', (e) => void (e.availableMethods = 'publickey'));
  send(authPayload.password('bob', 'x'));
  assert.deepEqual(replies.sent, ['failure publickey']);
  send(authPayload.password('bob', 'x'));
  assert.equal(events.length, 1, 'password is no longer offered: no event');
  assert.deepEqual(replies.sent, ['failure publickey', 'failure publickey']);
});

test('partial success answers FAILURE with partial=true and the methods left; the next step logs in', () => {
  const { send, replies, host, conn, auth } = flow();
  host.hub.on('SSHUserAuthRequest', (e) => {
    if (e.authMethod === 'password') {
      e.accept = true;
      e.partialSuccess = true;
      e.availableMethods = 'keyboard-interactive';
    }
    if (e.authMethod.startsWith('keyboard-interactive')) e.accept = e.authParam === '' || e.authParam === '123456';
  });
  send(authPayload.password('carol', 'pw'));
  assert.deepEqual(replies.sent, ['failure keyboard-interactive partial']);
  assert.equal(conn.authenticated, false);
  send(authPayload.keyboardInteractive('carol'));
  assert.deepEqual(replies.sent.slice(1), ['info-request Code: ']);
  auth.infoResponse(authPayload.infoResponse(['123456']), 30);
  assert.deepEqual(replies.sent.slice(2), ['success']);
  assert.equal(conn.authenticated, true);
});

test('MaxAuthAttempts: the refusal that reaches it disconnects with Error 1010; later requests are not evaluated', () => {
  const { send, replies, host, events, conn } = flow((h) => (h.attempts = 3));
  for (let i = 0; i < 5; i++) send(authPayload.password('mallory', `guess${i}`));
  assert.deepEqual(replies.sent, ['failure password,publickey,keyboard-interactive', 'failure password,publickey,keyboard-interactive']);
  assert.deepEqual(host.calls.slice(-1), ['too-many-failures']);
  assert.deepEqual(host.errors, [ErrorCodes.AuthAttemptsExceeded]);
  assert.equal(events.length, 3);
  assert.equal(conn.authFailures, 3);
});

test('publickey: a query gets PK_OK and cannot change the methods; a signed request logs in; a bad signature never reaches a handler', () => {
  const key = ed25519();
  const { send, replies, host, events, conn } = flow();
  host.hub.on('SSHUserAuthRequest', (e) => {
    if (e.authMethod !== 'publickey') return;
    e.accept = e.authParam === key.blob.toString('base64');
    e.availableMethods = 'password'; // discarded for a query
  });
  send(authPayload.query('dave', 'ssh-ed25519', key.blob));
  assert.deepEqual(replies.sent, ['pk-ok ssh-ed25519']);
  assert.equal(events[0].isQuery, true);
  assert.equal(conn.authenticated, false);
  assert.equal(conn.authFailures, 0);

  const other = ed25519();
  send(authPayload.signed(replies.id, 'dave', 'ssh-ed25519', key.blob, other.sign));
  assert.deepEqual(host.errors, [ErrorCodes.SignatureInvalid]);
  assert.equal(events.length, 1, 'a signature by another key fires no SSHUserAuthRequest');
  assert.deepEqual(replies.sent.slice(1), ['failure password,publickey,keyboard-interactive'], "the query's method change was discarded");

  send(authPayload.signed(replies.id, 'dave', 'ssh-ed25519', key.blob, key.sign));
  assert.equal(events[1].isQuery, false);
  assert.deepEqual(replies.sent.slice(2), ['success']);
  assert.equal(conn.authenticated, true);
});

test('publickey: a signature over another session id, or an algorithm not allowed, is refused', () => {
  const key = ed25519();
  const { send, replies, host, events } = flow((h) => (h.allowedSignatureAlgorithms = () => ['rsa-sha2-256']));
  host.hub.on('SSHUserAuthRequest', (e) => void (e.accept = true));
  send(authPayload.query('erin', 'ssh-ed25519', key.blob));
  assert.equal(events.length, 0, 'ssh-ed25519 is not in SSHPubKeyAuthSigAlgorithms');
  assert.equal(replies.sent.length, 1);
  assert.match(replies.sent[0], /^failure /);

  const allowed = flow();
  allowed.host.hub.on('SSHUserAuthRequest', (e) => void (e.accept = true));
  allowed.send(authPayload.signed(Buffer.alloc(32, 1), 'erin', 'ssh-ed25519', key.blob, key.sign));
  assert.deepEqual(allowed.host.errors, [ErrorCodes.SignatureInvalid]);
  assert.match(allowed.replies.sent[0], /^failure /);
});

test('keyboard-interactive: prompts, one event per answer then the whole, a second round, and the login when no prompts remain', async () => {
  const { send, replies, host, auth, events, conn } = flow();
  const rounds: number[] = [];
  host.hub.on('SSHUserAuthPrompt', (e) => {
    rounds.push(e.round);
    if (e.round === 2) e.prompts = [{ prompt: 'PIN: ', echo: false }];
  });
  host.hub.on('SSHUserAuthRequest', (e) => void (e.accept = true));
  send(authPayload.keyboardInteractive('frank'));
  assert.deepEqual(replies.sent, ['info-request Code: ']);
  auth.infoResponse(authPayload.infoResponse(['123456']), 20);
  assert.deepEqual(replies.sent.slice(1), ['info-request PIN: ']);
  assert.deepEqual(
    events.map((e) => [e.authMethod, e.authParam]),
    [
      ['keyboard-interactive-1', '123456'],
      ['keyboard-interactive', ''],
    ],
  );
  auth.infoResponse(authPayload.infoResponse(['0000']), 21);
  assert.deepEqual(rounds, [1, 2, 3]);
  assert.deepEqual(replies.sent.slice(2), ['success'], 'round 3 has no prompts: the exchange ends with the login');
  assert.equal(conn.authenticated, true);
});

test('keyboard-interactive: a refused answer, a wrong answer count and a stray INFO_RESPONSE', () => {
  const { send, replies, host, auth, conn } = flow();
  host.hub.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'right'));
  auth.infoResponse(authPayload.infoResponse(['x']), 5);
  assert.deepEqual(replies.sent, ['unimplemented 5'], 'no INFO_REQUEST is out');
  send(authPayload.keyboardInteractive('gina'));
  auth.infoResponse(authPayload.infoResponse(['wrong']), 6);
  assert.deepEqual(replies.sent.slice(1), ['info-request Code: ', 'failure password,publickey,keyboard-interactive']);
  send(authPayload.keyboardInteractive('gina'));
  auth.infoResponse(authPayload.infoResponse(['right', 'extra']), 7);
  assert.deepEqual(replies.sent.slice(3), ['info-request Code: ', 'failure password,publickey,keyboard-interactive']);
  assert.equal(conn.authFailures, 2);
  assert.equal(conn.authenticated, false);

  const none = flow((h) => (h.prompts = []));
  none.send(authPayload.keyboardInteractive('gina'));
  assert.deepEqual(none.replies.sent, ['failure password,publickey,keyboard-interactive'], 'no prompts configured: refused');
});

test('a change of user, and more than 10 requests sent ahead of an undecided one, are protocol errors', async () => {
  const { send, host } = flow();
  send(authPayload.password('henry', 'a'));
  send(authPayload.password('ivan', 'a'));
  assert.match(host.calls.at(-1)!, /^protocol-error Change of username or service not allowed/);

  const slow = flow();
  let decide!: () => void;
  slow.host.hub.on('SSHUserAuthRequest', () => new Promise<void>((resolve) => (decide = resolve)));
  for (let i = 0; i < 11; i++) slow.send(authPayload.password('judy', `p${i}`));
  assert.deepEqual(slow.host.calls.slice(-1), ['service-accept'], 'ten wait behind the first');
  assert.equal(slow.events.length, 1);
  slow.send(authPayload.password('judy', 'p11'));
  assert.match(slow.host.calls.at(-1)!, /^protocol-error more than 10 authentication requests/);
  decide();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(slow.events.length, 1, 'nothing queued is evaluated after the violation');
});
