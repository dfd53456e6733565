import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { engineParseKey } from '../engine/ssh2Internals';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { sha256Fingerprint } from '../auth/publicKey';
import { CertStoreTypes } from './CertStoreTypes';
import { publicKeyBlob, sshKeyType, toOpenSSHPrivateKey } from './opensshKey';

/** Key kinds {@link Certificate.generate} creates. */
export type GeneratedKeyKind = 'ed25519' | 'ecdsa-p256' | 'rsa-3072';

const FILE_TYPES = new Set([CertStoreTypes.cstPEMKeyFile, CertStoreTypes.cstAuto]);
const LOADERS_PENDING: Partial<Record<CertStoreTypes, string>> = {
  [CertStoreTypes.cstPFXFile]: 'PFXFile',
  [CertStoreTypes.cstPFXBlob]: 'PFXBlob',
  [CertStoreTypes.cstPPKFile]: 'PPKFile',
  [CertStoreTypes.cstPPKBlob]: 'PPKBlob',
  [CertStoreTypes.cstSSHPublicKeyBlob]: 'SSHPublicKeyBlob',
  [CertStoreTypes.cstSSHPublicKeyFile]: 'SSHPublicKeyFile',
};
const NOT_ON_NODE: Partial<Record<CertStoreTypes, string>> = {
  [CertStoreTypes.cstUser]: 'the Windows user certificate store',
  [CertStoreTypes.cstMachine]: 'the Windows machine certificate store',
  [CertStoreTypes.cstJKSFile]: 'a Java keystore',
  [CertStoreTypes.cstJKSBlob]: 'a Java keystore',
  [CertStoreTypes.cstXMLFile]: 'a .NET XML key',
  [CertStoreTypes.cstXMLBlob]: 'a .NET XML key',
};

function passwordProblem(message: string): boolean {
  return /passphrase|bad decrypt|decrypt|password|integrity/i.test(message);
}

function loadPrivateKey(text: string, password: string, where: string): KeyObject {
  if (text.includes('BEGIN OPENSSH PRIVATE KEY')) {
    const parsed = engineParseKey(text, password || undefined);
    if (parsed instanceof Error) {
      const code = passwordProblem(parsed.message) ? ErrorCodes.BadKeyPassword : ErrorCodes.CorruptKey;
      throw new SSHDaemonError(code, `Cannot read the OpenSSH private key in ${where}: ${parsed.message}`);
    }
    return createPrivateKey(parsed.getPrivatePEM());
  }
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    throw new SSHDaemonError(ErrorCodes.CorruptKey, `No PEM or OpenSSH private key found in ${where}`);
  }
  try {
    return createPrivateKey({ key: text, format: 'pem', passphrase: password });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const encrypted = /ENCRYPTED/.test(text);
    const code = encrypted && passwordProblem(message) ? ErrorCodes.BadKeyPassword : ErrorCodes.CorruptKey;
    const what = code === ErrorCodes.BadKeyPassword ? 'wrong or missing password for' : 'cannot parse';
    throw new SSHDaemonError(code, `PEM private key: ${what} ${where} (${message})`);
  }
}

/**
 * A host key ("certificate" in IPWorks terms): `new Certificate(storeType, store, password?, subject?)`.
 * Loads at construction, so a wrong password or a corrupt file throws here, before anything listens.
 */
export class Certificate {
  readonly storeType: CertStoreTypes;
  readonly store: string | Buffer;
  readonly storePassword: string;
  readonly subject: string;
  /** The private key. */
  readonly privateKey: KeyObject;
  /** SSH key type: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`. */
  readonly keyType: string;
  /** The public key's SSH wire blob. */
  readonly publicKeyBlob: Buffer;

  constructor(storeType: CertStoreTypes, store: string | Buffer, storePassword = '', subject = '*') {
    this.storeType = storeType;
    this.store = store;
    this.storePassword = storePassword;
    this.subject = subject;
    const notOnNode = NOT_ON_NODE[storeType];
    if (notOnNode) {
      throw new SSHDaemonError(ErrorCodes.UnsupportedStoreType, `Store type ${storeType} (${CertStoreTypes[storeType]}) is ${notOnNode}, which cannot exist on Node.js; export the key to PEM, OpenSSH or PFX`);
    }
    const pending = LOADERS_PENDING[storeType];
    if (pending) {
      throw new SSHDaemonError(ErrorCodes.UnsupportedStoreType, `Store type ${storeType} (${pending}) is not supported yet; use cstPEMKeyFile (6), cstPEMKeyBlob (7) or cstAuto (99)`);
    }
    if (storeType !== CertStoreTypes.cstPEMKeyBlob && !FILE_TYPES.has(storeType)) {
      throw new SSHDaemonError(ErrorCodes.UnsupportedStoreType, `Unknown store type ${String(storeType)}; valid: 6 PEMKeyFile, 7 PEMKeyBlob, 99 Auto`);
    }
    const { text, where } = Certificate.readStore(storeType, store);
    this.privateKey = loadPrivateKey(text, storePassword, where);
    try {
      this.keyType = sshKeyType(this.privateKey);
      this.publicKeyBlob = publicKeyBlob(this.privateKey);
    } catch (err) {
      throw new SSHDaemonError(ErrorCodes.CorruptKey, `Unsupported host key in ${where}: ${(err as Error).message}`);
    }
  }

  private static readStore(storeType: CertStoreTypes, store: string | Buffer): { text: string; where: string } {
    const isAutoBlob = storeType === CertStoreTypes.cstAuto && (Buffer.isBuffer(store) || /-----BEGIN /.test(store));
    if (storeType === CertStoreTypes.cstPEMKeyBlob || isAutoBlob) {
      return { text: Buffer.isBuffer(store) ? store.toString('utf8') : store, where: 'the key blob' };
    }
    const path = String(store);
    try {
      return { text: readFileSync(path, 'utf8'), where: `file ${path}` };
    } catch (err) {
      throw new SSHDaemonError(ErrorCodes.KeyFileNotFound, `Cannot read key file ${path}: ${(err as Error).message}`);
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

  /** The private key as unencrypted `openssh-key-v1` text (what the engine loads). */
  toOpenSSH(comment = ''): string {
    return toOpenSSHPrivateKey(this.privateKey, comment);
  }

  /** Writes the private key in OpenSSH format with mode 0600. */
  save(path: string, comment = ''): void {
    writeFileSync(path, this.toOpenSSH(comment), { mode: 0o600 });
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
                throw new SSHDaemonError(ErrorCodes.InvalidArgument, `Certificate.generate: unknown key kind '${String(kind)}' (valid: ed25519, ecdsa-p256, rsa-3072)`);
              })();
    return new Certificate(CertStoreTypes.cstPEMKeyBlob, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  }
}
