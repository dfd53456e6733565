/**
 * Post-quantum hybrid key exchange `mlkem768x25519-sha256` (draft-ietf-sshm-mlkem-hybrid-kex, what
 * OpenSSH 9.9+ offers and 10.0+ prefers) added to ssh2 1.17.0, for its server and its client.
 *
 * The method (per the draft, as OpenSSH implements it):
 *   client → SSH_MSG_KEX_HYBRID_INIT (30)  string C_INIT  = ML-KEM-768 encapsulation key (1184) || X25519 public (32)
 *   server → SSH_MSG_KEX_HYBRID_REPLY (31) string K_S, string S_REPLY = ML-KEM ciphertext (1088) || X25519 public (32), string sig
 *   K = SHA-256(K_PQ || K_CL), encoded as an SSH *string* (not an mpint) in the exchange hash and the key derivation;
 *   the exchange hash is SHA-256 over the usual V_C, V_S, I_C, I_S, K_S, C_INIT, S_REPLY, K.
 * Messages 30/31 and the exchange-hash layout are those of ECDH (RFC 5656), so ssh2's generic
 * KeyExchange class does all the framing; only the four method hooks (getPublicKey,
 * convertPublicKey, computeSecret, generateKeys) differ, and a shared secret returned as raw
 * bytes is hashed and used as a string by ssh2 (its classic methods return an mpint body instead).
 *
 * How it is hooked (ssh2's kex.js keeps `createKeyExchange` and `handleKexInit` private):
 * 1. The name is added to ssh2's SUPPORTED_KEX array, so Server and Client configs accept it.
 * 2. Negotiation under an alias. ssh2 can only instantiate the methods in its own switch, so while
 *    `handleKexInit` negotiates, the name is replaced by an alias ssh2 knows (a DH group the local
 *    offer does not list): in the remote list just parsed (a patched `bufferParser.readList`
 *    keeps the array of the KEXINIT's first name-list) and in a view of the local offer (an
 *    accessor for `Protocol.prototype._offer`, whose first read after that parse is the
 *    negotiation's). Genuine occurrences of the alias in the remote list are renamed so they
 *    cannot match. The bytes sent and hashed (I_C, I_S) are never touched.
 * 3. When ssh2 stores the key-exchange object it built for the alias (`_kex`, accessor from
 *    handshakeControl.ts, wrapped here), it gets a HybridExchange instead: a subclass of ssh2's own
 *    KeyExchange base class (taken from the alias object's prototype chain), built from the same
 *    negotiated algorithms (with the real name), protocol and remote KEXINIT.
 * Every piece checks the shape it patches and throws at install time if ssh2 changed; a runtime
 * shape mismatch fails the handshake with KEY_EXCHANGE_FAILED instead of crashing.
 *
 * ML-KEM-768 comes from @noble/post-quantum (see docs/post-quantum.md); X25519 and SHA-256 from
 * node:crypto. If the library cannot be loaded (it is ESM-only: Node < 20.19 cannot require() it),
 * nothing is registered and the method is simply not supported.
 */
import { createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SSH_MSG_KEX_ECDH_INIT, SSH_MSG_KEX_ECDH_REPLY } from '../packet/messages';

export const MLKEM768X25519_SHA256 = 'mlkem768x25519-sha256';

/** Sizes from FIPS 203 (ML-KEM-768) and RFC 7748 (X25519). */
export const SIZES = Object.freeze({
  mlkemPublicKey: 1184,
  mlkemCipherText: 1088,
  mlkemSharedSecret: 32,
  x25519: 32,
  clientInit: 1184 + 32,
  serverReply: 1088 + 32,
});

const ML_KEM_Q = 3329;

// ---------------------------------------------------------------------------------------------
// ML-KEM-768 library
// ---------------------------------------------------------------------------------------------

