/**
 * The access policy (src/auth/policy.ts): every user × repository × action of a small policy
 * (table-driven), the glob forms, union semantics, the no-config default, the token server's grant
 * intersection, the catalog rule, and config validation naming the bad key.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Access, Action } from '../../src/auth/access.js';
import { ACCESS_CONFIG_SCHEMA, type AccessConfig } from '../../src/auth/policy-config.js';
import { createPolicy } from '../../src/auth/policy.js';
import { compileRepositoryGlob } from '../../src/auth/repository-glob.js';

const CONFIG: AccessConfig = ACCESS_CONFIG_SCHEMA.parse({
  groups: { ci: ['jenkins'], team: ['carol', 'jenkins'] },
  rules: [
    { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
    { repositories: ['ci/**'], groups: ['ci'], actions: ['pull', 'push'] },
    { repositories: ['users/{user}/**'], users: ['bob', 'carol'], actions: ['*'] },
    { repositories: ['team/*/?'], groups: ['team'], actions: ['pull'] },
    { repositories: ['**'], users: ['alice'], actions: ['*'] },
    { repositories: ['public/**'], users: ['bob'], actions: ['push'] },
    { repositories: ['ci/tools/**'], users: ['jenkins'], actions: ['delete'] },
  ],
});

const USERS = ['', 'alice', 'bob', 'carol', 'jenkins'] as const;
const REPOS = ['public', 'public/base', 'publicity', 'ci/app', 'ci/tools/build', 'users/bob/tool', 'users/carol/x/y', 'team/web/1', 'team/web/12', 'other/thing'] as const;
type User = (typeof USERS)[number];
type Repo = (typeof REPOS)[number];

const ALL = 'pull,push,delete';
/** Expected concrete actions per user and repository ('' = nothing). */
const EXPECTED: Record<User, Partial<Record<Repo, string>>> = {
  '': { public: 'pull', 'public/base': 'pull' },
  alice: Object.fromEntries(REPOS.map((r) => [r, ALL])),
  bob: { public: 'pull,push', 'public/base': 'pull,push', 'users/bob/tool': ALL },
  carol: { public: 'pull', 'public/base': 'pull', 'users/carol/x/y': ALL, 'team/web/1': 'pull' },
  jenkins: { public: 'pull', 'public/base': 'pull', 'ci/app': 'pull,push', 'ci/tools/build': ALL, 'team/web/1': 'pull' },
};

describe('policy: every user × repository × action', () => {
  const policy = createPolicy(CONFIG);
  for (const user of USERS) {
    for (const repo of REPOS) {
      const expected = new Set((EXPECTED[user][repo] ?? '').split(',').filter((a) => a !== ''));
      test(`${user === '' ? '(anonymous)' : user} on ${repo}: ${[...expected].join(',') || 'nothing'}`, () => {
        const principal = { subject: user };
        for (const action of ['pull', 'push', 'delete', '*'] as const) {
          const want = action === '*' ? expected.size === 3 : expected.has(action);
          const required: Access[] = [{ type: 'repository', name: repo, actions: [action] }];
          assert.equal(policy.allows(principal, required), want, `${action}`);
          assert.equal(policy.actionsFor(principal, 'repository', repo).has(action), want, `actionsFor ${action}`);
          if (user === '') assert.equal(policy.anonymousAllowed(required), want, `anonymousAllowed ${action}`);
        }
        assert.equal(policy.canPull(principal, repo), expected.has('pull'));
        // Asking twice (cached) gives the same answer.
        assert.deepEqual([...policy.actionsFor(principal, 'repository', repo)].sort(), [...policy.actionsFor(principal, 'repository', repo)].sort());
      });
    }
  }
});

