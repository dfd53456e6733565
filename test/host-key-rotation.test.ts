// OpenSSH's host-key rotation extension (hostkeys-00@openssh.com / hostkeys-prove-00@openssh.com,
// PROTOCOL 2.5), server side: OpenSSH 9.2 and 10.0 with UpdateHostKeys=yes learn the daemon's second
// host key in one login, then log in without a warning once the first key is retired; ssh2's client
// verifies the proofs itself; hostile prove requests (unknown, repeated or too many keys, malformed,
// before authentication, more requests than allowed) are refused without signing, and replies
// keep the request order.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from 'ssh2';
import { checkSshSignature } from '../src/certs/sshSignature';
import { clientTakesHostKeys, proofRsaAlgorithm } from '../src/server/hostKeyRotation';
import { encodeString, encodeUint32, WireReader } from '../src/packet/wire';
import { testEachSet, type ClientSet } from './fixtures/clientSets';
import { certificateLab, type CertificateLab, type KeyFiles, sshStrictLogin } from './fixtures/hostCertificates';
import { sendClientPayload } from './fixtures/net';
import { CAPTURED, withRawClient } from './fixtures/rawAuth';
import { makeUserKey, PASSWORD, registryDrained, startTestServer, USER, type TestServer } from './fixtures/testServer';
import { startSshd } from './fixtures/sshdReference';
import { exec } from './helpers-ssh2';
import { until } from './fixtures/wait';

let lab: CertificateLab;
let keyA: KeyFiles;
let keyB: KeyFiles;
let keyRsa: KeyFiles;
let stranger: KeyFiles;

before(async () => {
  lab = certificateLab();
  [keyA, keyB, keyRsa, stranger] = await Promise.all([lab.key('rot-a'), lab.key('rot-b'), lab.key('rot-rsa', 'rsa'), lab.key('stranger')]);
});
after(() => lab?.remove());

/** A test daemon with `primary` as SSHCert and `alternatives` as AltSSHCertStore[i]. */
async function rotationDaemon(primary: KeyFiles, alternatives: KeyFiles[], opts: { port?: number; userKey?: TestServer['userKey'] } = {}) {
  const server = await startTestServer({ hostKey: primary.certificate, port: opts.port, userKey: opts.userKey });
  server.daemon.config(`AltSSHCertCount=${alternatives.length}`);
  alternatives.forEach((k, i) => server.daemon.config(`AltSSHCertStore[${i}]=${k.path}`));
  return server;
}

/** The `type base64` of every key line of a known_hosts file. */
function knownKeys(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => l.trim().split(/\s+/).slice(1, 3).join(' '))
    .sort();
}
const typeAndBlob = (k: KeyFiles) => k.publicLine.split(' ').slice(0, 2).join(' ');

function sshWithUpdateHostKeys(clients: ClientSet, port: number, knownHosts: string, keyPath: string) {
  return sshStrictLogin(clients, port, USER, knownHosts, keyPath, { updateHostKeys: true });
}

