import type { AuthHost } from '../auth/AuthFlow';
import type { BuiltInHooks } from './BuiltInServices';
import type { ConfigStore } from '../config/ConfigStore';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import type { Registry } from '../registry/Registry';
import type { ConnectionSession } from './ConnectionSession';
import type { EventHub } from './EventHub';

/** What a connection session needs from the daemon (kept narrow so the façade stays thin). */
export interface DaemonCore {
  readonly hub: EventHub;
  readonly registry: Registry;
  readonly settings: ConfigStore;
  authHost(session: ConnectionSession): AuthHost;
  /** Sends DISCONNECT and closes the socket, without waiting. */
  disconnectNow(conn: ConnectionRecord): void;
  /** Built-in services (SFTP, forwarding). */
  readonly builtIns: BuiltInHooks;
}
