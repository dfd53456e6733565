import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { sha256Fingerprint } from './publicKey';
import { CertStoreTypes } from './CertStoreTypes';
import { AUTO_FORMATS, detectStore } from './detectStoreFormat';
import { publicKeyBlob, sshKeyType, toOpenSSHPrivateKey } from './opensshKey';
import { loadPemKey } from './pemKey';
import { loadPkcs12 } from './pkcs12Store';
import { loadPpk } from './puttyPpk';
import { publicKeyFromBlob } from './sshKeyBlob';
import { loadSshPublicKey } from './sshPublicKeyFile';
import { type CertStoreFormat, corruptKey, type KeyLoader, keyPairMatches, type LoadedKey } from './storeLoader';
import { loadP7bPublicKey, loadX509PublicKey } from './x509Store';

export type { CertStoreFormat } from './storeLoader';

/** Key kinds {@link Certificate.generate} creates. */
export type GeneratedKeyKind = 'ed25519' | 'ecdsa-p256' | 'rsa-3072';

type Source = 'file' | 'blob';

/** Store type -> where the bytes come from and which format reads them. cstAuto is resolved by content. */
const STORES: Partial<Record<CertStoreTypes, { source: Source; format: CertStoreFormat }>> = {
  [CertStoreTypes.cstPFXFile]: { source: 'file', format: 'pfx' },
  [CertStoreTypes.cstPFXBlob]: { source: 'blob', format: 'pfx' },
  [CertStoreTypes.cstPEMKeyFile]: { source: 'file', format: 'pem' },
  [CertStoreTypes.cstPEMKeyBlob]: { source: 'blob', format: 'pem' },
  [CertStoreTypes.cstPublicKeyFile]: { source: 'file', format: 'x509' },
  [CertStoreTypes.cstPublicKeyBlob]: { source: 'blob', format: 'x509' },
  [CertStoreTypes.cstSSHPublicKeyBlob]: { source: 'blob', format: 'ssh-public-key' },
  [CertStoreTypes.cstP7BFile]: { source: 'file', format: 'p7b' },
  [CertStoreTypes.cstP7BBlob]: { source: 'blob', format: 'p7b' },
  [CertStoreTypes.cstSSHPublicKeyFile]: { source: 'file', format: 'ssh-public-key' },
  [CertStoreTypes.cstPPKFile]: { source: 'file', format: 'ppk' },
  [CertStoreTypes.cstPPKBlob]: { source: 'blob', format: 'ppk' },
};

const LOADERS: Record<CertStoreFormat, KeyLoader> = {
  pem: loadPemKey,
  pfx: loadPkcs12,
  ppk: loadPpk,
  'ssh-public-key': loadSshPublicKey,
  x509: loadX509PublicKey,
  p7b: loadP7bPublicKey,
};

const NOT_ON_NODE: Partial<Record<CertStoreTypes, string>> = {
  [CertStoreTypes.cstUser]: 'the Windows user certificate store',
  [CertStoreTypes.cstMachine]: 'the Windows machine certificate store',
  [CertStoreTypes.cstJKSFile]: 'a Java keystore',
  [CertStoreTypes.cstJKSBlob]: 'a Java keystore',
  [CertStoreTypes.cstXMLFile]: 'a .NET XML key',
  [CertStoreTypes.cstXMLBlob]: 'a .NET XML key',
};

const VALID_TYPES = [...Object.keys(STORES).map(Number), CertStoreTypes.cstAuto]
  .map((t) => `${t} ${CertStoreTypes[t].slice(3)}`)
  .join(', ');

function readKeyFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SSHDaemonError(ErrorCodes.KeyFileNotFound, `Cannot read key file ${path}: ${(err as Error).message}`);
  }
}

