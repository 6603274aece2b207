/**
 * X.509 pieces of token verification: reading a PEM certificate bundle, and verifying a JWT
 * header's `x5c` chain up to a trusted bundle certificate (auth.md §6.3 step 4). A chain is
 * trusted when its leaf is a bundle certificate, or each certificate is signed by the next one
 * (`x5c[1..]` are intermediates, in any order) until one is signed by a bundle certificate. Every
 * certificate used must be within its validity dates; every issuer must be a CA. Key usages are
 * not checked (distribution accepts any EKU).
 */
import { X509Certificate } from 'node:crypto';

/** Longest chain followed (leaf + intermediates). */
export const MAX_CHAIN_LENGTH = 8;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;

/** Every CERTIFICATE block of a PEM text (other blocks are ignored); throws on an unparsable one. */
export function parseCertificateBundle(pem: string): X509Certificate[] {
  const certs: X509Certificate[] = [];
  for (const match of pem.matchAll(PEM_CERTIFICATE)) {
    certs.push(new X509Certificate(Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64')));
  }
  return certs;
}

function withinDates(cert: X509Certificate, nowMs: number): boolean {
  return Date.parse(cert.validFrom) <= nowMs && nowMs <= Date.parse(cert.validTo);
}

/** Whether `issuer` (a CA) signed `subject` (node: `subject.checkIssued(issuer)` matches the names). */
function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  return issuer.ca && subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

/** Parses an `x5c` header value (base64 DER certificates, leaf first), or returns why it cannot. */
export function parseX5c(x5c: unknown): X509Certificate[] | string {
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN_LENGTH) return 'x5c is not a list of 1 to 8 certificates';
  const chain: X509Certificate[] = [];
  for (const entry of x5c) {
    if (typeof entry !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(entry)) return 'x5c entry is not base64';
    try {
      chain.push(new X509Certificate(Buffer.from(entry, 'base64')));
    } catch {
      return 'x5c entry is not a certificate';
    }
  }
  return chain;
}

/**
 * Checks that a parsed chain (leaf first) leads to a trusted certificate; returns undefined when it
 * does, else the reason.
 */
export function checkChain(chain: readonly X509Certificate[], trusted: readonly X509Certificate[], nowMs: number): string | undefined {
  const leaf = chain[0];
  if (leaf === undefined) return 'empty chain';
  const intermediates = chain.slice(1);
  let current = leaf;
  for (let depth = 0; depth <= intermediates.length; depth++) {
    if (!withinDates(current, nowMs)) return 'certificate outside its validity dates';
    if (trusted.some((t) => t.raw.equals(current.raw))) return undefined;
    const anchor = trusted.find((t) => issued(t, current));
    if (anchor !== undefined) return withinDates(anchor, nowMs) ? undefined : 'trusted certificate outside its validity dates';
    const next = intermediates.find((c) => c !== current && issued(c, current));
    if (next === undefined) break;
    current = next;
  }
  return 'certificate chain does not lead to a trusted certificate';
}
