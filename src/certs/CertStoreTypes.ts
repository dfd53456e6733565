/** Certificate store types, numbered as in IPWorks. */
export enum CertStoreTypes {
  /** Windows current-user store: not available on Node.js (throws). */
  cstUser = 0,
  /** Windows machine store: not available on Node.js (throws). */
  cstMachine = 1,
  /** PKCS#12 (PFX) file path. */
  cstPFXFile = 2,
  /** PKCS#12 (PFX) content (Buffer or base64). */
  cstPFXBlob = 3,
  /** Java key store file: not supported (throws); export the key to PEM or PFX. */
  cstJKSFile = 4,
  /** Java key store content: not supported (throws). */
  cstJKSBlob = 5,
  /** PEM private key file: PKCS#1, PKCS#8 (also encrypted), SEC1 or OpenSSH. */
  cstPEMKeyFile = 6,
  /** PEM private key text, as cstPEMKeyFile. */
  cstPEMKeyBlob = 7,
  /** PEM public key or X.509 certificate file (public only). */
  cstPublicKeyFile = 8,
  /** PEM public key or X.509 certificate text (public only). */
  cstPublicKeyBlob = 9,
  /** SSH public key: wire blob, or an OpenSSH `ssh-ed25519 AAAA...` line (public only). */
  cstSSHPublicKeyBlob = 10,
  /** PKCS#7 certificate bundle file (public only). */
  cstP7BFile = 11,
  /** PKCS#7 certificate bundle content (public only). */
  cstP7BBlob = 12,
  /** OpenSSH public key file (`id_ed25519.pub`, public only). */
  cstSSHPublicKeyFile = 13,
  /** PuTTY private key file (.ppk, v2 or v3). */
  cstPPKFile = 14,
  /** PuTTY private key content. */
  cstPPKBlob = 15,
  /** .NET XML key file: not supported (throws). */
  cstXMLFile = 16,
  /** .NET XML key text: not supported (throws). */
  cstXMLBlob = 17,
  /** Detect the format from the content (file path or content). */
  cstAuto = 99,
}
