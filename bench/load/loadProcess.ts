/** Starts load processes (handshakeClient.ts, idleClient.ts) with a raised fd limit, and speaks their IPC protocol. */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { spawnUnlimited } from '../lib/proc';

export const REPO = join(__dirname, '..', '..');

export class LoadProcess {
  private constructor(readonly child: ChildProcess) {}

  static async start(script: string, options: object): Promise<LoadProcess> {
    const child = spawnUnlimited(process.execPath, ['--import', 'tsx', join(__dirname, script), JSON.stringify(options)], {
      cwd: REPO,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await LoadProcess.next(child, 'ready');
    return new LoadProcess(child);
  }

  private static next<T>(child: ChildProcess, type: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load process exited (code ${code}) while waiting for '${type}'`));
      const onMessage = (m: { type: string }) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m as T);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  send(message: object): void {
    this.child.send(message);
  }

  wait<T>(type: string): Promise<T> {
    return LoadProcess.next<T>(this.child, type);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    await gone;
  }
}
