import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import {
  channelMessagePayload,
  exitSignalPayload,
  SSH_MSG_CHANNEL_CLOSE,
  SSH_MSG_CHANNEL_DATA,
  SSH_MSG_CHANNEL_EOF,
  SSH_MSG_CHANNEL_EXTENDED_DATA,
  SSH_MSG_CHANNEL_FIRST,
  SSH_MSG_CHANNEL_LAST,
  SSH_MSG_CHANNEL_REQUEST,
} from '../packet/messages';
import { encodeString, encodeUint32, WireReader } from '../packet/wire';
import type { ChannelState } from './ChannelState';

/**
 * Sends an application's channel message (SSHDaemon.sendSSHPacket); `payload` omits the recipient
 * channel. Data (94/95), EOF (96) and CLOSE (97) go through the channel's flow control, the rest
 * in order after them. Throws InvalidArgument for a message number outside 90-127.
 */
export function sendChannelMessage(ch: ChannelState, packetType: number, payload: Buffer | Uint8Array): void | Promise<void> {
  if (!Number.isInteger(packetType) || packetType < SSH_MSG_CHANNEL_FIRST || packetType > SSH_MSG_CHANNEL_LAST) {
    throw new SSHDaemonError(ErrorCodes.InvalidArgument, `sendSSHPacket: packetType ${packetType} is not a channel message (90-127)`);
  }
  const body = Buffer.from(payload);
  if (packetType === SSH_MSG_CHANNEL_DATA) return ch.send(new WireReader(body).bytes(), 0);
  if (packetType === SSH_MSG_CHANNEL_EXTENDED_DATA) {
    const r = new WireReader(body);
    const type = r.uint32();
    return ch.send(r.bytes(), type);
  }
  if (packetType === SSH_MSG_CHANNEL_EOF) return ch.eof();
  if (packetType === SSH_MSG_CHANNEL_CLOSE) return ch.close();
  return ch.sendPacket(channelMessagePayload(packetType, ch.remoteId, body));
}

/** `exit-status` (RFC 4254 6.10) after any queued data. */
export function sendExitStatusOn(ch: ChannelState, code: number): void | Promise<void> {
  return sendChannelMessage(
    ch,
    SSH_MSG_CHANNEL_REQUEST,
    Buffer.concat([encodeString('exit-status'), Buffer.from([0]), encodeUint32(code)]),
  );
}

/** `exit-signal` (RFC 4254 6.10) after any queued data; throws InvalidArgument for a name that is not a signal's. */
export function sendExitSignalOn(ch: ChannelState, signal: string, coreDumped: boolean, message: string): Promise<void> {
  if (typeof signal !== 'string' || !/^(SIG)?[A-Z0-9@._-]+$/i.test(signal)) {
    throw new SSHDaemonError(
      ErrorCodes.InvalidArgument,
      `sendExitSignal: expected a signal name such as 'TERM', got ${JSON.stringify(signal)}`,
    );
  }
  return ch.sendPacket(exitSignalPayload(ch.remoteId, signal.toUpperCase(), coreDumped, message));
}
