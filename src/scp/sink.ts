/**
 * The sink (`scp -t TARGET`): the client uploads. Follows OpenSSH's scp.c `sink()`:
 *
 * - the target is a directory (files land inside it under their record names) or, for a single
 *   file, the file itself; `-d` requires a directory;
 * - a file is opened for writing without truncation, written as it arrives and truncated to the
 *   announced size at the end; without `-p` a new file gets the record's mode (less the umask), an
 *   existing one keeps its mode; with `-p` the mode and the times of the `T` record are applied;
 * - a directory (`-r` only) is created with the owner's rwx added, and gets its record mode back
 *   (and times, `-p`) after its `E`;
 * - errors opening or creating are answered with `\x01` and the client skips that entry; errors
 *   while writing are kept until the data is drained (to stay in step) and reported instead of the
 *   final acknowledgement; malformed records are fatal.
 */
import type { SFTPAttributes, SFTPFileHandle } from '../sftp/FileSystem';
import { decodeFileName } from '../sftp/fileNames';
import { ACK, MAX_LINE, parseRecord, SCPProtocolError, type SCPRecord } from './codec';
import {
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
import { errorText, PeerFatalError } from './errors';

/** Largest single write handed to the filesystem. */
const WRITE_CHUNK = 256 * 1024;
const S_IWUSR = 0o200;
const S_IRWXU = 0o700;

type Times = { atime: number; mtime: number } | undefined;

export class SCPSink {
  constructor(private readonly ctx: SCPContext) {}

  async run(): Promise<void> {
    const { command, fs } = this.ctx;
    if (command.paths.length !== 1) throw new SCPProtocolError('ambiguous target');
    const target = wordPath(command.paths[0], this.ctx.user);
    const shown = wordShown(command.paths[0], false);
    if (command.targetShouldBeDirectory) {
      let attrs: SFTPAttributes;
      try {
        attrs = await fs.stat(target);
      } catch (err) {
        throw new SCPProtocolError(errorText(err, target, '', shown));
      }
      if (!isDirectory(attrs)) throw new SCPProtocolError(`${shown}: Not a directory`);
    }
    await this.ctx.send(ACK);
    await this.receive(target, shown, 0);
  }

  private async stat(path: string): Promise<SFTPAttributes | undefined> {
    try {
      return await this.ctx.fs.stat(path);
    } catch {
      return undefined;
    }
  }

  /** One level of records into `target` (`shown` as the client named it); returns at its `E` or at EOF. */
  private async receive(target: string, shown: string, depth: number): Promise<void> {
    const targetIsDir = isDirectory(await this.stat(target));
    // `new/` that is not a folder: a file cannot be written there (open(2) says EISDIR), a folder can be made.
    const slashed = !targetIsDir && shown.length > 1 && shown.endsWith('/');
    let times: Times;
    for (let first = true; ; first = false) {
      const line = await this.ctx.fromClient(this.ctx.input.line(MAX_LINE));
      if (line === undefined) return;
      let record: SCPRecord;
      try {
        record = parseRecord(line);
      } catch (err) {
        // A first line (of any folder level) that is no record at all is echoed, as OpenSSH does (a shell's "No match." in rcp's day).
        if (first && err instanceof SCPProtocolError && /expected control record/.test(err.message))
          throw new SCPProtocolError(decodeFileName(line));
        throw err;
      }
      if (record.kind === 'error') {
        this.ctx.peerError(record.message);
        if (record.fatal) throw new PeerFatalError(record.message);
        continue;
      }
      if (record.kind === 'E') {
        await this.ctx.send(ACK);
        return;
      }
      if (record.kind === 'T') {
        // Out-of-range times are acknowledged and ignored, as OpenSSH does.
        times = record.inRange ? { atime: record.atime, mtime: record.mtime } : undefined;
        await this.ctx.send(ACK);
        continue;
      }
      const path = targetIsDir ? childPath(target, record.name) : target;
      const name = targetIsDir ? childShown(shown, record.name) : shown;
      const pending = times;
      times = undefined;
      if (Buffer.byteLength(path) > MAX_PATH) {
        await this.ctx.reportError(record.kind === 'C' ? 'open' : 'mkdir', path, `${name}: File name too long`);
        continue;
      }
      if (record.kind === 'D') await this.receiveDirectory(path, name, record.mode, pending, depth);
      else if (slashed) await this.ctx.reportError('open', path, `${name}: Is a directory`);
      else await this.receiveFile(path, name, record.mode, record.size, pending);
    }
  }

  private async receiveDirectory(path: string, shown: string, recordMode: number, times: Times, depth: number): Promise<void> {
    const { fs, command } = this.ctx;
    if (!command.recursive) throw new SCPProtocolError('protocol error: received directory without -r');
    if (depth + 1 > MAX_DEPTH) throw new SCPProtocolError(`protocol error: directories nested deeper than ${MAX_DEPTH}`);
    const mode = command.preserve ? recordMode & 0o7777 : recordMode & 0o777;
    const existing = await this.stat(path);
    let finalMode: number | undefined;
    if (existing) {
      if (!isDirectory(existing)) return await this.ctx.reportError('mkdir', path, `${shown}: Not a directory`);
      if (command.preserve) {
        finalMode = mode;
        await fs.setstat(path, { mode }).catch(() => undefined); // ignored, as OpenSSH's chmod here
      }
    } else {
      try {
        // Owner rwx while the contents arrive (a read-only source folder), the record's mode after.
        await fs.mkdir(path, { mode: mode | S_IRWXU });
      } catch (err) {
        return await this.ctx.reportError('mkdir', path, errorText(err, path, '', shown));
      }
      this.ctx.directoryCreated(path);
      finalMode = command.preserve ? mode : await this.umasked(path, mode);
    }
    await this.ctx.send(ACK);
    await this.receive(path, shown, depth + 1);
    // As OpenSSH: times, then the mode; failures here are not reported (nor are they by OpenSSH).
    try {
      if (times) await fs.setstat(path, { atime: times.atime, mtime: times.mtime });
      if (finalMode !== undefined) await fs.setstat(path, { mode: finalMode });
    } catch {
      // The directory and its contents are in place; only its attributes differ.
    }
  }

  /**
   * The record mode with the creation mask applied: what the filesystem gave the new entry (the
   * record mode plus owner bits, less any umask) and-ed with the record mode, so that no umask bit
   * comes back and no owner bit stays that the record lacks.
   */
  private async umasked(path: string, mode: number, handle?: SFTPFileHandle): Promise<number> {
    try {
      const created = handle ? await handle.stat() : await this.ctx.fs.stat(path);
      return created.mode !== undefined ? created.mode & mode & 0o777 : mode;
    } catch {
      return mode;
    }
  }

  private async receiveFile(path: string, shown: string, recordMode: number, size: number, times: Times): Promise<void> {
    const { fs, command, input } = this.ctx;
    const mode = command.preserve ? recordMode & 0o7777 : recordMode & 0o777;
    const existing = await this.stat(path);
    let handle: SFTPFileHandle;
    try {
      handle = await fs.open(
        path,
        { read: false, write: true, append: false, create: true, truncate: false, exclusive: false },
        { mode: mode | S_IWUSR },
      );
    } catch (err) {
      // The client skips this file's data on an error answer.
      return await this.ctx.reportError('open', path, errorText(err, path, '', shown));
    }
    // As OpenSSH's note_err: the first error is kept and reported in place of the final acknowledgement.
    let firstError: string | undefined;
    const note = (err: unknown, what = '') => void (firstError ??= errorText(err, path, what, shown));
    let received = 0;
    let writeFailed = false;
    try {
      await this.ctx.send(ACK);
      // Keep reading after a write error so that the stream stays in step.
      while (received < size) {
        const chunk = await this.ctx.fromClient(input.data(Math.min(WRITE_CHUNK, size - received)));
        if (chunk === undefined) throw new SCPProtocolError('lost connection');
        if (!writeFailed) {
          try {
            await handle.write(received, chunk);
          } catch (err) {
            writeFailed = true;
            note(err);
          }
        }
        received += chunk.length;
      }
      if (!writeFailed && (!existing || isRegular(existing))) {
        await handle.setstat({ size }).catch((err) => note(err, 'truncate: '));
      }
      if (command.preserve) {
        await handle.setstat({ mode }).catch((err) => note(err, 'set mode: '));
      } else if (!existing && !(mode & S_IWUSR)) {
        // Created with owner write added so it could be written: take it away again.
        const finalMode = await this.umasked(path, mode, handle);
        await handle.setstat({ mode: finalMode }).catch((err) => note(err, 'set mode: '));
      }
      if (times && !writeFailed) {
        await handle.setstat({ atime: times.atime, mtime: times.mtime }).catch((err) => note(err, 'set times: '));
      }
    } finally {
      await handle.close().catch((err) => note(err, 'close: '));
    }
    if (firstError === undefined) this.ctx.uploaded(path, received);
    // The source's status after the data: its own read errors arrive here.
    await readAck(this.ctx, MAX_LINE);
    if (firstError === undefined) await this.ctx.send(ACK);
    else await this.ctx.reportError('write', path, firstError);
  }
}
