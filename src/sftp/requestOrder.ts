/**
 * Which READ and WRITE requests may run side by side (draft-ietf-secsh-filexfer-02 section 6.1:
 * requests relating to the same file are processed as if one at a time, in the order received;
 * non-overlapping reads and writes may run in parallel, overlapping ones may not).
 */

/** The bytes one READ or WRITE touches. */
export interface FileAccess {
  /** The file, as the virtual path its handle was opened by. */
  file: string;
  /** First byte. */
  start: number;
  /** One past the last byte. */
  end: number;
  /** A WRITE (else a READ). */
  write: boolean;
  /** A WRITE through an append handle: where it lands is the end of the file when it runs. */
  append: boolean;
}

/**
 * Whether `later` must wait for `earlier` (received before it). Reads never wait for reads. An
 * append write lands at whatever the end of the file is when it runs, so it waits for, and is
 * waited for by, every other request on its file: appends run one at a time in arrival order.
 */
export function mustWait(later: FileAccess, earlier: FileAccess): boolean {
  if (later.file !== earlier.file || (!later.write && !earlier.write)) return false;
  if (later.append || earlier.append) return true;
  return later.start < earlier.end && earlier.start < later.end;
}

/** The READs and WRITEs running now, checked before the next one starts. */
export class RunningAccesses {
  private readonly running = new Set<FileAccess>();
  /** Running writes: a read waits only for writes, so with none it starts without a look (downloads). */
  private writes = 0;

  /** True when `next` may start now: nothing running conflicts with it. */
  allows(next: FileAccess): boolean {
    if (!next.write && this.writes === 0) return true;
    for (const a of this.running) if (mustWait(next, a)) return false;
    return true;
  }

  add(access: FileAccess): void {
    this.running.add(access);
    if (access.write) this.writes++;
  }

  delete(access: FileAccess): void {
    if (this.running.delete(access) && access.write) this.writes--;
  }
}