interface MlKem768 {
  keygen(seed?: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array };
  encapsulate(publicKey: Uint8Array, msg?: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array };
  decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

export const ML_KEM_LIBRARY = '@noble/post-quantum/ml-kem.js';

let mlkem: MlKem768 | undefined;
let loadProblem: string | undefined;
try {
  // A plain require: the package is ESM-only; Node >= 20.19 loads it through require(esm).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lib = require('@noble/post-quantum/ml-kem.js') as { ml_kem768?: MlKem768 };
  if (!lib.ml_kem768 || typeof lib.ml_kem768.encapsulate !== 'function') throw new Error('no ml_kem768 export');
  mlkem = lib.ml_kem768;
} catch (err) {
  loadProblem = `${ML_KEM_LIBRARY} cannot be loaded on Node ${process.version}: ${(err as Error).message}`;
}

function kem(): MlKem768 {
  if (!mlkem) throw new Error(loadProblem ?? 'ML-KEM unavailable');
  return mlkem;
}

/** Whether ML-KEM loaded, so installPostQuantumKex will register mlkem768x25519-sha256 (nothing is patched to find out). */
export function postQuantumKexLoadable(): boolean {
  return mlkem !== undefined;
}

/** Whether mlkem768x25519-sha256 can be offered in this process (installEngine() has run), and why not. */
export function postQuantumKexStatus(): { available: boolean; problem?: string } {
  if (loadProblem) return { available: false, problem: loadProblem };
  if (installProblem) return { available: false, problem: installProblem };
  return { available: installed };
}

// ---------------------------------------------------------------------------------------------
// The method itself (pure functions, also used by the known-answer tests)
// ---------------------------------------------------------------------------------------------

/**
 * FIPS 203 §7.2 modulus check of an ML-KEM-768 encapsulation key: every 12-bit coefficient of the
 * encoded vector t̂ must be < q. Done here as well as in the library (which only got a working
 * check in 0.6), so a malformed key is refused with a clear message whatever the library does.
 */
export function encapsulationKeyProblem(ek: Uint8Array): string | undefined {
  if (ek.length !== SIZES.mlkemPublicKey) return `ML-KEM-768 encapsulation key is ${ek.length} bytes, expected ${SIZES.mlkemPublicKey}`;
  for (let i = 0; i < 384 * 3; i += 3) {
    const a = ek[i] | ((ek[i + 1] & 0x0f) << 8);
    const b = (ek[i + 1] >> 4) | (ek[i + 2] << 4);
    if (a >= ML_KEM_Q || b >= ML_KEM_Q) {
      return `ML-KEM-768 encapsulation key fails the FIPS 203 modulus check (coefficient ${(i / 3) * 2 + (a >= ML_KEM_Q ? 0 : 1)} is ${a >= ML_KEM_Q ? a : b} >= ${ML_KEM_Q})`;
    }
  }
  return undefined;
}

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** An X25519 private key from its 32 raw bytes (RFC 7748 scalar). */
export function x25519PrivateKey(raw: Uint8Array): KeyObject {
  if (raw.length !== SIZES.x25519) throw new Error('X25519 private key must be 32 bytes');
  return createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

/** Raw keys through JWK (`x`, RFC 8037), not DER: OpenSSL 3's DER codecs cost about 80 µs each here, JWK 2-8 µs. */
function x25519Public(privateKey: KeyObject): Buffer {
  return Buffer.from(privateKey.export({ format: 'jwk' }).x as string, 'base64url');
}

/** X25519(private, peer public); node:crypto (OpenSSL) refuses low-order points (all-zero result). */
function x25519(privateKey: KeyObject, peerPublic: Uint8Array): Buffer {
  if (peerPublic.length !== SIZES.x25519) throw new Error('X25519 public key must be 32 bytes');
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peerPublic).toString('base64url') },
    format: 'jwk',
  });
  try {
    return diffieHellman({ privateKey, publicKey });
  } catch (err) {
    throw new Error(`X25519 with the peer's public value failed (low-order point?): ${(err as Error).message}`);
  }
}

