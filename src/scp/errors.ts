/**
 * Errors of an SCP session and the texts clients print for them. Filesystem errors become
 * `path: strerror`-style texts naming virtual paths only, as OpenSSH's scp prints them.
 */
import { errnoText } from '../sftp/errno';
import { SFTPError } from '../sftp/FileSystem';
import { SCPProtocolError } from './codec';
import { InputEndedError } from './InputBuffer';

/** The client sent a fatal `\x02` message: the session ends with status 1 and says nothing more. */
export class PeerFatalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerFatalError';
  }
}

/** The session is over (channel closed, or a fatal error already handled): every pending step stops. */
export class SessionOverError extends Error {
  constructor() {
    super('session over');
    this.name = 'SessionOverError';
  }
}

/** Errors that end the session (the channel, the client, the protocol), as opposed to a filesystem error about one path. */
export function isSessionError(err: unknown): boolean {
  return (
    err instanceof SessionOverError || err instanceof PeerFatalError || err instanceof SCPProtocolError || err instanceof InputEndedError
  );
}

/**
 * The text a client is told for a failed operation on `path` (a virtual path), in OpenSSH's
 * `name: [what: ]reason` form with `shown` (the path as the client wrote it) as the name, e.g.
 * `docs/a.txt: set times: Operation not permitted`.
 */
export function errorText(err: unknown, path: string, what = '', shown = path): string {
  let reason: string;
  if (err instanceof SFTPError) {
    // LocalFileSystem's messages already start with the virtual path.
    reason = err.message.startsWith(`${path}: `) ? err.message.slice(path.length + 2) : err.message;
  } else {
    reason = errnoText(err);
  }
  return `${shown}: ${what}${reason}`;
}
