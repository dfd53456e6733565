/**
 * Counters in the Prometheus text format: the daemon publishes on `node:diagnostics_channel`,
 * this sample counts with prom-client and serves them on /metrics. Logs go through attachLogger.
 *
 *   npm run sample:metrics -- --metrics-port 9464
 *   curl -s localhost:9464/metrics | grep sshdaemon_
 */
import { subscribe } from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Counter, Gauge, Registry } from 'prom-client';
import {
  type AuthMessage,
  attachLogger,
  type ConnectionMessage,
  DIAGNOSTICS_CHANNELS,
  type ErrorMessage,
  type RefusalMessage,
  SSHDaemon,
} from 'sshdaemon';
import { COMMON_OPTIONS, commonOptions, hostKey, listen, sameSecret, usersFrom } from '../shared/sampleHost';

const { values } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    user: { type: 'string', multiple: true },
    'metrics-port': { type: 'string', default: '9464' },
    deny: { type: 'string', default: '' },
  },
});
const options = commonOptions(values, __dirname);
const users = usersFrom(values.user, 'demo:demo');

const registry = new Registry();
const connections = new Counter({ name: 'sshdaemon_connections_total', help: 'Connections admitted', registers: [registry] });
const open = new Gauge({ name: 'sshdaemon_connections_open', help: 'Connections open now', registers: [registry] });
const auth = new Counter({
  name: 'sshdaemon_auth_total',
  help: 'Authentication requests by method and outcome',
  labelNames: ['method', 'outcome'],
  registers: [registry],
});
const bytes = new Counter({
  name: 'sshdaemon_bytes_total',
  help: 'Socket bytes of closed connections',
  labelNames: ['direction'],
  registers: [registry],
});
const refusals = new Counter({
  name: 'sshdaemon_refusals_total',
  help: 'Connections refused before any SSH byte, by setting',
  labelNames: ['reason'],
  registers: [registry],
});
const errors = new Counter({ name: 'sshdaemon_errors_total', help: 'Error events by code', labelNames: ['code'], registers: [registry] });

subscribe(DIAGNOSTICS_CHANNELS.connection, (m) => {
  const c = m as ConnectionMessage;
  if (c.event === 'open') {
    connections.inc();
    open.inc();
    return;
  }
  open.dec();
  bytes.inc({ direction: 'in' }, c.bytesIn ?? 0);
  bytes.inc({ direction: 'out' }, c.bytesOut ?? 0);
});
subscribe(DIAGNOSTICS_CHANNELS.auth, (m) => auth.inc({ method: (m as AuthMessage).method, outcome: (m as AuthMessage).outcome }));
subscribe(DIAGNOSTICS_CHANNELS.refusal, (m) => refusals.inc({ reason: (m as RefusalMessage).reason }));
subscribe(DIAGNOSTICS_CHANNELS.error, (m) => errors.inc({ code: String((m as ErrorMessage).errorCode) }));

const daemon = new SSHDaemon();
daemon.sshCert = hostKey(options.data);
if (values.deny) daemon.config(`DeniedClients=${values.deny}`);
attachLogger(daemon, console);
daemon
  .on('SSHServiceRequest', (e) => void (e.accept = true))
  .on(
    'SSHUserAuthRequest',
    (e) => void (e.accept = e.authMethod === 'password' && users.has(e.user) && sameSecret(e.authParam, users.get(e.user)!)),
  )
  .on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'))
  .on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'exec'))
  .on('SSHChannelRequested', async (e) => {
    await daemon.sendChannelData(e.channelId, 'counted\n');
    await daemon.sendExitStatus(e.channelId, 0);
    await daemon.closeChannel(e.channelId);
  });

const http = createServer((req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
});
http.listen(Number(values['metrics-port']), options.host, () => {
  const address = http.address() as { port: number };
  console.log(`metrics on http://${options.host}:${address.port}/metrics`);
  void listen(daemon, options);
});
process.once('SIGINT', () => http.close()).once('SIGTERM', () => http.close());