/** K = SHA-256(K_PQ || K_CL); the inputs are wiped. */
export function combineSecrets(kPQ: Uint8Array, kCL: Uint8Array): Buffer {
  const k = createHash('sha256').update(kPQ).update(kCL).digest();
  kPQ.fill(0);
  kCL.fill(0);
  return k;
}

/** Deterministic inputs, for known-answer tests only. */
export interface ServerRandomness {
  /** ML-KEM.Encaps message m (32 bytes). */
  mlkemMessage?: Uint8Array;
  /** The server's ephemeral X25519 private key (32 raw bytes). */
  x25519Private?: Uint8Array;
}

/** Server side: C_INIT → S_REPLY and K. Throws an Error that names the problem on malformed input. */
export function serverEncapsulate(clientInit: Uint8Array, rnd: ServerRandomness = {}): { reply: Buffer; secret: Buffer } {
  if (clientInit.length !== SIZES.clientInit) {
    throw new Error(`client's ${MLKEM768X25519_SHA256} public value (C_INIT) is ${clientInit.length} bytes, expected ${SIZES.clientInit}`);
  }
  const ek = Uint8Array.prototype.slice.call(clientInit, 0, SIZES.mlkemPublicKey);
  const clientX = clientInit.subarray(SIZES.mlkemPublicKey);
  const problem = encapsulationKeyProblem(ek);
  if (problem) throw new Error(`client's ${problem}`);
  const priv = rnd.x25519Private ? x25519PrivateKey(rnd.x25519Private) : generateKeyPairSync('x25519').privateKey;
  const kCL = x25519(priv, clientX);
  const { cipherText, sharedSecret } = kem().encapsulate(ek, rnd.mlkemMessage && Uint8Array.from(rnd.mlkemMessage));
  const reply = Buffer.concat([cipherText, x25519Public(priv)]);
  return { reply, secret: combineSecrets(sharedSecret, kCL) };
}

/** Deterministic inputs, for known-answer tests only. */
export interface ClientRandomness {
  /** ML-KEM.KeyGen seed d || z (64 bytes). */
  mlkemSeed?: Uint8Array;
  /** The client's ephemeral X25519 private key (32 raw bytes). */
  x25519Private?: Uint8Array;
}

export interface ClientKeys {
  /** C_INIT. */
  readonly init: Buffer;
  /** S_REPLY → K. Throws on malformed input. */
  finish(serverReply: Uint8Array): Buffer;
}

