import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** One command-line option: the usage text and the parser are generated from this table. */
interface OptionRow {
  readonly name: string;
  /** Placeholder of the value; absent for a flag. */
  readonly value?: string;
  readonly multiple?: boolean;
  readonly description: string;
}

const OPTIONS: readonly OptionRow[] = [
  { name: 'host', value: 'ADDRESS', description: 'address to listen on (default 127.0.0.1)' },
  { name: 'port', value: 'PORT', description: 'port to listen on (default 2222; 0 picks a free one)' },
  { name: 'data', value: 'DIR', description: 'folder for the generated host key (default ./data)' },
  { name: 'host-key', value: 'FILE', description: 'host key in any supported format; generated as Ed25519 if missing' },
  {
    name: 'user',
    value: 'NAME:PASSWORD',
    multiple: true,
    description: 'a password user (repeatable); without --user and --authorized-keys: demo:demo',
  },
  {
    name: 'authorized-keys',
    value: 'FILE',
    description: 'OpenSSH authorized_keys: its keys log in (as any --user name, or any name if none)',
  },
  { name: 'sftp', value: 'DIR', description: 'serve SFTP and SCP (scp -O, pscp -scp) jailed at DIR' },
  { name: 'shell', description: 'serve the demo shell and exec (on when none of --sftp, --allow-forwarding, --exec is given)' },
  { name: 'exec', description: 'run real commands and shells (a pty with node-pty) for logged-in users, as the user running this server' },
  { name: 'allow-forwarding', description: 'allow ssh -L, -D, -W and -R' },
  { name: 'config', value: 'NAME=VALUE', multiple: true, description: 'a config() setting (repeatable), e.g. --config MaxAuthAttempts=3' },
  { name: 'log-level', value: 'N', description: '0 none, 1 info (default), 2 verbose, 3 debug' },
  { name: 'help', description: 'show this help' },
];

export function usage(): string {
  const lines = OPTIONS.map((o) => {
    const left = `  --${o.name}${o.value ? ` ${o.value}` : ''}`;
    return `${left.padEnd(34)}${o.description}`;
  });
  return ['usage: sshdaemon [options]', '', ...lines].join('\n');
}

/** The parsed command line. */
export interface CliOptions {
  host: string;
  port: number;
  hostKey: string;
  users: Map<string, string>;
  authorizedKeys?: string;
  sftp?: string;
  shell: boolean;
  /** Real programs through enableProcesses. */
  exec: boolean;
  forwarding: boolean;
  /** No --user and no --authorized-keys: the demo login demo/demo. */
  demoLogin: boolean;
  config: string[];
  logLevel?: number;
  help: boolean;
}

/** A bad command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

function integer(text: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(`${what} must be an integer from ${min} to ${max}, got '${text}'`);
  return Number(text);
}

export function parseCommandLine(argv: string[], cwd = process.cwd()): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        OPTIONS.map((o) => [o.name, { type: o.value ? ('string' as const) : ('boolean' as const), multiple: o.multiple ?? false }]),
      ),
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const text = (name: string) => v[name] as string | undefined;
  const list = (name: string) => (v[name] as string[] | undefined) ?? [];
  const users = new Map<string, string>();
  for (const spec of list('user')) {
    const i = spec.indexOf(':');
    if (i <= 0) throw new UsageError(`--user expects NAME:PASSWORD, got '${spec}'`);
    users.set(spec.slice(0, i), spec.slice(i + 1));
  }
  const authorizedKeys = text('authorized-keys');
  if (authorizedKeys !== undefined && !existsSync(authorizedKeys))
    throw new UsageError(`--authorized-keys: no such file '${authorizedKeys}'`);
  const sftp = text('sftp');
  if (sftp !== undefined && !(existsSync(sftp) && statSync(sftp).isDirectory()))
    throw new UsageError(`--sftp: '${sftp}' is not a directory`);
  const demoLogin = users.size === 0 && authorizedKeys === undefined;
  if (demoLogin) users.set('demo', 'demo');
  const forwarding = v['allow-forwarding'] === true;
  const exec = v.exec === true;
  if (exec && v.shell === true) throw new UsageError('--exec and --shell both serve exec and shell requests: choose one');
  for (const c of list('config')) if (!c.includes('=')) throw new UsageError(`--config expects NAME=VALUE, got '${c}'`);
  return {
    host: text('host') ?? '127.0.0.1',
    port: integer(text('port') ?? '2222', '--port', 0, 65535),
    hostKey: text('host-key') ?? join(text('data') ?? join(cwd, 'data'), 'ssh_host_ed25519_key'),
    users,
    authorizedKeys,
    sftp,
    shell: v.shell === true || (sftp === undefined && !forwarding && !exec),
    exec,
    forwarding,
    demoLogin,
    config: list('config'),
    logLevel: text('log-level') === undefined ? undefined : integer(text('log-level')!, '--log-level', 0, 3),
    help: v.help === true,
  };
}
