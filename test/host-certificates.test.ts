// OpenSSH host certificates (SSHCertCertificate, AltSSHCertCertificate[i]) with real clients:
// OpenSSH 9.2 and 10.0 and AsyncSSH 2.10 and 2.20 trust the daemon through `@cert-authority` in
// known_hosts alone (StrictHostKeyChecking=yes) and refuse a certificate that is expired, for
// another name or signed by another CA. Each OpenSSH case also runs against OpenSSH's sshd with the
// same key and HostCertificate, and the client must see the same thing. Load-time checks: the
// daemon refuses to listen with a certificate no client would accept.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Certificate, ErrorCodes, SSHDaemon, SSHDaemonError } from '../src';
import { parseOpenSSHCertificateText } from '../src/certs/openSSHCertificate';
import { sshSign } from '../src/certs/sshSign';
import { encodeString } from '../src/packet/wire';
import { CLIENT_SETS, DEBIAN12, type ClientSet } from './fixtures/clientSets';
import { certificateLab, type CertificateLab, type KeyFiles, sshStrictLogin } from './fixtures/hostCertificates';
import { runPythonJson } from './fixtures/interop';
import { startSshd } from './fixtures/sshdReference';
import { patternBytes, registryDrained, startTestServer, USER, type TestServer } from './fixtures/testServer';
import { until } from './fixtures/wait';

let lab: CertificateLab;
let ca: KeyFiles;
let otherCa: KeyFiles;
let hostEd: KeyFiles;
let hostRsa: KeyFiles;
let hostEcdsa: KeyFiles;
const certs: Record<string, string> = {};

before(async () => {
  lab = certificateLab();
  [ca, otherCa, hostEd, hostRsa, hostEcdsa] = await Promise.all([
    lab.key('ca'),
    lab.key('other-ca'),
    lab.key('host-ed'),
    lab.key('host-rsa', 'rsa'),
    lab.key('host-ecdsa', 'ecdsa'),
  ]);
  certs.good = await lab.sign(ca, hostEd, 'good');
  certs.goodRsa = await lab.sign(ca, hostRsa, 'good-rsa');
  certs.goodEcdsa = await lab.sign(ca, hostEcdsa, 'good-ecdsa');
  certs.otherName = await lab.sign(ca, hostEd, 'other-name', { principals: 'other.example' });
  certs.otherCa = await lab.sign(otherCa, hostEd, 'other-ca');
});
after(() => lab?.remove());

/** A test daemon (user `tester`, its key, exec `echo`) serving `key` with certificate `cert`; the host key algorithms negotiated are kept. */
async function certDaemon(key: KeyFiles, cert: string): Promise<TestServer & { hostKeyAlgorithms: string[] }> {
  const server = await startTestServer({
    authMethods: 'publickey',
    hostKey: key.certificate,
    configure: (d) => {
      d.config(`SSHCertCertificate=${cert}`);
      // ECDSA host keys are offered only when listed (docs/security.md).
      if (key.certificate.keyType.startsWith('ecdsa'))
        d.config('SSHPublicKeyAlgorithms=ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256');
    },
  });
  const hostKeyAlgorithms: string[] = [];
  server.daemon.on('SSHStatus', (e) => {
    const m = /hostkey=([^,]+)/.exec(e.message);
    if (m) hostKeyAlgorithms.push(m[1]);
  });
  return Object.assign(server, { hostKeyAlgorithms });
}

/** known_hosts with one `@cert-authority` line for 127.0.0.1 on `port`, and nothing else. */
function caKnownHosts(name: string, port: number, authority: KeyFiles = ca): string {
  const path = join(lab.dir, `known_hosts-${name}-${port}`);
  writeFileSync(path, `@cert-authority [127.0.0.1]:${port} ${authority.publicLine}\n`);
  return path;
}

/** OpenSSH `ssh` with only the known_hosts file, StrictHostKeyChecking=yes, key authentication, `echo ok`. */
function sshLogin(clients: ClientSet, port: number, user: string, knownHosts: string, keyPath: string, extra: string[] = []) {
  return sshStrictLogin(clients, port, user, knownHosts, keyPath, { extra });
}

/** What the client said about the host key, with the port written as PORT (to compare two servers). */
function hostKeyVerdict(stderr: string): string[] {
  return [
    ...stderr.matchAll(
      /Certificate invalid[^\r\n]*|Host key verification failed\.|No [A-Z0-9-]+ host key is known for[^\r\n]*|[^\r\n]*host key[^\r\n]*mismatch[^\r\n]*/g,
    ),
  ]
    .map((m) => m[0].replace(/\[127\.0\.0\.1\]:\d+/g, '[127.0.0.1]:PORT').trim())
    .sort();
}

