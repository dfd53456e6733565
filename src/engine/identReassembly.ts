/**
 * The client's identification line reassembled from any number of reads.
 *
 * ssh2 1.17.0's `parseHeader` (Protocol.js) keeps the first read of an unfinished identification in
 * `_buffer` and never updates it: a line that arrives in three or more reads loses its middle, the
 * server hashes an identification the client never sent, and the client refuses the exchange
 * ("signature verification failed"). The line is short, so this is rare on fast links, but a client
 * that writes it in pieces (some embedded clients, a slow or proxied link; ssh2's own client once
 * split it, mscdex/ssh2#1037) fails every time. sshd reads the line in any number of pieces.
 *
 * Here the header parser is wrapped: while the line is unfinished, `_buffer` holds every byte
 * received (its own copy). ssh2's limits still apply to the whole line (8192 bytes, no
 * greeting lines from a client). `checkIdentReassembly()` (installEngine) throws if ssh2's parser no
 * longer reads as this expects, e.g. once fixed upstream.
 */
import { checkSources } from './writeBatching';

type Parse = (this: HeaderState, chunk: Buffer, p: number, len: number) => number;

interface HeaderState {
  _parse: Parse;
  _buffer?: Buffer;
}

const EXPECTED = {
  'ssh2/lib/protocol/Protocol.js': [
    /if \(!this\._buffer\)\s*this\._buffer = bufferSlice\(data, op\);/,
    /function parseHeader\(chunk, p, len\)/,
  ],
};

let checked = false;

/** Throws when ssh2's header parser no longer reads as this patch expects; run once by installEngine. */
export function checkIdentReassembly(): void {
  if (checked) return;
  checkSources(EXPECTED, 'identReassembly');
  checked = true;
}

/** ssh2's parseHeader (one module-level function), seen when a protocol is constructed. */
let parseHeader: Parse | undefined;
const PARSE = Symbol('sshdaemon.parse');
let installed = false;

function reassembling(this: HeaderState, chunk: Buffer, p: number, len: number): number {
  const held = this._buffer;
  const at = parseHeader!.call(this, chunk, p, len);
  if (this._parse === reassembling) {
    // Still unfinished: keep all of it, not only the first read (and not a view of a read).
    if (held !== undefined && this._buffer === held) this._buffer = Buffer.concat([held, chunk.subarray(p, len)]);
    else if (held === undefined && this._buffer !== undefined) this._buffer = Buffer.from(this._buffer);
  }
  return at;
}

/**
 * An accessor for `_parse` on ssh2's Protocol prototype: the constructor's `this._parse = parseHeader`
 * stores the reassembling parser instead; later values (parsePacket, stopInbound's no-op) are kept as
 * given. Process-wide once installEngine() ran (in-process ssh2 clients read server lines the same way).
 */
export function installIdentReassembly(protocolClass: { prototype: object }): void {
  if (installed) return;
  if (Object.getOwnPropertyDescriptor(protocolClass.prototype, '_parse')) {
    throw new Error('sshdaemon engine (identReassembly): ssh2 Protocol already defines _parse on its prototype; ssh2 version changed?');
  }
  installed = true;
  Object.defineProperty(protocolClass.prototype, '_parse', {
    configurable: true,
    get(this: Record<symbol, Parse>): Parse {
      return this[PARSE];
    },
    set(this: Record<symbol, Parse>, value: Parse) {
      if (value.name === 'parseHeader' && (parseHeader === undefined || value === parseHeader)) {
        parseHeader = value;
        this[PARSE] = reassembling;
      } else this[PARSE] = value;
    },
  });
}
