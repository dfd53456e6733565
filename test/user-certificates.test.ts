/**
 * OpenSSH user certificates end to end: `ssh-keygen -s ca` signs, OpenSSH `ssh` logs in with
 * `CertificateFile`, the daemon checks the certificate (TrustedUserCAKeys or authorized_keys
 * `cert-authority`) and enforces its restrictions.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuthorizedKeys, requestParamsOf, type SSHDaemon, type SSHUserAuthRequestEventArgs } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { registryDrained } from './fixtures/testServer';

const TIMEOUT = { timeout: 90_000 };
const dir = mkdtempSync(join(tmpdir(), 'usercerts-'));

async function keygen(args: string[]): Promise<void> {
  const r = await run(requireBinary('ssh-keygen'), ['-q', ...args]);
  assert.equal(r.code, 0, `ssh-keygen ${args.join(' ')}: ${r.stderr}`);
}

/** A fresh key pair made by ssh-keygen; returns its private key path. */
async function newKey(name: string, type = 'ed25519'): Promise<string> {
  const path = join(dir, name);
  await keygen(['-t', type, ...(type === 'rsa' ? ['-b', '3072'] : []), '-N', '', '-C', name, '-f', path]);
  return path;
}

/** Signs `key`.pub with `ca`; returns the certificate path (key-cert.pub). */
async function sign(
  ca: string,
  key: string,
  opts: { principals?: string; validity?: string; options?: string[]; id?: string } = {},
): Promise<string> {
  const extra = (opts.options ?? []).flatMap((o) => ['-O', o]);
  await keygen([
    '-s',
    ca,
    '-I',
    opts.id ?? 'cert-id',
    '-n',
    opts.principals ?? 'tester',
    '-V',
    opts.validity ?? '-5m:+1h',
    ...extra,
    `${key}.pub`,
  ]);
  return `${key}-cert.pub`;
}

interface Scope {
  daemon: SSHDaemon;
  logs: string[];
  auths: SSHUserAuthRequestEventArgs[];
  ssh(key: string, cert: string, args: string[]): ReturnType<typeof run>;
}

async function withCertServer(setup: (daemon: SSHDaemon) => void, body: (s: Scope) => Promise<void>): Promise<void> {
  await withBareDaemon(async ({ daemon, port }) => {
    const logs: string[] = [];
    const auths: SSHUserAuthRequestEventArgs[] = [];
    daemon.on('Log', (e) => void logs.push(e.message));
    daemon.on('SSHUserAuthRequest', (e) => void auths.push({ ...e }));
    daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
    daemon.on('SSHChannelRequest', (e) => void (e.success = true));
    daemon.on('SSHChannelRequested', async (e) => {
      const exec = requestParamsOf(e, 'exec');
      if (!exec && e.requestType !== 'shell') return;
      await daemon.sendChannelData(
        e.channelId,
        `ran [${exec?.command ?? 'shell'}] as ${daemon.sshConnections.get(e.connectionId)!.user}\n`,
      );
      await daemon.sendExitStatus(e.channelId, 0);
      await daemon.closeChannel(e.channelId);
    });
    setup(daemon);
    const ssh = (key: string, cert: string, args: string[]) =>
      run(
        requireBinary('ssh'),
        [
          '-o',
          'LogLevel=INFO',
          ...opensshArgs(port),
          '-o',
          'BatchMode=yes',
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          'PreferredAuthentications=publickey',
          '-i',
          key,
          '-o',
          `CertificateFile=${cert}`,
          ...args,
        ],
        { timeoutMs: 30_000 },
      );
    await body({ daemon, logs, auths, ssh });
  });
}

const caText = (ca: string) => readFileSync(`${ca}.pub`, 'utf8');

test(
  'TrustedUserCAKeys: ssh -o CertificateFile logs in with a certificate signed by ssh-keygen -s ca; no handler needed',
  TIMEOUT,
  async () => {
    const ca = await newKey('ca1');
    const user = await newKey('user1');
    const cert = await sign(ca, user, { id: 'alice@corp', principals: 'tester,backup' });
    await withCertServer(
      (d) => d.config(`TrustedUserCAKeys=${caText(ca)}`),
      async ({ ssh, auths }) => {
        const r = await ssh(user, cert, ['tester@127.0.0.1', 'hostname']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.toString(), 'ran [hostname] as tester\n');
        const signed = auths.find((a) => a.publicKey?.certificate && a.accept);
        assert.ok(signed, 'SSHUserAuthRequest carried the parsed certificate, accept preset');
        assert.equal(signed.keyAlgorithm, 'ssh-ed25519-cert-v01@openssh.com');
        assert.equal(signed.publicKey!.certificate!.keyId, 'alice@corp');
        assert.deepEqual(signed.publicKey!.certificate!.principals, ['tester', 'backup']);
        const fp = await run(requireBinary('ssh-keygen'), ['-lf', `${user}.pub`]);
        assert.equal(
          signed.publicKey!.fingerprint,
          fp.stdout.toString().split(' ')[1],
          'fingerprint of the certified key, as ssh-keygen -l',
        );
      },
    );
  },
);

