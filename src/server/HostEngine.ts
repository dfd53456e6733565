import { Certificate } from '../certs/Certificate';
import { loadHostCertificate } from '../certs/hostCertificate';
import type { CertStoreTypes } from '../certs/CertStoreTypes';
import type { ConfigStore } from '../config/ConfigStore';
import { createEngineServer } from '../engine/EngineServer';
import type { HostCertificateBlob } from '../engine/hostCertificates';
import type { ClientInfo, Ssh2Connection, Ssh2Server } from '../engine/ssh2Types';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import type { EventHub } from '../events/EventHub';

/** Where the engine hands each connection once the client's identification line is parsed. */
export interface EngineConnectionSink {
  onEngineConnection(engine: Ssh2Connection, info: ClientInfo): void;
}

/**
 * The ssh2 Server used as the protocol engine for new connections, rebuilt only when the host keys
 * or an algorithm setting changed, and the parsed host keys behind it.
 */
export class HostEngine {
  private engine?: Ssh2Server;
  private engineKey = '';
  /** The settings version and host key the engine was last checked against. */
  private stamp: { version: number; sshCert: Certificate | undefined } = { version: -1, sshCert: undefined };
  private hostKeysCache?: { sshCert: Certificate | undefined; key: string; certs: Certificate[] };
  private hostKeyTexts: string[] = [];
  private loaded: LoadedHostKeys = { keys: [], certificates: [] };

  constructor(
    private readonly settings: ConfigStore,
    private readonly hub: EventHub,
    private readonly sink: EngineConnectionSink,
  ) {}

  /** Forgets the engine (daemon reset): the next connection builds a new one. */
  reset(): void {
    this.engine = undefined;
    this.engineKey = '';
  }

