/**
 * A read-only `Map` over the registry: the same object on every read of `sshConnections` /
 * `sshChannels`, no copy, and each record's view object made once (docs read the list per data
 * event). Iteration sees the registry as it is while iterating, as a Map does.
 */
export class LiveView<R extends { view?: unknown }, V> implements ReadonlyMap<string, V> {
  constructor(
    private readonly source: ReadonlyMap<string, R>,
    private readonly makeView: (record: R) => V,
  ) {}

  private viewOf(record: R): V {
    return (record.view ??= this.makeView(record)) as V;
  }

  get size(): number {
    return this.source.size;
  }

  get(id: string): V | undefined {
    const record = this.source.get(String(id));
    return record === undefined ? undefined : this.viewOf(record);
  }

  has(id: string): boolean {
    return this.source.has(String(id));
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [id, record] of this.source) callback.call(thisArg, this.viewOf(record), id, this);
  }

  keys(): MapIterator<string> {
    return this.source.keys();
  }

  *values(): MapIterator<V> {
    for (const record of this.source.values()) yield this.viewOf(record);
  }

  *entries(): MapIterator<[string, V]> {
    for (const [id, record] of this.source) yield [id, this.viewOf(record)];
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'Map';
  }
}
