/**
 * TLS settings of `http.tls` as distribution names them, mapped to what Node's TLS layer takes:
 * `minimumtls` (`tls1.0` … `tls1.3`) → `minVersion`, and `ciphersuites` (IANA names, the ones
 * distribution 3.x accepts that OpenSSL 3 still provides) → an OpenSSL cipher string. The default
 * suites are distribution's: ECDHE with AES-GCM or ChaCha20-Poly1305, plus the three TLS 1.3
 * suites. TLS 1.3 suites are only replaced when the list names some (Go cannot configure TLS 1.3
 * suites at all, so a TLS 1.2-only list must not switch TLS 1.3 off).
 */
import type { SecureVersion } from 'node:tls';

export const TLS_VERSIONS: Readonly<Record<string, SecureVersion>> = {
  'tls1.0': 'TLSv1',
  'tls1.1': 'TLSv1.1',
  'tls1.2': 'TLSv1.2',
  'tls1.3': 'TLSv1.3',
};

export const DEFAULT_MINIMUM_TLS = 'tls1.2';

/** IANA name → OpenSSL name (`openssl ciphers -stdname`). */
export const CIPHER_SUITES: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
};

const TLS13 = new Set(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']);

export const DEFAULT_CIPHER_SUITES: readonly string[] = [
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_256_GCM_SHA384',
];

/** The OpenSSL cipher string for a validated list of IANA names (empty or absent = defaults). */
export function opensslCiphers(names: readonly string[] | undefined): string {
  const chosen = names === undefined || names.length === 0 ? DEFAULT_CIPHER_SUITES : names;
  const tls12 = chosen.filter((n) => !TLS13.has(n));
  const tls13 = chosen.filter((n) => TLS13.has(n));
  const suites = [...tls12, ...(tls13.length > 0 ? tls13 : DEFAULT_CIPHER_SUITES.filter((n) => TLS13.has(n)))];
  return [...new Set(suites.map((n) => CIPHER_SUITES[n] ?? n))].join(':');
}
