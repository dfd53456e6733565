/**
 * Bounded decompression of inbound packets.
 *
 * ssh2 1.17.0 inflates each compressed packet (`ZlibPacketReader.read` in lib/protocol/zlib.js,
 * called from Protocol's payload handler and, during a re-key, from kex.js) with a Zlib wrapper whose
 * output limit is `buffer.kMaxLength`: 33 KB on the wire inflate to 33 MiB, before authentication
 * with plain `zlib`. No packet may be larger uncompressed than the engine accepts on the wire
 * (RFC 4253 6.1; ssh2's `MAX_PACKET_SIZE`, 35000 bytes), so each reader's limit is set to that; the
 * wrapper checks it after every 16 KiB of output and throws, and the throw is turned into an error
 * the daemon recognises (ssh2 then reports it as a connection error and the daemon disconnects
 * with COMPRESSION_ERROR). Process-wide, so in-process ssh2 clients are bounded too.
 *
 * `installInflateLimit()` (run by installEngine) throws when zlib.js no longer has the reader or its limit field.
 */

/* eslint-disable @typescript-eslint/no-require-imports */
const zlibModule: { ZlibPacketReader?: ReaderClass } = require('ssh2/lib/protocol/zlib.js');
/* eslint-enable @typescript-eslint/no-require-imports */

interface ZlibInstance {
  _maxOutputLength: number;
}
interface ReaderInstance {
  _zlib?: ZlibInstance;
  read(data: Buffer): Buffer;
  cleanup(): void;
}
interface ReaderClass {
  new (): ReaderInstance;
  prototype: ReaderInstance;
}

/** The most bytes one inbound packet may inflate to: the engine's largest packet (ssh2 `MAX_PACKET_SIZE`). */
export const MAX_INFLATED_PACKET = 35000;

/** `code` of the error thrown when a packet inflates past {@link MAX_INFLATED_PACKET}. */
export const INFLATE_LIMIT_CODE = 'ERR_SSHDAEMON_INFLATE_LIMIT';

/** ssh2's Zlib wrapper's message when its output limit is passed. */
const EXCEEDED = /^Output length exceeded maximum of /;

let installed = false;

/** Bounds every inflate of ssh2's packet reader, process-wide; idempotent (installEngine.ts calls it). */
export function installInflateLimit(): void {
  if (installed) return;
  const Reader = zlibModule.ZlibPacketReader;
  const read = Reader?.prototype.read;
  if (!Reader || typeof read !== 'function')
    throw new Error('sshdaemon engine: ssh2 zlib.js has no ZlibPacketReader.read; ssh2 version changed?');
  const probe = new Reader();
  const hasLimit = typeof probe._zlib?._maxOutputLength === 'number';
  probe.cleanup();
  if (!hasLimit) throw new Error('sshdaemon engine: ssh2 Zlib wrapper has no _maxOutputLength; ssh2 version changed?');
  Reader.prototype.read = function (this: ReaderInstance, data: Buffer): Buffer {
    const zlib = this._zlib;
    if (zlib && zlib._maxOutputLength !== MAX_INFLATED_PACKET) zlib._maxOutputLength = MAX_INFLATED_PACKET;
    try {
      return read.call(this, data);
    } catch (err) {
      if (err instanceof Error && EXCEEDED.test(err.message)) {
        throw Object.assign(
          new Error(`a compressed packet of ${data.length} bytes inflates past ${MAX_INFLATED_PACKET} bytes (the largest packet accepted)`),
          {
            code: INFLATE_LIMIT_CODE,
          },
        );
      }
      throw err;
    }
  };
  installed = true;
}

/** Whether the bound is in place (test/engine.test.ts). */
export function inflateLimitInstalled(): boolean {
  return installed;
}