interface Case {
  name: string;
  key: () => KeyFiles;
  cert: () => string;
  accepted: boolean;
  /** The client's HostKeyAlgorithms, when the case needs one. */
  algorithms?: string;
  /** The certificate algorithm the daemon must have served when accepted. */
  served?: string;
  /** The client's reason, when refused. */
  refusal?: RegExp;
}

const CASES: Case[] = [
  {
    name: 'Ed25519 host certificate',
    key: () => hostEd,
    cert: () => certs.good,
    accepted: true,
    served: 'ssh-ed25519-cert-v01@openssh.com',
  },
  {
    name: 'ECDSA P-256 host certificate',
    key: () => hostEcdsa,
    cert: () => certs.goodEcdsa,
    accepted: true,
    served: 'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  },
  {
    name: 'RSA host certificate with rsa-sha2-512',
    key: () => hostRsa,
    cert: () => certs.goodRsa,
    accepted: true,
    algorithms: 'rsa-sha2-512-cert-v01@openssh.com',
    served: 'rsa-sha2-512-cert-v01@openssh.com',
  },
  {
    name: 'RSA host certificate with rsa-sha2-256',
    key: () => hostRsa,
    cert: () => certs.goodRsa,
    accepted: true,
    algorithms: 'rsa-sha2-256-cert-v01@openssh.com',
    served: 'rsa-sha2-256-cert-v01@openssh.com',
  },
  {
    name: 'certificate for another name',
    key: () => hostEd,
    cert: () => certs.otherName,
    accepted: false,
    refusal: /not a listed principal|Certificate invalid/,
  },
  { name: 'certificate signed by another CA', key: () => hostEd, cert: () => certs.otherCa, accepted: false },
];

for (const clients of CLIENT_SETS) {
  describe(`OpenSSH with only @cert-authority in known_hosts [${clients.name}]`, { timeout: 300_000 }, () => {
    for (const c of CASES) {
      test(`${c.name}: ${c.accepted ? 'logs in' : 'refused'}, as against sshd with the same HostCertificate`, async () => {
        const server = await certDaemon(c.key(), c.cert());
        const sshd = await startSshd([server.userKey.publicKeyOpenSSH], [`HostKey ${c.key().path}`, `HostCertificate ${c.cert()}`]);
        try {
          const extra = c.algorithms ? ['-o', `HostKeyAlgorithms=${c.algorithms}`] : [];
          const ours = await sshLogin(clients, server.port, USER, caKnownHosts('ours', server.port), server.userKey.privateKeyPath, extra);
          const theirs = await sshLogin(
            clients,
            sshd.port,
            sshd.user,
            caKnownHosts('sshd', sshd.port),
            server.userKey.privateKeyPath,
            extra,
          );
          const outcome = (r: typeof ours) => ({ code: r.code, stdout: r.stdout.toString(), verdict: hostKeyVerdict(r.stderr) });
          assert.deepEqual(outcome(ours), outcome(theirs), `daemon:\n${ours.stderr}\nsshd:\n${theirs.stderr}`);
          if (c.accepted) {
            assert.equal(ours.code, 0, ours.stderr);
            assert.equal(ours.stdout.toString(), 'ok\n');
            assert.deepEqual(server.hostKeyAlgorithms, [c.served]);
          } else {
            assert.equal(ours.code, 255, ours.stderr);
            assert.match(ours.stderr, /Host key verification failed/);
            if (c.refusal) assert.match(ours.stderr, c.refusal);
          }
          await registryDrained(server.daemon);
        } finally {
          await sshd.stop();
          await server.close();
        }
      });
    }

    test('server-initiated re-keys keep serving the certificate (the client checks the key again each time)', async () => {
      const server = await certDaemon(hostEd, certs.good);
      try {
        server.daemon.config('KeyRenegotiationThreshold=200000');
        const r = await sshStrictLogin(clients, server.port, USER, caKnownHosts('rekey', server.port), server.userKey.privateKeyPath, {
          command: 'bytes 1000000',
          timeoutMs: 120_000,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.equals(patternBytes(1_000_000)), 'the bytes arrive intact');
        // The first exchange and at least one re-key: every one served the certificate.
        assert.ok(server.hostKeyAlgorithms.length >= 2, server.hostKeyAlgorithms.join(' '));
        assert.deepEqual(new Set(server.hostKeyAlgorithms), new Set(['ssh-ed25519-cert-v01@openssh.com']));
        await registryDrained(server.daemon);
      } finally {
        await server.close();
      }
    });

    test('a certificate that expired while the daemon runs is refused, as by sshd serving it', async () => {
      // Valid when loaded (the daemon refuses an expired one at load), expired when the clients connect.
      const cert = await lab.sign(ca, hostEd, `short-${clients.name}`, { validity: '-5m:+12s' });
      const server = await certDaemon(hostEd, cert);
      const sshd = await startSshd([server.userKey.publicKeyOpenSSH], [`HostKey ${hostEd.path}`, `HostCertificate ${cert}`]);
      try {
        // The daemon loads the certificate when it starts listening: it was valid then.
        const parsed = parseOpenSSHCertificateText(`${await import('node:fs').then((fs) => fs.readFileSync(cert, 'utf8'))}`);
        assert.ok(parsed.ok);
        const expiry = Number(parsed.certificate.validBefore);
        await until('the certificate to expire', () => Date.now() / 1000 > expiry + 1, 60_000);
        const ours = await sshLogin(clients, server.port, USER, caKnownHosts('ours', server.port), server.userKey.privateKeyPath);
        const theirs = await sshLogin(clients, sshd.port, sshd.user, caKnownHosts('sshd', sshd.port), server.userKey.privateKeyPath);
        assert.equal(ours.code, 255, ours.stderr);
        assert.match(ours.stderr, /Certificate invalid: expired/);
        assert.deepEqual(hostKeyVerdict(ours.stderr), hostKeyVerdict(theirs.stderr), `daemon:\n${ours.stderr}\nsshd:\n${theirs.stderr}`);
        assert.equal(theirs.code, 255);
        await registryDrained(server.daemon);
      } finally {
        await sshd.stop();
        await server.close();
      }
    });
  });
}

// ---- AsyncSSH -------------------------------------------------------------------------------------

const ASYNCSSH_LOGIN = `
import asyncio, json, sys
import asyncssh
cfg = json.loads(sys.argv[1])
async def main():
    try:
        async with asyncssh.connect('127.0.0.1', cfg['port'], username=cfg['user'], client_keys=[cfg['key']],
                                    known_hosts=cfg['known_hosts'], agent_path=None, config=[]) as conn:
            r = await conn.run('echo ok')
            return {'ok': True, 'out': r.stdout}
    except Exception as e:
        return {'ok': False, 'error': type(e).__name__ + ': ' + str(e)}
print(json.dumps(asyncio.run(main())))
`;

for (const clients of CLIENT_SETS) {
  describe(`AsyncSSH with a known_hosts @cert-authority line [${clients.name}]`, { timeout: 300_000 }, () => {
    const cases = CASES.filter((c) => !c.algorithms);
    for (const c of cases) {
      test(`${c.name}: ${c.accepted ? 'logs in' : 'refused'}`, async () => {
        await clients.requirePythonModule('asyncssh');
        const server = await certDaemon(c.key(), c.cert());
        try {
          const result = await runPythonJson(
            ASYNCSSH_LOGIN,
            { port: server.port, user: USER, key: server.userKey.privateKeyPath, known_hosts: caKnownHosts('asyncssh', server.port) },
            undefined,
            clients,
          );
          if (c.accepted) {
            assert.deepEqual(result, { ok: true, out: 'ok\n' });
            assert.deepEqual(server.hostKeyAlgorithms, [c.served]);
          } else {
            assert.equal(result.ok, false);
            assert.match(result.error, /HostKeyNotVerifiable|not trusted|not verifiable|principal/i);
          }
          await registryDrained(server.daemon);
        } finally {
          await server.close();
        }
      });
    }

    test('an expired certificate is refused', async () => {
      await clients.requirePythonModule('asyncssh');
      const cert = await lab.sign(ca, hostEd, `short-asyncssh-${clients.name}`, { validity: '-5m:+12s' });
      const server = await certDaemon(hostEd, cert);
      try {
        const parsed = parseOpenSSHCertificateText(await import('node:fs').then((fs) => fs.readFileSync(cert, 'utf8')));
        assert.ok(parsed.ok);
        const expiry = Number(parsed.certificate.validBefore);
        await until('the certificate to expire', () => Date.now() / 1000 > expiry + 1, 60_000);
        const result = await runPythonJson(
          ASYNCSSH_LOGIN,
          { port: server.port, user: USER, key: server.userKey.privateKeyPath, known_hosts: caKnownHosts('asyncssh-expired', server.port) },
          undefined,
          clients,
        );
        assert.equal(result.ok, false);
        assert.match(result.error, /HostKeyNotVerifiable|expired|not trusted|not verifiable/i);
        await registryDrained(server.daemon);
      } finally {
        await server.close();
      }
    });
  });
}

// ---- Load-time checks -----------------------------------------------------------------------------

/** Hand-made host certificate for `key` signed by the Ed25519 CA `caKey` (PROTOCOL.certkeys layout), for what ssh-keygen will not make. */
function handMadeCertificate(key: KeyFiles, caKey: KeyFiles, opts: { critical?: [string, Buffer][] } = {}): string {
  const blob = key.certificate.publicKeyBlob; // ssh-ed25519 blob: string type, string pk
  const pk = blob.subarray(4 + 11);
  const u64 = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n);
    return b;
  };
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const section = (entries: [string, Buffer][]) =>
    encodeString(Buffer.concat(entries.flatMap(([n, d]) => [encodeString(n), encodeString(d)])));
  const now = BigInt(Math.floor(Date.now() / 1000));
  const signed = Buffer.concat([
    encodeString('ssh-ed25519-cert-v01@openssh.com'),
    encodeString(Buffer.alloc(32, 7)),
    pk,
    u64(1n),
    u32(2),
    encodeString('hand-made'),
    encodeString(encodeString('127.0.0.1')),
    u64(now - 300n),
    u64(now + 3600n),
    section(opts.critical ?? []),
    section([]),
    encodeString(''),
    encodeString(caKey.certificate.publicKeyBlob),
  ]);
  const signature = sshSign(caKey.certificate.privateKey!, 'ssh-ed25519', 'ssh-ed25519', signed);
  return `ssh-ed25519-cert-v01@openssh.com ${Buffer.concat([signed, encodeString(signature)]).toString('base64')} hand-made`;
}

