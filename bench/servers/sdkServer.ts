/** The SDK bench server as its own process (see sdkDaemon.ts for the server, serverProcess.ts for the protocol). */
import { startBenchDaemon } from './sdkDaemon';
import { serveBenchProcess } from './serverProcess';

serveBenchProcess(async (o) => {
  const { daemon, counters } = await startBenchDaemon({
    hostKeyPath: o.hostKeyPath,
    userKeyBlob: o.userKeyBlob,
    user: o.user,
    port: o.port,
  });
  return { port: daemon.localPort, counters };
});
