import { isSCPCommand, requestParamsOf, type SSHDaemon } from '../index';
import { DemoShell, type ShellContext } from './demoShell';

/** Serves the demo shell (pty, shell, exec, window-change) on session channels; `leaveScp`: `exec scp ...` is the SCP server's. */
export function serveDemoShell(daemon: SSHDaemon, options: { leaveScp?: boolean } = {}): void {
  const shells = new Map<string, DemoShell>();
  const terminals = new Map<string, ShellContext['terminal']>();
  const finish = (channelId: string, code: number) => void daemon.sendExitStatus(channelId, code).then(() => daemon.closeChannel(channelId), () => undefined);
  const context = (connectionId: string, channelId: string): ShellContext => {
    const conn = daemon.sshConnections.get(connectionId);
    return { user: conn?.user ?? '', remote: `${conn?.remoteHost}:${conn?.remotePort}`, terminal: terminals.get(channelId) };
  };
  daemon
    .on('SSHChannelRequest', (e) => {
      if (['pty-req', 'env', 'shell', 'exec', 'window-change'].includes(e.requestType)) e.success = true;
    })
    .on('SSHChannelRequested', (e) => {
      const pty = requestParamsOf(e, 'pty-req');
      if (pty) terminals.set(e.channelId, { term: pty.term, cols: pty.cols, rows: pty.rows });
      const size = requestParamsOf(e, 'window-change');
      if (size) shells.get(e.channelId)?.resize(size.cols, size.rows);
      if (e.requestType === 'shell') {
        const write = (text: string) => void daemon.sendChannelData(e.channelId, text).catch(() => undefined);
        const shell = new DemoShell({ write, exit: (code) => finish(e.channelId, code) }, context(e.connectionId, e.channelId));
        shells.set(e.channelId, shell);
        shell.start();
      }
      const exec = requestParamsOf(e, 'exec');
      if (exec && !(options.leaveScp && isSCPCommand(exec.command))) {
        const { output, code } = DemoShell.execute(exec.command, context(e.connectionId, e.channelId));
        void daemon.sendChannelData(e.channelId, output).then(() => finish(e.channelId, code), () => undefined);
      }
    })
    .on('SSHChannelDataIn', (e) => shells.get(e.channelId)?.input(Buffer.from(e.data)))
    .on('SSHChannelEOF', (e) => shells.get(e.channelId)?.end())
    .on('SSHChannelClosed', (e) => {
      shells.delete(e.channelId);
      terminals.delete(e.channelId);
    });
}
