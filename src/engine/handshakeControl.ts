/**
 * Per-connection control of ssh2's key exchange, installed when the client's identification line
 * has been read (ssh2 sends its KEXINIT right after that callback returns):
 *
 * - the host-key algorithm list is rebuilt in the configured order, and SHA-1 `ssh-rsa` is left out
 *   unless configured (ssh2 always adds it for an RSA key);
 * - the client's KEXINIT is kept, so a failed negotiation can name both sides' lists;
 * - ssh2's EXT_INFO is suppressed (its `server-sig-algs` lacks a comma and ignores configuration)
 *   and the daemon sends its own, listing the signature algorithms it really accepts;
 * - host certificates are offered before the plain keys (hostCertificates.ts).
 */
import { certificateAlgorithm, onKeyExchange, registerHostCertificates, type HostCertificateBlob } from './hostCertificates';
import { SSH_MSG_KEXINIT, SSH_MSG_USERAUTH_REQUEST } from '../packet/messages';
import { parseKexInit, type KexLists } from './kexInitLists';
import { speedUpX25519 } from './x25519Exchange';
import type { Ssh2Connection } from './ssh2Types';

export type { KexLists } from './kexInitLists';

/* eslint-disable @typescript-eslint/no-require-imports */
const kexModule: { KexInit: new (algorithms: KexAlgorithms) => KexInitInstance } = require('ssh2/lib/protocol/kex.js');
/* eslint-enable @typescript-eslint/no-require-imports */

interface KexAlgorithms {
  kex: string[];
  serverHostKey: string[];
  cs: { cipher: string[]; mac: string[]; compress: string[]; lang: string[] };
  sc: { cipher: string[]; mac: string[]; compress: string[]; lang: string[] };
}

interface KexInitInstance {
  lists: {
    kex: { array: string[] };
    serverHostKey: { array: string[] };
    cs: { cipher: { array: string[] }; mac: { array: string[] }; compress: { array: string[] }; lang: { array: string[] } };
    sc: { cipher: { array: string[] }; mac: { array: string[] }; compress: { array: string[] }; lang: { array: string[] } };
  };
}

interface ProtocolInternals {
  _offer: KexInitInstance;
  _decipher?: { _onPayload?: (payload: Buffer) => unknown };
}

/** Per-protocol state the `_kex` accessor needs. */
interface ExtInfoState {
  wanted: boolean;
}
const extInfo = new WeakMap<object, ExtInfoState>();
const kexObjects = new WeakMap<object, object | undefined>();
let accessorInstalled = false;

/**
 * Puts an accessor for `_kex` on ssh2's Protocol prototype: for connections under our control the
 * new key-exchange object reports `remoteExtInfoEnabled` as false to ssh2 (so ssh2 sends no EXT_INFO)
 * while the real value is kept for the daemon.
 */
export function installKexAccessor(protocolClass: { prototype: object }): void {
  if (accessorInstalled) return;
  if (Object.getOwnPropertyDescriptor(protocolClass.prototype, '_kex')) {
    throw new Error('sshdaemon engine: ssh2 Protocol already defines _kex; ssh2 version changed?');
  }
  accessorInstalled = true;
  Object.defineProperty(protocolClass.prototype, '_kex', {
    configurable: true,
    get(this: object) {
      const kex = kexObjects.get(this) as { remoteExtInfoEnabled?: boolean } | undefined;
      // ssh2 writes remoteExtInfoEnabled right after making the exchange and reads it through this
      // getter (`this._kex.remoteExtInfoEnabled`) when the first exchange ends: a true value is taken
      // for the daemon and turned false before ssh2 sees it. A plain field, not an accessor on the
      // object: an own accessor put every exchange object in dictionary mode (1.6 KB per connection).
      if (kex?.remoteExtInfoEnabled === true) {
        const state = extInfo.get(this);
        if (state) {
          state.wanted = true;
          kex.remoteExtInfoEnabled = false;
        }
      }
      return kex;
    },
    set(this: object, kex: object | undefined) {
      kexObjects.set(this, kex);
      onKeyExchange(this, kex as Parameters<typeof onKeyExchange>[1]);
      // Our connections' curve25519 exchanges import and export raw keys through JWK (x25519Exchange.ts).
      if (extInfo.has(this)) speedUpX25519(kex);
    },
  });
}

