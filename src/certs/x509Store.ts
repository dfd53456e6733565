/**
 * X.509 public stores: cstPublicKeyFile/Blob (PEM or DER certificate, PEM certificate bundle, or a
 * bare `BEGIN PUBLIC KEY` SubjectPublicKeyInfo) and cstP7BFile/Blob (PKCS#7 certificate bag, PEM or
 * DER). They carry no private key, so they give public-only Certificates (client-key matching).
 * Node reads the certificates; node-forge only walks the PKCS#7 ASN.1, since its certificate
 * parser knows RSA alone.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import type forge from 'node-forge';
import { nodeForge } from './forgeLibrary';
import { SSHDaemonError } from '../errors/SSHDaemonError';
import { formatSubject, pickBySubject, subjectNotFound } from './certSubject';
import { corruptKey, type KeyLoader, type LoadContext, type LoadedKey } from './storeLoader';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function pemBlocks(text: string): { label: string; pem: string }[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1], pem: m[0] }));
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function pickCertificate(certs: X509Certificate[], { subject, where }: LoadContext): LoadedKey {
  const index = pickBySubject(subject, certs);
  if (index < 0) throw subjectNotFound(subject, where, certs);
  return { publicKey: certs[index].publicKey, certificateSubject: formatSubject(certs[index]) };
}

export const loadX509PublicKey: KeyLoader = (content, ctx) => {
  const format = 'X.509 public key';
  try {
    const blocks = pemBlocks(content.toString('latin1'));
    const certs = blocks.filter((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE').map((b) => new X509Certificate(b.pem));
    if (certs.length) return pickCertificate(certs, ctx);
    const key = blocks.find((b) => b.label === 'PUBLIC KEY' || b.label === 'RSA PUBLIC KEY');
    if (key) return { publicKey: createPublicKey(key.pem) };
    if (blocks.length) throw new Error(`PEM blocks found (${blocks.map((b) => b.label).join(', ')}) but no CERTIFICATE or PUBLIC KEY`);
    if (content[0] !== 0x30) throw new Error('neither PEM nor DER');
    try {
      return pickCertificate([new X509Certificate(content)], ctx);
    } catch {
      return { publicKey: createPublicKey({ key: content, format: 'der', type: 'spki' }) };
    }
  } catch (err) {
    if (err instanceof SSHDaemonError) throw err;
    throw corruptKey(format, ctx.where, err);
  }
};

/** The certificates of a PKCS#7 SignedData (RFC 2315 9.1: `certificates [0] IMPLICIT`). */
function pkcs7Certificates(der: Buffer): X509Certificate[] {
  const contentInfo = nodeForge().asn1.fromDer(der.toString('binary'), false);
  const parts = contentInfo.value as forge.asn1.Asn1[];
  if (!Array.isArray(parts) || nodeForge().asn1.derToOid(parts[0].value as string) !== nodeForge().pki.oids.signedData)
    throw new Error('not a PKCS#7 SignedData');
  const signedData = (parts[1].value as forge.asn1.Asn1[])[0].value as forge.asn1.Asn1[];
  const certSet = signedData.find((n) => n.tagClass === nodeForge().asn1.Class.CONTEXT_SPECIFIC && n.type === 0);
  if (!certSet) throw new Error('the PKCS#7 holds no certificates');
  return (certSet.value as forge.asn1.Asn1[]).map((c) => new X509Certificate(Buffer.from(nodeForge().asn1.toDer(c).getBytes(), 'binary')));
}

export const loadP7bPublicKey: KeyLoader = (content, ctx) => {
  const format = 'PKCS#7 (P7B)';
  try {
    const block = pemBlocks(content.toString('latin1')).find((b) => b.label === 'PKCS7' || b.label === 'CERTIFICATE CHAIN');
    const certs = pkcs7Certificates(block ? pemBody(block.pem) : content);
    // A certificate node parses may still hold a public key it cannot decode (publicKey throws).
    return pickCertificate(certs, ctx);
  } catch (err) {
    if (err instanceof SSHDaemonError) throw err;
    throw corruptKey(format, ctx.where, err);
  }
};

/** ASN.1 shape of DER bytes, for cstAuto: 'pfx' (version 3 first), 'p7b' (signedData OID first), 'x509', or undefined. */
export function derKind(content: Buffer): 'pfx' | 'p7b' | 'x509' | undefined {
  if (content[0] !== 0x30) return undefined;
  try {
    const top = nodeForge().asn1.fromDer(content.toString('binary'), false);
    const parts = top.value as forge.asn1.Asn1[];
    if (!Array.isArray(parts) || parts.length === 0) return undefined;
    const first = parts[0];
    if (first.type === nodeForge().asn1.Type.INTEGER && first.value === '\x03') return 'pfx';
    if (first.type === nodeForge().asn1.Type.OID && nodeForge().asn1.derToOid(first.value as string) === nodeForge().pki.oids.signedData)
      return 'p7b';
    if (first.type === nodeForge().asn1.Type.SEQUENCE && parts.length === 3 && parts[2].type === nodeForge().asn1.Type.BITSTRING)
      return 'x509';
    if (first.type === nodeForge().asn1.Type.SEQUENCE && parts.length === 2 && parts[1].type === nodeForge().asn1.Type.BITSTRING)
      return 'x509'; // SubjectPublicKeyInfo
    return undefined;
  } catch {
    return undefined;
  }
}
