/**
 * Authorization header parsing: Basic (UTF-8 user names, colons in passwords), Bearer, v1 Token
 * fields, and every malformed input answered with MalformedAuthorizationError.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAnonymousBasic, MalformedAuthorizationError, parseAuthorization, type MalformedReason } from '../../src/auth/authorization-header.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function rejects(value: string, reason: MalformedReason): void {
  assert.throws(
    () => parseAuthorization(value),
    (error: unknown) => error instanceof MalformedAuthorizationError && error.reason === reason,
    `${value.slice(0, 40)} → ${reason}`,
  );
}

describe('parseAuthorization', () => {
  test('absent, empty and unknown schemes are no credentials', () => {
    assert.equal(parseAuthorization(undefined), undefined);
    assert.equal(parseAuthorization(''), undefined);
    assert.equal(parseAuthorization('Negotiate abc'), undefined);
  });

  test('Basic: user and password, any scheme case, colon in the password, unicode user', () => {
    assert.deepEqual(parseAuthorization(`Basic ${b64('alice:s3cret')}`), { scheme: 'basic', user: 'alice', password: 's3cret' });
    assert.deepEqual(parseAuthorization(`bAsIc ${b64('bob:a:b:c')}`), { scheme: 'basic', user: 'bob', password: 'a:b:c' });
    assert.deepEqual(parseAuthorization(`Basic ${b64('jürgen-ü名:pässwörd')}`), { scheme: 'basic', user: 'jürgen-ü名', password: 'pässwörd' });
    assert.deepEqual(parseAuthorization(`Basic ${b64('u:')}`), { scheme: 'basic', user: 'u', password: '' });
    // Unpadded base64 is accepted.
    assert.deepEqual(parseAuthorization(`Basic ${b64('ab:c').replace(/=+$/, '')}`), { scheme: 'basic', user: 'ab', password: 'c' });
  });

  test('Basic: malformed values', () => {
    rejects(`Basic ${b64('nocolon')}`, 'no_colon');
    rejects('Basic !!!notbase64', 'bad_base64');
    rejects('Basic YWJj=ZA==', 'bad_base64');
    rejects('Basic A', 'bad_base64');
    rejects(`Basic ${b64(':password')}`, 'empty_user');
    // containers/image's answer to a Basic challenge when it has no credentials: anonymous.
    assert.equal(parseAuthorization(`Basic ${b64(':')}`), undefined);
    assert.equal(isAnonymousBasic(`Basic ${b64(':')}`), true);
    assert.equal(isAnonymousBasic(`Basic ${b64(':x')}`), false);
    rejects('Basic', 'no_credentials');
    rejects(`Basic ${Buffer.from([0x61, 0xff, 0x3a, 0x62]).toString('base64')}`, 'bad_utf8');
    rejects(`Basic ${b64('us\ner:pw')}`, 'control_characters');
    rejects(`Basic ${b64('user:p\u0000w')}`, 'control_characters');
    rejects(`Basic ${'A'.repeat(64 * 1024)}`, 'too_long');
    rejects('Basic abc\r\n', 'control_characters');
  });

  test('Bearer tokens', () => {
    assert.deepEqual(parseAuthorization('Bearer aaa.bbb.ccc'), { scheme: 'bearer', token: 'aaa.bbb.ccc' });
    assert.deepEqual(parseAuthorization('bearer  x-y_z'), { scheme: 'bearer', token: 'x-y_z' });
    rejects('Bearer', 'no_credentials');
    rejects('Bearer a b', 'bad_token');
    rejects('Bearer a"b', 'bad_token');
  });

  test('v1 Token fields: leading Token words skipped, quoted and bare values', () => {
    const expected = { signature: 'abc123', repository: 'ns/repo', access: 'write' };
    const single = parseAuthorization('Token signature=abc123,repository="ns/repo",access=write');
    assert.deepEqual(single?.scheme === 'token' ? { ...single.fields } : undefined, expected);
    const proto = parseAuthorization('Token __proto__=x,access=read');
    assert.equal(proto?.scheme === 'token' ? proto.fields['__proto__'] : undefined, 'x');
    const doubled = parseAuthorization('Token Token signature=abc123, repository="ns/repo", access=write');
    assert.equal(doubled?.scheme, 'token');
    assert.deepEqual(doubled?.scheme === 'token' ? { ...doubled.fields } : undefined, expected);
    const quoted = parseAuthorization('Token repository="a,b\\"c",access=read');
    assert.deepEqual(quoted?.scheme === 'token' ? { ...quoted.fields } : undefined, { repository: 'a,b"c', access: 'read' });
    rejects('Token', 'bad_token');
    rejects('Token Token garbage', 'bad_token');
  });
});
