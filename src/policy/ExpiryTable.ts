/** A record of an {@link ExpiryTable}: the table owns `key`, `order` and `slot`. */
export interface Expiring {
  /** The map key (a source block). */
  readonly key: string;
  /** When the record runs out, in the clock's milliseconds. */
  expiresAt: number;
  /** Insertion order: among records expiring in the same millisecond the older goes first. */
  order: number;
  /** Position in the heap. */
  slot: number;
}

/**
 * Records by key, and a binary min-heap of the same records by expiry (then age), as OpenSSH's
 * srclimit.c keeps a tree by address and one by expiry. Lookups are O(1); inserting, changing an
 * expiry and dropping the soonest-expiring record are O(log n); expiring is O(log n) per record
 * dropped. Nothing here ever walks the whole table, so a flood of new sources into a full table
 * costs O(log n) each.
 */
export class ExpiryTable<R extends Expiring> {
  private readonly byKey = new Map<string, R>();
  private readonly heap: R[] = [];
  private nextOrder = 0;
  /** Heap positions visited and records expired since creation: the work done, for tests that bound it. */
  steps = 0;

  get size(): number {
    return this.heap.length;
  }

  /** The live record for `key`; one that has run out by `now` is dropped and not returned. */
  get(key: string, now: number): R | undefined {
    const record = this.byKey.get(key);
    if (record && record.expiresAt <= now) {
      this.remove(record);
      return undefined;
    }
    return record;
  }

  /** Drops every record that has run out by `now`, soonest first. */
  expire(now: number): void {
    while (this.heap.length > 0 && this.heap[0].expiresAt <= now) {
      this.steps++;
      this.remove(this.heap[0]);
    }
  }

  /** Adds a record whose key is not in the table. */
  insert(record: R): void {
    record.order = this.nextOrder++;
    record.slot = this.heap.length;
    this.heap.push(record);
    this.byKey.set(record.key, record);
    this.up(record.slot);
  }

  /** Puts a record back in order after its `expiresAt` changed. */
  reordered(record: R): void {
    this.down(this.up(record.slot));
  }

  /** Drops the record that expires soonest (the oldest among equals) and returns it. */
  dropSoonest(): R | undefined {
    const first = this.heap[0];
    if (first) this.remove(first);
    return first;
  }

  clear(): void {
    this.byKey.clear();
    this.heap.length = 0;
  }

  private remove(record: R): void {
    this.byKey.delete(record.key);
    const last = this.heap.pop() as R;
    if (last === record) return;
    last.slot = record.slot;
    this.heap[last.slot] = last;
    this.down(this.up(last.slot));
  }

  private before(a: R, b: R): boolean {
    return a.expiresAt < b.expiresAt || (a.expiresAt === b.expiresAt && a.order < b.order);
  }

  /** Moves the record at `i` towards the root while it is due before its parent; returns where it ends. */
  private up(i: number): number {
    const heap = this.heap;
    const record = heap[i];
    while (i > 0) {
      this.steps++;
      const parent = (i - 1) >> 1;
      if (!this.before(record, heap[parent])) break;
      heap[i] = heap[parent];
      heap[i].slot = i;
      i = parent;
    }
    heap[i] = record;
    record.slot = i;
    return i;
  }

  /** Moves the record at `i` towards the leaves while a child is due before it. */
  private down(i: number): void {
    const heap = this.heap;
    const record = heap[i];
    const n = heap.length;
    for (;;) {
      this.steps++;
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.before(heap[right], heap[left]) ? right : left;
      if (!this.before(heap[child], record)) break;
      heap[i] = heap[child];
      heap[i].slot = i;
      i = child;
    }
    heap[i] = record;
    record.slot = i;
  }
}
