/** What the sink and the source need from their session, and the path rules they share. */
import type { SFTPAttributes, SFTPFileSystem } from '../sftp/FileSystem';
import type { SCPCommand } from './command';
import { decodeFileName } from '../sftp/fileNames';
import { lexicalPath } from '../sftp/paths';
import { SCPProtocolError } from './codec';
import { PeerFatalError } from './errors';
import type { InputBuffer } from './InputBuffer';
import type { ShellWord } from './shellWords';

/** Directory levels a transfer may nest (both ways); deeper ones are refused. Each open level holds one directory handle. */
export const MAX_DEPTH = 128;
/** Longest virtual path handled (OpenSSH's PATH_MAX). */
export const MAX_PATH = 4096;

export interface SCPContext {
  readonly fs: SFTPFileSystem;
  readonly command: SCPCommand;
  readonly input: InputBuffer;
  /** The logged-in user, for `~user`. */
  readonly user: string;
  /** Sends protocol bytes; resolves once the channel took them. Waiting counts against the stall timer; rejects when the session is over. */
  send(data: Buffer): Promise<void>;
  /** Waits for something from the client under the stall timer; rejects when the session is over. */
  fromClient<T>(read: Promise<T>): Promise<T>;
  /** A non-fatal error: `\x01scp: text` to the client, counted for the exit status, and a `failed` event. */
  reportError(operation: string, path: string | undefined, text: string): Promise<void>;
  /** Audit events. */
  uploaded(path: string, bytes: number): void;
  downloaded(path: string, bytes: number): void;
  directoryCreated(path: string): void;
  /** Counts an error the client reported about itself. */
  peerError(message: string): void;
}

const S_IFMT = 0o170000;
export const isDirectory = (a: SFTPAttributes | undefined): boolean => a?.mode !== undefined && (a.mode & S_IFMT) === 0o040000;
export const isRegular = (a: SFTPAttributes | undefined): boolean => a?.mode !== undefined && (a.mode & S_IFMT) === 0o100000;

/** `dir/name` for virtual paths. */
export function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** The last name of a virtual path ('' for `/`). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** A path argument as the client wrote it (for messages, as OpenSSH prints them); the source drops trailing slashes, the sink keeps them. */
export function wordShown(word: ShellWord, dropTrailingSlashes = true): string {
  const text = word.tilde !== undefined ? `~${word.tilde}${word.text}` : word.text;
  return dropTrailingSlashes && text.length > 1 ? text.replace(/\/+$/, '') || '/' : text;
}

/** `shown/name` for names as the client sees them. */
export function childShown(shown: string, name: string): string {
  return shown === '/' ? `/${name}` : `${shown}/${name}`;
}

/**
 * A path argument as the virtual absolute path it names: `~` and `~user` (the logged-in user) are
 * the home directory `/`, relative paths start there, `.` and `..` are resolved lexically and
 * `..` never climbs above `/`, as in the SFTP server. `~other` stays a literal name (a shell
 * leaves an unknown user's tilde alone).
 */
export function wordPath(word: ShellWord, user: string): string {
  let text = word.text;
  if (word.tilde !== undefined && word.tilde !== '' && word.tilde !== user) text = `~${word.tilde}${text}`;
  return lexicalPath(text);
}

/**
 * Reads the peer's acknowledgement (OpenSSH's `response()`): `\0` is true; `\x01message\n` counts
 * an error and is false; `\x02message\n` ends the session.
 * @throws PeerFatalError on `\x02` or EOF; SCPProtocolError for any other byte
 */
export async function readAck(ctx: SCPContext, maxLine: number): Promise<boolean> {
  const b = await ctx.fromClient(ctx.input.byte());
  if (b === 0) return true;
  if (b === undefined) throw new PeerFatalError('lost connection');
  // Anything else where an acknowledgement belongs: the peer is out of step (e.g. it sent more file data than it announced).
  if (b !== 1 && b !== 2) throw new SCPProtocolError('protocol error: expected an acknowledgement');
  const rest = (await ctx.fromClient(ctx.input.line(maxLine - 1))) ?? Buffer.alloc(0);
  const message = decodeFileName(rest);
  ctx.peerError(message);
  if (b === 1) return false;
  throw new PeerFatalError(message);
}