describe('host certificates are checked when the daemon loads them', { timeout: 120_000 }, () => {
  async function loadError(configure: (d: SSHDaemon) => void): Promise<SSHDaemonError> {
    const d = new SSHDaemon();
    d.sshCert = hostEd.certificate;
    d.localHost = '127.0.0.1';
    d.localPort = 0;
    configure(d);
    try {
      await d.startListening();
    } catch (err) {
      assert.ok(err instanceof SSHDaemonError, String(err));
      assert.equal(d.listening, false);
      return err;
    } finally {
      await d.shutdown();
    }
    assert.fail('startListening accepted the certificate');
  }

  test('the good certificate loads, as a path and as text', async () => {
    for (const value of [certs.good, (await import('node:fs')).readFileSync(certs.good, 'utf8')]) {
      const d = new SSHDaemon();
      d.sshCert = hostEd.certificate;
      d.localHost = '127.0.0.1';
      d.localPort = 0;
      d.config(`SSHCertCertificate=${value}`);
      await d.startListening();
      assert.equal(d.listening, true);
      await d.shutdown();
    }
  });

  const cases: { name: string; value: () => Promise<string> | string; code: number; message: RegExp }[] = [
    {
      name: 'a certificate of another key',
      value: () => certs.goodRsa,
      code: ErrorCodes.InvalidHostCertificate,
      message: /SSHCertCertificate: .*certifies another key \(ssh-rsa\), not the host key SHA256:/,
    },
    {
      name: 'a user certificate',
      value: () => lab.sign(ca, hostEd, 'user-cert', { host: false, principals: 'tester' }),
      code: ErrorCodes.InvalidHostCertificate,
      message: /SSHCertCertificate: .*is a user certificate; sign the host key with ssh-keygen -h/,
    },
    {
      name: 'an expired certificate',
      value: () => lab.sign(ca, hostEd, 'expired', { validity: '20200101:20200102' }),
      code: ErrorCodes.InvalidHostCertificate,
      message: /SSHCertCertificate: the certificate \(key id 'expired'\) expired at 2020-01-0/,
    },
    {
      name: 'a certificate not yet valid',
      value: () => lab.sign(ca, hostEd, 'future', { validity: '+1d:+2d' }),
      code: ErrorCodes.InvalidHostCertificate,
      message: /SSHCertCertificate: the certificate \(key id 'future'\) is not valid before /,
    },
    {
      name: 'a critical option',
      value: () => handMadeCertificate(hostEd, ca, { critical: [['force-command', encodeString('/bin/true')]] }),
      code: ErrorCodes.InvalidHostCertificate,
      message: /critical option "force-command"; clients refuse host certificates with critical options/,
    },
    {
      name: 'a damaged CA signature',
      value: () => {
        const text = handMadeCertificate(hostEd, ca);
        const [type, b64] = text.split(' ');
        const blob = Buffer.from(b64, 'base64');
        blob[blob.length - 5] ^= 1;
        return `${type} ${blob.toString('base64')}`;
      },
      code: ErrorCodes.InvalidHostCertificate,
      message: /the CA signature of the certificate does not verify/,
    },
    {
      name: 'text that is not a certificate',
      value: () => 'ssh-ed25519-cert-v01@openssh.com AAAA not-a-cert',
      code: ErrorCodes.InvalidHostCertificate,
      message: /SSHCertCertificate: not an OpenSSH certificate/,
    },
    {
      name: 'a missing file',
      value: () => join(lab.dir, 'no-such-cert.pub'),
      code: ErrorCodes.KeyFileNotFound,
      message: /SSHCertCertificate: cannot read host certificate file/,
    },
  ];
  for (const c of cases) {
    test(`${c.name} is refused with a clear error`, async () => {
      const value = await c.value();
      const err = await loadError((d) => d.config(`SSHCertCertificate=${value}`));
      assert.equal(err.code, c.code, err.message);
      assert.match(err.message, c.message);
    });
  }

  test('AltSSHCertCertificate[i] is checked against AltSSHCertStore[i]', async () => {
    const wrong = await loadError((d) => {
      d.config('AltSSHCertCount=1');
      d.config(`AltSSHCertStore[0]=${hostRsa.path}`);
      d.config(`AltSSHCertCertificate[0]=${certs.good}`);
    });
    assert.equal(wrong.code, ErrorCodes.InvalidHostCertificate);
    assert.match(wrong.message, /^AltSSHCertCertificate\[0\]: .*certifies another key \(ssh-ed25519\)/);
    const alone = await loadError((d) => {
      d.config('AltSSHCertCount=1');
      d.config(`AltSSHCertCertificate[0]=${certs.good}`);
    });
    assert.equal(alone.code, ErrorCodes.InvalidHostCertificate);
    assert.match(alone.message, /AltSSHCertStore\[0\] is empty/);
  });

  test('a bad certificate set while listening refuses new connections with an Error, and a good one restores them', async () => {
    const server = await certDaemon(hostEd, certs.good);
    const errors: string[] = [];
    server.daemon.on('Error', (e) => void errors.push(`${e.errorCode} ${e.description}`));
    try {
      const expired = await lab.sign(ca, hostEd, 'expired-live', { validity: '20200101:20200102' });
      server.daemon.config(`SSHCertCertificate=${expired}`);
      const refused = await sshLogin(DEBIAN12, server.port, USER, caKnownHosts('live', server.port), server.userKey.privateKeyPath);
      assert.equal(refused.code, 255, refused.stderr);
      assert.ok(
        errors.some((e) => /^407 SSHCertCertificate: the certificate \(key id 'expired-live'\) expired/.test(e)),
        errors.join('\n'),
      );
      server.daemon.config(`SSHCertCertificate=${certs.good}`);
      const ok = await sshLogin(DEBIAN12, server.port, USER, caKnownHosts('live', server.port), server.userKey.privateKeyPath);
      assert.equal(ok.code, 0, ok.stderr);
      await registryDrained(server.daemon);
    } finally {
      await server.close();
    }
  });

  test('a certificate for an alternative key is served for that key', async () => {
    const server = await startTestServer({ authMethods: 'publickey' });
    try {
      server.daemon.sshCert = Certificate.generate('ed25519');
      server.daemon.config('AltSSHCertCount=1');
      server.daemon.config(`AltSSHCertStore[0]=${hostRsa.path}`);
      server.daemon.config(`AltSSHCertCertificate[0]=${certs.goodRsa}`);
      const r = await sshLogin(DEBIAN12, server.port, USER, caKnownHosts('alt', server.port), server.userKey.privateKeyPath);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'ok\n');
    } finally {
      await server.close();
    }
  });
});
