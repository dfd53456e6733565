/**
 * PROXY header addresses in odd spellings (adversarial review, attacks/proxy-zone-crash.ts): a v1
 * TCP6 source with a zone id and 'ffff' in it made normaliseAddress hand it to the URL parser,
 * which threw inside the socket's 'data' handler and ended the daemon's process; non-canonical IPv6
 * text ('2001:0db8:0::5') slipped past wildcard rules written in the canonical form.
 */
import { strict as assert } from 'node:assert';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Client } from 'ssh2';
import { Certificate, SSHDaemon } from '../src/index';
import { AddressList, normaliseAddress } from '../src/policy/addressMatch';
import { parseProxyHeader } from '../src/policy/proxyProtocol';

test('normaliseAddress never throws and canonicalises IPv6 text', () => {
  for (const a of ['fe80::ffff%eth0', 'fe80::1%eth0', '::ffff:1.2.3.4%x', 'bogus', '', '%'])
    assert.doesNotThrow(() => normaliseAddress(a), a);
  assert.equal(normaliseAddress('2001:0DB8:0:0::5'), '2001:db8::5');
  assert.equal(normaliseAddress('fe80::0:1%eth0'), 'fe80::1%eth0');
  assert.equal(normaliseAddress('0:0:0:0:0:ffff:0102:0304'), '1.2.3.4');
  assert.equal(new AddressList('2001:db8::*').matches('2001:0db8:0::5'), true);
});

test('a PROXY v1 TCP6 address with a zone id is malformed', () => {
  for (const src of ['fe80::1%eth0', 'fe80::ffff%eth0', '::ffff:1.2.3.4%x']) {
    const parsed = parseProxyHeader(Buffer.from(`PROXY TCP6 ${src} ::1 1000 22\r\n`));
    assert.equal(parsed.done, false, src);
    assert.match(parsed.done ? '' : (parsed.error ?? ''), /malformed PROXY v1/);
  }
});

test('a PROXY line with a zone id is refused and the daemon keeps serving', async () => {
  const daemon = new SSHDaemon();
  daemon.sshCert = Certificate.generate('ed25519');
  daemon.localHost = '127.0.0.1';
  daemon.localPort = 0;
  daemon.config('UseProxyProtocol=true');
  daemon.config('PerSourcePenalties=no');
  daemon.config('DeniedClients=2001:db8::*');
  const refusals: string[] = [];
  daemon
    .on('ConnectionRequest', (e) => {
      if (e.refusedBy) refusals.push(`${e.refusedBy} ${e.address}`);
    })
    .on('SSHServiceRequest', (e) => {
      e.accept = true;
    })
    .on('SSHUserAuthRequest', (e) => {
      e.accept = e.authMethod === 'password' && e.authParam === 'pw';
    });
  await daemon.startListening();
  try {
    const closed = (line: string) =>
      new Promise<void>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: daemon.localPort });
        s.on('error', () => undefined);
        s.on('close', () => resolve());
        s.write(line);
      });
    await closed('PROXY TCP6 fe80::ffff%eth0 ::1 1000 22\r\n');
    await closed('PROXY TCP6 2001:0DB8:0::5 ::1 1000 22\r\nSSH-2.0-x\r\n');
    assert.ok(refusals.includes('DeniedClients 2001:db8::5'), refusals.join('; '));
    // Still serving: a client behind a valid v1 header logs in.
    const ready = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: daemon.localPort }, () => {
        s.write('PROXY TCP4 203.0.113.9 127.0.0.1 4000 22\r\n');
        const c = new Client();
        c.on('ready', () => {
          c.end();
          resolve(true);
        });
        c.on('error', () => resolve(false));
        c.connect({ sock: s, username: 'u', password: 'pw' });
      });
    });
    assert.equal(ready, true);
  } finally {
    await daemon.shutdown();
  }
});
