import { Client, utils, type ConnectConfig } from 'ssh2';
export { utils };

export interface ExecResult {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

/** Connects an in-process ssh2 client; rejects on auth failure or error. */
export function connect(port: number, cfg: Partial<ConnectConfig>): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => resolve(c)).on('error', reject);
    c.connect({ host: '127.0.0.1', port, username: 'tester', readyTimeout: 10_000, ...cfg });
  });
}

export function exec(c: Client, command: string, input?: Buffer | string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, stream) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | undefined;
      stream.on('data', (d: Buffer) => (stdout += d.toString()));
      stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      stream.on('exit', (c: number) => (code = c));
      stream.on('close', () => resolve({ code, stdout, stderr }));
      if (input !== undefined) stream.end(input);
      else stream.end();
    });
  });
}
