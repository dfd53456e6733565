import { signingHostKey } from './hostKeySigning';
import { installEngine } from './installEngine';
import { Ssh2ServerClass } from './ssh2Internals';

export { injectEngineSocket } from './ssh2Internals';
import type { Ssh2Server } from './ssh2Types';

/** What the daemon decides for the ssh2 Server that serves new connections. */
export interface EngineOptions {
  /** Host keys as openssh-key-v1 text. */
  hostKeys: string[];
  kex: string[];
  cipher: string[];
  hmac: string[];
  serverHostKey: string[];
  compress: string[];
  /** The software part of the identification line (after `SSH-2.0-`). */
  ident: string;
  /** Keep-alive interval in ms; 0 disables. */
  keepaliveInterval: number;
  keepaliveCountMax: number;
  debug?: (line: string) => void;
}

/** An ssh2 Server used only as a protocol engine: sockets are injected, it never listens itself. Installs the engine's patches first. */
export function createEngineServer(o: EngineOptions): Ssh2Server {
  installEngine();
  return new Ssh2ServerClass({
    // Parsed once, signing through a KeyObject (hostKeySigning.ts): ssh2 re-parsed the PEM per signature.
    hostKeys: o.hostKeys.map(signingHostKey),
    ident: o.ident,
    algorithms: { kex: o.kex, cipher: o.cipher, hmac: o.hmac, serverHostKey: o.serverHostKey, compress: o.compress },
    keepaliveInterval: o.keepaliveInterval, // 0: see injectEngineSocket
    keepaliveCountMax: o.keepaliveCountMax,
    debug: o.debug,
  });
}
