import { existsSync, readFileSync } from 'node:fs';

const KEY_LINE = /^\s*(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521))\s+([A-Za-z0-9+/]+={0,2})(?:\s.*)?$/;

/** Parses OpenSSH public key lines (`type base64 [comment]`, `#` comments); throws naming the bad line. */
export function parseCAKeyLines(text: string): Buffer[] {
  const keys: Buffer[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim() || line.trim().startsWith('#')) return;
    const m = KEY_LINE.exec(line);
    if (!m) throw new Error(`line ${i + 1} is not an OpenSSH public key (ssh-ed25519, ecdsa-sha2-nistp*, ssh-rsa)`);
    keys.push(Buffer.from(m[2], 'base64'));
  });
  return keys;
}

/**
 * The TrustedUserCAKeys setting: public key lines, or the path of a file of them (read on each
 * use, so a rotated CA file takes effect for the next login, as with sshd).
 */
export function trustedCAsFromSetting(value: string): Buffer[] {
  const text = value.trim();
  if (!text) return [];
  return parseCAKeyLines(KEY_LINE.test(text.split(/\r?\n/)[0]) ? text : readFileSync(text, 'utf8'));
}

/** Validates a TrustedUserCAKeys value at config() time; returns the problem, if any. */
export function trustedCAsProblem(value: string): string | undefined {
  const text = value.trim();
  if (!text) return undefined;
  if (!KEY_LINE.test(text.split(/\r?\n/)[0]) && !existsSync(text)) return `no such file: ${text}`;
  try {
    trustedCAsFromSetting(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
