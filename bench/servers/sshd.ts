/**
 * OpenSSH's sshd for comparison: its own config file, the bench host key, a loopback port,
 * `-D -e -f cfg`, UsePAM no, publickey only with AuthorizedKeysFile pointing at the bench key.
 * Run as root (as in a real deployment: privilege separation, one monitor and one session process
 * per connection) it logs in a dedicated unprivileged user, `sshbench` (shell /bin/sh, locked out of
 * passwords, created on first run), so that no login-shell start-up files (a root .bashrc with
 * pyenv, say) are charged to sshd. Run as another user it can log in only that user (no privilege
 * separation then). Commands (`head -c`, `cat`, `true`) run for real through the login shell.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { CIPHERS, HOST_KEY, KEX, MACS } from '../lib/algorithms';
import { CgroupCpu } from '../lib/cgroupCpu';
import type { BenchKeys } from '../lib/keys';
import { cpuSeconds, processTree, sleep, treeMemory } from '../lib/proc';
import type { ServerHandle, ServerMemory } from './handle';

export const SSHD = '/usr/sbin/sshd';

export function sshdVersion(): string {
  const r = spawnSync(SSHD, ['-V'], { encoding: 'utf8' });
  return `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n')[0] || 'unknown';
}

/** Installs openssh-server when sshd is missing and we may (root, Debian); returns why not otherwise. */
export function ensureSshd(): string | undefined {
  if (existsSync(SSHD)) return undefined;
  if (process.getuid?.() !== 0) return `${SSHD} is missing; install it with: sudo apt-get install -y openssh-server`;
  try {
    console.log('installing openssh-server (apt-get) ...');
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'openssh-server'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (err) {
    return `apt-get install openssh-server failed: ${(err as Error).message}`;
  }
  return existsSync(SSHD) ? undefined : `${SSHD} still missing after apt-get`;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export const BENCH_USER = 'sshbench';

/** The login user for every server in the bench: `sshbench` when root (created if missing), else the current user. */
export function benchUser(): string {
  if (process.getuid?.() !== 0) return userInfo().username;
  try {
    execFileSync('getent', ['passwd', BENCH_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--home-dir', `/var/lib/${BENCH_USER}`, '--create-home', '--shell', '/bin/sh', BENCH_USER], {
      stdio: 'inherit',
    });
    // '*': no password can match, but the account is not "locked" ('!'), which sshd without PAM would refuse.
    execFileSync('usermod', ['-p', '*', BENCH_USER], { stdio: 'inherit' });
  }
  return BENCH_USER;
}

export class Sshd implements ServerHandle {
  readonly id = 'sshd';
  readonly label: string;
  /** How CPU is measured: 'cgroup' (exact) or 'proc' (listener + live processes; undercounts exited ones). */
  readonly cpuMethod: 'cgroup' | 'proc';
  private constructor(
    readonly port: number,
    readonly user: string,
    readonly pid: number,
    private readonly child: ChildProcess,
    version: string,
    private readonly cgroup: CgroupCpu | undefined,
  ) {
    this.label = `sshd (${version.replace(/,.*$/, '')})`;
    this.cpuMethod = cgroup ? 'cgroup' : 'proc';
  }

  static async start(dir: string, keys: BenchKeys, port: number, user: string): Promise<Sshd> {
    if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation directory
    const cfg = join(dir, 'sshd_config');
    writeFileSync(
      cfg,
      [
        `ListenAddress 127.0.0.1:${port}`,
        `HostKey ${keys.hostKeyPath}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${keys.authorizedKeysPath}`,
        'UsePAM no',
        'StrictModes no',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        `AllowUsers ${user}`,
        `KexAlgorithms ${KEX.join(',')}`,
        `HostKeyAlgorithms ${HOST_KEY.join(',')}`,
        `Ciphers ${CIPHERS.join(',')}`,
        `MACs ${MACS.join(',')}`,
        'Compression no',
        'UseDNS no',
        'PrintMotd no',
        'PrintLastLog no',
        'X11Forwarding no',
        'AllowTcpForwarding no',
        'Subsystem sftp /usr/lib/openssh/sftp-server',
        'PermitTTY no',
        'MaxStartups 100000',
        'MaxSessions 10',
        'LoginGraceTime 600',
        'ClientAliveInterval 0',
        'LogLevel ERROR',
        '',
      ].join('\n'),
    );
    const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; exec "$@"', 'sh', SSHD, '-D', '-e', '-f', cfg], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const cgroup = CgroupCpu.attach(child.pid!, `sshdaemon-bench-sshd-${child.pid}`);
    let exited: string | undefined;
    child.once('exit', (code) => (exited = `sshd exited (code ${code}); see its messages above`));
    for (let i = 0; i < 100 && !exited; i++) {
      if (await portOpen(port)) return new Sshd(port, user, child.pid!, child, sshdVersion(), cgroup);
      await sleep(50);
    }
    child.kill();
    cgroup?.remove();
    throw new Error(exited ?? 'sshd did not start listening within 5 s');
  }

  cpuSeconds(): number {
    if (this.cgroup) return this.cgroup.seconds();
    // Fallback: listener plus reaped descendants (cutime/cstime), plus whatever is still running.
    const live = processTree(this.pid).filter((p) => p !== this.pid);
    return cpuSeconds(this.pid, true) + live.reduce((s, p) => s + (cpuSeconds(p, true) || 0), 0);
  }

  async memory(): Promise<ServerMemory> {
    return treeMemory(this.pid);
  }

  async settle(): Promise<void> {
    for (let i = 0; i < 100 && processTree(this.pid).length > 1; i++) await sleep(20);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const leftovers = processTree(this.pid).filter((p) => p !== this.pid);
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    await gone;
    for (const p of leftovers) {
      try {
        process.kill(p, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    await sleep(100);
    this.cgroup?.remove();
  }
}
