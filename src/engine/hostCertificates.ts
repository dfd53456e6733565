/**
 * OpenSSH host certificates (PROTOCOL.certkeys) served by ssh2 1.17.0's server key exchange, which
 * knows plain host keys only.
 *
 * What the protocol asks: the server lists `<base>-cert-v01@openssh.com` (e.g.
 * `ssh-ed25519-cert-v01@openssh.com`, `rsa-sha2-512-cert-v01@openssh.com`) among its host key
 * algorithms; when one is negotiated, K_S in the KEXDH/KEX_ECDH reply (and in the exchange hash) is
 * the certificate blob, while the signature of H is made by the certified plain key with the base
 * algorithm (`rsa-sha2-512` for `rsa-sha2-512-cert-v01@openssh.com`), as sshd does.
 *
 * How it is hooked, per connection (only protocols registered here are touched):
 * - the names are added to the connection's offer by handshakeControl.ts (ssh2's Server config
 *   refuses names it does not know, so they never go through it);
 * - when ssh2 stores the key exchange it negotiated (`_kex` accessor, handshakeControl.ts) with a
 *   certificate algorithm, `negotiated.serverHostKey` becomes the base algorithm (ssh2 picks the
 *   signature hash and writes the signature's name from it) and the protocol's `_hostKeys` table
 *   becomes a view whose base entry is the plain key with `getPublicSSH()` answering the
 *   certificate blob (K_S);
 * - the certificate name is put back into `negotiated` just before ssh2 reports the finished key
 *   exchange (`_onHandshakeComplete`), so the `handshake` event and logs name what was negotiated.
 * The shapes relied on are checked when a connection is registered; a mismatch throws there.
 */

/** One loaded host certificate: the certified plain key's wire blob and the certificate blob. */
export interface HostCertificateBlob {
  /** The certified key as a plain SSH public key blob (it must be one of the loaded host keys). */
  readonly publicKey: Buffer;
  /** The certificate blob (`*-cert-v01@openssh.com`). */
  readonly certificate: Buffer;
}

/** The certificate algorithm of a plain host key algorithm (PROTOCOL.certkeys naming). */
export function certificateAlgorithm(base: string): string {
  return `${base}-cert-v01@openssh.com`;
}

/** What ssh2 keeps of a host key (keyParser.js objects). */
interface EngineHostKey {
  readonly type: string;
  getPublicSSH(): Buffer;
  sign(data: Buffer, hash?: string): Buffer | Error;
}

type HostKeyTable = Record<string, EngineHostKey | EngineHostKey[]>;

interface CertificateState {
  /** ssh2's table of the connection (shared by the server's connections). */
  readonly plain: HostKeyTable;
  /** Per certificate algorithm: its base algorithm and the table to use while it is negotiated. */
  readonly byAlgorithm: Map<string, { base: string; table: HostKeyTable }>;
  /** The negotiation whose host key name was replaced by the base, until ssh2 reports it. */
  pending?: { negotiated: { serverHostKey: string }; name: string };
}

interface ProtocolWithKeys {
  _hostKeys?: HostKeyTable;
  _server?: boolean;
  _onHandshakeComplete?: (...args: unknown[]) => unknown;
}

const states = new WeakMap<object, CertificateState>();

/** Tables per ssh2 table and certificate set: shared by the connections of one engine server. */
const tableCache = new WeakMap<HostKeyTable, Map<string, Map<string, { base: string; table: HostKeyTable }>>>();

function firstKey(entry: EngineHostKey | EngineHostKey[] | undefined): EngineHostKey | undefined {
  return Array.isArray(entry) ? entry[0] : entry;
}

function algorithmTables(plain: HostKeyTable, certs: readonly HostCertificateBlob[]): Map<string, { base: string; table: HostKeyTable }> {
  const cacheKey = certs.map((c) => c.certificate.toString('base64')).join(',');
  let byCerts = tableCache.get(plain);
  if (!byCerts) tableCache.set(plain, (byCerts = new Map()));
  const cached = byCerts.get(cacheKey);
  if (cached) return cached;
  const out = new Map<string, { base: string; table: HostKeyTable }>();
  for (const base of Object.keys(plain)) {
    const key = firstKey(plain[base]);
    if (!key || typeof key.getPublicSSH !== 'function' || typeof key.sign !== 'function') {
      throw new Error(`sshdaemon engine: ssh2 host key entry '${base}' has no getPublicSSH/sign; ssh2 version changed?`);
    }
    const blob = key.getPublicSSH();
    const cert = certs.find((c) => c.publicKey.equals(blob));
    if (!cert) continue;
    // The plain key (its private half and sign()) behind the certificate's public blob.
    const served = Object.create(key, { getPublicSSH: { value: () => cert.certificate } }) as EngineHostKey;
    out.set(certificateAlgorithm(base), { base, table: Object.assign(Object.create(null) as HostKeyTable, plain, { [base]: served }) });
  }
  byCerts.set(cacheKey, out);
  return out;
}

/**
 * Registers the host certificates of one server connection (before its KEXINIT is sent) and
 * returns the certificate algorithms it can serve, each with its base algorithm. Throws if ssh2's
 * protocol no longer has the shape this relies on.
 */
export function registerHostCertificates(proto: object, certs: readonly HostCertificateBlob[]): Map<string, string> {
  const p = proto as ProtocolWithKeys;
  if (p._server !== true || !p._hostKeys || typeof p._hostKeys !== 'object' || typeof p._onHandshakeComplete !== 'function') {
    throw new Error('sshdaemon engine: ssh2 server protocol has no _hostKeys/_onHandshakeComplete; ssh2 version changed?');
  }
  const byAlgorithm = algorithmTables(p._hostKeys, certs);
  if (byAlgorithm.size === 0) return new Map();
  const state: CertificateState = { plain: p._hostKeys, byAlgorithm };
  states.set(proto, state);
  const complete = p._onHandshakeComplete;
  p._onHandshakeComplete = (...args: unknown[]) => {
    if (state.pending) {
      state.pending.negotiated.serverHostKey = state.pending.name;
      state.pending = undefined;
    }
    return complete(...args);
  };
  return new Map([...byAlgorithm].map(([name, { base }]) => [name, base]));
}

/**
 * Called by the `_kex` accessor with each key exchange ssh2 starts on a protocol: a negotiated
 * certificate algorithm is served with its base algorithm and the certificate as K_S.
 */
export function onKeyExchange(proto: object, kex: { negotiated?: { serverHostKey?: unknown } } | undefined): void {
  const state = states.get(proto);
  if (!state || !kex?.negotiated) return;
  const negotiated = kex.negotiated as { serverHostKey: string };
  const entry = state.byAlgorithm.get(negotiated.serverHostKey);
  const p = proto as ProtocolWithKeys;
  if (!entry) {
    p._hostKeys = state.plain;
    return;
  }
  state.pending = { negotiated, name: negotiated.serverHostKey };
  negotiated.serverHostKey = entry.base;
  p._hostKeys = entry.table;
}
