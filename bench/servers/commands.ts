/**
 * The work both Node servers do for the bench, written once so the SDK and the raw ssh2 server run
 * the same code: `head -c N /dev/zero` (N bytes from one preallocated buffer, written chunk by chunk,
 * each write awaited so the channel's flow control paces the generator), `cat > /dev/null` (a sink
 * until EOF) and `true` (exit 0).
 *
 * A `BENCH_STYLE=...` prefix picks how the server is written (sshd runs the prefixed line unchanged,
 * as a shell variable assignment): `loop-16k`, `loop-64k`, `loop-256k` (the default) are the
 * IPWorks-style loop of awaited sends of that chunk size (upload: a data-event sink); `stream` is
 * Node streams, `pipeline(Readable, channel)` down and `pipeline(channel, Writable)` up.
 */
export type WriteStyle = 'loop' | 'stream';

export type BenchCommand =
  | { kind: 'download'; bytes: number; style: WriteStyle; chunk: number }
  | { kind: 'upload'; style: WriteStyle }
  | { kind: 'true' }
  | { kind: 'unknown' };

/** The styles a bench case can name, with the write style and chunk size each stands for. */
export const STYLES: Readonly<Record<string, { style: WriteStyle; chunk: number }>> = {
  'loop-16k': { style: 'loop', chunk: 16 * 1024 },
  'loop-64k': { style: 'loop', chunk: 64 * 1024 },
  'loop-256k': { style: 'loop', chunk: 256 * 1024 },
  stream: { style: 'stream', chunk: 64 * 1024 },
};
export const DEFAULT_STYLE = 'loop-256k';

export function parseCommand(command: string): BenchCommand {
  const prefixed = /^(?:BENCH_STYLE=([a-z0-9-]+) )?(.*)$/.exec(command.trim())!;
  const named = prefixed[1] ?? DEFAULT_STYLE;
  if (!Object.hasOwn(STYLES, named)) return { kind: 'unknown' };
  const { style, chunk } = STYLES[named];
  const line = prefixed[2];
  const m = /^head -c (\d+) \/dev\/zero$/.exec(line);
  if (m) return { kind: 'download', bytes: Number(m[1]), style, chunk };
  if (/^cat( > \/dev\/null)?$/.test(line)) return { kind: 'upload', style };
  if (line === 'true') return { kind: 'true' };
  return { kind: 'unknown' };
}

/** One buffer for every download; its contents never change, so sharing it across channels is safe. */
export const CHUNK = Buffer.alloc(256 * 1024);

/**
 * Writes `bytes` zero bytes through `write` in `chunk`-sized pieces; `write` resolves (or returns)
 * once the piece is accepted by the transport. Returning void means "accepted at once, continue"; a
 * promise means wait.
 */
export async function pumpZeros(bytes: number, write: (chunk: Buffer) => void | Promise<void>, chunk = CHUNK.length): Promise<void> {
  let left = bytes;
  const size = Math.min(chunk, CHUNK.length);
  while (left > 0) {
    const n = Math.min(left, size);
    const pending = write(CHUNK.subarray(0, n));
    left -= n;
    if (pending) await pending;
  }
}

/** The same bytes as a generator of pieces, for `Readable.from()` (the stream style). */
export function* zeroPieces(bytes: number, chunk: number): Generator<Buffer> {
  const size = Math.min(chunk, CHUNK.length);
  for (let left = bytes; left > 0; left -= size) yield CHUNK.subarray(0, Math.min(left, size));
}