/** The bytes, format and a description of where they came from, for every supported store type. */
function resolveStore(storeType: CertStoreTypes, store: string | Buffer): { content: Buffer; format: CertStoreFormat; where: string } {
  const notOnNode = NOT_ON_NODE[storeType];
  if (notOnNode) {
    throw new SSHDaemonError(
      ErrorCodes.UnsupportedStoreType,
      `Store type ${storeType} (${CertStoreTypes[storeType]}) is ${notOnNode}, which cannot exist on Node.js; export the key to PEM, OpenSSH, PPK or PFX`,
    );
  }
  if (storeType === CertStoreTypes.cstAuto) {
    // A string is a file path unless it is itself key material (PEM text, an SSH public key line...).
    const inline = Buffer.isBuffer(store) ? detectStore(store) : detectStore(Buffer.from(store, 'utf8'));
    const where = Buffer.isBuffer(store) || inline ? 'the key blob' : `file ${store}`;
    const detected = inline ?? (Buffer.isBuffer(store) ? undefined : detectStore(readKeyFile(store)));
    if (!detected)
      throw new SSHDaemonError(ErrorCodes.CorruptKey, `cstAuto: ${where} is not a key store in any known format; tried ${AUTO_FORMATS}`);
    return { ...detected, where };
  }
  const row = STORES[storeType];
  if (!row) throw new SSHDaemonError(ErrorCodes.UnsupportedStoreType, `Unknown store type ${String(storeType)}; valid: ${VALID_TYPES}`);
  const name = CertStoreTypes[storeType].slice(3);
  if (row.source === 'blob') {
    return { content: Buffer.isBuffer(store) ? store : Buffer.from(store, 'utf8'), format: row.format, where: `the ${name} blob` };
  }
  if (typeof store !== 'string') {
    throw new SSHDaemonError(
      ErrorCodes.InvalidArgument,
      `Store type ${storeType} (${name}) takes a file path; for a Buffer use the matching blob type or cstAuto (99)`,
    );
  }
  return { content: readKeyFile(store), format: row.format, where: `file ${store}` };
}

/**
 * A host key ("certificate" in IPWorks terms): `new Certificate(storeType, store, password?, subject?)`.
 * Loads at construction, so a wrong password or a corrupt file throws here, before anything listens.
 * Public-key stores (SSH public key, X.509 certificate, P7B) give a public-only Certificate
 * (`hasPrivateKey` false) for comparing client keys with {@link Certificate.matches}; it cannot be a host key.
 * See docs/host-keys.md for every store type.
 */
export class Certificate {
  /** The store type given to the constructor. */
  readonly storeType: CertStoreTypes;
  /** The store given to the constructor: a path, or the content. */
  readonly store: string | Buffer;
  /** The store password given to the constructor. */
  readonly storePassword: string;
  /** The subject selector given (PFX, certificate bundles): '*' or '' = first entry. */
  readonly subject: string;
  /** The format the key was read from (what cstAuto detected). */
  readonly format: CertStoreFormat;
  /** The private key; undefined for public-only stores. */
  readonly privateKey: KeyObject | undefined;
  /** The public key. */
  readonly publicKey: KeyObject;
  /** True when the store held a private key, i.e. the Certificate can serve as a host key. */
  readonly hasPrivateKey: boolean;
  /** Subject of the X.509 certificate the key came with (`CN=..., O=...`), '' when none. */
  readonly certificateSubject: string;
  /** SSH key type: `ssh-ed25519`, `ecdsa-sha2-nistp256` (384, 521), `ssh-rsa`. */
  readonly keyType: string;
  /** The public key's SSH wire blob. */
  readonly publicKeyBlob: Buffer;

