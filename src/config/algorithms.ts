import { DEFAULT_SIGNATURE_ALGORITHMS } from '../certs/sshSignature';
import { engineAlgorithms } from '../engine/ssh2Internals';

/** ssh2 advertises group exchange but cannot serve it as a server: never offered, never accepted. */
const UNSERVABLE = /^diffie-hellman-group-exchange-/;

/** What the engine serves once installed (computed without patching ssh2: importing this changes nothing). */
const ENGINE = engineAlgorithms();

export const SUPPORTED = {
  kex: ENGINE.kex.filter((k) => !UNSERVABLE.test(k)),
  cipher: ENGINE.cipher,
  mac: ENGINE.hmac,
  hostKey: ENGINE.serverHostKey,
  compression: ENGINE.compress,
};

/** Secure defaults: what ssh-audit passes, post-quantum key exchange first. No SHA-1, no CBC, no encrypt-and-MAC, no NIST curves, no group exchange (see docs/security.md). */
export const DEFAULTS = {
  kex: [
    // Post-quantum hybrid first (OpenSSH 10's default; see docs/post-quantum.md). Dropped below if ML-KEM cannot load.
    'mlkem768x25519-sha256',
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'diffie-hellman-group16-sha512',
    // group18 (8192-bit) is left out though sshd offers it: one exchange costs this single-threaded
    // daemon about 16 ms of CPU before any login (group16 5 ms, group14 2 ms, curve25519 0.1 ms), and
    // sshd spreads that over processes. Clients that have group18 have group16 too.
    'diffie-hellman-group14-sha256',
  ],
  cipher: ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-gcm@openssh.com', 'aes256-ctr', 'aes192-ctr', 'aes128-ctr'],
  mac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  // NIST curves are left out of key exchange and host keys because ssh-audit fails them; list them to switch them on.
  hostKey: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'],
  // The one list lives with the signature checks (certs/sshSignature.ts), which also default to it.
  userSig: [...DEFAULT_SIGNATURE_ALGORITHMS],
  // Delayed compression only (OpenSSH 7.4+): plain zlib starts before authentication; list it to offer it.
  compression: ['none', 'zlib@openssh.com'],
};

/**
 * Signature algorithms a client may use for publickey authentication: the defaults plus SHA-1
 * `ssh-rsa`. DSA (`ssh-dss`) is gone, as from OpenSSH 10.0.
 */
export const SUPPORTED_USER_SIG = [...DEFAULTS.userSig, 'ssh-rsa'];

const onNode = (list: string[], supported: string[]) => list.filter((a) => supported.includes(a));
DEFAULTS.kex = onNode(DEFAULTS.kex, SUPPORTED.kex);
DEFAULTS.cipher = onNode(DEFAULTS.cipher, SUPPORTED.cipher);
DEFAULTS.mac = onNode(DEFAULTS.mac, SUPPORTED.mac);
DEFAULTS.hostKey = onNode(DEFAULTS.hostKey, SUPPORTED.hostKey);
