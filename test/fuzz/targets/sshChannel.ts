/**
 * The channel layer after the engine (src/channels: ChannelLayer, ChannelState, request decoders,
 * the SFTP and exec services behind it): one fresh logged-in connection per input, which opens
 * two session channels; the input becomes CHANNEL_OPEN (session, direct-tcpip, x11, unknown),
 * CHANNEL_REQUEST of every type (pty-req with terminal modes, env, exec, shell, subsystem sftp,
 * window-change, signal, x11-req, agent, unknown, truncated), CHANNEL_DATA (SFTP packets once a
 * subsystem runs), EXTENDED_DATA, WINDOW_ADJUST, EOF, CLOSE, GLOBAL_REQUEST and raw messages,
 * aimed at the open channels or at ids nobody opened, sent through the ssh2 client's packet writer.
 * No forwarding is enabled, so nothing connects or listens anywhere.
 * Contract:
 * - every well-formed CHANNEL_OPEN is answered (confirmation or failure) and every want-reply
 *   GLOBAL_REQUEST gets its reply, in order, unless the daemon closed the connection;
 * - never more channels than MaxSessionsPerConnection (10);
 * - no Error event looks like a bug of ours; when the client goes, the daemon forgets the
 *   connection and its channels (registry empty within 10 s).
 */
import { connect, startHarness } from './sshHarness';
import { check } from './contract';
import { bool, Cursor, MSG, msg, str, u32 } from './sshWire';

const REQUESTS = [
  'pty-req',
  'env',
  'exec',
  'shell',
  'subsystem',
  'window-change',
  'signal',
  'x11-req',
  'auth-agent-req@openssh.com',
  'xon-xoff',
  'break',
  'eow@openssh.com',
  'exit-status',
  'keepalive@openssh.com',
];
const OPEN_TYPES = [
  'session',
  'session',
  'direct-tcpip',
  'x11',
  'forwarded-tcpip',
  'direct-streamlocal@openssh.com',
  'auth-agent@openssh.com',
  'x-unknown',
];
const GLOBALS = [
  'keepalive@openssh.com',
  'no-more-sessions@openssh.com',
  'tcpip-forward',
  'cancel-tcpip-forward',
  'hostkeys-prove-00@openssh.com',
  'streamlocal-forward@openssh.com',
];
const SIGNALS = ['INT', 'TERM', 'KILL', 'HUP', 'SIGINT', ''];

function requestBody(c: Cursor, type: string): Buffer[] {
  switch (type) {
    case 'pty-req':
      // TERM, cols, rows, px, px, encoded terminal modes (opcode + uint32, ended by 0).
      return [
        str(c.pick(['xterm', 'vt100', c.text(20)])),
        u32(c.interesting()),
        u32(c.interesting()),
        u32(c.uint32()),
        u32(c.uint32()),
        str(c.bytes(40)),
      ];
    case 'env':
      return [str(c.pick(['LANG', 'LC_ALL', 'PATH', 'LD_PRELOAD', c.text(12)])), str(c.text(30))];
    case 'exec':
      return [str(c.pick(['exit', 'echo hello', 'true', c.text(40)]))];
    case 'subsystem':
      return [str(c.pick(['sftp', 'sftp', 'x-unknown', c.text(10)]))];
    case 'window-change':
      return [u32(c.interesting()), u32(c.interesting()), u32(c.uint32()), u32(c.uint32())];
    case 'signal':
      return [str(c.pick(SIGNALS))];
    case 'x11-req':
      return [bool(true), str('MIT-MAGIC-COOKIE-1'), str(c.bytes(32).toString('hex')), u32(c.byte())];
    case 'xon-xoff':
      return [bool((c.byte() & 1) === 1)];
    case 'break':
    case 'exit-status':
      return [u32(c.interesting())];
    default:
      return [];
  }
}

/** An SFTP packet for a channel that may be running the sftp subsystem. */
function sftpPacket(c: Cursor): Buffer {
  const type = c.pick([1, 3, 4, 5, 6, 11, 12, 16, 17, 200, c.byte()]);
  const body = type === 1 ? u32(3) : Buffer.concat([u32(c.byte()), str(c.pick(['/', '/a', '.', c.text(20)])), c.bytes(24)]);
  const p = Buffer.concat([Buffer.from([type]), body]);
  return Buffer.concat([u32(c.byte() % 8 === 0 ? c.interesting() : p.length), p]);
}

