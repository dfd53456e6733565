/**
 * The client's identification line in any number of reads (src/engine/identReassembly.ts).
 *
 * ssh2 1.17.0 kept only the first read of an unfinished line: a client whose line arrived in three
 * or more reads failed the key exchange. Here an in-process ssh2 client writes its line one byte
 * per turn of the event loop (each byte its own read on the server) and in three pieces; the same
 * client logs in and runs a command on the daemon and on OpenSSH's sshd (the reference, which reads
 * the line in any number of pieces). A line without an end is still refused at ssh2's 8192-byte
 * limit, the connection closes and nothing is left behind.
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { test } from 'node:test';
import { Client } from 'ssh2';
import { requireBinary } from './fixtures/clients';
import { withSshd } from './fixtures/sshdReference';
import { registryDrained, startTestServer, type TestUserKey, USER } from './fixtures/testServer';
import { until } from './fixtures/wait';
import { type Cut, fragmentingConnection } from './fixtures/fragmentingSocket';

const TIMEOUT = { timeout: 120_000 };

/** Cuts the first write (the identification line) into `pieces(length)` sizes; later writes go whole. */
function identCuts(pieces: (length: number) => number[]): Cut {
  let sizes: number[] | undefined;
  return (head) => {
    sizes ??= pieces(head);
    return { size: sizes.shift() ?? head, tail: false };
  };
}

const bytewise = (length: number) => Array<number>(length).fill(1);
const threeParts = (length: number) => [3, 8, length - 11];

/** Logs in as `user` with `key` over a socket that splits the identification line, runs `command`, returns its output. */
async function loginAndRun(
  port: number,
  user: string,
  key: TestUserKey,
  split: (length: number) => number[],
  command: string,
): Promise<string> {
  const sock = await fragmentingConnection(port, identCuts(split));
  const client = new Client();
  try {
    await new Promise<void>((resolve, reject) => {
      client.on('ready', resolve).on('error', reject);
      client.connect({ sock, username: user, privateKey: key.privateKeyText, readyTimeout: 30_000 });
    });
    return await new Promise<string>((resolve, reject) =>
      client.exec(command, (err, stream) => {
        if (err) return reject(err);
        let out = '';
        stream.on('data', (d: Buffer) => (out += d.toString()));
        stream.on('close', () => resolve(out));
      }),
    );
  } finally {
    client.end();
  }
}

test(
  'an identification line that arrives a byte per read, or in three reads, is read whole: the daemon and sshd both log the client in',
  TIMEOUT,
  async () => {
    const server = await startTestServer();
    try {
      for (const split of [bytewise, threeParts]) {
        assert.equal(await loginAndRun(server.port, USER, server.userKey, split, 'echo split-ident'), 'split-ident\n', split.name);
      }
      await registryDrained(server.daemon);
    } finally {
      await server.close();
    }
    requireBinary('sshd');
    await withSshd([server.userKey.publicKeyOpenSSH], [], async (sshd) => {
      for (const split of [bytewise, threeParts]) {
        assert.equal(
          await loginAndRun(sshd.port, sshd.user, server.userKey, split, 'echo split-ident'),
          'split-ident\n',
          `sshd, ${split.name}`,
        );
      }
    });
  },
);

test(
  'an identification line that never ends is refused at 8192 bytes; the connection closes and the registry drains',
  TIMEOUT,
  async () => {
    const server = await startTestServer();
    try {
      const tcp = tcpConnect(server.port, '127.0.0.1');
      await new Promise((resolve) => tcp.once('connect', resolve));
      let closed = false;
      tcp.on('close', () => (closed = true));
      tcp.on('error', () => undefined);
      tcp.resume();
      const sendSome = async () => {
        for (let i = 0; i < 40 && !closed; i++) {
          tcp.write(Buffer.alloc(512, 0x41));
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      };
      tcp.write('SSH-2.0-');
      await sendSome();
      await until('the daemon closed the connection', () => closed);
      await registryDrained(server.daemon);
    } finally {
      await server.close();
    }
  },
);