/** Client side: ephemeral ML-KEM-768 and X25519 keys. */
export function clientKeys(rnd: ClientRandomness = {}): ClientKeys {
  const { publicKey, secretKey } = kem().keygen(rnd.mlkemSeed && Uint8Array.from(rnd.mlkemSeed));
  const priv = rnd.x25519Private ? x25519PrivateKey(rnd.x25519Private) : generateKeyPairSync('x25519').privateKey;
  const init = Buffer.concat([publicKey, x25519Public(priv)]);
  return {
    init,
    finish(serverReply: Uint8Array): Buffer {
      if (serverReply.length !== SIZES.serverReply) {
        throw new Error(`server's ${MLKEM768X25519_SHA256} reply (S_REPLY) is ${serverReply.length} bytes, expected ${SIZES.serverReply}`);
      }
      const ct = Uint8Array.prototype.slice.call(serverReply, 0, SIZES.mlkemCipherText);
      const kCL = x25519(priv, serverReply.subarray(SIZES.mlkemCipherText));
      const kPQ = kem().decapsulate(ct, secretKey);
      secretKey.fill(0);
      return combineSecrets(kPQ, kCL);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ssh2 integration
// ---------------------------------------------------------------------------------------------

/** What we use of ssh2's KeyExchange objects (lib/protocol/kex.js). */
interface Ssh2KeyExchange {
  negotiated: { kex: string };
  _protocol: { _server: boolean };
  _remoteKexinit: Buffer;
}
type KeyExchangeClass = new (negotiated: object, protocol: object, remoteKexinit: Buffer) => Ssh2KeyExchange;

interface KexInitOffer {
  lists: { kex: { array: string[]; buffer: Buffer } } & Record<string, unknown>;
}

interface BufferParser {
  init(buf: Buffer, start: number): void;
  readList(): string[] | undefined;
}

/**
 * Names ssh2's createKeyExchange instantiates with a constructor that only stores fields, in the
 * order they are tried as alias. The first one the local offer does not list is used.
 */
const ALIAS_CANDIDATES = [
  'diffie-hellman-group1-sha1',
  'diffie-hellman-group14-sha1',
  'diffie-hellman-group15-sha512',
  'diffie-hellman-group17-sha512',
  'diffie-hellman-group18-sha512',
  'diffie-hellman-group16-sha512',
  'diffie-hellman-group14-sha256',
];
const SHADOWED = 'shadowed-by-sshdaemon:';

let installed = false;
let installProblem: string | undefined;

/** The remote kex name-list of the KEXINIT ssh2 parsed last, until the negotiation reads `_offer`. */
let parsed: { kex: string[] | undefined; lists: number } | undefined;
const offers = new WeakMap<object, KexInitOffer | undefined>();
const views = new WeakMap<KexInitOffer, { alias: string | undefined; view: KexInitOffer } | undefined>();
const pendingAlias = new WeakMap<object, string>();
/** ssh2's per-protocol debug function, while the negotiation's lines are translated back from the alias. */
const debugOriginal = new WeakMap<object, (line: string) => void>();
let hybridClass: { base: KeyExchangeClass; cls: KeyExchangeClass } | undefined;

/** The local offer as ssh2 should negotiate it: the hybrid name replaced by an alias ssh2 can build. */
function negotiationView(offer: KexInitOffer): { alias: string | undefined; view: KexInitOffer } | undefined {
  if (views.has(offer)) return views.get(offer);
  let result: { alias: string | undefined; view: KexInitOffer } | undefined;
  const local = offer.lists.kex.array;
  if (local.includes(MLKEM768X25519_SHA256)) {
    const alias = ALIAS_CANDIDATES.find((a) => !local.includes(a));
    // No free alias (every DH group listed too): the hybrid method is left out of this offer's negotiation.
    const array = alias ? local.map((a) => (a === MLKEM768X25519_SHA256 ? alias : a)) : local.filter((a) => a !== MLKEM768X25519_SHA256);
    const view = Object.create(offer, {
      lists: { value: { ...offer.lists, kex: { ...offer.lists.kex, array } }, enumerable: true },
    }) as KexInitOffer;
    result = { alias, view };
  }
  views.set(offer, result);
  return result;
}

function translateRemote(remote: string[], alias: string): void {
  for (let i = 0; i < remote.length; i++) {
    if (remote[i] === alias) remote[i] = SHADOWED + alias;
    else if (remote[i] === MLKEM768X25519_SHA256) remote[i] = alias;
  }
}

const escapeRe = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** ssh2 logs the negotiation with the alias; the lines name the real algorithms again. */
function translateDebug(protocol: { _debug?: (line: string) => void }, alias: string): void {
  const original = protocol._debug;
  if (typeof original !== 'function' || debugOriginal.has(protocol)) return;
  debugOriginal.set(protocol, original);
  const re = new RegExp(`(?<![\\w@.:-])(${escapeRe(SHADOWED)})?${escapeRe(alias)}(?![\\w@.-])`, 'g');
  protocol._debug = (line: string) => original(line.replace(re, (_m, shadowed?: string) => (shadowed ? alias : MLKEM768X25519_SHA256)));
}

function restoreDebug(protocol: { _debug?: (line: string) => void }): void {
  const original = debugOriginal.get(protocol);
  if (!original) return;
  debugOriginal.delete(protocol);
  protocol._debug = original;
}

function defineHybridClass(base: KeyExchangeClass): KeyExchangeClass {
  class HybridExchange extends (base as unknown as new (...args: unknown[]) => Ssh2KeyExchange & Record<string, unknown>) {
    type = MLKEM768X25519_SHA256;
    hashName = 'sha256';
    private client?: ClientKeys;
    private serverReply?: Buffer;

    generateKeys(): void {
      if (!this._protocol._server && !this.client) this.client = clientKeys();
    }

    /** Client: C_INIT. Server: S_REPLY (available once computeSecret ran, which is before ssh2 asks). */
    getPublicKey(): Buffer | undefined {
      if (this._protocol._server) return this.serverReply;
      this.generateKeys();
      return this.client!.init;
    }

    /** The peer's value is used as sent (ssh2's default strips leading zeros as for an mpint). */
    convertPublicKey(key: Buffer): Buffer {
      return key;
    }

    /** K as raw bytes: ssh2 then hashes and derives keys with it as a string. Errors are returned, as ssh2 expects. */
    computeSecret(peerValue: Buffer): Buffer | Error {
      try {
        if (this._protocol._server) {
          const { reply, secret } = serverEncapsulate(peerValue);
          this.serverReply = reply;
          return secret;
        }
        this.generateKeys();
        return this.client!.finish(peerValue);
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    }
  }
  return HybridExchange as unknown as KeyExchangeClass;
}

/** ssh2's KeyExchange base class, found above the alias object; checked before it is subclassed. */
function keyExchangeBase(aliasKex: object): KeyExchangeClass | string {
  const cls = Object.getPrototypeOf(aliasKex)?.constructor as { name?: string } | undefined;
  const base = Object.getPrototypeOf(Object.getPrototypeOf(aliasKex) ?? {})?.constructor as
    (KeyExchangeClass & { name?: string }) | undefined;
  if (cls?.name !== 'DHExchange' || base?.name !== 'KeyExchange') {
    return `ssh2 key-exchange classes changed (got ${cls?.name} extends ${base?.name}, expected DHExchange extends KeyExchange)`;
  }
  for (const m of ['finish', 'start', 'parse', 'getPublicKey', 'convertPublicKey', 'computeSecret']) {
    if (typeof (base.prototype as Record<string, unknown>)[m] !== 'function') return `ssh2 KeyExchange has no ${m}()`;
  }
  return base;
}

/** Replaces the alias key exchange ssh2 just built with the hybrid one (same negotiation, protocol and KEXINIT). */
function hybridFor(proto: object, aliasKex: Ssh2KeyExchange, fatal: (proto: object, msg: string) => void): object {
  const base = keyExchangeBase(aliasKex);
  if (typeof base === 'string') {
    installProblem = base;
    // handleKexInit calls start() next: fail the handshake there, not with an exception.
    return {
      negotiated: aliasKex.negotiated,
      start: () => fatal(proto, `${MLKEM768X25519_SHA256}: ${base}`),
      parse: () => undefined,
      finish: () => undefined,
    };
  }
  if (!hybridClass || hybridClass.base !== base) hybridClass = { base, cls: defineHybridClass(base) };
  aliasKex.negotiated.kex = MLKEM768X25519_SHA256;
  return new hybridClass.cls(aliasKex.negotiated, proto, aliasKex._remoteKexinit);
}

export interface Ssh2KexInternals {
  protocolClass: { prototype: object };
  constants: { SUPPORTED_KEX: string[]; MESSAGE: Record<string, number>; DISCONNECT_REASON: Record<string, number> };
  utils: { bufferParser: BufferParser; doFatalError: (proto: object, msg: string, level: string, reason: number) => unknown };
}

/**
 * Registers mlkem768x25519-sha256 with ssh2. Must run after installKexAccessor (handshakeControl.ts).
 * Throws if ssh2 no longer has the shape this relies on; does nothing if ML-KEM cannot be loaded.
 */
export function installPostQuantumKex({ protocolClass, constants, utils }: Ssh2KexInternals): void {
  if (installed || !mlkem) return;
  const proto = protocolClass.prototype;
  const fail = (what: string) => {
    throw new Error(`sshdaemon engine: ${what}; ssh2 version changed?`);
  };
  if (constants.MESSAGE.KEXECDH_INIT !== SSH_MSG_KEX_ECDH_INIT || constants.MESSAGE.KEXECDH_REPLY !== SSH_MSG_KEX_ECDH_REPLY)
    fail('ssh2 ECDH message numbers are not 30/31');
  if (!Array.isArray(constants.SUPPORTED_KEX) || !constants.SUPPORTED_KEX.includes('diffie-hellman-group1-sha1'))
    fail('ssh2 SUPPORTED_KEX has changed');
  const bp = utils.bufferParser;
  if (typeof bp?.init !== 'function' || typeof bp.readList !== 'function' || !Object.prototype.hasOwnProperty.call(bp, 'readList')) {
    fail('ssh2 utils.bufferParser has no own init/readList');
  }
  if (typeof utils.doFatalError !== 'function') fail('ssh2 utils.doFatalError missing');
  if (Object.getOwnPropertyDescriptor(proto, '_offer')) fail('ssh2 Protocol already defines _offer');
  const kexAccessor = Object.getOwnPropertyDescriptor(proto, '_kex');
  if (!kexAccessor?.get || !kexAccessor.set) fail('the _kex accessor (handshakeControl.ts) must be installed first');

  installed = true;
  if (!constants.SUPPORTED_KEX.includes(MLKEM768X25519_SHA256)) constants.SUPPORTED_KEX.push(MLKEM768X25519_SHA256);

  // (2) Keep the first name-list of the KEXINIT handleKexInit parses (bufferParser.init(payload, 17)).
  const init = bp.init;
  const readList = bp.readList;
  bp.init = (buf: Buffer, start: number) => {
    parsed = start === 17 && buf?.[0] === constants.MESSAGE.KEXINIT ? { kex: undefined, lists: 0 } : undefined;
    return init(buf, start);
  };
  bp.readList = () => {
    const list = readList();
    if (parsed) {
      if (list === undefined) parsed = undefined;
      else if (parsed.lists++ === 0) parsed.kex = list;
    }
    return list;
  };

  // handleKexInit reads `self._offer` right after parsing all ten lists: that read negotiates.
  Object.defineProperty(proto, '_offer', {
    configurable: true,
    get(this: object) {
      const offer = offers.get(this);
      const remote = parsed?.lists === 10 ? parsed.kex : undefined;
      parsed = undefined;
      if (!remote || !offer) return offer;
      const v = negotiationView(offer);
      if (!v) return offer;
      if (v.alias) {
        translateRemote(remote, v.alias);
        pendingAlias.set(this, v.alias);
        translateDebug(this, v.alias);
      }
      return v.view;
    },
    set(this: object, offer: KexInitOffer | undefined) {
      offers.set(this, offer);
    },
  });

  // (3) The object ssh2 built for the alias becomes the hybrid exchange.
  const fatal = (p: object, msg: string) => utils.doFatalError(p, msg, 'handshake', constants.DISCONNECT_REASON.KEY_EXCHANGE_FAILED);
  Object.defineProperty(proto, '_kex', {
    configurable: true,
    get: kexAccessor!.get,
    set(this: object, kex: Ssh2KeyExchange | undefined) {
      const alias = pendingAlias.get(this);
      pendingAlias.delete(this);
      restoreDebug(this);
      const value = alias && kex && kex.negotiated?.kex === alias ? hybridFor(this, kex, fatal) : kex;
      kexAccessor!.set!.call(this, value);
    },
  });
}