export async function fuzz(data: Buffer): Promise<void> {
  const h = await startHarness();
  const conn = await connect(h, true);
  const r = conn.received;
  const c = new Cursor(data);
  let opens = 0;
  let wantReplies = 0;
  let nextSender = 0;
  try {
    // Two session channels to aim at.
    for (let i = 0; i < 2; i++, opens++) conn.send(msg(MSG.CHANNEL_OPEN, str('session'), u32(nextSender++), u32(2 ** 21), u32(32768)));
    await conn.until(() => r.openConfirmations.length + r.openFailures >= 2, 5000);
    const channel = () => {
      const pick = c.byte() % 4;
      const confirmed = r.openConfirmations;
      return pick < 3 && confirmed.length > 0 ? confirmed[pick % confirmed.length].sender : c.interesting();
    };
    let count = 0;
    while (!c.done && count++ < 32 && !conn.closed) {
      const kind = c.byte() % 12;
      if (kind <= 3) {
        const type = c.byte() % 5 === 0 ? c.text(20) : c.pick(REQUESTS);
        const wantReply = (c.byte() & 1) === 1;
        const truncate = c.byte() % 8 === 0;
        const body = Buffer.concat(requestBody(c, type));
        conn.send(
          msg(
            MSG.CHANNEL_REQUEST,
            u32(channel()),
            str(type),
            bool(wantReply),
            truncate ? body.subarray(0, c.byte() % (body.length + 1)) : body,
          ),
        );
      } else if (kind <= 5) {
        const payload = c.byte() & 1 ? sftpPacket(c) : c.bytes(64);
        conn.send(
          c.byte() % 4 === 0
            ? msg(MSG.CHANNEL_EXTENDED_DATA, u32(channel()), u32(c.pick([1, 2, 0])), str(payload))
            : msg(MSG.CHANNEL_DATA, u32(channel()), str(payload)),
        );
      } else if (kind === 6) {
        conn.send(msg(MSG.CHANNEL_WINDOW_ADJUST, u32(channel()), u32(c.interesting())));
      } else if (kind === 7) {
        conn.send(msg(c.byte() & 1 ? MSG.CHANNEL_EOF : MSG.CHANNEL_CLOSE, u32(channel())));
      } else if (kind === 8) {
        const type = c.byte() % 5 === 0 ? c.text(20) : c.pick(OPEN_TYPES);
        const extra =
          type === 'session' ? [] : [str(c.pick(['127.0.0.1', 'localhost', c.text(16)])), u32(c.byte()), str('127.0.0.1'), u32(c.byte())];
        opens++;
        conn.send(msg(MSG.CHANNEL_OPEN, str(type), u32(nextSender++), u32(c.interesting()), u32(c.interesting()), ...extra));
      } else if (kind === 9) {
        const wantReply = (c.byte() & 1) === 1;
        if (wantReply) wantReplies++;
        // tcpip-forward is refused by the harness's handler (no forwarding): nothing binds.
        conn.send(msg(MSG.GLOBAL_REQUEST, str(c.pick(GLOBALS)), bool(wantReply), str('127.0.0.1'), u32(c.byte())));
      } else {
        // Raw: a connection-layer message number with any body.
        conn.send(Buffer.concat([Buffer.from([80 + (c.byte() % 21)]), c.bytes(48)]));
      }
    }
    // Everything sent before this ping is handled before its reply comes (the daemon reads in order).
    wantReplies++;
    conn.send(msg(MSG.GLOBAL_REQUEST, str('fuzz-ping@example.com'), bool(true)));
    const answered = await conn.until(() => r.globalReplies >= wantReplies && r.openConfirmations.length + r.openFailures >= opens, 10_000);
    check(
      answered,
      () =>
        `after 10 s: ${r.globalReplies} of ${wantReplies} global replies, ${r.openConfirmations.length + r.openFailures} of ${opens} channel opens answered`,
    );
    check(h.daemon.sshChannels.size <= 10, `${h.daemon.sshChannels.size} channels on one connection (MaxSessionsPerConnection 10)`);
  } finally {
    await conn.close();
  }
}