  /**
   * @param storeType where and how the key is stored ({@link CertStoreTypes}).
   * @param store a file path (file types), the content as Buffer or text (blob types), either for cstAuto.
   * @param storePassword password of an encrypted PEM/OpenSSH/PPK/PFX store.
   * @param subject PFX and certificate-bundle selector: '*' (default) or '' = first, `CN=x`, or a CN value.
   * @throws SSHDaemonError UnsupportedStoreType, KeyFileNotFound, BadKeyPassword, CorruptKey, SubjectNotFound.
   */
  constructor(storeType: CertStoreTypes, store: string | Buffer, storePassword = '', subject = '*') {
    this.storeType = storeType;
    this.store = store;
    this.storePassword = storePassword;
    this.subject = subject;
    const { content, format, where } = resolveStore(storeType, store);
    let loaded: LoadedKey;
    try {
      loaded = LOADERS[format](content, { password: storePassword, subject, where });
    } catch (err) {
      // Whatever a loader lets through (an OpenSSL decode error from a certificate's key, say) is
      // still a store that cannot be used: CorruptKey, as documented, never a bare Error.
      if (err instanceof SSHDaemonError) throw err;
      throw corruptKey(format, where, err);
    }
    if (loaded.privateKey && !keyPairMatches(loaded.privateKey, loaded.publicKey)) {
      throw new SSHDaemonError(
        ErrorCodes.CorruptKey,
        `${format}: ${where} holds a private key that does not match its public key (a damaged or edited key)`,
      );
    }
    this.format = format;
    this.privateKey = loaded.privateKey;
    this.publicKey = loaded.publicKey;
    this.hasPrivateKey = loaded.privateKey !== undefined;
    this.certificateSubject = loaded.certificateSubject ?? '';
    try {
      this.keyType = sshKeyType(this.publicKey);
      this.publicKeyBlob = publicKeyBlob(this.publicKey);
    } catch (err) {
      throw new SSHDaemonError(
        ErrorCodes.CorruptKey,
        `Unsupported key in ${where}: ${(err as Error).message} (host keys can be Ed25519, ECDSA P-256/384/521 or RSA)`,
      );
    }
  }

  /** `SHA256:...` as `ssh-keygen -l` prints it. */
  get fingerprint(): string {
    return sha256Fingerprint(this.publicKeyBlob);
  }

  /** The public key in `authorized_keys` / `known_hosts` form. */
  get publicKeyOpenSSH(): string {
    return `${this.keyType} ${this.publicKeyBlob.toString('base64')}`;
  }

  /**
   * True when `blob` (an SSH public key wire blob, e.g. from publickey authentication) is this
   * certificate's public key. Compared after decoding, so a non-canonical encoding still matches.
   */
  matches(blob: Buffer): boolean {
    try {
      return publicKeyBlob(publicKeyFromBlob(blob)).equals(this.publicKeyBlob);
    } catch {
      return false;
    }
  }

  /**
   * The private key as unencrypted `openssh-key-v1` text (what the engine loads).
   * @throws SSHDaemonError NoHostKey for a public-only Certificate.
   */
  toOpenSSH(comment = ''): string {
    return toOpenSSHPrivateKey(this.requirePrivateKey('toOpenSSH()'), comment);
  }

  /**
   * Writes the private key in OpenSSH format with mode 0600.
   * @throws SSHDaemonError NoHostKey for a public-only Certificate.
   */
  save(path: string, comment = ''): void {
    writeFileSync(path, this.toOpenSSH(comment), { mode: 0o600 });
  }

  /**
   * The private key, for code that needs a host key.
   * @param use what needs it, named in the error.
   * @throws SSHDaemonError NoHostKey for a public-only Certificate, saying why.
   */
  requirePrivateKey(use: string): KeyObject {
    if (this.privateKey) return this.privateKey;
    throw new SSHDaemonError(
      ErrorCodes.NoHostKey,
      `${use}: this Certificate (${this.keyType} ${this.fingerprint}, store type ${this.storeType} ${CertStoreTypes[this.storeType] ?? ''}) holds only a public key; a host key needs a store with the private key (PEM, OpenSSH, PPK or PFX)`,
    );
  }

  /** Generates a new host key. */
  static generate(kind: GeneratedKeyKind = 'ed25519'): Certificate {
    const { privateKey } =
      kind === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : kind === 'ecdsa-p256'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : kind === 'rsa-3072'
            ? generateKeyPairSync('rsa', { modulusLength: 3072 })
            : (() => {
                throw new SSHDaemonError(
                  ErrorCodes.InvalidArgument,
                  `Certificate.generate: unknown key kind '${String(kind)}' (valid: ed25519, ecdsa-p256, rsa-3072)`,
                );
              })();
    return new Certificate(CertStoreTypes.cstPEMKeyBlob, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  }
}
