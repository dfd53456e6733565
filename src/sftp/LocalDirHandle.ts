/** An open directory listing of LocalFileSystem. */
import { promises as fsp, type Dir, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { decodeFileName } from './fileNames';
import type { SFTPDirEntry, SFTPDirHandle } from './FileSystem';
import { idNames } from './idNames';
import { InFlight } from './inFlight';
import { dirEntry } from './localAttrs';
import { toSFTPError } from './localErrors';

/** Entries per SSH_FXP_READDIR answer. */
const DIR_BATCH = 100;

/** An open local directory, read in batches of {@link DIR_BATCH}; the first batch starts with `.` and `..`. */
export class LocalDirHandle implements SFTPDirHandle {
  private dotsSent = false;
  private done = false;
  private closed = false;
  private readonly inFlight = new InFlight();

  constructor(
    private readonly dir: Dir,
    /** Where entries are, with a trailing `/`: `/proc/self/fd/N/` of the directory (descriptor mode), or its real path. */
    private readonly base: Buffer,
    /** Its descriptor (descriptor mode), or undefined. */
    private readonly baseHandle: FileHandle | undefined,
    /** lstat of the directory and of its parent (itself at the root), taken at opendir. */
    private readonly dots: [Stats, Stats],
    private readonly label: string,
  ) {}

  async next(): Promise<SFTPDirEntry[] | undefined> {
    if (this.done || this.closed) return undefined;
    this.inFlight.enter();
    try {
      const names = await idNames();
      const batch: SFTPDirEntry[] = [];
      if (!this.dotsSent) {
        // readdir(3) yields . and .. and OpenSSH passes them on; `..` of the root is the root, never its real parent.
        this.dotsSent = true;
        batch.push(dirEntry('.', this.dots[0], names), dirEntry('..', this.dots[1], names));
      }
      const filenames: Buffer[] = [];
      while (filenames.length + batch.length < DIR_BATCH) {
        const ent = await this.dir.read();
        if (!ent) {
          this.done = true;
          break;
        }
        filenames.push(ent.name as unknown as Buffer);
      }
      const stats = await Promise.all(filenames.map((n) => fsp.lstat(Buffer.concat([this.base, n])).catch(() => undefined)));
      filenames.forEach((n, i) => {
        const st = stats[i];
        // Gone since readdir: skipped, as sftp-server does.
        if (st) batch.push(dirEntry(decodeFileName(n), st, names));
      });
      if (batch.length === 0 && this.done) return undefined;
      return batch;
    } catch (err) {
      throw toSFTPError(err, this.label);
    } finally {
      this.inFlight.leave();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.inFlight.drained();
    try {
      await this.dir.close();
    } catch (err) {
      throw toSFTPError(err, this.label);
    } finally {
      await this.baseHandle?.close().catch(() => undefined);
    }
  }
}
