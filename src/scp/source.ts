/**
 * The source (`scp -f PATH...`): the client downloads. Follows OpenSSH's scp.c `source()` and
 * `rsource()`: after the client's first acknowledgement, each argument (glob patterns expanded as
 * the remote shell would) is sent as `[T] C` + data + status, or with `-r` as `[T] D` ... `E`;
 * every record waits for the client's acknowledgement. Symlinks are followed (the filesystem's
 * jail decides which may be), loops through them are cut, and a file that shrinks while it is
 * sent is padded with zeros to keep the stream in step and then reported as an error.
 */
import type { SFTPAttributes, SFTPDirEntry, SFTPDirHandle, SFTPFileHandle } from '../sftp/FileSystem';
import { END_RECORD, fileRecord, MAX_LINE, timeRecord } from './codec';
import {
  baseName,
  childPath,
  childShown,
  isDirectory,
  isRegular,
  MAX_DEPTH,
  MAX_PATH,
  readAck,
  type SCPContext,
  wordPath,
  wordShown,
} from './context';
import { errorText, isSessionError } from './errors';
import { expandPattern, GlobLimitError } from './glob';

/** Bytes per read and per channel send; two buffers per transfer (one read while the other is sent). */
const CHUNK = 256 * 1024;
/** Only permission bits travel (OpenSSH's FILEMODEMASK: no sticky bit). */
const FILE_MODE_MASK = 0o6777;

export class SCPSource {
  private buffers?: [Buffer, Buffer];
  /** Real paths of the directories being sent, to cut symlink loops (when the filesystem has realpath). */
  private readonly ancestors = new Set<string>();

  constructor(private readonly ctx: SCPContext) {}

  async run(): Promise<void> {
    await readAck(this.ctx, MAX_LINE);
    for (const word of this.ctx.command.paths) {
      const literal = wordPath(word, this.ctx.user);
      const shown = wordShown(word);
      if (word.pattern === undefined) {
        await this.send(literal, shown, 0);
        continue;
      }
      let matched = false;
      // `~` and `~user` (this user) are `/`, which the pattern then starts with; another user's tilde stays a name.
      const otherTilde = word.tilde !== undefined && word.tilde !== '' && word.tilde !== this.ctx.user;
      const pattern = otherTilde ? `~${word.tilde}${word.pattern}` : word.pattern;
      try {
        for await (const match of expandPattern(this.ctx.fs, '/', pattern)) {
          matched = true;
          await this.send(match.path, match.shown, 0);
        }
      } catch (err) {
        if (isSessionError(err)) throw err;
        // Too many matches, or a folder that could not be listed: reported, the other arguments go on.
        await this.ctx.reportError(
          'glob',
          literal,
          err instanceof GlobLimitError ? `${shown}: ${err.message}` : errorText(err, literal, '', shown),
        );
        continue;
      }
      // No match: the word itself, as a shell without nullglob passes it.
      if (!matched) await this.send(literal, shown, 0);
    }
  }

  /** Sends `path` (virtual; `shown` as the client named it, for messages). */
  private async send(path: string, shown: string, depth: number): Promise<void> {
    let attrs: SFTPAttributes;
    try {
      attrs = await this.ctx.fs.stat(path);
    } catch (err) {
      return this.ctx.reportError('stat', path, errorText(err, path, '', shown));
    }
    if (isDirectory(attrs) && this.ctx.command.recursive) return this.sendDirectory(path, shown, attrs, depth);
    if (!isRegular(attrs)) return this.ctx.reportError('open', path, `${shown}: not a regular file`);
    return this.sendFile(path, shown);
  }

  /** The name a record carries: the path's last name; the root has none. */
  private async recordFor(kind: 'C' | 'D', path: string, shown: string, attrs: SFTPAttributes, size: number): Promise<Buffer | undefined> {
    const name = baseName(path);
    const line = name ? fileRecord(kind, (attrs.mode ?? 0o644) & FILE_MODE_MASK, size, name) : undefined;
    if (line) return line;
    const why = name
      ? 'name cannot be sent (a newline in it, or too long)'
      : 'the root directory has no name to send; copy its entries instead';
    await this.ctx.reportError('open', path, `${shown}: ${why}`);
    return undefined;
  }

  /** `T` record (with -p) and the client's answer; false when it refused. */
  private async sendTimes(attrs: SFTPAttributes): Promise<boolean> {
    if (!this.ctx.command.preserve) return true;
    await this.ctx.send(timeRecord(attrs.mtime ?? 0, attrs.atime ?? attrs.mtime ?? 0));
    return readAck(this.ctx, MAX_LINE);
  }

