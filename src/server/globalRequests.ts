import { builtInDecisionLog, decisionArgs } from '../channels/builtInDecisions';
import type { BuiltInHooks } from '../channels/ChannelHost';
import { markHandled } from '../errors/unawaited';
import { afterDecision, type EventHub } from '../events/EventHub';
import type { ChannelRequestParams } from '../packet/requestParams';
import { encodeString, encodeUint32 } from '../packet/wire';
import { refusedGlobalRequest } from '../policy/SessionRestrictions';
import type { ConnectionRecord } from '../registry/ConnectionRecord';

/** ssh2's reply to a global request; the port is reported for tcpip-forward with port 0. */
export type GlobalReply = (boundPort?: number) => void;

/** What ssh2 decoded of a global request. */
export interface GlobalRequestInfo {
  bindAddr?: string;
  bindPort?: number;
  socketPath?: string;
}

/**
 * Global requests ssh2 passes on once authenticated (tcpip-forward, streamlocal-forward@openssh.com and their cancels):
 * reported as SSHChannelRequest with channelId '', after the key's restrictions.
 */
export function globalRequest(
  conn: ConnectionRecord,
  hub: EventHub,
  builtIns: BuiltInHooks,
  name: string,
  info: GlobalRequestInfo,
  accept?: GlobalReply,
  reject?: () => void,
): void {
  const forward = name === 'tcpip-forward' || name === 'cancel-tcpip-forward';
  const streamLocal = name === 'streamlocal-forward@openssh.com' || name === 'cancel-streamlocal-forward@openssh.com';
  const params: ChannelRequestParams = forward
    ? { bindAddress: info.bindAddr ?? '', bindPort: info.bindPort ?? 0 }
    : streamLocal
      ? { socketPath: info.socketPath ?? '' }
      : {};
  const refused = refusedGlobalRequest(conn.restrictions, name, info) || builtIns.refusedGlobal(conn, name);
  if (refused) {
    hub.log(conn.id, 1, refused);
    return reject?.();
  }
  const fields = forward
    ? [encodeString(info.bindAddr ?? ''), encodeUint32(info.bindPort ?? 0)]
    : streamLocal
      ? [encodeString(info.socketPath ?? '')]
      : [];
  const packet = Buffer.concat([encodeString(name), Buffer.from([accept ? 1 : 0]), ...fields]);
  const ids = { connectionId: conn.id, channelId: '' };
  const args = decisionArgs({ ...ids, requestType: name, packet, params }, 'success', builtIns.presetSuccess(conn, name, params));
  afterDecision(hub.decide('SSHChannelRequest', args), (ok) => {
    if (conn.closed) return;
    const note = builtInDecisionLog(args, `the ${name} request`);
    if (note) hub.log(conn.id, note.level, note.message);
    if (!ok || !args.success) return reject?.();
    const wire = conn.wire!;
    markHandled(
      Promise.resolve(builtIns.attachGlobal(conn, name, params)).then((outcome) => {
        // A bind can finish after the client's FIN: ssh2's transport is gone then, and a reply would throw.
        if (conn.closed || wire.transportDestroyed()) return;
        if (outcome === false) return reject?.();
        accept?.(typeof outcome === 'number' ? outcome : undefined);
        hub.fire('SSHChannelRequested', { ...ids, requestType: name, packet, params });
      }),
    );
  });
}
