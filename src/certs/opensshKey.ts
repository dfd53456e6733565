import { createPublicKey, type KeyObject } from 'node:crypto';
import { encodeMpint, encodeString, encodeUint32 } from '../packet/wire';

const CURVES: Record<string, { name: string; ssh: string }> = {
  'P-256': { name: 'nistp256', ssh: 'ecdsa-sha2-nistp256' },
  'P-384': { name: 'nistp384', ssh: 'ecdsa-sha2-nistp384' },
  'P-521': { name: 'nistp521', ssh: 'ecdsa-sha2-nistp521' },
};

const b64u = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'base64url');
const mpint = (s: string | undefined): Buffer => encodeMpint(BigInt('0x' + (b64u(s).toString('hex') || '0')));

interface KeyParts {
  type: string;
  publicFields: Buffer[];
  privateFields: Buffer[];
}

function keyParts(key: KeyObject): KeyParts {
  const jwk = key.export({ format: 'jwk' });
  switch (key.asymmetricKeyType) {
    case 'ed25519': {
      const pub = b64u(jwk.x);
      return {
        type: 'ssh-ed25519',
        publicFields: [encodeString(pub)],
        privateFields: [encodeString(pub), encodeString(Buffer.concat([b64u(jwk.d), pub]))],
      };
    }
    case 'ec': {
      const curve = jwk.crv !== undefined && Object.hasOwn(CURVES, jwk.crv) ? CURVES[jwk.crv] : undefined;
      if (!curve) throw new Error(`unsupported EC curve ${jwk.crv}`);
      const q = Buffer.concat([Buffer.from([4]), b64u(jwk.x), b64u(jwk.y)]);
      const pub = [encodeString(curve.name), encodeString(q)];
      return { type: curve.ssh, publicFields: pub, privateFields: [...pub, mpint(jwk.d)] };
    }
    case 'rsa':
      return {
        type: 'ssh-rsa',
        publicFields: [mpint(jwk.e), mpint(jwk.n)],
        privateFields: [mpint(jwk.n), mpint(jwk.e), mpint(jwk.d), mpint(jwk.qi), mpint(jwk.p), mpint(jwk.q)],
      };
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

/** The SSH wire-format public key blob of a private or public key. */
export function publicKeyBlob(key: KeyObject): Buffer {
  const parts = keyParts(key.type === 'private' ? createPublicKey(key) : key);
  return Buffer.concat([encodeString(parts.type), ...parts.publicFields]);
}

export function sshKeyType(key: KeyObject): string {
  return keyParts(key.type === 'private' ? createPublicKey(key) : key).type;
}

/** Encodes an unencrypted `openssh-key-v1` private key (PROTOCOL.key), the one format ssh2 reads for every key type. */
export function toOpenSSHPrivateKey(key: KeyObject, comment = ''): string {
  const parts = keyParts(key);
  // ed25519 carries only (pub, priv); keyParts put pub twice for uniformity, drop the public prefix.
  const privFields = parts.privateFields;
  const check = encodeUint32(0x5ead5ead);
  let priv = Buffer.concat([check, check, encodeString(parts.type), ...privFields, encodeString(comment)]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    encodeString('none'),
    encodeString('none'),
    encodeString(Buffer.alloc(0)),
    encodeUint32(1),
    encodeString(publicKeyBlob(key)),
    encodeString(priv),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}
