/**
 * `http.tls` settings: `minimumtls` and `ciphersuites` map to Node's minVersion and OpenSSL cipher
 * string (distribution's defaults when absent), `clientcas` is kept, and unknown values stop the
 * start with an error naming the key.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSecureContext } from 'node:tls';
import { ConfigError, buildConfig } from '../../src/config/load.js';
import { CIPHER_SUITES, opensslCiphers } from '../../src/config/tls.js';

const TLS = { certificate: '/etc/berth/cert.pem', key: '/etc/berth/key.pem' };

function problems(doc: Record<string, unknown>): string[] {
  try {
    buildConfig(doc);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return assert.fail('expected a ConfigError');
}

describe('http.tls', () => {
  test('defaults: TLS 1.2 minimum, distribution default suites, no client CAs', () => {
    const tls = buildConfig({ http: { tls: TLS } }).config.http.tls;
    assert.deepEqual(tls, {
      ...TLS,
      clientCas: [],
      minVersion: 'TLSv1.2',
      ciphers:
        'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:' +
        'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384',
    });
  });

  test('minimumtls, ciphersuites and clientcas', () => {
    const tls = buildConfig({
      http: { tls: { ...TLS, minimumtls: 'tls1.3', clientcas: ['/ca1.pem', '/ca2.pem'], ciphersuites: ['TLS_RSA_WITH_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384'] } },
    }).config.http.tls;
    assert.equal(tls?.minVersion, 'TLSv1.3');
    assert.deepEqual(tls?.clientCas, ['/ca1.pem', '/ca2.pem']);
    assert.equal(tls?.ciphers, 'AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384');
    for (const [name, version] of [['tls1.0', 'TLSv1'], ['tls1.1', 'TLSv1.1'], ['tls1.2', 'TLSv1.2']]) {
      assert.equal(buildConfig({ http: { tls: { ...TLS, minimumtls: name } } }).config.http.tls?.minVersion, version);
    }
    // From the environment: one comma-separated value.
    const env = buildConfig({ http: { tls: TLS } }, { REGISTRY_HTTP_TLS_CLIENTCAS: '/a.pem,/b.pem' }).config.http.tls;
    assert.deepEqual(env?.clientCas, ['/a.pem', '/b.pem']);
  });

  test('a TLS 1.2-only suite list keeps the default TLS 1.3 suites', () => {
    assert.equal(opensslCiphers(['TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA']), 'ECDHE-RSA-AES128-SHA:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384');
    assert.equal(opensslCiphers([]), opensslCiphers(undefined));
  });

  test('every accepted IANA name maps to a cipher this OpenSSL knows', () => {
    for (const [iana, openssl] of Object.entries(CIPHER_SUITES)) {
      // OpenSSL refuses a cipher string that selects nothing ("no cipher match").
      assert.doesNotThrow(() => createSecureContext({ ciphers: openssl }), `${iana} → ${openssl}`);
    }
    assert.throws(() => createSecureContext({ ciphers: 'NOT-A-CIPHER' }));
  });

  test('unknown values are errors naming the key', () => {
    assert.match(problems({ http: { tls: { ...TLS, minimumtls: 'tls1.4' } } }).join('\n'), /^http\.tls\.minimumtls: expected one of tls1\.0, tls1\.1, tls1\.2, tls1\.3/m);
    assert.match(problems({ http: { tls: { ...TLS, minimumtls: 'TLSv1.2' } } }).join('\n'), /^http\.tls\.minimumtls: /m);
    assert.match(
      problems({ http: { tls: { ...TLS, ciphersuites: ['TLS_AES_128_GCM_SHA256', 'TLS_RSA_WITH_RC4_128_SHA'] } } }).join('\n'),
      /^http\.tls\.ciphersuites\.1: unknown or unsupported cipher suite/m,
    );
    assert.match(problems({ http: { tls: { ...TLS, ciphersuites: ['ECDHE-RSA-AES128-GCM-SHA256'] } } }).join('\n'), /^http\.tls\.ciphersuites\.0: /m);
    assert.match(problems({ http: { tls: { clientcas: ['/ca.pem'] } } }).join('\n'), /^http\.tls\.clientcas: client certificates need TLS/m);
  });
});