  /** The engine server for new connections; throws NoHostKey when no host key fits the algorithm settings. */
  engineFor(sshCert: Certificate | undefined): Ssh2Server {
    const { settings } = this;
    // Settings and the host key are unchanged since the last connection: nothing to rebuild.
    if (this.engine && this.stamp.version === settings.version && this.stamp.sshCert === sshCert) return this.engine;
    const certs = this.loadedHostCertificates(sshCert);
    const hostKeyTypes = new Set(certs.map((c) => (c.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256'] : [c.keyType])).flat());
    const serverHostKey = settings.list('SSHPublicKeyAlgorithms').filter((a) => hostKeyTypes.has(a));
    if (serverHostKey.length === 0) {
      throw new SSHDaemonError(
        ErrorCodes.NoHostKey,
        `No host key matches SSHPublicKeyAlgorithms (${settings.text('SSHPublicKeyAlgorithms')}); keys loaded: ${certs.map((c) => c.keyType).join(', ')}`,
      );
    }
    // Copies: ssh2 may extend the lists it is given (kex-strict), and settings.list() is cached.
    const options = {
      hostKeys: this.hostKeyTexts,
      kex: [...settings.list('SSHKeyExchangeAlgorithms')],
      cipher: [...settings.list('SSHEncryptionAlgorithms')],
      hmac: [...settings.list('SSHMacAlgorithms')],
      serverHostKey,
      compress: [...settings.list('SSHCompressionAlgorithms')],
      ident: settings.text('ServerSSHVersionString').replace(/^SSH-2\.0-/, ''),
      keepaliveInterval: settings.int('SSHKeepAliveInterval') * 1000,
      keepaliveCountMax: settings.int('SSHKeepAliveCountMax'),
    };
    const tracing = settings.int('LogLevel') >= 3;
    const key = JSON.stringify({ ...options, tracing });
    this.stamp = { version: settings.version, sshCert };
    if (this.engine && key === this.engineKey) return this.engine;
    for (const c of certs) {
      const algs = c.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [c.keyType];
      if (!algs.some((a) => serverHostKey.includes(a))) {
        this.hub.log(
          '',
          1,
          `host key ${c.fingerprint} (${c.keyType}) is not offered: SSHPublicKeyAlgorithms does not list ${algs.join(' or ')}`,
        );
      }
    }
    for (const { publicKey } of this.loaded.certificates) {
      const key = certs.find((c) => c.publicKeyBlob.equals(publicKey));
      // The engine keeps the first key of each type for the key exchange (later ones are announced for rotation only).
      if (key && certs.find((c) => c.keyType === key.keyType) !== key) {
        this.hub.log(
          '',
          1,
          `host certificate of ${key.fingerprint} is not served: an earlier ${key.keyType} host key serves the key exchange`,
        );
      }
    }
    const debug = tracing ? (line: string) => this.hub.log('', 3, line) : undefined;
    const engine = createEngineServer({ ...options, debug });
    engine.on('connection', (conn: Ssh2Connection, info: ClientInfo) => this.sink.onEngineConnection(conn, info));
    engine.on('error', (err: Error) => this.hub.error('', ErrorCodes.ProtocolError, err.message));
    this.engine = engine;
    this.engineKey = key;
    return engine;
  }

  /** The host keys and host certificates of the current engine (for hostkeys-00 and the key exchange). */
  hostKeys(): LoadedHostKeys {
    return this.loaded;
  }

  /**
   * The host keys, parsed again only when sshCert or an AltSSHCert* setting changed: parsing a PFX
   * or an encrypted key per connection would cost more than the handshake.
   */
  private loadedHostCertificates(sshCert: Certificate | undefined): Certificate[] {
    const count = this.settings.int('AltSSHCertCount');
    const source: unknown[] = [this.settings.text('SSHCertCertificate')];
    for (let i = 0; i < count; i++) {
      source.push(
        ['AltSSHCertStore', 'AltSSHCertStorePassword', 'AltSSHCertStoreType', 'AltSSHCertSubject', 'AltSSHCertCertificate'].map((n) =>
          this.settings.text(n, i),
        ),
      );
    }
    const key = JSON.stringify(source);
    const cached = this.hostKeysCache;
    if (cached && cached.sshCert === sshCert && cached.key === key) return cached.certs;
    const loaded = this.hostCertificates(sshCert!);
    const certs = [...loaded.keys];
    this.hostKeysCache = { sshCert, key, certs };
    this.hostKeyTexts = certs.map((c) => c.toOpenSSH());
    this.loaded = loaded;
    return certs;
  }

  private hostCertificates(sshCert: Certificate): LoadedHostKeys {
    const { settings } = this;
    const keys = [sshCert];
    const certificates: HostCertificateBlob[] = [];
    const withCertificate = (key: Certificate, setting: string, value: string) => {
      if (value.trim() === '') return;
      const cert = loadHostCertificate(setting, value, key);
      certificates.push({ publicKey: key.publicKeyBlob, certificate: cert.blob });
    };
    withCertificate(sshCert, 'SSHCertCertificate', settings.text('SSHCertCertificate'));
    const count = settings.int('AltSSHCertCount');
    for (let i = 0; i < count; i++) {
      const store = settings.text('AltSSHCertStore', i);
      if (!store) {
        if (settings.text('AltSSHCertCertificate', i).trim() !== '') {
          throw new SSHDaemonError(
            ErrorCodes.InvalidHostCertificate,
            `AltSSHCertCertificate[${i}] is set but AltSSHCertStore[${i}] is empty: a host certificate needs its host key`,
          );
        }
        continue;
      }
      const cert = new Certificate(
        settings.int('AltSSHCertStoreType', i) as CertStoreTypes,
        store,
        settings.text('AltSSHCertStorePassword', i),
        settings.text('AltSSHCertSubject', i),
      );
      cert.requirePrivateKey(`AltSSHCertStore[${i}]`);
      withCertificate(cert, `AltSSHCertCertificate[${i}]`, settings.text('AltSSHCertCertificate', i));
      keys.push(cert);
    }
    return { keys, certificates };
  }
}

/** The loaded host keys (SSHCert first) and the host certificates of some of them. */
export interface LoadedHostKeys {
  readonly keys: readonly Certificate[];
  readonly certificates: readonly HostCertificateBlob[];
}
