/** An open file of LocalFileSystem. */
import { read as fsRead, write as fsWrite } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { checkOwnerChange, clientMode } from './attrPolicy';
import { errnoError } from './errno';
import type { SFTPAttributes, SFTPFileHandle } from './FileSystem';
import { InFlight } from './inFlight';
import { timesFor, toAttrs } from './localAttrs';
import { denied, toSFTPError } from './localErrors';

/** Longest single read: a short read is legal, and it bounds the memory one request can take. */
const MAX_READ = 1024 * 1024;

/** What the handles need from their filesystem's options. */
export interface HandlePolicy {
  readOnly: boolean;
  allowSetuid: boolean;
  allowChown: boolean;
}

/** An open local file; errors name the virtual path it was opened by. */
export class LocalFileHandle implements SFTPFileHandle {
  private closed = false;
  private readonly inFlight = new InFlight();

  constructor(
    private readonly fh: FileHandle,
    private readonly label: string,
    private readonly append: boolean,
    private readonly policy: HandlePolicy,
  ) {}

  private usable(): void {
    if (this.closed) throw toSFTPError(errnoError('EBADF'), this.label);
  }

  async readInto(position: number, target: Buffer, offset: number, length: number): Promise<number> {
    this.usable();
    const n = Math.min(Math.max(0, Math.trunc(length)), MAX_READ, target.length - offset);
    if (n <= 0) return 0;
    this.inFlight.enter();
    try {
      // The callback read on the descriptor: FileHandle.read costs several times more per call,
      // and a download makes one call per 32 KiB.
      return await new Promise<number>((resolve, reject) =>
        fsRead(this.fh.fd, target, offset, n, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))),
      );
    } catch (err) {
      throw toSFTPError(err, this.label);
    } finally {
      this.inFlight.leave();
    }
  }

  async read(position: number, length: number): Promise<Buffer> {
    this.usable();
    try {
      const n = Math.min(Math.max(0, Math.trunc(length)), MAX_READ);
      if (n === 0) return Buffer.alloc(0);
      const buf = Buffer.allocUnsafeSlow(n);
      const { bytesRead } = await this.fh.read(buf, 0, n, position);
      return bytesRead === n ? buf : buf.subarray(0, bytesRead);
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }

  async write(position: number, data: Buffer): Promise<void> {
    if (this.policy.readOnly) throw denied(this.label);
    this.usable();
    this.inFlight.enter();
    try {
      let done = 0;
      while (done < data.length) {
        // With O_APPEND the kernel appends whatever the offset; OpenSSH ignores it too.
        const at = this.append ? null : position + done;
        // The descriptor's callback API, as in readInto: an upload makes one call per 32 KiB.
        const bytesWritten = await new Promise<number>((resolve, reject) =>
          fsWrite(this.fh.fd, data, done, data.length - done, at, (err, n) => (err ? reject(err) : resolve(n))),
        );
        if (bytesWritten <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
        done += bytesWritten;
      }
    } catch (err) {
      throw toSFTPError(err, this.label);
    } finally {
      this.inFlight.leave();
    }
  }

  async stat(): Promise<SFTPAttributes> {
    this.usable();
    try {
      return toAttrs(await this.fh.stat());
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }

  async setstat(attrs: SFTPAttributes): Promise<void> {
    if (this.policy.readOnly) throw denied(this.label);
    this.usable();
    try {
      const changesOwner = attrs.uid !== undefined || attrs.gid !== undefined;
      // Refused before anything changes, as a whole.
      if (changesOwner) checkOwnerChange(await this.fh.stat(), attrs.uid, attrs.gid, this.policy.allowChown, this.label);
      // OpenSSH's order: size, permissions, times, owner.
      if (attrs.size !== undefined) await this.fh.truncate(attrs.size);
      if (attrs.mode !== undefined) await this.fh.chmod(clientMode(attrs.mode, this.policy.allowSetuid));
      const times = await timesFor(attrs, () => this.fh.stat());
      if (times) await this.fh.utimes(times[0], times[1]);
      if (changesOwner) await this.fh.chown(attrs.uid ?? -1, attrs.gid ?? -1);
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }

  async sync(): Promise<void> {
    this.usable();
    try {
      await this.fh.sync();
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.inFlight.drained();
    try {
      await this.fh.close();
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }
}