  private async sendFile(path: string, shown: string): Promise<void> {
    let handle: SFTPFileHandle;
    try {
      handle = await this.ctx.fs.open(
        path,
        { read: true, write: false, append: false, create: false, truncate: false, exclusive: false },
        {},
      );
    } catch (err) {
      return this.ctx.reportError('open', path, errorText(err, path, '', shown));
    }
    let sent = 0;
    let readError: string | undefined;
    try {
      let attrs: SFTPAttributes;
      try {
        attrs = await handle.stat();
      } catch (err) {
        return await this.ctx.reportError('stat', path, errorText(err, path, '', shown));
      }
      if (!isRegular(attrs)) return await this.ctx.reportError('open', path, `${shown}: not a regular file`);
      const size = attrs.size ?? 0;
      const record = await this.recordFor('C', path, shown, attrs, size);
      if (!record) return;
      if (!(await this.sendTimes(attrs))) return;
      await this.ctx.send(record);
      if (!(await readAck(this.ctx, MAX_LINE))) return;
      const buffers = (this.buffers ??= [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)]);
      let pending: Promise<void> | undefined;
      let which = 0;
      while (sent < size) {
        const buf = buffers[(which ^= 1)];
        const want = Math.min(CHUNK, size - sent);
        let filled = 0;
        if (readError === undefined) {
          try {
            filled = await readFully(handle, sent, buf, want);
            if (filled < want) readError = `${shown}: file shrank while being sent`;
          } catch (err) {
            readError = errorText(err, path, '', shown);
          }
        }
        // After a read error, zeros keep the stream in step (the client expects `size` bytes).
        if (filled < want) buf.fill(0, filled, want);
        if (pending) await pending;
        pending = this.ctx.send(buf.subarray(0, want));
        // Awaited on the next turn; until then a rejection (channel gone) must not count as unhandled.
        pending.catch(() => undefined);
        sent += want;
      }
      if (pending) await pending;
    } finally {
      await handle.close().catch(() => undefined);
    }
    if (readError === undefined) await this.ctx.send(Buffer.from([0]));
    else await this.ctx.reportError('read', path, readError);
    await readAck(this.ctx, MAX_LINE);
    if (readError === undefined) this.ctx.downloaded(path, sent);
  }

  private async sendDirectory(path: string, shown: string, attrs: SFTPAttributes, depth: number): Promise<void> {
    const { fs } = this.ctx;
    if (depth + 1 > MAX_DEPTH) return this.ctx.reportError('opendir', path, `${shown}: directories nested deeper than ${MAX_DEPTH}`);
    let real: string | undefined;
    if (fs.realpath) {
      try {
        real = await fs.realpath(path);
      } catch (err) {
        return this.ctx.reportError('opendir', path, errorText(err, path, '', shown));
      }
      if (this.ancestors.has(real))
        return this.ctx.reportError('opendir', path, `${shown}: directory loop (a link to a folder that contains it)`);
    }
    let dir: SFTPDirHandle;
    try {
      dir = await fs.opendir(path);
    } catch (err) {
      return this.ctx.reportError('opendir', path, errorText(err, path, '', shown));
    }
    if (real !== undefined) this.ancestors.add(real);
    try {
      const record = await this.recordFor('D', path, shown, attrs, 0);
      if (!record) return;
      if (!(await this.sendTimes(attrs))) return;
      await this.ctx.send(record);
      if (!(await readAck(this.ctx, MAX_LINE))) return;
      for (let batch = await this.nextEntries(dir, path, shown); batch; batch = await this.nextEntries(dir, path, shown)) {
        for (const entry of batch) {
          const name = entry.filename;
          if (name === '.' || name === '..') continue;
          const child = childPath(path, name);
          const childName = childShown(shown, name);
          if (name === '' || name.includes('/') || name.includes('\0')) {
            await this.ctx.reportError('readdir', child, `${childName}: unusable name in listing`);
          } else if (Buffer.byteLength(child) >= MAX_PATH) {
            await this.ctx.reportError('readdir', child, `${childName}: name too long`);
          } else {
            await this.send(child, childName, depth + 1);
          }
        }
      }
    } finally {
      if (real !== undefined) this.ancestors.delete(real);
      await dir.close().catch(() => undefined);
    }
    await this.ctx.send(END_RECORD);
    await readAck(this.ctx, MAX_LINE);
  }

  /** The next batch of a listing; a failing listing is reported and ends there (the folder is closed with `E` all the same). */
  private async nextEntries(dir: SFTPDirHandle, path: string, shown: string): Promise<SFTPDirEntry[] | undefined> {
    try {
      return await dir.next();
    } catch (err) {
      await this.ctx.reportError('readdir', path, errorText(err, path, '', shown));
      return undefined;
    }
  }
}

/** Reads `want` bytes at `position` into `buf` (fewer only at end of file). */
async function readFully(handle: SFTPFileHandle, position: number, buf: Buffer, want: number): Promise<number> {
  let filled = 0;
  while (filled < want) {
    let n: number;
    if (handle.readInto) {
      n = await handle.readInto(position + filled, buf, filled, want - filled);
    } else {
      const data = await handle.read(position + filled, want - filled);
      n = Math.min(data.length, want - filled);
      data.copy(buf, filled, 0, n);
    }
    if (n <= 0) break;
    filled += n;
  }
  return filled;
}
