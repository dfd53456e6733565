/**
 * A forwarding gateway: `ssh -L`, `ssh -D` (SOCKS) and `ssh -W` reach only the destinations on the
 * allow-list; `ssh -R` listens on loopback ports from an allow-list; and virtual destinations
 * (`status.internal`) are answered here, in-process, without any TCP connect.
 *
 *   npm run sample:gateway -- --authorized-keys ~/.ssh/id_ed25519.pub --allow 'localhost:8080' --allow '*.example.com:443'
 *   ssh -N -p 2222 -D 1080 me@127.0.0.1 &   curl --socks5-hostname 127.0.0.1:1080 http://status.internal/
 *
 * No shell or exec: the gateway only forwards (use `ssh -N`).
 */
import { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { AuthorizedKeys, directTcpipTarget, escapeLogText, type ForwardTarget, requestParamsOf, SSHDaemon } from 'sshdaemon';
import { COMMON_OPTIONS, commonOptions, hostKey, listen, sameSecret, usersFrom } from '../shared/sampleHost';

const { values } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    user: { type: 'string', multiple: true },
    'authorized-keys': { type: 'string' },
    /** HOST:PORT; HOST may hold `*` wildcards, PORT may be `*`. Repeatable. */
    allow: { type: 'string', multiple: true, default: [] },
    /** Ports `ssh -R` may listen on, e.g. `0,8000-8999` (0: the server picks). */
    'remote-ports': { type: 'string', default: '0,1024-65535' },
  },
});
const options = commonOptions(values, __dirname);
const users = values.user?.length ? usersFrom(values.user, '') : new Map<string, string>();
if (!users.size && !values['authorized-keys']) {
  console.error('give --user NAME:PASSWORD or --authorized-keys FILE (or both)');
  process.exit(2);
}

// ---- the allow-list ----------------------------------------------------------
// Host strings are compared as the client spelled them: another spelling of an allowed address
// (2130706433 for 127.0.0.1) is simply refused. A deny-list must compare resolved addresses
// instead (resolveDirectTcpipTarget, see docs/forwarding.md).

const globToRegExp = (glob: string) =>
  new RegExp(
    `^${glob
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );
const ALLOWED = values.allow.map((entry) => {
  const i = entry.lastIndexOf(':');
  if (i <= 0) throw new Error(`--allow expects HOST:PORT, got '${entry}'`);
  return { host: globToRegExp(entry.slice(0, i)), port: entry.slice(i + 1) };
});
const allowed = (t: { host: string; port: number }) =>
  ALLOWED.some((a) => a.host.test(t.host) && (a.port === '*' || Number(a.port) === t.port));

const REMOTE_PORTS = values['remote-ports'].split(',').map((r) => r.split('-').map(Number));
const remotePortAllowed = (port: number) => REMOTE_PORTS.some(([lo, hi = lo]) => port >= lo && port <= hi);

// ---- virtual destinations: answered in-process ----------------------------------

const started = Date.now();
let forwarded = 0;

/** host -> a handler turning one HTTP request line into a response body. */
const VIRTUAL: Record<string, (path: string, who: string) => string> = {
  'status.internal': (path, who) =>
    `gateway ok; path ${path}; up ${Math.round((Date.now() - started) / 1000)} s; ${forwarded} forwards so far; you are ${who}\n`,
};

/** A one-request HTTP/1.1 responder as a Duplex: what the client writes is the request. */
function httpResponder(answer: (path: string) => string): Duplex {
  let request = '';
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      request += chunk.toString('latin1');
      if (request.includes('\r\n\r\n') || request.length > 16384) {
        const path = /^[A-Z]+ (\S+) HTTP\/1\.[01]\r\n/.exec(request)?.[1];
        const body = path ? answer(path) : 'bad request\n';
        stream.push(
          `HTTP/1.1 ${path ? '200 OK' : '400 Bad Request'}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
        stream.push(null);
        request = '';
      }
      done();
    },
  });
  return stream;
}

// ---- the daemon -----------------------------------------------------------------

const daemon = new SSHDaemon();
daemon.sshCert = hostKey(options.data);
daemon.defaultAuthMethods = [values['authorized-keys'] ? 'publickey' : '', users.size ? 'password' : ''].filter(Boolean).join(',');
const log = (connectionId: string, message: string) => console.log(`[${connectionId}] ${message}`);

daemon
  .on('SSHServiceRequest', (e) => void (e.accept = true))
  .on('SSHUserAuthRequest', (e) => {
    if (e.authMethod === 'password') e.accept = users.has(e.user) && sameSecret(e.authParam, users.get(e.user)!);
    if (e.authMethod === 'publickey' && values['authorized-keys']) {
      // The key's own options (permitopen, no-port-forwarding, permitlisten) are enforced before our events.
      AuthorizedKeys.fromFile(values['authorized-keys']).authorize(e, daemon.sshConnections.get(e.connectionId)?.remoteHost ?? '');
    }
  })
  .on('SSHChannelOpenRequest', (e) => {
    // A session is needed by `ssh -N` only to keep the connection; it is granted no requests.
    if (e.service === 'session') e.accept = true;
    if (e.service !== 'direct-tcpip') return;
    const target = directTcpipTarget(e.parameters);
    const virtual = Object.hasOwn(VIRTUAL, target.host.toLowerCase()) && target.port === 80;
    e.accept = virtual || allowed(target);
    log(
      e.connectionId,
      `${e.accept ? 'allow' : 'deny'} ${escapeLogText(target.host)}:${target.port} (from ${escapeLogText(target.originatorAddress)}:${target.originatorPort})`,
    );
    if (e.accept) forwarded++;
  })
  .on('SSHChannelRequest', (e) => {
    const forward = requestParamsOf(e, 'tcpip-forward');
    if (forward) {
      e.success = remotePortAllowed(forward.bindPort);
      log(e.connectionId, `${e.success ? 'allow' : 'deny'} remote forward ${escapeLogText(forward.bindAddress)}:${forward.bindPort}`);
    }
    if (e.requestType === 'cancel-tcpip-forward') e.success = true;
  })
  .on('Log', (e) => log(e.connectionId || '-', e.message));

daemon.enableForwarding({
  connect: (target: ForwardTarget, connectionId: string, connectTcp) => {
    const handler = VIRTUAL[target.host.toLowerCase()];
    if (!handler) return connectTcp(target);
    const who = daemon.sshConnections.get(connectionId)?.user ?? '?';
    return httpResponder((path) => handler(path, who));
  },
});

void listen(daemon, options);
