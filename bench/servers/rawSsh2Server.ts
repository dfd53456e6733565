/**
 * The same bench server on bare ssh2 (what a hand-written server looks like): publickey auth for one
 * user key, exec of the bench commands through the shared commands.ts, nothing else.
 * Runs as its own process (see serverProcess.ts for the protocol with the bench).
 */
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { Server, utils, type Connection, type ServerChannel } from 'ssh2';
import { CIPHERS, HOST_KEY, KEX, MACS } from '../lib/algorithms';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseCommand, pumpZeros, zeroPieces } from './commands';
import { serveBenchProcess, type ServerOptions } from './serverProcess';

function writeAccepted(stream: ServerChannel, chunk: Buffer): void | Promise<void> {
  if (stream.write(chunk)) return;
  return new Promise<void>((resolve) => stream.once('drain', resolve));
}

function handleExec(command: string, stream: ServerChannel, counters: { execs: number }): void {
  counters.execs++;
  const cmd = parseCommand(command);
  const finish = () => {
    stream.exit(0);
    stream.end();
  };
  if (cmd.kind === 'download' && cmd.style === 'stream') {
    pipeline(Readable.from(zeroPieces(cmd.bytes, cmd.chunk), { objectMode: false }), stream, { end: false }).then(finish, () => undefined);
  } else if (cmd.kind === 'download') {
    pumpZeros(cmd.bytes, (chunk) => writeAccepted(stream, chunk), cmd.chunk).then(finish, () => undefined);
  } else if (cmd.kind === 'upload' && cmd.style === 'stream') {
    pipeline(stream, new Writable({ write: (_chunk, _encoding, done) => done() }), { end: true }).then(finish, () => undefined);
  } else if (cmd.kind === 'upload') {
    stream.on('data', () => undefined);
    stream.on('end', finish);
  } else {
    finish();
  }
}

serveBenchProcess(async (o: ServerOptions) => {
  const counters = { connected: 0, disconnected: 0, authenticated: 0, execs: 0, errors: 0 };
  const allowed = utils.parseKey(readFileSync(o.userKeyPubPath, 'utf8'));
  if (allowed instanceof Error) throw allowed;
  const allowedBlob = allowed.getPublicSSH();
  const server = new Server(
    {
      hostKeys: [readFileSync(o.hostKeyPath)],
      algorithms: {
        kex: KEX as never,
        serverHostKey: HOST_KEY as never,
        cipher: CIPHERS as never,
        hmac: MACS as never,
        compress: ['none', 'zlib@openssh.com', 'zlib'],
      },
    },
    (client: Connection) => {
      counters.connected++;
      (client as Connection & { setNoDelay(v: boolean): void }).setNoDelay(true); // as the SDK's TcpNoDelay default, so both write the handshake the same way
      client.on('close', () => void counters.disconnected++);
      client.on('error', () => void counters.errors++);
      client.on('authentication', (ctx) => {
        if (ctx.method !== 'publickey' || ctx.username !== o.user) return ctx.reject(['publickey']);
        const blob = ctx.key.data;
        if (ctx.key.algo !== allowed.type || blob.length !== allowedBlob.length || !timingSafeEqual(blob, allowedBlob))
          return ctx.reject(['publickey']);
        if (!ctx.signature) return ctx.accept(); // the "would this key do?" query
        if (allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
        counters.authenticated++;
        ctx.accept();
      });
      client.on('ready', () => {
        client.on('session', (accept) => {
          const session = accept();
          session.on('exec', (acceptExec, _reject, info) => handleExec(info.command, acceptExec(), counters));
        });
      });
    },
  );
  server.on('error', () => void counters.errors++);
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: o.port, backlog: 4096 }, resolve));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : o.port, counters };
});
