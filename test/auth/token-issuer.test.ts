/**
 * Signing keys and the token issuer: keys from PEM (with a matching certificate or not), the
 * stored key generated once and shared by nodes (also when two nodes race), issuer → verifier
 * round trips (trusted key and certificate bundle), the token's header and claims, refresh tokens
 * bound to subject and service and never accepted as access tokens.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { checked } from '../../storage-drivers/checked.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { libtrustKeyId } from '../../src/auth/libtrust.js';
import { certificatesToPem, selfSignedCertificate } from '../../src/auth/self-signed-cert.js';
import { loadOrCreateStoredSigningKey, signingKeyFromPem, STORED_SIGNING_KEY_PATH } from '../../src/auth/signing-key.js';
import { TokenError } from '../../src/auth/token-error.js';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { TokenVerifier } from '../../src/auth/token-verifier.js';

const SERVICE = 'registry.test';
const ACCESS = [{ type: 'repository' as const, name: 'team/app', actions: ['pull' as const, 'push' as const] }];

describe('signing keys', () => {
  test('from PEM: EC with its certificate, RSA without; mismatched certificate refused', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecPem = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const cert = certificatesToPem([selfSignedCertificate(ec.privateKey)]);
    const key = signingKeyFromPem(ecPem, cert);
    assert.equal(key.algorithm, 'ES256');
    assert.equal(key.keyId, libtrustKeyId(ec.publicKey));
    assert.equal(key.certificates.length, 1);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaKey = signingKeyFromPem(rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
    assert.equal(rsaKey.algorithm, 'RS256');
    assert.equal(rsaKey.certificatePem, undefined);
    assert.throws(() => signingKeyFromPem(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert), /does not belong/);
    assert.throws(() => signingKeyFromPem('garbage'), /no PRIVATE KEY/);
  });

  test('stored key: generated once, re-read by every node; racing nodes converge', async () => {
    const driver = checked(createInMemoryDriver());
    let generated = 0;
    const [a, b] = await Promise.all([
      loadOrCreateStoredSigningKey(driver, { settleMs: 20, onGenerated: () => generated++ }),
      loadOrCreateStoredSigningKey(driver, { settleMs: 20, onGenerated: () => generated++ }),
    ]);
    assert.equal(generated, 2, 'both nodes saw no key and wrote one');
    assert.equal(a.keyId, b.keyId, 'both use what is stored after the race');
    const c = await loadOrCreateStoredSigningKey(driver, { onGenerated: () => generated++ });
    assert.equal(c.keyId, a.keyId);
    assert.equal(generated, 2);
    assert.equal(a.algorithm, 'ES256');
    const stored = (await driver.getContent(STORED_SIGNING_KEY_PATH)).toString();
    assert.match(stored, /BEGIN PRIVATE KEY[\s\S]+BEGIN CERTIFICATE/);
    const cert = new X509Certificate(a.certificates[0] as Buffer);
    assert.ok(cert.verify(a.publicKey), 'self-signed certificate for the key');
  });

  test('an unusable stored key is an error, not silently replaced', async () => {
    const driver = checked(createInMemoryDriver());
    await driver.putContent(STORED_SIGNING_KEY_PATH, Buffer.from('corrupt'));
    await assert.rejects(loadOrCreateStoredSigningKey(driver, { settleMs: 0 }), /unusable/);
  });
});

describe('TokenIssuer', () => {
  test('access tokens: header and claims, verified through the trusted key and through the certificate bundle', async () => {
    const key = await loadOrCreateStoredSigningKey(checked(createInMemoryDriver()), { settleMs: 0 });
    const now = Date.UTC(2030, 0, 1, 12, 0, 0);
    const issuer = new TokenIssuer({ key, issuer: 'berth', now: () => now });
    const issued = await issuer.issue({ subject: 'alice', audience: SERVICE, access: [...ACCESS, { type: 'repository', name: 'empty', actions: [] }], expiresInSeconds: 3600 });
    assert.equal(issued.expiresIn, 3600);
    assert.equal(issued.issuedAt.getTime(), now);
    const header = decodeProtectedHeader(issued.token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'JWT');
    assert.equal(header.kid, key.keyId);
    assert.equal(header.x5c?.length, 1);
    const claims = decodeJwt(issued.token);
    assert.equal(claims.aud, SERVICE, 'aud is one string');
    assert.equal(claims.exp, now / 1000 + 3600);
    assert.equal(claims.nbf, now / 1000);
    assert.equal(claims.iat, now / 1000);
    assert.equal(typeof claims.jti, 'string');
    assert.deepEqual(claims['access'], [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);

    const byKey = new TokenVerifier({ issuer: 'berth', service: SERVICE, trustedKeys: [issuer.publicKey], now: () => now });
    assert.deepEqual(await byKey.verify(issued.token), { subject: 'alice', access: claims['access'], expiresAt: now / 1000 + 3600 });
    const byBundle = new TokenVerifier({ issuer: 'berth', service: SERVICE, rootCertBundlePem: issuer.certificatePem, now: () => now });
    assert.equal((await byBundle.verify(issued.token)).subject, 'alice');
    const anonymous = await issuer.issue({ subject: '', audience: SERVICE, access: [], expiresInSeconds: 60 });
    assert.deepEqual(await byKey.verify(anonymous.token), { subject: '', access: [], expiresAt: now / 1000 + 60 });
  });

  test('RSA key without certificate: RS256, kid only', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const issuer = new TokenIssuer({ key: signingKeyFromPem(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), issuer: 'berth' });
    const { token } = await issuer.issue({ subject: 'bob', audience: SERVICE, access: ACCESS, expiresInSeconds: 300 });
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.x5c, undefined);
    const verifier = new TokenVerifier({ issuer: 'berth', service: SERVICE, trustedKeys: [rsa.publicKey] });
    assert.equal((await verifier.verify(token)).subject, 'bob');
  });

  test('refresh tokens: round trip on another node, bound to service, refused as access tokens, expire', async () => {
    const driver = checked(createInMemoryDriver());
    let now = Date.now();
    const nodeA = new TokenIssuer({ key: await loadOrCreateStoredSigningKey(driver, { settleMs: 0 }), issuer: 'berth', now: () => now, refreshTokenLifetimeSeconds: 3600 });
    const nodeB = new TokenIssuer({ key: await loadOrCreateStoredSigningKey(driver), issuer: 'berth', now: () => now });
    const refresh = await nodeA.issueRefreshToken('alice', SERVICE);
    assert.deepEqual(await nodeB.verifyRefreshToken(refresh, SERVICE), { subject: 'alice' });
    await assert.rejects(nodeB.verifyRefreshToken(refresh, 'other.service'), TokenError);
    const access = await nodeA.issue({ subject: 'alice', audience: SERVICE, access: ACCESS, expiresInSeconds: 60 });
    await assert.rejects(nodeB.verifyRefreshToken(access.token, SERVICE), /not a refresh token/);
    const verifier = new TokenVerifier({ issuer: 'berth', service: SERVICE, trustedKeys: [nodeA.publicKey] });
    await assert.rejects(verifier.verify(refresh), TokenError);
    const stranger = new TokenIssuer({ key: await loadOrCreateStoredSigningKey(checked(createInMemoryDriver()), { settleMs: 0 }), issuer: 'berth' });
    await assert.rejects(nodeA.verifyRefreshToken(await stranger.issueRefreshToken('alice', SERVICE), SERVICE), /signature/);
    await assert.rejects(nodeA.verifyRefreshToken(`${refresh}x`, SERVICE), TokenError);
    now += 3601_000;
    await assert.rejects(nodeA.verifyRefreshToken(refresh, SERVICE), /expired/);
  });
});
