/**
 * The inbound events of one channel (requests, data, EOF, CLOSE) in arrival order.
 *
 * A task that returns a Promise holds back everything after it until it settles; so does a block
 * (`pause()`, a running `SSHChannelRequested` handler). While nothing holds the queue, tasks and
 * data run at once: the data path pays no allocation and no microtask when no handler is
 * asynchronous.
 *
 * Held data is copied and merged into buffers of up to 64 KiB, so what a held channel costs is
 * bounded by the bytes the client may send (its window), not by how many packets carried them (a
 * 1-byte packet's view would keep ssh2's 8 KiB pool slab alive).
 */

/** First size of a buffer that collects held chunks; it doubles up to MERGE_LIMIT. */
const MERGE_START = 512;
/** Held chunks are copied into buffers of up to this size, merged with the chunks before them. */
const MERGE_LIMIT = 64 * 1024;

interface HeldData {
  data: Buffer;
  length: number;
  readonly extended: number;
  /** A buffer of ours that later chunks may be appended to (false: a chunk of MERGE_LIMIT or more, kept as it came). */
  readonly merging: boolean;
}

type Item = (() => unknown) | HeldData;

/** What the queue does with data and with a client that queues too much while it is held. */
export interface QueueOwner {
  /** Delivers one chunk; a returned Promise holds the queue until it settles. */
  deliver(data: Buffer, extended: number): unknown;
  /** More than `maxItems` events are waiting: the client floods a held channel. */
  overflow(items: number): void;
  /** A task or a delivery threw (a consumer's or handler's bug): reported, and the queue goes on. */
  failed(err: unknown): void;
}

export class SerialQueue {
  private items: Item[] = [];
  private next = 0;
  private holds = 0;
  private running = false;
  private draining = false;
  private overflowed = false;

  constructor(
    private readonly owner: QueueOwner,
    /** Events that may wait while the queue is held (data chunks after coalescing, requests, EOF, CLOSE). */
    private readonly maxItems = 1024,
  ) {}

  /** Nothing waits and nothing holds the queue: the next event runs at once. */
  get idle(): boolean {
    return this.holds === 0 && !this.running && this.next === this.items.length;
  }

  /** Events waiting. */
  get waiting(): number {
    return this.items.length - this.next;
  }

  run(task: () => unknown): void {
    if (this.idle) return this.execute(task);
    this.push(task);
  }

  /**
   * Channel data: delivered at once when idle. Held data is copied and merged with the held chunk
   * before it (same stream) into buffers of up to MERGE_LIMIT bytes, so the items waiting stay
   * few (about two per MERGE_LIMIT bytes of the window) and no view keeps ssh2's packet buffers alive.
   */
  data(data: Buffer, extended: number): void {
    if (this.idle) return this.execute(undefined, data, extended);
    const last = this.items.length > this.next ? this.items[this.items.length - 1] : undefined;
    if (last !== undefined && typeof last !== 'function' && last.merging && last.extended === extended) {
      const needed = last.length + data.length;
      if (needed <= MERGE_LIMIT) {
        if (needed > last.data.length) {
          const grown = Buffer.allocUnsafe(Math.min(MERGE_LIMIT, Math.max(needed, last.data.length * 2)));
          last.data.copy(grown, 0, 0, last.length);
          last.data = grown;
        }
        data.copy(last.data, last.length);
        last.length = needed;
        return;
      }
    }
    if (data.length >= MERGE_LIMIT) return this.push({ data, length: data.length, extended, merging: false });
    const buffer = Buffer.allocUnsafe(Math.max(MERGE_START, data.length));
    data.copy(buffer);
    this.push({ data: buffer, length: data.length, extended, merging: true });
  }

  /** Holds the queue until the returned function is called (once; later calls do nothing). */
  block(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.drain();
    };
  }

  /** Drops everything waiting (the connection is gone). */
  clear(): void {
    this.items = [];
    this.next = 0;
  }

  private push(item: Item): void {
    if (this.overflowed) return;
    if (this.items.length - this.next >= this.maxItems) {
      this.overflowed = true;
      this.owner.overflow(this.items.length - this.next);
      return;
    }
    this.items.push(item);
  }

  private execute(task: (() => unknown) | undefined, data?: Buffer, extended = 0): void {
    this.running = true;
    let result: unknown;
    try {
      result = task ? task() : this.owner.deliver(data!, extended);
    } catch (err) {
      result = undefined; // the queue must keep going, but the failure is not silent
      this.running = false;
      this.owner.failed(err);
    }
    this.running = false;
    if (result instanceof Promise) {
      const release = this.block();
      result.then(release, (err: unknown) => {
        this.owner.failed(err);
        release();
      });
    } else if (this.holds === 0 && this.next < this.items.length) {
      this.drain(); // a block taken and released inside the task
    }
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      this.drainLoop();
    } finally {
      this.draining = false;
    }
  }

  private drainLoop(): void {
    while (this.holds === 0 && !this.running && this.next < this.items.length) {
      const item = this.items[this.next];
      this.items[this.next++] = undefined as unknown as Item;
      if (this.next === this.items.length) {
        this.items = [];
        this.next = 0;
      }
      if (typeof item === 'function') this.execute(item);
      else this.execute(undefined, item.length === item.data.length ? item.data : item.data.subarray(0, item.length), item.extended);
    }
  }
}
