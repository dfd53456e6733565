/**
 * The authentication flow after the engine (src/auth/AuthFlow.ts and the daemon's USERAUTH
 * handling): one fresh connection per input, stopped after SERVICE_ACCEPT; the input becomes
 * SERVICE_REQUEST, USERAUTH_REQUEST (none, password with and without a new password, publickey
 * queries and signed requests, keyboard-interactive, hostbased, unknown methods),
 * USERAUTH_INFO_RESPONSE, GLOBAL_REQUEST, IGNORE and raw messages, sent through the ssh2 client's
 * encrypted packet writer. The daemon accepts user `fuzz` with the right password, the one
 * ACCEPTED_KEY (properly signed) or keyboard-interactive answers that are the password or 123456.
 * Contract:
 * - a login succeeds only with a credential the input actually carried: the password, or
 *   keyboard-interactive answers each right, at least one (issue 16: a zero-prompt round must not
 *   log in); an unsigned publickey query never logs in;
 * - at most MaxAuthAttempts - 1 (19) USERAUTH_FAILUREs, one more when the first request was a
 *   'none' probe (not counted, as OpenSSH's MaxAuthTries); the refusal that reaches the limit disconnects;
 * - every USERAUTH_REQUEST is answered within 5 s, unless the connection closed or a login succeeded;
 * - no Error event looks like a bug of ours; the daemon forgets the connection when it goes.
 */
import { ACCEPTED_KEY, connect, PASSWORD, startHarness, USER } from './sshHarness';
import { check } from './contract';
import { bool, Cursor, MSG, msg, str, u32 } from './sshWire';

const USERS = [USER, USER, 'root', '', 'fuzz\n\x1b[31m'];
const SERVICES = ['ssh-connection', 'ssh-connection', 'ssh-userauth', 'x'];

interface Sent {
  requests: number;
  /** The first USERAUTH_REQUEST was 'none': that probe's refusal does not count (OpenSSH's MaxAuthTries). */
  firstNone?: boolean;
  /** A request or response that carried a right credential. */
  rightCredential: boolean;
}

function userauth(c: Cursor, sent: Sent): Buffer {
  const user = c.pick(USERS);
  const service = c.pick(SERVICES);
  const head = [str(user), str(service)];
  const kind = c.byte() % 8;
  const right = user === USER && service === 'ssh-connection';
  sent.firstNone ??= kind === 0;
  switch (kind) {
    case 0:
      return msg(MSG.USERAUTH_REQUEST, ...head, str('none'));
    case 1: {
      const password = c.byte() & 1 ? PASSWORD : c.text(24);
      const change = (c.byte() & 3) === 0;
      if (right && password === PASSWORD && !change) sent.rightCredential = true;
      return msg(MSG.USERAUTH_REQUEST, ...head, str('password'), bool(change), str(password), ...(change ? [str(c.text(16))] : []));
    }
    case 2: {
      // A query (no signature), or a "signed" request with a signature the input makes up.
      const signed = (c.byte() & 1) === 1;
      const algorithm = c.pick(['ssh-ed25519', 'ssh-ed25519', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519-cert-v01@openssh.com', c.text(20)]);
      const blob = c.byte() & 1 ? ACCEPTED_KEY : c.bytes(80);
      const signature = str(Buffer.concat([str(c.pick(['ssh-ed25519', algorithm, c.text(12)])), str(c.bytes(70))]));
      return msg(MSG.USERAUTH_REQUEST, ...head, str('publickey'), bool(signed), str(algorithm), str(blob), ...(signed ? [signature] : []));
    }
    case 3:
      return msg(MSG.USERAUTH_REQUEST, ...head, str('keyboard-interactive'), str(''), str(c.pick(['', 'pam', c.text(10)])));
    case 4:
      return msg(
        MSG.USERAUTH_REQUEST,
        ...head,
        str('hostbased'),
        str('ssh-ed25519'),
        str(ACCEPTED_KEY),
        str('host.example'),
        str(user),
        str(c.bytes(40)),
      );
    case 5:
      return msg(MSG.USERAUTH_REQUEST, ...head, str(c.text(24)), c.bytes(40));
    default:
      // Truncated or extended at any point.
      return msg(MSG.USERAUTH_REQUEST, ...head, str(c.pick(['password', 'publickey', 'keyboard-interactive'])), c.bytes(60));
  }
}

function infoResponse(c: Cursor, sent: Sent): Buffer {
  const n = c.pick([0, 1, 2, 2, 3, 0xffffffff]);
  const answers = Array.from({ length: Math.min(n, 3) }, () => (c.byte() & 1 ? c.pick([PASSWORD, '123456']) : c.text(12)));
  if (n > 0 && n <= 3 && answers.every((a) => a === PASSWORD || a === '123456')) sent.rightCredential = true;
  return msg(MSG.USERAUTH_INFO_RESPONSE, u32(n), ...answers.map((a) => str(a)));
}

/** What the last input got back (for a look at the seeds; not used by the contract). */
export let last: { requests: number; received: unknown } | undefined;

export async function fuzz(data: Buffer): Promise<void> {
  const h = await startHarness();
  const conn = await connect(h, false);
  const c = new Cursor(data);
  const sent: Sent = { requests: 0, rightCredential: false };
  let count = 0;
  try {
    while (!c.done && count++ < 24 && !conn.closed) {
      const kind = c.byte() % 10;
      if (kind <= 4) {
        sent.requests++;
        conn.send(userauth(c, sent));
      } else if (kind <= 6) conn.send(infoResponse(c, sent));
      else if (kind === 7) conn.send(msg(MSG.SERVICE_REQUEST, str(c.pick(['ssh-userauth', 'ssh-connection', c.text(12)]))));
      else if (kind === 8)
        conn.send(msg(MSG.GLOBAL_REQUEST, str(c.pick(['keepalive@openssh.com', 'tcpip-forward', c.text(12)])), bool(true), c.bytes(20)));
      else {
        // Raw: any message number, any body (the engine's own parsers meet it first).
        conn.send(
          Buffer.concat([
            Buffer.from([
              c.pick([MSG.USERAUTH_REQUEST, MSG.USERAUTH_INFO_RESPONSE, MSG.SERVICE_REQUEST, MSG.IGNORE, 1, 20, 60, 66, 80, 90, 255]),
            ]),
            c.bytes(64),
          ]),
        );
      }
      // Let replies to one message come back before the next (a real client waits for them).
      if (c.byte() & 1)
        await conn.until(() => conn.received.authFailures + conn.received.authSuccesses + conn.received.authOther >= sent.requests, 200);
    }
    const r = conn.received;
    last = { requests: sent.requests, received: r };
    const answered = await conn.until(() => r.authSuccesses > 0 || r.authFailures + r.authOther >= sent.requests, 5000);
    check(answered, () => `${sent.requests} USERAUTH_REQUESTs, ${r.authFailures} failures and ${r.authOther} other answers after 5 s`);
    check(r.authSuccesses === 0 || sent.rightCredential, 'logged in without a right credential');
    check(r.authSuccesses <= 1, 'more than one USERAUTH_SUCCESS');
    const allowed = 19 + (sent.firstNone ? 1 : 0);
    check(
      r.authFailures <= allowed,
      `${r.authFailures} USERAUTH_FAILUREs with MaxAuthAttempts=20 (at most ${allowed}${sent.firstNone ? ', the first none probe not counted' : ''})`,
    );
  } finally {
    await conn.close();
  }
}
