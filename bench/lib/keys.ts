/** The bench's key material: one Ed25519 host key shared by all three servers, one Ed25519 user key. */
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchKeys {
  hostKeyPath: string;
  userKeyPath: string;
  userKeyPubPath: string;
  /** Base64 of the user key's SSH blob (what the SDK's SSHUserAuthRequest reports as authParam). */
  userKeyBlob: string;
  authorizedKeysPath: string;
}

function keygen(path: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], { stdio: 'ignore' });
}

export function makeKeys(dir: string): BenchKeys {
  const hostKeyPath = join(dir, 'host_ed25519');
  const userKeyPath = join(dir, 'user_ed25519');
  keygen(hostKeyPath, 'bench-host');
  keygen(userKeyPath, 'bench-user');
  const pub = readFileSync(`${userKeyPath}.pub`, 'utf8').trim();
  const authorizedKeysPath = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeysPath, pub + '\n');
  chmodSync(authorizedKeysPath, 0o644); // sshd reads it as the login user
  chmodSync(dir, 0o755);
  return { hostKeyPath, userKeyPath, userKeyPubPath: `${userKeyPath}.pub`, userKeyBlob: pub.split(/\s+/)[1], authorizedKeysPath };
}