describe('repository globs', () => {
  const cases: Array<[string, string, string, boolean]> = [
    ['*', 'a', 'x', true],
    ['*', 'a/b', 'x', false],
    ['team/*', 'team/app', 'x', true],
    ['team/*', 'team/app/sub', 'x', false],
    ['team/*', 'team', 'x', false],
    ['team/app-*', 'team/app-web', 'x', true],
    ['team/app-*', 'team/app', 'x', false],
    ['team/**', 'team', 'x', true],
    ['team/**', 'team/a', 'x', true],
    ['team/**', 'team/a/b/c', 'x', true],
    ['team/**', 'teams/a', 'x', false],
    ['team/**', 'teamx', 'x', false],
    ['**', 'anything/at/all', 'x', true],
    ['**/base', 'base', 'x', true],
    ['**/base', 'a/b/base', 'x', true],
    ['**/base', 'a/b/base2', 'x', false],
    ['a/**/z', 'a/z', 'x', true],
    ['a/**/z', 'a/b/c/z', 'x', true],
    ['a/**/z', 'a/b/c/y', 'x', false],
    ['v?', 'v1', 'x', true],
    ['v?', 'v12', 'x', false],
    ['v?', 'v', 'x', false],
    ['a.b/c_d', 'a.b/c_d', 'x', true],
    ['a.b/c_d', 'aXb/c_d', 'x', false],
    ['users/{user}/**', 'users/bob/app', 'bob', true],
    ['users/{user}/**', 'users/bob', 'bob', true],
    ['users/{user}/**', 'users/bob/app', 'eve', false],
    ['users/{user}/**', 'users/bob/app', '', false],
    ['users/{user}/**', 'users/bob/x/app', 'bob/x', false],
    ['users/{user}/**', 'users/.*/app', '.*', false],
    ['{user}/{user}', 'bob/bob', 'bob', true],
    ['{user}/{user}', 'bob/eve', 'bob', false],
  ];
  for (const [glob, name, user, want] of cases) {
    test(`${glob} ${want ? 'matches' : 'does not match'} ${name} for ${JSON.stringify(user)}`, () => {
      assert.equal(compileRepositoryGlob(glob).matches(name, user), want);
    });
  }
  for (const bad of ['', 'a//b', '/a', 'a/', 'a**', '**b/c', 'a/**/**', 'Team/*', 'a b', 'a/{users}', 'x{user}', '[ab]', 'a/b:tag']) {
    test(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => compileRepositoryGlob(bad)));
  }
});

