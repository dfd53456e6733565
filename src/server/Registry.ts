import type { ChannelState } from '../channels/ChannelState';
import type { ConnectionRecord } from '../registry/ConnectionRecord';

/** The live connections and channels by id; every path out of a connection or channel removes its entry. */
export class Registry {
  readonly connections = new Map<string, ConnectionRecord>();
  readonly channels = new Map<string, ChannelState>();

  addConnection(c: ConnectionRecord): void {
    this.connections.set(c.id, c);
  }
  removeConnection(id: string): void {
    this.connections.delete(id);
  }
  addChannel(ch: ChannelState): void {
    this.channels.set(ch.id, ch);
  }
  removeChannel(id: string): boolean {
    return this.channels.delete(id);
  }
}
