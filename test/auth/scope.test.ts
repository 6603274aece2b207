/**
 * Token-request scopes (auth.md §5) and Bearer challenge values.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { basicChallenge, bearerChallenge, formatScope, parseScopes } from '../../src/auth/scope.js';

describe('parseScopes', () => {
  test('repeated and space-joined scopes merge per resource', () => {
    assert.deepEqual(parseScopes(['repository:a/b:pull', 'repository:a/b:push repository:c:pull']), [
      { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
      { type: 'repository', name: 'c', actions: ['pull'] },
    ]);
    assert.deepEqual(parseScopes('repository:foo:push,pull'), [{ type: 'repository', name: 'foo', actions: ['pull', 'push'] }]);
  });

  test('plugin class, port in the name, catalog, star', () => {
    assert.deepEqual(parseScopes('repository(plugin):vieux/sshfs:pull'), [{ type: 'repository', name: 'vieux/sshfs', actions: ['pull'] }]);
    assert.deepEqual(parseScopes('repository:localhost:5000/foo/bar:pull'), [{ type: 'repository', name: 'localhost:5000/foo/bar', actions: ['pull'] }]);
    assert.deepEqual(parseScopes('registry:catalog:*'), [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    assert.deepEqual(parseScopes('repository:x:*'), [{ type: 'repository', name: 'x', actions: ['*'] }]);
  });

  test('unknown types, unknown actions and malformed items are dropped', () => {
    assert.deepEqual(parseScopes(['unknown:foo:pull', 'repository:foo', 'repository::pull', 'repository:Foo:pull', 'repository:a:b:c:pull', 'registry:catalog:pull']), []);
    assert.deepEqual(parseScopes('repository:foo:pull,scanner-pull,'), [{ type: 'repository', name: 'foo', actions: ['pull'] }]);
    assert.deepEqual(parseScopes(undefined), []);
    assert.deepEqual(parseScopes(['', '  ']), []);
  });
});

describe('challenges', () => {
  test('Bearer challenge with and without scope and error', () => {
    assert.equal(
      bearerChallenge({ realm: 'https://auth.example.test/token', service: 'registry.example.test', scope: [{ type: 'repository', name: 'foo/bar', actions: ['pull', 'push'] }, { type: 'repository', name: 'other/repo', actions: ['pull'] }] }),
      'Bearer realm="https://auth.example.test/token",service="registry.example.test",scope="repository:foo/bar:pull,push repository:other/repo:pull"',
    );
    assert.equal(bearerChallenge({ realm: 'r', service: 's' }), 'Bearer realm="r",service="s"');
    assert.equal(bearerChallenge({ realm: 'r', service: 's', scope: [{ type: 'registry', name: 'catalog', actions: ['*'] }], error: 'insufficient_scope' }), 'Bearer realm="r",service="s",scope="registry:catalog:*",error="insufficient_scope"');
    assert.equal(bearerChallenge({ realm: 'r"x', service: 's\\', error: 'invalid_token' }), 'Bearer realm="r\\"x",service="s\\\\",error="invalid_token"');
    assert.equal(basicChallenge('Registry'), 'Basic realm="Registry"');
    assert.equal(formatScope([{ type: 'repository', name: 'a', actions: ['pull'] }]), 'repository:a:pull');
  });
});