describe('policy semantics', () => {
  test('actions are the union of all matching rules, whatever their order', () => {
    const rules = [
      { repositories: ['a/**'], users: ['u'], actions: ['pull'] },
      { repositories: ['a/b'], users: ['u'], actions: ['push'] },
      { repositories: ['**'], anonymous: true, actions: ['delete'] },
    ];
    for (const order of [rules, [...rules].reverse()]) {
      const policy = createPolicy(ACCESS_CONFIG_SCHEMA.parse({ rules: order }));
      assert.deepEqual([...policy.actionsFor({ subject: 'u' }, 'repository', 'a/b')].sort(), ['*', 'delete', 'pull', 'push']);
      assert.deepEqual([...policy.actionsFor({ subject: 'u' }, 'repository', 'a/c')].sort(), ['delete', 'pull']);
      assert.deepEqual([...policy.actionsFor({ subject: '' }, 'repository', 'a/b')], ['delete']);
    }
  });

  test('groups come from the policy, keyed by the subject', () => {
    const policy = createPolicy(ACCESS_CONFIG_SCHEMA.parse({ groups: { g: ['u'] }, rules: [{ repositories: ['x'], groups: ['g'], actions: ['pull'] }] }));
    assert.equal(policy.canPull({ subject: 'u' }, 'x'), true);
    assert.equal(policy.canPull({ subject: 'v' }, 'x'), false);
    assert.equal(policy.canPull({ subject: 'g' }, 'x'), false);
  });

  test('without a berth.access section: authenticated users may do everything, anonymous nothing', () => {
    const policy = createPolicy(undefined);
    const all: Access[] = [
      { type: 'repository', name: 'any/repo', actions: ['pull', 'push', 'delete', '*'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ];
    assert.equal(policy.allows({ subject: 'someone' }, all), true);
    assert.equal(policy.allows({ subject: '' }, [{ type: 'repository', name: 'any/repo', actions: ['pull'] }]), false);
    assert.equal(policy.anonymousAllowed([{ type: 'registry', name: 'catalog', actions: ['*'] }]), false);
    assert.equal(policy.canPull({ subject: '' }, 'x'), false);
    assert.equal(policy.canPull({ subject: 'x' }, 'x'), true);
    assert.equal(policy.anonymousAllowed([]), true);
  });

  test('an empty berth.access section grants no repository to anyone', () => {
    const policy = createPolicy(ACCESS_CONFIG_SCHEMA.parse({}));
    assert.equal(policy.canPull({ subject: 'alice' }, 'x'), false);
    assert.equal(policy.allows({ subject: 'alice' }, [{ type: 'registry', name: 'catalog', actions: ['*'] }]), true);
  });

  test('registry:catalog:* for authenticated users, and anonymous only when an anonymous rule exists', () => {
    const catalog: Access[] = [{ type: 'registry', name: 'catalog', actions: ['*'] }];
    const withAnon = createPolicy(CONFIG);
    assert.equal(withAnon.allows({ subject: 'bob' }, catalog), true);
    assert.equal(withAnon.anonymousAllowed(catalog), true);
    const noAnon = createPolicy(ACCESS_CONFIG_SCHEMA.parse({ rules: [{ repositories: ['**'], users: ['a'], actions: ['pull'] }] }));
    assert.equal(noAnon.allows({ subject: 'b' }, catalog), true);
    assert.equal(noAnon.anonymousAllowed(catalog), false);
    // Only registry:catalog exists; the catalog takes `*`, nothing else.
    assert.equal(withAnon.allows({ subject: 'alice' }, [{ type: 'registry', name: 'other', actions: ['*'] }]), false);
    assert.equal(withAnon.allows({ subject: 'alice' }, [{ type: 'registry', name: 'catalog', actions: ['pull'] }]), false);
  });

  test('allows needs every action of every item', () => {
    const policy = createPolicy(CONFIG);
    const bob = { subject: 'bob' };
    assert.equal(policy.allows(bob, [{ type: 'repository', name: 'public/base', actions: ['pull', 'push'] }]), true);
    assert.equal(
      policy.allows(bob, [
        { type: 'repository', name: 'users/bob/x', actions: ['pull', 'push'] },
        { type: 'repository', name: 'ci/app', actions: ['pull'] },
      ]),
      false,
    );
    assert.equal(policy.allows(bob, []), true);
    // Action strings outside the contract (from a lenient parser) are never allowed.
    assert.equal(policy.allows({ subject: 'alice' }, [{ type: 'repository', name: 'x', actions: ['scanner-pull' as Action] }]), false);
  });

  test('grant intersects each requested item and drops empty ones', () => {
    const policy = createPolicy(CONFIG);
    const requested: Access[] = [
      { type: 'repository', name: 'public/base', actions: ['pull', 'push'] },
      { type: 'repository', name: 'ci/app', actions: ['pull'] },
      { type: 'repository', name: 'users/bob/tool', actions: ['*'] },
      { type: 'repository', name: 'public', actions: ['*'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ];
    assert.deepEqual(policy.grant({ subject: 'bob' }, requested), [
      { type: 'repository', name: 'public/base', actions: ['pull', 'push'] },
      { type: 'repository', name: 'users/bob/tool', actions: ['*'] },
      { type: 'repository', name: 'public', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    assert.deepEqual(policy.grant({ subject: '' }, requested), [
      { type: 'repository', name: 'public/base', actions: ['pull'] },
      { type: 'repository', name: 'public', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    assert.deepEqual(policy.grant({ subject: 'nobody' }, [{ type: 'repository', name: 'ci/app', actions: ['push', 'pull'] }]), []);
    assert.deepEqual(policy.grant({ subject: 'jenkins' }, [{ type: 'repository', name: 'ci/app', actions: ['push', 'pull', 'push'] }]), [
      { type: 'repository', name: 'ci/app', actions: ['push', 'pull'] },
    ]);
  });

  test('a tiny result cache still answers correctly', () => {
    const policy = createPolicy(CONFIG, { cacheEntries: 2 });
    for (let round = 0; round < 3; round++) {
      for (const user of USERS) {
        for (const repo of REPOS) assert.equal(policy.canPull({ subject: user }, repo), (EXPECTED[user][repo] ?? '').includes('pull'));
      }
    }
  });
});

describe('berth.access validation names the bad key', () => {
  const issues = (doc: unknown): string[] => {
    const r = ACCESS_CONFIG_SCHEMA.safeParse(doc);
    assert.equal(r.success, false);
    return r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
  };
  test('bad glob', () => {
    assert.match(issues({ rules: [{ repositories: ['ok/**', 'Bad/*'], users: ['a'], actions: ['pull'] }] }).join('\n'), /^rules\.0\.repositories\.1: invalid character/m);
  });
  test('unknown action', () => {
    assert.match(issues({ rules: [{ repositories: ['a'], users: ['a'], actions: ['pull', 'write'] }] }).join('\n'), /^rules\.0\.actions\.1: /m);
  });
  test('unknown key in a rule', () => {
    assert.match(issues({ rules: [{ repositories: ['a'], user: ['a'], actions: ['pull'] }] }).join('\n'), /^rules\.0: .*user/m);
  });
  test('a rule for nobody', () => {
    assert.match(issues({ rules: [{ repositories: ['a'], actions: ['pull'] }] }).join('\n'), /^rules\.0: the rule applies to nobody/m);
  });
  test('undefined group', () => {
    assert.match(issues({ groups: { ci: ['j'] }, rules: [{ repositories: ['a'], groups: ['ci', 'cd'], actions: ['pull'] }] }).join('\n'), /^rules\.0\.groups\.1: unknown group "cd"/m);
  });
  test('missing actions and repositories', () => {
    const text = issues({ rules: [{ users: ['a'] }] }).join('\n');
    assert.match(text, /^rules\.0\.repositories: /m);
    assert.match(text, /^rules\.0\.actions: /m);
  });
  test('unknown key in the section', () => {
    assert.match(issues({ rule: [] }).join('\n'), /rule/);
  });
});