testEachSet(
  'OpenSSH UpdateHostKeys=yes learns the second host key, then logs in after the first is retired',
  { timeout: 180_000 },
  async (clients) => {
    const first = await rotationDaemon(keyA, [keyB]);
    const port = first.port;
    const knownHosts = join(lab.dir, `known_hosts-rotation-${clients.name}`);
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${typeAndBlob(keyA)}\n`);
    try {
      const r = await sshWithUpdateHostKeys(clients, port, knownHosts, first.userKey.privateKeyPath);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'ok\n');
      // The client proved and recorded the daemon's second key next to the first.
      assert.deepEqual(knownKeys(knownHosts), [typeAndBlob(keyA), typeAndBlob(keyB)].sort());
      await registryDrained(first.daemon);
    } finally {
      await first.close();
    }
    // The old key retired: the daemon restarts on the same port with only the new key.
    const second = await rotationDaemon(keyB, [], { port, userKey: first.userKey });
    try {
      const r = await sshWithUpdateHostKeys(clients, port, knownHosts, second.userKey.privateKeyPath);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'ok\n');
      assert.doesNotMatch(r.stderr, /WARNING|IDENTIFICATION HAS CHANGED|verification failed|Offending/i);
      // hostkeys-00 now lists only the new key: the client drops the retired one.
      assert.deepEqual(knownKeys(knownHosts), [typeAndBlob(keyB)]);
      await registryDrained(second.daemon);
    } finally {
      await second.close();
    }
  },
);

// ---- in-process ssh2 clients -----------------------------------------------------------------------

test("ssh2's client verifies the daemon's proofs for an Ed25519 and an RSA key", { timeout: 60_000 }, async () => {
  const server = await rotationDaemon(keyA, [keyRsa]);
  const c = new Client();
  try {
    const keys = new Promise<Buffer[]>((resolve) =>
      c.on('hostkeys', (ks: { getPublicSSH(): Buffer }[]) => resolve(ks.map((k) => k.getPublicSSH()))),
    );
    c.on('error', () => undefined);
    // strictVendor off: ssh2 proves only for servers whose identification says OpenSSH.
    c.connect({ host: '127.0.0.1', port: server.port, username: USER, password: PASSWORD, readyTimeout: 30_000, strictVendor: false });
    assert.deepEqual(await keys, [keyA.certificate.publicKeyBlob, keyRsa.certificate.publicKeyBlob]);
  } finally {
    c.end();
    await registryDrained(server.daemon);
    await server.close();
  }
});

interface ProvingClient {
  client: Client;
  /** The key blobs of every hostkeys-00@openssh.com received. */
  announcements: Buffer[][];
  /** REQUEST_SUCCESS (data) or REQUEST_FAILURE (false) replies, in order. */
  replies: (Buffer | false)[];
  sessionId: Buffer;
  /** Sends GLOBAL_REQUEST hostkeys-prove-00@openssh.com with `body` (the key strings) as is. */
  prove(body: Buffer, wantReply?: boolean): void;
  /** The next reply (waits for it). */
  reply(): Promise<Buffer | false>;
}

/** An authenticated ssh2 client whose global-request handling is the test's: it proves nothing by itself. */
async function provingClient(
  port: number,
  ident?: string,
  auth: { username: string; password?: string; privateKey?: string } = { username: USER, password: PASSWORD },
): Promise<ProvingClient> {
  const client = new Client();
  const announcements: Buffer[][] = [];
  const replies: (Buffer | false)[] = [];
  let read = 0;
  client.on('error', () => undefined);
  const ready = new Promise<void>((resolve, reject) => {
    client.once('close', () => reject(new Error('closed before ready')));
    client.on('ready', () => {
      // Synchronously on USERAUTH_SUCCESS: the hostkeys-00 after it is parsed from the same chunk.
      const handlers = (client as unknown as { _protocol: { _handlers: Record<string, unknown> } })._protocol._handlers;
      handlers.GLOBAL_REQUEST = (_p: unknown, name: string, _want: boolean, data: { getPublicSSH(): Buffer }[]) => {
        if (name === 'hostkeys-00@openssh.com') announcements.push(data.map((k) => k.getPublicSSH()));
      };
      handlers.REQUEST_SUCCESS = (_p: unknown, data: Buffer | null) => void replies.push(data ?? Buffer.alloc(0));
      handlers.REQUEST_FAILURE = () => void replies.push(false);
      resolve();
    });
  });
  client.connect({ host: '127.0.0.1', port, readyTimeout: 30_000, ...auth, ...(ident ? { ident } : {}) });
  await ready;
  const sessionId = Buffer.from((client as unknown as { _protocol: { _kex: { sessionID: Buffer } } })._protocol._kex.sessionID);
  return {
    client,
    announcements,
    replies,
    sessionId,
    prove: (body, wantReply = true) =>
      sendClientPayload(
        client,
        Buffer.concat([Buffer.from([80]), encodeString('hostkeys-prove-00@openssh.com'), Buffer.from([wantReply ? 1 : 0]), body]),
      ),
    reply: async () => {
      await until('a global request reply', () => replies.length > read, 30_000);
      return replies[read++];
    },
  };
}

const keyList = (...keys: KeyFiles[]) => Buffer.concat(keys.map((k) => encodeString(k.certificate.publicKeyBlob)));

/** Checks a REQUEST_SUCCESS body: one signature per key, over PROTOCOL 2.5's data, with the expected algorithms. */
function assertProofs(reply: Buffer | false, sessionId: Buffer, expected: [KeyFiles, string][]): void {
  assert.ok(reply, 'expected REQUEST_SUCCESS');
  const r = new WireReader(reply);
  for (const [key, algorithm] of expected) {
    const blob = key.certificate.publicKeyBlob;
    const signed = Buffer.concat([encodeString('hostkeys-prove-00@openssh.com'), encodeString(sessionId), encodeString(blob)]);
    const check = checkSshSignature(blob, signed, r.bytes(), { expectedAlgorithm: algorithm });
    assert.ok(check.ok, check.ok ? '' : check.reason);
  }
  assert.equal(r.remaining, 0, 'one signature per key, nothing after');
}

describe('hostkeys-prove-00@openssh.com from a hostile client', { timeout: 120_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await rotationDaemon(keyA, [keyRsa]);
  });
  after(async () => {
    await registryDrained(server.daemon);
    await server.close();
  });

  test('the announcement lists every host key; only requests naming our keys, each once, are proved', async () => {
    const c = await provingClient(server.port);
    try {
      await until('hostkeys-00@openssh.com', () => c.announcements.length === 1);
      assert.deepEqual(c.announcements[0], [keyA.certificate.publicKeyBlob, keyRsa.certificate.publicKeyBlob]);
      c.prove(keyList(keyA, keyRsa));
      // RSA: the client's KEXINIT lists rsa-sha2-512 (the key exchange used Ed25519), as sshd picks.
      assertProofs(await c.reply(), c.sessionId, [
        [keyA, 'ssh-ed25519'],
        [keyRsa, 'rsa-sha2-512'],
      ]);
      c.prove(keyList(stranger));
      assert.equal(await c.reply(), false, 'a key that is not ours');
      c.prove(keyList(keyA, keyA));
      assert.equal(await c.reply(), false, 'a key named twice');
      c.prove(keyList(keyA, keyRsa, stranger));
      assert.equal(await c.reply(), false, 'more keys than loaded');
      assert.equal((await exec(c.client, 'echo alive')).stdout, 'alive\n');
    } finally {
      c.client.end();
    }
  });

  test('malformed, unanswered and surplus requests; replies stay in request order', async () => {
    const c = await provingClient(server.port);
    try {
      c.prove(Buffer.concat([encodeUint32(100), Buffer.from('short')]));
      assert.equal(await c.reply(), false, 'a truncated key string');
      // A forwarding request whose refusal is decided asynchronously, then a proof: answered in that order.
      sendClientPayload(
        c.client,
        Buffer.concat([Buffer.from([80]), encodeString('tcpip-forward'), Buffer.from([1]), encodeString('127.0.0.1'), encodeUint32(0)]),
      );
      c.prove(keyList(keyA));
      assert.equal(await c.reply(), false, 'the tcpip-forward reply first');
      assertProofs(await c.reply(), c.sessionId, [[keyA, 'ssh-ed25519']]);
      // want-reply false: nothing comes back, nothing is counted.
      c.prove(keyList(keyA), false);
      c.prove(keyList(keyRsa));
      assertProofs(await c.reply(), c.sessionId, [[keyRsa, 'rsa-sha2-512']]);
      c.prove(keyList(keyA));
      assertProofs(await c.reply(), c.sessionId, [[keyA, 'ssh-ed25519']]);
      // Four answered (MAX_PROVE_REQUESTS): the rest of this connection's requests fail without signing.
      for (let i = 0; i < 3; i++) {
        c.prove(keyList(keyA));
        assert.equal(await c.reply(), false, `surplus request ${i + 1}`);
      }
      assert.equal((await exec(c.client, 'echo alive')).stdout, 'alive\n');
      assert.equal(c.replies.length, 8);
    } finally {
      c.client.end();
    }
  });

  test('before authentication a prove request is refused', async () => {
    await withRawClient(server.port, async (raw) => {
      raw.send(Buffer.concat([Buffer.from([80]), encodeString('hostkeys-prove-00@openssh.com'), Buffer.from([1]), keyList(keyA)]));
      const reply = await raw.next();
      assert.equal(reply?.type, CAPTURED.REQUEST_FAILURE);
    });
  });
});

test('OpenSSH sshd answers the same requests the same way (the reference)', { timeout: 120_000 }, async () => {
  const userKey = makeUserKey('ed25519');
  const server = await rotationDaemon(keyA, [keyRsa], { userKey });
  // sshd's own throwaway Ed25519 key comes first, then ours: the RSA key is the one both prove.
  const sshd = await startSshd([userKey.publicKeyOpenSSH], [`HostKey ${keyRsa.path}`]);
  try {
    const outcomes = async (c: ProvingClient) => {
      await until('hostkeys-00@openssh.com', () => c.announcements.length === 1);
      const out: string[] = [];
      c.prove(keyList(keyRsa));
      const proof = await c.reply();
      assertProofs(proof, c.sessionId, [[keyRsa, 'rsa-sha2-512']]);
      out.push('rsa proved with rsa-sha2-512');
      c.prove(keyList(stranger));
      out.push(`stranger: ${(await c.reply()) === false ? 'REQUEST_FAILURE' : 'REQUEST_SUCCESS'}`);
      c.prove(keyList(keyRsa, stranger));
      out.push(`ours then a stranger: ${(await c.reply()) === false ? 'REQUEST_FAILURE' : 'REQUEST_SUCCESS'}`);
      c.prove(Buffer.alloc(0));
      out.push(`no keys: ${JSON.stringify(await c.reply())}`);
      out.push(
        `announced ${c.announcements[0].length} keys, RSA among them: ${c.announcements[0].some((b) => b.equals(keyRsa.certificate.publicKeyBlob))}`,
      );
      return out;
    };
    const ours = await provingClient(server.port, undefined, { username: USER, privateKey: userKey.privateKeyText });
    const theirs = await provingClient(sshd.port, undefined, { username: sshd.user, privateKey: userKey.privateKeyText });
    try {
      assert.deepEqual(await outcomes(ours), await outcomes(theirs));
    } finally {
      ours.client.end();
      theirs.client.end();
    }
    await registryDrained(server.daemon);
  } finally {
    await sshd.stop();
    await server.close();
  }
});

test('UpdateHostKeys=false: no announcement, and prove requests fail', { timeout: 60_000 }, async () => {
  const server = await rotationDaemon(keyA, [keyB]);
  server.daemon.config('UpdateHostKeys=false');
  const c = await provingClient(server.port);
  try {
    c.prove(keyList(keyA));
    assert.equal(await c.reply(), false);
    // The exec round trip comes after where an announcement would have been.
    assert.equal((await exec(c.client, 'echo alive')).stdout, 'alive\n');
    assert.deepEqual(c.announcements, []);
  } finally {
    c.client.end();
    await registryDrained(server.daemon);
    await server.close();
  }
});

test('clients OpenSSH flags SSH_BUG_HOSTKEYS get no announcement (compat.c)', { timeout: 60_000 }, async () => {
  assert.equal(clientTakesHostKeys('SSH-2.0-OpenSSH_9.2p1 Debian-2'), true);
  assert.equal(clientTakesHostKeys('SSH-2.0-TTSSH/2.72 Win32'), false);
  assert.equal(clientTakesHostKeys('SSH-2.0-TTSSH/2.73 Win32'), true);
  assert.equal(clientTakesHostKeys('SSH-2.0-Cisco-1.25'), false);
  const server = await rotationDaemon(keyA, [keyB]);
  const c = await provingClient(server.port, 'TTSSH/2.72 Win32');
  try {
    assert.equal((await exec(c.client, 'echo alive')).stdout, 'alive\n');
    assert.deepEqual(c.announcements, []);
  } finally {
    c.client.end();
    await registryDrained(server.daemon);
    await server.close();
  }
});

test('the RSA proof algorithm follows sshd (server_input_hostkeys_prove)', () => {
  assert.equal(proofRsaAlgorithm('rsa-sha2-256', ['rsa-sha2-512']), 'rsa-sha2-256');
  assert.equal(proofRsaAlgorithm('rsa-sha2-512-cert-v01@openssh.com', []), 'rsa-sha2-512');
  assert.equal(proofRsaAlgorithm('ssh-ed25519', ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256']), 'rsa-sha2-512');
  assert.equal(proofRsaAlgorithm('ssh-ed25519', ['rsa-sha2-256-cert-v01@openssh.com']), 'rsa-sha2-256');
  assert.equal(proofRsaAlgorithm('ssh-ed25519', ['ssh-ed25519']), 'ssh-rsa');
});
