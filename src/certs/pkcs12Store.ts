/**
 * PKCS#12 / PFX stores. node-forge opens the container (MAC check, PBES2 AES/3DES with PBKDF2
 * HMAC-SHA1/224/256/384/512, and the legacy pbeWithSHAAnd3-KeyTripleDES-CBC and
 * pbeWithSHAAnd40BitRC2-CBC); node:crypto then reads the keys and certificates, because forge
 * itself only understands RSA and Node reads every key type the engine serves.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type forge from 'node-forge';
import { nodeForge } from './forgeLibrary';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { formatSubject, pickBySubject, selectsFirst, subjectNotFound } from './certSubject';
import { badPassword, corruptKey, messageOf, type KeyLoader } from './storeLoader';

const FORMAT = 'PKCS#12 (PFX)';
const isKeyBag = (type: string): boolean => type === nodeForge().pki.oids.keyBag || type === nodeForge().pki.oids.pkcs8ShroudedKeyBag;

/** A PFX blob may arrive as base64 text (e.g. through the AltSSHCertStore setting). */
function derBytes(content: Buffer): Buffer {
  const text = content.toString('latin1').trim();
  return content[0] !== 0x30 && /^[A-Za-z0-9+/=\s]+$/.test(text) ? Buffer.from(text, 'base64') : content;
}

const toBuffer = (asn1: forge.asn1.Asn1): Buffer => Buffer.from(nodeForge().asn1.toDer(asn1).getBytes(), 'binary');

/** Opens the container; OpenSSL derives the MAC of an empty password both as "" and as no password, so try both. */
function openPfx(der: Buffer, password: string, where: string): forge.pkcs12.Pkcs12Pfx {
  let asn1: forge.asn1.Asn1;
  try {
    asn1 = nodeForge().asn1.fromDer(der.toString('binary'), false);
  } catch (err) {
    throw corruptKey(FORMAT, where, err);
  }
  const attempts: (string | null)[] = password ? [password] : ['', null];
  let last: unknown;
  for (const attempt of attempts) {
    try {
      // forge's types say string, but null is its documented "no password".
      return nodeForge().pkcs12.pkcs12FromAsn1(asn1, false, attempt as string);
    } catch (err) {
      last = err;
      if (!/password\?|decrypt/i.test(messageOf(err))) break;
    }
  }
  const message = messageOf(last);
  if (/unsupported/i.test(message)) {
    throw new SSHDaemonError(
      ErrorCodes.UnsupportedStoreType,
      `${FORMAT}: ${where} uses an algorithm node-forge cannot read (${message}); re-export it with AES-256-CBC/PBKDF2 (OpenSSL 3's default) or with \`openssl pkcs12 -legacy\``,
    );
  }
  if (/password\?|decrypt/i.test(message)) {
    throw badPassword(
      FORMAT,
      where,
      `${message.replace(/[.,]? *(invalid|wrong) password\?$/i, '')}: the password is wrong or the file was modified`,
      password,
    );
  }
  throw corruptKey(FORMAT, where, last);
}

export const loadPkcs12: KeyLoader = (content, { password, subject, where }) => {
  const pfx = openPfx(derBytes(content), password, where);
  const keys: KeyObject[] = [];
  const certs: X509Certificate[] = [];
  try {
    for (const safe of pfx.safeContents) {
      for (const bag of safe.safeBags) {
        if (bag.type !== undefined && isKeyBag(bag.type)) {
          const asn1 = bag.key ? nodeForge().pki.wrapRsaPrivateKey(nodeForge().pki.privateKeyToAsn1(bag.key)) : bag.asn1;
          if (asn1) keys.push(createPrivateKey({ key: toBuffer(asn1), format: 'der', type: 'pkcs8' }));
        } else if (bag.type === nodeForge().pki.oids.certBag) {
          const asn1 = bag.cert ? nodeForge().pki.certificateToAsn1(bag.cert) : bag.asn1;
          if (asn1) certs.push(new X509Certificate(toBuffer(asn1)));
        }
      }
    }
  } catch (err) {
    throw corruptKey(FORMAT, where, err);
  }
  // Pair each key with the certificate that carries its public key (localKeyId is optional in PKCS#12).
  const entries = keys.map((key) => ({ key, cert: certs.find((c) => c.checkPrivateKey(key)) }));
  if (entries.length === 0) {
    // Certificates only: a public-only Certificate, as with an X.509 store.
    if (certs.length === 0) throw corruptKey(FORMAT, where, new Error('the store holds neither a private key nor a certificate'));
    const index = pickBySubject(subject, certs);
    if (index < 0) throw subjectNotFound(subject, where, certs);
    return { publicKey: certs[index].publicKey, certificateSubject: formatSubject(certs[index]) };
  }
  const index = selectsFirst(subject)
    ? 0
    : pickBySubject(
        subject,
        entries.map((e) => e.cert),
      );
  if (index < 0)
    throw subjectNotFound(
      subject,
      where,
      entries.flatMap((e) => (e.cert ? [e.cert] : [])),
    );
  const { key, cert } = entries[index];
  return { privateKey: key, publicKey: createPublicKey(key), certificateSubject: cert ? formatSubject(cert) : '' };
};
