/**
 * Builds the TLS options of the HTTPS listener from `http.tls`: certificate, key, the client CAs
 * (any ⇒ a client certificate chaining to one of them is required at the handshake, as
 * distribution 2.8 does), minimum version and cipher suites. Files are read on every call, so the
 * listener calls it again to reload on SIGHUP; a file that cannot be read throws an error naming
 * the key and the path (never the file's content).
 */
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import type { Config } from '../config/schema.js';

export type TlsConfig = NonNullable<Config['http']['tls']>;

function read(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`${key}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/** The secure-context part (what `server.setSecureContext` takes): re-read on reload. */
export function secureContextOptions(tls: TlsConfig): SecureContextOptions {
  return {
    cert: read('http.tls.certificate', tls.certificate),
    key: read('http.tls.key', tls.key),
    ...(tls.clientCas.length > 0 ? { ca: tls.clientCas.map((path) => read('http.tls.clientcas', path)) } : {}),
    minVersion: tls.minVersion,
    ciphers: tls.ciphers,
  };
}

/** The full server options: the secure context plus client-certificate verification. */
export function tlsServerOptions(tls: TlsConfig): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  const mutual = tls.clientCas.length > 0;
  return { ...secureContextOptions(tls), requestCert: mutual, rejectUnauthorized: mutual };
}
