/**
 * Token verification as distribution does it (auth.md §6): accepted tokens (kid as libtrust ID or
 * thumbprint, x5c chains, JWKS kids, trusted header jwk, aud lists, leeway) and refused ones
 * (expiry, nbf, aud, iss, untrusted keys, forged kids, alg none, HS256 with the public key,
 * curve mismatch, PS256, truncated, oversized, refresh tokens).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, test } from 'node:test';
import { jwkThumbprint, libtrustKeyId } from '../../src/auth/libtrust.js';
import { certificatesToPem, selfSignedCertificate } from '../../src/auth/self-signed-cert.js';
import { TokenError } from '../../src/auth/token-error.js';
import { REFRESH_TOKEN_TYP, TokenVerifier, type TokenVerifierOptions } from '../../src/auth/token-verifier.js';
import { makeChain, makeJwt } from './jwt-fixtures.js';

const ISSUER = 'test-issuer';
const SERVICE = 'registry.test';
const NOW = Math.floor(Date.now() / 1000);

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaCert = selfSignedCertificate(rsa.privateKey);
const ecCert = selfSignedCertificate(ec.privateKey);
const bundle = certificatesToPem([rsaCert, ecCert]);

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    sub: 'alice',
    aud: SERVICE,
    exp: NOW + 300,
    nbf: NOW - 10,
    iat: NOW - 10,
    jti: 'j1',
    access: [{ type: 'repository', name: 'foo/bar', actions: ['pull', 'push'] }],
    ...extra,
  };
}

function verifier(options: Partial<TokenVerifierOptions> = {}): TokenVerifier {
  return new TokenVerifier({ issuer: ISSUER, service: SERVICE, rootCertBundlePem: bundle, ...options });
}

async function refused(v: TokenVerifier, token: string, message?: RegExp): Promise<void> {
  await assert.rejects(v.verify(token), (e: unknown) => e instanceof TokenError && e.reason === 'invalid_token' && (message === undefined || message.test(e.message)));
}

const kid = (key: KeyObject): string => libtrustKeyId(key);

describe('TokenVerifier: accepted', () => {
  test('RS256 and ES256 by libtrust kid; ES256 by thumbprint kid', async () => {
    const v = verifier();
    const r = await v.verify(makeJwt({ typ: 'JWT', alg: 'RS256', kid: kid(rsa.publicKey) }, claims(), rsa.privateKey));
    assert.deepEqual(r, { subject: 'alice', access: [{ type: 'repository', name: 'foo/bar', actions: ['pull', 'push'] }], expiresAt: NOW + 300 });
    const e = await v.verify(makeJwt({ typ: 'JWT', alg: 'ES256', kid: kid(ec.publicKey) }, claims(), ec.privateKey));
    assert.equal(e.subject, 'alice');
    const t = await v.verify(makeJwt({ alg: 'ES256', kid: jwkThumbprint(ec.publicKey) }, claims({ sub: undefined }), ec.privateKey));
    assert.equal(t.subject, '', 'no sub: anonymous');
  });

  test('x5c chain leaf → intermediate → bundle CA; x5c equal to a bundle certificate', async () => {
    const chain = makeChain();
    const v = verifier({ rootCertBundlePem: chain.caPem });
    const token = makeJwt({ alg: 'ES256', x5c: [chain.leafDer.toString('base64'), chain.intermediateDer.toString('base64')] }, claims(), chain.leafKey);
    assert.equal((await v.verify(token)).subject, 'alice');
    const self = makeJwt({ alg: 'ES256', x5c: [ecCert.toString('base64')] }, claims(), ec.privateKey);
    assert.equal((await verifier().verify(self)).subject, 'alice');
  });

  test('JWKS kid, trusted header jwk, aud list, leeway, typ, unknown actions', async () => {
    const v = new TokenVerifier({ issuer: ISSUER, service: SERVICE, jwks: { keys: [{ ...other.publicKey.export({ format: 'jwk' }), kid: 'my-key' }] } });
    assert.equal((await v.verify(makeJwt({ alg: 'ES256', kid: 'my-key' }, claims(), other.privateKey))).subject, 'alice');
    const jwk = makeJwt({ alg: 'ES256', jwk: ec.publicKey.export({ format: 'jwk' }) }, claims(), ec.privateKey);
    assert.equal((await verifier().verify(jwk)).subject, 'alice');
    const list = makeJwt({ alg: 'ES256', kid: kid(ec.publicKey) }, claims({ aud: ['other', SERVICE] }), ec.privateKey);
    assert.equal((await verifier().verify(list)).subject, 'alice');
    const lenient = makeJwt({ alg: 'ES256', kid: kid(ec.publicKey), typ: 'at+jwt' }, claims({ exp: NOW - 50, nbf: undefined, access: [{ type: 'repository', name: 'x', actions: ['pull', 'scanner-pull'] }] }), ec.privateKey);
    assert.deepEqual((await verifier().verify(lenient)).access, [{ type: 'repository', name: 'x', actions: ['pull'] }]);
    const early = makeJwt({ alg: 'ES256', kid: kid(ec.publicKey) }, claims({ nbf: NOW + 50 }), ec.privateKey);
    assert.equal((await verifier().verify(early)).subject, 'alice');
  });

  test('a directly trusted key (no bundle) by kid and by its self-signed x5c', async () => {
    const v = new TokenVerifier({ issuer: ISSUER, service: SERVICE, trustedKeys: [ec.publicKey] });
    assert.equal((await v.verify(makeJwt({ alg: 'ES256', kid: kid(ec.publicKey), x5c: [ecCert.toString('base64')] }, claims(), ec.privateKey))).subject, 'alice');
  });

  test('cached verifications still expire', async () => {
    let now = NOW * 1000;
    const v = verifier({ now: () => now });
    const token = makeJwt({ alg: 'ES256', kid: kid(ec.publicKey) }, claims({ exp: NOW + 10 }), ec.privateKey);
    await v.verify(token);
    await v.verify(token);
    now += 71_000;
    await refused(v, token, /expired/);
  });
});

describe('TokenVerifier: refused', () => {
  const k = { alg: 'ES256', kid: kid(ec.publicKey) };
  const cases: [string, () => string, RegExp][] = [
    ['expired beyond leeway', () => makeJwt(k, claims({ exp: NOW - 70 }), ec.privateKey), /expired/],
    ['not yet valid', () => makeJwt(k, claims({ nbf: NOW + 70 }), ec.privateKey), /not yet valid/],
    ['no exp', () => makeJwt(k, claims({ exp: undefined }), ec.privateKey), /no expiry/],
    ['wrong aud', () => makeJwt(k, claims({ aud: 'other' }), ec.privateKey), /audience/],
    ['aud list without the service', () => makeJwt(k, claims({ aud: ['a', 'b'] }), ec.privateKey), /audience/],
    ['wrong iss', () => makeJwt(k, claims({ iss: 'evil' }), ec.privateKey), /issuer/],
    ['trusted kid, signed by another key', () => makeJwt(k, claims(), other.privateKey), /signature/],
    ['unknown kid', () => makeJwt({ alg: 'ES256', kid: kid(other.publicKey) }, claims(), other.privateKey), /untrusted/],
    ['forged header jwk', () => makeJwt({ alg: 'ES256', jwk: { ...other.publicKey.export({ format: 'jwk' }), kid: kid(ec.publicKey) } }, claims(), other.privateKey), /jwk/],
    ['alg none', () => makeJwt({ alg: 'none', kid: kid(ec.publicKey) }, claims()), /algorithm/],
    ['HS256 with the public key as secret', () => makeJwt({ alg: 'HS256', kid: kid(rsa.publicKey) }, claims(), Buffer.from(rsa.publicKey.export({ type: 'spki', format: 'pem' }))), /algorithm/],
    ['ES384 on a P-256 key', () => makeJwt({ alg: 'ES384', kid: kid(ec.publicKey) }, claims(), ec.privateKey), /algorithm/],
    ['PS256', () => makeJwt({ alg: 'PS256', kid: kid(rsa.publicKey) }, claims(), rsa.privateKey), /algorithm/],
    ['RS256 header on an EC key', () => makeJwt({ alg: 'RS256', kid: kid(ec.publicKey) }, claims(), rsa.privateKey), /algorithm/],
    ['no key identification', () => makeJwt({ alg: 'ES256' }, claims(), ec.privateKey), /no key/],
    ['refresh token', () => makeJwt({ ...k, typ: REFRESH_TOKEN_TYP }, claims(), ec.privateKey), /refresh/],
    ['truncated', () => makeJwt(k, claims(), ec.privateKey).slice(0, -10), /signature/],
    ['two parts', () => makeJwt(k, claims(), ec.privateKey).split('.').slice(0, 2).join('.'), /compact/],
    ['garbage', () => 'not-a-token', /compact/],
    ['oversized', () => makeJwt(k, claims({ pad: 'x'.repeat(17 * 1024) }), ec.privateKey), /too long/],
    ['access not a list', () => makeJwt(k, claims({ access: 'all' }), ec.privateKey), /access/],
    ['claims not JSON', () => `${Buffer.from(JSON.stringify(k)).toString('base64url')}.${Buffer.from('nope').toString('base64url')}.AAAA`, /signature|JSON/],
  ];
  for (const [name, make, message] of cases) {
    test(name, async () => {
      await refused(verifier(), make(), message);
    });
  }

  test('x5c chain to a CA outside the bundle', async () => {
    const chain = makeChain();
    const token = makeJwt({ alg: 'ES256', x5c: [chain.leafDer.toString('base64'), chain.intermediateDer.toString('base64')] }, claims(), chain.leafKey);
    await refused(verifier(), token, /trusted/);
    // Leaf alone (intermediate missing) with the right CA: no path.
    const noIntermediate = makeJwt({ alg: 'ES256', x5c: [chain.leafDer.toString('base64')] }, claims(), chain.leafKey);
    await refused(verifier({ rootCertBundlePem: chain.caPem }), noIntermediate, /trusted/);
  });

  test('x5c with a trusted chain but signed by another key', async () => {
    const chain = makeChain();
    const token = makeJwt({ alg: 'ES256', x5c: [chain.leafDer.toString('base64'), chain.intermediateDer.toString('base64')] }, claims(), other.privateKey);
    await refused(verifier({ rootCertBundlePem: chain.caPem }), token, /signature/);
  });

  test('x5c leaf outside its validity dates', async () => {
    const chain = makeChain(1);
    const later = NOW + 3 * 86400;
    const token = makeJwt({ alg: 'ES256', x5c: [chain.leafDer.toString('base64'), chain.intermediateDer.toString('base64')] }, claims({ exp: later + 300 }), chain.leafKey);
    await refused(verifier({ rootCertBundlePem: chain.caPem, now: () => later * 1000 }), token, /validity/);
  });

  test('configuration errors', () => {
    assert.throws(() => new TokenVerifier({ issuer: ISSUER, service: SERVICE }), /no trusted key/);
    assert.throws(() => new TokenVerifier({ issuer: ISSUER, service: SERVICE, rootCertBundlePem: 'nothing' }), /no CERTIFICATE/);
    assert.throws(() => new TokenVerifier({ issuer: ISSUER, service: SERVICE, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }), /jwks/);
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
    assert.throws(() => new TokenVerifier({ issuer: ISSUER, service: SERVICE, trustedKeys: [k1] }), /unsupported/);
  });
});
