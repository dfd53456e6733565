/** The machine description at the top of the report. */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { sshdVersion } from '../servers/sshd';
import type { Machine } from './types';

function sshClientVersion(): string {
  const r = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return `${r.stderr ?? ''}${r.stdout ?? ''}`.trim() || 'unknown';
}

export function describeMachine(): Machine {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require('ssh2/lib/protocol/crypto') as { bindingAvailable?: boolean };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ssh2Version = (require('ssh2/package.json') as { version: string }).version;
  return {
    date: new Date().toISOString(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    ssh2: ssh2Version,
    cryptoBinding: crypto.bindingAvailable === true,
    sshClient: sshClientVersion().split('\n')[0],
    sshd: sshdVersion(),
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
