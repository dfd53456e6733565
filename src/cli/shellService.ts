import { isSCPCommand, requestParamsOf, type SSHDaemon } from '../index';
import { DemoShell, type ShellContext } from './demoShell';

/**
 * Serves the demo shell (pty, shell, exec, window-change) on session channels; `leaveScp`: `exec scp
 * ...` is the SCP server's. The shell reads and writes the channel's stream: while its output waits
 * for a client that does not read, input is not read either, so the client's window closes and
 * memory stays bounded however fast it types.
 */
export function serveDemoShell(daemon: SSHDaemon, options: { leaveScp?: boolean } = {}): void {
  const shells = new Map<string, DemoShell>();
  const context = (connectionId: string, channelId: string): ShellContext => {
    const conn = daemon.sshConnections.get(connectionId);
    const terminal = daemon.sshChannels.get(channelId)?.terminal;
    return {
      user: conn?.user ?? '',
      remote: `${conn?.remoteHost}:${conn?.remotePort}`,
      terminal: terminal && { term: terminal.term, cols: terminal.cols, rows: terminal.rows },
    };
  };
  daemon
    .on('SSHChannelRequest', (e) => {
      if (['pty-req', 'env', 'shell', 'exec', 'window-change'].includes(e.requestType)) e.success = true;
    })
    .on('SSHChannelRequested', (e) => {
      const size = requestParamsOf(e, 'window-change');
      if (size) shells.get(e.channelId)?.resize(size.cols, size.rows);
      if (e.requestType === 'shell') {
        const channel = daemon.channelStream(e.channelId);
        channel.on('error', () => undefined); // a client that went away; the channel closes on its own
        const shell = new DemoShell(
          { write: (text) => void channel.write(text), exit: (code) => void channel.exit(code) },
          context(e.connectionId, e.channelId),
        );
        shells.set(e.channelId, shell);
        channel.on('data', (data: Buffer) => {
          shell.input(data);
          // Output the client has not taken yet: read no more input until it has (the window closes).
          if (channel.writableNeedDrain) {
            channel.pause();
            channel.once('drain', () => channel.resume());
          }
        });
        channel.on('end', () => shell.end());
        shell.start();
      }
      const exec = requestParamsOf(e, 'exec');
      if (exec && !(options.leaveScp && isSCPCommand(exec.command))) {
        const { output, code } = DemoShell.execute(exec.command, context(e.connectionId, e.channelId));
        // Sent in order; each is safe to leave unawaited (the client may close the channel first).
        void daemon.sendChannelData(e.channelId, output);
        void daemon.sendExitStatus(e.channelId, code);
        void daemon.closeChannel(e.channelId);
      }
    })
    .on('SSHChannelClosed', (e) => {
      shells.delete(e.channelId);
    });
}