test(
  'RSA user key with an RSA CA: OpenSSH signs with rsa-sha2-512-cert-v01 and logs in; a file path works as TrustedUserCAKeys',
  TIMEOUT,
  async () => {
    const ca = await newKey('ca-rsa', 'rsa');
    const user = await newKey('user-rsa', 'rsa');
    const cert = await sign(ca, user);
    await withCertServer(
      (d) => d.config(`TrustedUserCAKeys=${ca}.pub`),
      async ({ ssh, auths }) => {
        const r = await ssh(user, cert, ['tester@127.0.0.1', 'id']);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(auths.some((a) => a.keyAlgorithm === 'rsa-sha2-512-cert-v01@openssh.com' && a.accept));
      },
    );
  },
);

test(
  'refused: expired, not yet valid, wrong principal, self-signed, untrusted CA, source-address elsewhere; the log says why',
  TIMEOUT,
  async () => {
    const ca = await newKey('ca2');
    const otherCa = await newKey('ca-other');
    const cases: Array<{ name: string; make: () => Promise<{ key: string; cert: string }>; reason: RegExp }> = [
      {
        name: 'expired',
        make: async () => {
          const k = await newKey('u-exp');
          return { key: k, cert: await sign(ca, k, { validity: '-2d:-1d' }) };
        },
        reason: /expired/i,
      },
      {
        name: 'not yet valid',
        make: async () => {
          const k = await newKey('u-future');
          return { key: k, cert: await sign(ca, k, { validity: '+1d:+2d' }) };
        },
        reason: /not yet valid/i,
      },
      {
        name: 'wrong principal',
        make: async () => {
          const k = await newKey('u-bob');
          return { key: k, cert: await sign(ca, k, { principals: 'bob' }) };
        },
        reason: /principal/i,
      },
      {
        name: 'self-signed',
        make: async () => {
          const k = await newKey('u-self');
          return { key: k, cert: await sign(k, k) };
        },
        reason: /self-signed/i,
      },
      {
        name: 'untrusted CA',
        make: async () => {
          const k = await newKey('u-other');
          return { key: k, cert: await sign(otherCa, k) };
        },
        reason: /not a trusted CA/i,
      },
      {
        name: 'source-address',
        make: async () => {
          const k = await newKey('u-src');
          return { key: k, cert: await sign(ca, k, { options: ['source-address=10.0.0.0/8'] }) };
        },
        reason: /not permitted to use this certificate/i,
      },
    ];
    await withCertServer(
      (d) => d.config(`TrustedUserCAKeys=${caText(ca)}`),
      async ({ ssh, logs, auths }) => {
        for (const c of cases) {
          const { key, cert } = await c.make();
          logs.length = 0;
          auths.length = 0;
          const r = await ssh(key, cert, ['tester@127.0.0.1', 'id']);
          assert.notEqual(r.code, 0, `${c.name}: refused`);
          assert.match(r.stderr, /Permission denied/, c.name);
          assert.ok(
            logs.some((l) => /not accepted by TrustedUserCAKeys/.test(l) && c.reason.test(l)),
            `${c.name}: ${logs.join(' | ')}`,
          );
          assert.ok(
            auths.every((a) => !a.accept),
            `${c.name}: never preset to accept`,
          );
        }
      },
    );
  },
);

test("a certificate's force-command and missing permit-pty are enforced", TIMEOUT, async () => {
  const ca = await newKey('ca3');
  const user = await newKey('user3');
  const cert = await sign(ca, user, { options: ['force-command=backup --nightly', 'no-pty'] });
  await withCertServer(
    (d) => d.config(`TrustedUserCAKeys=${caText(ca)}`),
    async ({ ssh, daemon }) => {
      const r = await ssh(user, cert, ['-T', 'tester@127.0.0.1', 'rm -rf /']);
      assert.equal(r.stdout.toString(), 'ran [backup --nightly] as tester\n', r.stderr);
      const tty = await ssh(user, cert, ['-tt', 'tester@127.0.0.1', 'id']);
      assert.match(tty.stderr, /PTY allocation request failed/);
      await registryDrained(daemon);
    },
  );
});

test(
  'authorized_keys cert-authority with principals=: the certificate must name one of them; the line and the certificate restrictions combine',
  TIMEOUT,
  async () => {
    const ca = await newKey('ca4');
    const ops = await newKey('user-ops');
    const plain = await newKey('user-plain');
    const opsCert = await sign(ca, ops, { principals: 'ops' });
    const testerCert = await sign(ca, plain, { principals: 'tester' });
    const keys = AuthorizedKeys.parse(`cert-authority,principals="ops,admins",command="report" ${caText(ca)}`);
    assert.deepEqual(keys.problems, []);
    await withCertServer(
      (d) =>
        d.on('SSHUserAuthRequest', (e) => {
          if (e.authMethod === 'publickey') keys.authorize(e, d.sshConnections.get(e.connectionId)!.remoteHost);
        }),
      async ({ ssh }) => {
        const ok = await ssh(ops, opsCert, ['tester@127.0.0.1', 'anything']);
        assert.equal(ok.stdout.toString(), 'ran [report] as tester\n', ok.stderr);
        const refused = await ssh(plain, testerCert, ['tester@127.0.0.1', 'id']);
        assert.match(refused.stderr, /Permission denied/, 'the user name alone does not satisfy principals=');
      },
    );
  },
);
