/**
 * Algorithms every server in the bench offers, so that all three negotiate the same thing.
 * The SDK keeps its own defaults (which contain these); the raw ssh2 server and sshd are configured with them.
 */
export const KEX = ['curve25519-sha256', 'curve25519-sha256@libssh.org'];
export const HOST_KEY = ['ssh-ed25519'];
export const CIPHERS = [
  'chacha20-poly1305@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-gcm@openssh.com',
  'aes256-ctr',
  'aes192-ctr',
  'aes128-ctr',
];
export const MACS = ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'];

/** The bulk-transfer cases: the OpenSSH client's -c and -m. */
export const BULK_CASES: { cipher: string; mac: string; label: string }[] = [
  { cipher: 'aes128-gcm@openssh.com', mac: 'hmac-sha2-256-etm@openssh.com', label: 'aes128-gcm' },
  { cipher: 'aes256-gcm@openssh.com', mac: 'hmac-sha2-256-etm@openssh.com', label: 'aes256-gcm' },
  { cipher: 'chacha20-poly1305@openssh.com', mac: 'hmac-sha2-256-etm@openssh.com', label: 'chacha20-poly1305' },
  { cipher: 'aes128-ctr', mac: 'hmac-sha2-256-etm@openssh.com', label: 'aes128-ctr+hmac-sha2-256-etm' },
];

/** What the handshake load negotiates. */
export const HANDSHAKE_ALGORITHMS = {
  kex: ['curve25519-sha256'],
  serverHostKey: ['ssh-ed25519'],
  cipher: ['aes128-gcm@openssh.com'],
  hmac: ['hmac-sha2-256-etm@openssh.com'],
  compress: ['none'],
};

/** The commands the load runs; the SDK and raw servers emulate them, sshd runs them for real. */
export const COMMANDS = {
  /** `style`: a bench/servers/commands.ts STYLES name; the default style sends no prefix. */
  download: (n: number, style?: string) => `${style ? `BENCH_STYLE=${style} ` : ''}head -c ${n} /dev/zero`,
  upload: (style?: string) => `${style ? `BENCH_STYLE=${style} ` : ''}cat > /dev/null`,
  trivial: 'true',
};
