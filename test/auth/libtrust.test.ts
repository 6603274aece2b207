/**
 * libtrust key IDs and RFC 7638 thumbprints against the vectors of auth.md §7 (and jose's own
 * thumbprint for RSA).
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { calculateJwkThumbprint } from 'jose';
import { jwkThumbprint, libtrustKeyId } from '../../src/auth/libtrust.js';

test('jwt.md example key', () => {
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: 'm7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q', y: 'dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc' }, format: 'jwk' });
  assert.equal(libtrustKeyId(key), 'PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6');
});

test('fresh key of auth.md §7: libtrust ID and RFC 7638 thumbprint', async () => {
  const jwk = { kty: 'EC', crv: 'P-256', x: 'vfkDNuH0W0ursA8WF9kWXuIAsiyfVWbxRo63HtDQtWE', y: 'wFENCs3ZhN7jrTQRoBzun_B8gKS7cOYqEIejVUHRFpY' };
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  assert.equal(libtrustKeyId(key), 'CDKQ:L5FV:RPBR:KNWZ:IF4F:WNJ5:74TH:DX6U:WEDY:DJPA:JP3Q:XKLK');
  assert.equal(jwkThumbprint(key), 'UGvsJx7KSy2VARW84ybhJFNyWFHKAJeaOOv5ye8RU7k');
  assert.equal(await calculateJwkThumbprint(jwk), 'UGvsJx7KSy2VARW84ybhJFNyWFHKAJeaOOv5ye8RU7k');
});

test('RSA and private keys: same IDs as their public half, thumbprint as jose computes it', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  assert.equal(libtrustKeyId(privateKey), libtrustKeyId(publicKey));
  assert.match(libtrustKeyId(publicKey), /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
  assert.equal(jwkThumbprint(privateKey), await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as { kty: string }));
});
