/** The fuzz targets (`test/fuzz/targets/<name>.ts`) and how each runs. No module of src/ is imported here. */
export interface TargetSpec {
  /** A synchronous fuzz function (faster); asynchronous ones return a promise per input. */
  readonly sync: boolean;
  /** libFuzzer -max_len: the longest input tried. */
  readonly maxLen: number;
  /** Per-input time limit: an input that takes longer is a finding (a hang). */
  readonly timeoutMs?: number;
  readonly rssLimitMb?: number;
  /** A libFuzzer dictionary in test/fuzz/dictionaries/. */
  readonly dictionary?: string;
  readonly disableBugDetectors?: string[];
}

export const TARGETS: Readonly<Record<string, TargetSpec>> = {
  proxyProtocol: { sync: true, maxLen: 600, dictionary: 'proxyProtocol.dict' },
  sshParam: { sync: true, maxLen: 1024, dictionary: 'sshParam.dict' },
  authorizedKeys: { sync: true, maxLen: 4096, dictionary: 'authorizedKeys.dict' },
  openSSHCertificate: { sync: true, maxLen: 4096, dictionary: 'openSSHCertificate.dict' },
  keyStores: { sync: true, maxLen: 8192, timeoutMs: 10_000, dictionary: 'keyStores.dict' },
  // Jazzer's path-traversal detector wraps node:fs and drops realpathSync.native; the target checks the jail itself.
  sftp: { sync: false, maxLen: 16384, timeoutMs: 10_000, dictionary: 'sftp.dict', disableBugDetectors: ['path-traversal'] },
  // The SSH targets connect to their own daemon on loopback, which the SSRF detector would report.
  sshAuth: { sync: false, maxLen: 2048, timeoutMs: 30_000, disableBugDetectors: ['path-traversal', 'ssrf'] },
  sshChannel: {
    sync: false,
    maxLen: 4096,
    timeoutMs: 30_000,
    dictionary: 'sshChannel.dict',
    disableBugDetectors: ['path-traversal', 'ssrf'],
  },
};
