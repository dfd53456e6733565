/** The results file (bench/results/latest.json) that the report is written from. */
import type { Summary } from '../lib/stats';

export interface Machine {
  date: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  ssh2: string;
  cryptoBinding: boolean;
  sshClient: string;
  sshd: string;
  loadAverageAtStart: number[];
}

export interface BenchConfig {
  quick: boolean;
  runs: number;
  bulkBytes: number;
  handshakeSeconds: number;
  handshakeWarmupSeconds: number;
  loadProcesses: number;
  clusterLoadProcesses: number;
  clusterConcurrency: number;
  clusterScheduling: 'rr' | 'none';
  idleCounts: number[];
  sshdIdleMax: number;
  note: string;
}

export type ServerId = 'sdk' | 'raw' | 'sshd';

export interface BulkRow {
  cipher: string;
  direction: 'download' | 'upload';
  /** How the Node servers are written (bench/servers/commands.ts STYLES); undefined: the default loop (256 KiB awaited sends). */
  style?: string;
  /** Pairwise ratios (run i of one server over run i of the other, measured back to back): MiB/s and CPU s/GiB. */
  pairs?: { sdkRaw?: Summary; sdkSshd?: Summary; cpuSdkRaw?: Summary };
  /** MiB/s by server. */
  mibPerSecond: Partial<Record<ServerId, Summary>>;
  /** Server CPU seconds per GiB by server. */
  cpuPerGiB: Partial<Record<ServerId, Summary>>;
  errors: Partial<Record<ServerId, string>>;
}

export interface HandshakeRow {
  concurrency: number;
  /** Set for the extra row measuring another key exchange (SDK only). */
  kex?: string;
  perSecond: Partial<Record<ServerId, Summary>>;
  p50Ms: Partial<Record<ServerId, Summary>>;
  /** Server CPU milliseconds per handshake. */
  cpuMsPerHandshake: Partial<Record<ServerId, Summary>>;
  errors: Partial<Record<ServerId, string>>;
}

export interface IdleRow {
  requested: number;
  server: ServerId;
  reached?: number;
  rssPerConn?: number;
  pssPerConn?: number;
  heapPerConn?: number;
  externalPerConn?: number;
  processes?: number;
  openSeconds?: number;
  note?: string;
}

export interface ClusterRow {
  workers: number;
  perSecond: Summary;
  errors?: string;
}

export interface BenchResults {
  machine: Machine;
  config: BenchConfig;
  bulk: BulkRow[];
  /** SFTP put/get MiB/s (cipher column holds 'sftp'); SDK and sshd only. */
  sftp?: BulkRow[];
  handshakes: HandshakeRow[];
  idle: IdleRow[];
  cluster: ClusterRow[];
  profiles: { server: string; file: string; top: { fn: string; selfMs: number; share: number }[] }[];
  /** --profile: the server's own profile over each case (one transfer), summarised. */
  caseProfiles?: { server: string; case: string; file: string; top: { fn: string; selfMs: number; share: number }[] }[];
}
