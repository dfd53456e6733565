import { encodeString } from '../packet/wire';
import type { ChannelRequestParams } from '../packet/requestParams';

/** Requests a forced command replaces, as sshd's `command=` and `force-command` do. */
const STARTS_PROGRAM = new Set(['shell', 'exec', 'subsystem']);

export interface RewrittenRequest {
  requestType: string;
  params: ChannelRequestParams;
  /** The SSH_MSG_CHANNEL_REQUEST body the application sees (after the message number). */
  body: Buffer;
}

/**
 * Turns a shell, exec or subsystem request into `exec` of the forced command; the client's own
 * command (exec) or subsystem name is kept in `params.originalCommand`, like SSH_ORIGINAL_COMMAND.
 */
export function forceCommand(forced: string | undefined, request: RewrittenRequest, wantReply: boolean): RewrittenRequest {
  if (forced === undefined || !STARTS_PROGRAM.has(request.requestType)) return request;
  const p = request.params as { command?: string; subsystem?: string };
  const originalCommand = p.command ?? p.subsystem;
  const body = Buffer.concat([
    request.body.subarray(0, 4), // recipient channel
    encodeString('exec'),
    Buffer.from([wantReply ? 1 : 0]),
    encodeString(forced),
  ]);
  return { requestType: 'exec', params: originalCommand === undefined ? { command: forced } : { command: forced, originalCommand }, body };
}