const offers = new WeakMap<KexInitInstance, Map<string, KexInitInstance>>();

/** ssh2's offer with the host-key list replaced (cached per engine offer and list). */
function offerWithHostKeys(base: KexInitInstance, hostKeyAlgorithms: string[]): KexInitInstance {
  const key = hostKeyAlgorithms.join(',');
  let byList = offers.get(base);
  if (!byList) offers.set(base, (byList = new Map()));
  const cached = byList.get(key);
  if (cached) return cached;
  const l = base.lists;
  const side = (s: KexInitInstance['lists']['cs']) => ({
    cipher: s.cipher.array,
    mac: s.mac.array,
    compress: s.compress.array,
    lang: s.lang.array,
  });
  const offer = new kexModule.KexInit({ kex: l.kex.array, serverHostKey: hostKeyAlgorithms, cs: side(l.cs), sc: side(l.sc) });
  byList.set(key, offer);
  return offer;
}

export interface HandshakeControl {
  /** The client's first KEXINIT lists, once received. */
  clientKexInit(): KexLists | undefined;
  /** The host-key algorithms this connection offers. */
  readonly hostKeyAlgorithms: string[];
  /** True once the client asked for EXT_INFO (`ext-info-c`) in the first key exchange. */
  extInfoWanted(): boolean;
}

/**
 * Takes control of one connection's handshake. `hostKeyAlgorithms` is the configured order; only
 * the algorithms ssh2 can serve with the loaded keys are kept. `certificates`: host certificates of
 * loaded keys, offered first (`<base>-cert-v01@openssh.com` in the order of their base algorithms),
 * as sshd's default HostKeyAlgorithms lists certificates before plain keys.
 */
export function prepareHandshake(
  conn: Ssh2Connection,
  hostKeyAlgorithms: readonly string[],
  certificates: readonly HostCertificateBlob[] = [],
): HandshakeControl {
  const proto = (conn as unknown as { _protocol: ProtocolInternals })._protocol;
  const servable = new Set(proto._offer.lists.serverHostKey.array);
  const plain = hostKeyAlgorithms.filter((a) => servable.has(a));
  const certAlgorithms = certificates.length ? registerHostCertificates(proto, certificates) : new Map<string, string>();
  const certBases = new Set(certAlgorithms.values());
  const chosen = [...plain.filter((a) => certBases.has(a)).map(certificateAlgorithm), ...plain];
  proto._offer = offerWithHostKeys(proto._offer, chosen);

  let client: KexLists | undefined;
  const decipher = proto._decipher;
  const original = decipher?._onPayload;
  if (decipher && original) {
    decipher._onPayload = (payload: Buffer) => {
      if (client === undefined && payload.length > 0 && payload[0] === SSH_MSG_KEXINIT) {
        client = parseKexInit(payload);
        decipher._onPayload = original;
      } else if (payload.length > 0 && payload[0] > SSH_MSG_KEXINIT && payload[0] < SSH_MSG_USERAUTH_REQUEST) {
        // ssh2 would dereference its not-yet-created key exchange (a TypeError); name the fault instead.
        throw new Error(`Protocol error: key exchange message ${payload[0]} before the client's KEXINIT`);
      }
      return original(payload);
    };
  }
  const state: ExtInfoState = { wanted: false };
  extInfo.set(proto, state);
  return {
    clientKexInit: () => client,
    hostKeyAlgorithms: chosen,
    extInfoWanted: () => state.wanted,
  };
}
