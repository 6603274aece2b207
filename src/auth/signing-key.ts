/**
 * The built-in token server's signing key: from configured PEM files (a private key, optionally a
 * certificate chain for `x5c`), or generated at first start (EC P-256 with a self-signed
 * certificate) and kept in storage at {@link STORED_SIGNING_KEY_PATH}, so every node of a cluster
 * signs with the same key. When the stored key is absent a node generates one, writes it, waits a
 * moment and re-reads what is stored, so nodes racing at first start converge on the last write.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleepMs } from 'node:timers/promises';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { PathNotFoundError } from '../../storage-drivers/errors.js';
import { parseCertificateBundle } from './cert-chain.js';
import { libtrustKeyId } from './libtrust.js';
import { certificatesToPem, selfSignedCertificate } from './self-signed-cert.js';

/** Where the generated key (PKCS#8 PEM followed by its certificate) is stored. Outside distribution's tree. */
export const STORED_SIGNING_KEY_PATH = '/berth/auth/token-signing-key.pem';
/** Wait between writing a generated key and re-reading the stored one. */
export const DEFAULT_SETTLE_MS = 1000;

export type SigningAlgorithm = 'ES256' | 'ES384' | 'ES512' | 'RS256' | 'EdDSA';

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly algorithm: SigningAlgorithm;
  /** libtrust key ID: the header `kid` distribution 2.x and common issuers use. */
  readonly keyId: string;
  /** DER certificates, leaf (for this key) first: the header `x5c`. Empty without a certificate. */
  readonly certificates: readonly Buffer[];
  /** The same certificates as PEM (for a verifier's bundle), or undefined. */
  readonly certificatePem: string | undefined;
}

const PRIVATE_KEY_BLOCK = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/;
const CURVE_ALG: Readonly<Record<string, SigningAlgorithm>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

function algorithmOf(key: KeyObject): SigningAlgorithm {
  if (key.asymmetricKeyType === 'ec') {
    const alg = CURVE_ALG[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (alg !== undefined) return alg;
  }
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  throw new Error(`token signing key: unsupported key (${String(key.asymmetricKeyType)}); use EC P-256/384/521 or RSA ≥ 2048 bits`);
}

/**
 * Builds a SigningKey from PEM text holding a private key (and possibly certificates), plus an
 * optional separate certificate PEM. The first certificate must belong to the key. Throws an Error
 * naming the problem (never the key).
 */
export function signingKeyFromPem(keyPem: string, certificatePem?: string): SigningKey {
  const block = PRIVATE_KEY_BLOCK.exec(keyPem);
  if (block === null) throw new Error('token signing key: no PRIVATE KEY block in the PEM');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(block[0]);
  } catch (error) {
    throw new Error('token signing key: unreadable private key (encrypted keys are not supported)', { cause: error });
  }
  const publicKey = createPublicKey(privateKey);
  const algorithm = algorithmOf(privateKey);
  const certs = parseCertificateBundle(`${keyPem}\n${certificatePem ?? ''}`);
  const leaf = certs[0];
  if (leaf !== undefined) {
    const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
    if (!spki(leaf.publicKey).equals(spki(publicKey))) throw new Error('token signing key: the certificate does not belong to the key');
  }
  const ders = certs.map((c: X509Certificate) => c.raw);
  return {
    privateKey,
    publicKey,
    algorithm,
    keyId: libtrustKeyId(publicKey),
    certificates: ders,
    certificatePem: ders.length === 0 ? undefined : certificatesToPem(ders),
  };
}

/** Reads the configured key file (and certificate file). */
export async function readSigningKeyFiles(keyPath: string, certificatePath?: string): Promise<SigningKey> {
  const keyPem = await readFile(keyPath, 'utf8');
  const certPem = certificatePath === undefined ? undefined : await readFile(certificatePath, 'utf8');
  return signingKeyFromPem(keyPem, certPem);
}

/** PEM text of a new EC P-256 key followed by its self-signed certificate. */
export function generateSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return keyPem + certificatesToPem([selfSignedCertificate(privateKey)]);
}

export interface StoredKeyOptions {
  readonly path?: string;
  /** Wait after writing a generated key before re-reading it (default {@link DEFAULT_SETTLE_MS}). */
  readonly settleMs?: number;
  /** Called once when this node generated and wrote a key (for an info log). */
  readonly onGenerated?: (path: string) => void;
}

/** The key stored in `driver`, generated and stored first when absent (see module comment). */
export async function loadOrCreateStoredSigningKey(driver: StorageDriver, options: StoredKeyOptions = {}): Promise<SigningKey> {
  const path = options.path ?? STORED_SIGNING_KEY_PATH;
  const read = async (): Promise<SigningKey | undefined> => {
    let content: Buffer;
    try {
      content = await driver.getContent(path, { maxBytes: 64 * 1024 });
    } catch (error) {
      if (error instanceof PathNotFoundError) return undefined;
      throw error;
    }
    try {
      return signingKeyFromPem(content.toString('utf8'));
    } catch (error) {
      throw new Error(`token signing key stored at ${path} is unusable; remove it to generate a new one`, { cause: error });
    }
  };
  const existing = await read();
  if (existing !== undefined) return existing;
  await driver.putContent(path, Buffer.from(generateSigningKeyPem(), 'utf8'));
  options.onGenerated?.(path);
  const settle = options.settleMs ?? DEFAULT_SETTLE_MS;
  if (settle > 0) await sleepMs(settle);
  const stored = await read();
  if (stored === undefined) throw new Error(`token signing key vanished from ${path} right after it was written`);
  return stored;
}
