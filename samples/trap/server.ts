/**
 * A trap (honeypot and tarpit): looks like an OpenSSH server, never lets anyone in, records every
 * credential tried as one JSON line each, answers slowly, and bans sources through the daemon's
 * policy settings: PerSourcePenalties after failed logins, SensorPorts for scanners touching a
 * decoy port.
 *
 *   npm run sample:trap -- --log trap.jsonl --sensor-ports 2323
 *
 * Run it on a port nobody legitimate uses. Never put a real service's users or keys near it.
 */
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SSHDaemon } from 'sshdaemon';
import { COMMON_OPTIONS, commonOptions, hostKey, listen } from '../shared/sampleHost';

const { values } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    /** JSON lines go here (appended); default stdout. */
    log: { type: 'string' },
    /** Seconds each refusal is held back: a tarpit costs the scanner time, not us. */
    delay: { type: 'string', default: '2' },
    /** OpenSSH PerSourcePenalties syntax. Two failed connections reach `min` here. */
    penalties: { type: 'string', default: 'authfail:30s noauth:10s grace-exceeded:30s min:60s max:24h' },
    'sensor-ports': { type: 'string', default: '' },
    'sensor-deny': { type: 'string', default: '3600' },
    banner: { type: 'string', default: 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3' },
  },
});
const options = commonOptions(values, __dirname);
const delayMs = Math.max(0, Number(values.delay) * 1000);

function record(entry: Record<string, unknown>): void {
  const line = JSON.stringify({ time: new Date().toISOString(), ...entry });
  if (values.log) appendFileSync(values.log, `${line}\n`);
  else console.log(line);
}

const daemon = new SSHDaemon();
daemon.sshCert = hostKey(options.data);
// Everything below is the daemon's own policy: the trap only configures it.
daemon.config(`ServerSSHVersionString=${values.banner}`);
daemon.config(`PerSourcePenalties=${values.penalties}`);
if (values['sensor-ports']) daemon.config(`SensorPorts=${values['sensor-ports']}`);
daemon.config(`SensorDenyTime=${values['sensor-deny']}`);
daemon.config('MaxAuthAttempts=10'); // more guesses per connection, more to record
daemon.config('AuthTimeout=60');
daemon.defaultAuthMethods = 'password,publickey,keyboard-interactive';
daemon.keyboardInteractivePrompts = [{ prompt: 'Password: ', echo: false }];

const peer = (connectionId: string) => {
  const c = daemon.sshConnections.get(connectionId);
  return { address: c?.remoteHost, port: c?.remotePort, client: c?.clientVersion };
};

daemon
  .on('ConnectionRequest', (e) => {
    if (e.refusedBy) record({ event: 'refused', address: e.address, port: e.port, by: e.refusedBy });
  })
  .on('SSHServiceRequest', (e) => void (e.accept = true))
  .on('SSHUserAuthRequest', async (e) => {
    const base = { event: 'auth', ...peer(e.connectionId), user: e.user, method: e.authMethod };
    if (e.authMethod === 'password' || e.authMethod.startsWith('keyboard-interactive-')) record({ ...base, password: e.authParam });
    else if (e.authMethod === 'publickey') record({ ...base, keyType: e.publicKey?.algorithm, fingerprint: e.publicKey?.fingerprint });
    else if (e.authMethod !== 'keyboard-interactive') record(base);
    e.accept = false;
    if (e.authMethod !== 'none' && delayMs) await new Promise((r) => setTimeout(r, delayMs));
  })
  .on('Log', (e) => {
    // Bans are the daemon's log lines; keep them in the record too.
    const ban = /^(\S+) penalised \(PerSourcePenalties\)|^sensor port (\d+) touched by (\S+)/.exec(e.message);
    if (ban) record({ event: 'ban', message: e.message });
  });

void listen(daemon, options);
