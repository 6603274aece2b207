/**
 * A minimal self-signed X.509 v3 certificate for a token signing key, written with a tiny DER
 * encoder: CN subject = issuer, random positive serial, the given validity (default: from an hour
 * ago to 9999-12-31, RFC 5280's "no well-defined expiration"), critical basicConstraints (not a CA)
 * and keyUsage digitalSignature. Signed SHA-256 with ECDSA (P-256/384/521) or RSA PKCS#1 v1.5. It
 * only serves as the `x5c` of issued tokens and as a bundle entry verifiers can trust.
 */
import { createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

function name(commonName: string): Buffer {
  return seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

function signatureAlgorithm(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'ec') return seq(oid('1.2.840.10045.4.3.2')); // ecdsa-with-SHA256
  if (key.asymmetricKeyType === 'rsa') return seq(oid('1.2.840.113549.1.1.11'), tlv(0x05)); // sha256WithRSAEncryption
  throw new TypeError(`cannot self-sign with a ${String(key.asymmetricKeyType)} key`);
}

export interface SelfSignedOptions {
  readonly commonName?: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

/** DER of a self-signed certificate for `privateKey` (EC or RSA). */
export function selfSignedCertificate(privateKey: KeyObject, options: SelfSignedOptions = {}): Buffer {
  const algorithm = signatureAlgorithm(privateKey);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01; // positive, no leading zero byte needed
  const subject = name(options.commonName ?? 'berth token signer');
  const notBefore = options.notBefore ?? new Date(Date.now() - 3600_000);
  const notAfter = options.notAfter ?? new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
  const extensions = tlv(
    0xa3,
    seq(
      seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq())),
      seq(oid('2.5.29.15'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, tlv(0x03, Buffer.from([0x07, 0x80])))),
    ),
  );
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    algorithm,
    subject,
    seq(time(notBefore), time(notAfter)),
    subject,
    spki,
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey);
  return seq(tbs, algorithm, tlv(0x03, Buffer.from([0]), signature));
}

/** PEM text of DER certificates. */
export function certificatesToPem(ders: readonly Buffer[]): string {
  return ders
    .map((der) => `-----BEGIN CERTIFICATE-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`)
    .join('');
}
