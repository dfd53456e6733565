/** What the bench needs from any server it drives. */
export interface ServerMemory {
  /** RSS of the server (sshd: summed over all its processes), bytes. */
  rss: number;
  /** PSS summed over the processes (shared pages split), bytes. */
  pss: number;
  processes: number;
  /** V8 heap after GC (Node servers only). */
  heapUsed?: number;
  /** Buffers and other off-heap memory V8 knows about (Node servers only). */
  external?: number;
}

export interface ServerHandle {
  /** 'sdk' | 'raw' | 'sshd' | 'sdk-cluster-N' */
  readonly id: string;
  readonly label: string;
  readonly port: number;
  readonly user: string;
  readonly pid: number;
  /** CPU seconds so far (sshd: listener plus every per-connection process it has reaped). */
  cpuSeconds(): number;
  memory(): Promise<ServerMemory>;
  /** Resolves once the server has no per-connection leftovers that would still be charged CPU. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}
