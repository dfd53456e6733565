/**
 * The work both Node servers do for the bench, written once so the SDK and the raw ssh2 server run
 * the same code: `head -c N /dev/zero` (N bytes from one preallocated buffer, written chunk by chunk,
 * each write awaited so the channel's flow control paces the generator), `cat > /dev/null` (a sink
 * until EOF) and `true` (exit 0).
 */
export type BenchCommand = { kind: 'download'; bytes: number } | { kind: 'upload' } | { kind: 'true' } | { kind: 'unknown' };

export function parseCommand(command: string): BenchCommand {
  const m = /^head -c (\d+) \/dev\/zero$/.exec(command.trim());
  if (m) return { kind: 'download', bytes: Number(m[1]) };
  if (/^cat( > \/dev\/null)?$/.test(command.trim())) return { kind: 'upload' };
  if (command.trim() === 'true') return { kind: 'true' };
  return { kind: 'unknown' };
}

/** One buffer for every download; its contents never change, so sharing it across channels is safe. */
export const CHUNK = Buffer.alloc(256 * 1024);

/**
 * Writes `bytes` zero bytes through `write`, which resolves (or returns) once the chunk is accepted
 * by the transport. Returning void means "accepted at once, continue"; a promise means wait.
 */
export async function pumpZeros(bytes: number, write: (chunk: Buffer) => void | Promise<void>): Promise<void> {
  let left = bytes;
  while (left > 0) {
    const n = Math.min(left, CHUNK.length);
    const pending = write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    left -= n;
    if (pending) await pending;
  }
}
