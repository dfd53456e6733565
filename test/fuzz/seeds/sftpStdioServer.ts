/**
 * Our SFTP server on stdin/stdout, jailed to a folder, recording what the client sends: the
 * server half of captureSftp.sh (`sftp -D` runs it). Usage: sftpStdioServer.ts ROOT CAPTURE_FILE
 */
import { createWriteStream } from 'node:fs';
import { LocalFileSystem, SFTPSession } from '../../../src';

const [root, capture] = process.argv.slice(2);
const record = createWriteStream(capture);
const session = new SFTPSession(
  { fileSystem: new LocalFileSystem(root) },
  {
    send: (packet) => new Promise<void>((resolve) => (process.stdout.write(packet) ? resolve() : process.stdout.once('drain', resolve))),
    holdInput: (hold) => (hold ? process.stdin.pause() : process.stdin.resume()),
    close: () => record.end(() => process.exit(0)),
  },
);
process.stdin.on('data', (chunk: Buffer) => {
  record.write(chunk);
  session.data(chunk);
});
process.stdin.on('end', () => session.end());
session.on('ended', () => record.end(() => process.exit(0)));
