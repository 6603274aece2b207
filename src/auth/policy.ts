/**
 * Berth's access policy: which actions a caller may perform on a repository, from the
 * `berth.access` section (schema in policy-config.ts, globs in repository-glob.ts).
 *
 * Semantics:
 * - A rule applies to a caller when it lists the caller's user name in `users`, one of the
 *   caller's groups in `groups` (groups come from `berth.access.groups`, keyed by the principal's
 *   subject), or has `anonymous: true` (then it applies to everyone, signed in or not).
 * - The actions granted on a repository are the UNION of the `actions` of every rule that applies
 *   to the caller and has a pattern matching the repository. Rule order does not matter: a later
 *   rule never takes rights away, there are no deny rules. No matching rule: nothing.
 * - `*` in a rule means pull, push and delete. {@link Policy.actionsFor} returns the concrete
 *   actions granted plus `*` exactly when all three are granted; a required or requested `*` needs
 *   all three (distribution's token `*` grants every action of its resource).
 * - `registry:catalog:*` is granted to every authenticated caller, and to anonymous callers when
 *   at least one rule has `anonymous: true` (the catalog's entries are filtered by pull rights
 *   anyway). No other `registry` resource exists; nothing is granted on one.
 * - Without a `berth.access` section (`createPolicy(undefined)`): every authenticated caller may
 *   do everything everywhere and anonymous callers nothing, distribution's behaviour when an
 *   `auth` backend is configured. (With no `auth` backend at all the server does not consult a
 *   policy: see `anonymousAccess` in access.ts.)
 * - The anonymous caller is the principal with subject `''`.
 *
 * Results are cached per (subject, repository) in a bounded map; the policy is immutable, so the
 * cache never needs invalidating (a new configuration means a new policy).
 */
import type { Access, Action, Principal } from './access.js';
import type { AccessConfig } from './policy-config.js';
import { compileRepositoryGlob, type RepositoryGlob } from './repository-glob.js';

export type ConcreteAction = 'pull' | 'push' | 'delete';

export interface Policy {
  /** The actions the principal may perform on the resource; see the module comment for `*`. */
  actionsFor(principal: Principal, type: Access['type'], name: string): ReadonlySet<Action>;
  /**
   * For the token server: each requested item intersected with what the principal may do; items
   * left with no action are dropped. A requested `*` the caller does not fully hold becomes the
   * concrete actions the caller does hold.
   */
  grant(principal: Principal, requested: readonly Access[]): Access[];
  /** Whether the principal may perform every action of every required item. */
  allows(principal: Principal, required: readonly Access[]): boolean;
  canPull(principal: Principal, name: string): boolean;
  /** Whether an anonymous caller may perform every required action. */
  anonymousAllowed(required: readonly Access[]): boolean;
}

export interface PolicyOptions {
  /** Largest number of cached (subject, repository) results; default 10000. */
  readonly cacheEntries?: number;
}

const CONCRETE: readonly ConcreteAction[] = ['pull', 'push', 'delete'];
const ANONYMOUS: Principal = { subject: '' };
const NOTHING: ReadonlySet<Action> = new Set<Action>();
const EVERYTHING: ReadonlySet<Action> = new Set<Action>([...CONCRETE, '*']);
const CATALOG: ReadonlySet<Action> = new Set<Action>(['*']);

interface CompiledRule {
  readonly globs: readonly RepositoryGlob[];
  readonly users: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
  readonly anonymous: boolean;
  readonly actions: readonly ConcreteAction[];
}

function expand(actions: readonly Action[]): ConcreteAction[] {
  return actions.includes('*') ? [...CONCRETE] : CONCRETE.filter((a) => actions.includes(a));
}

function withStar(actions: ReadonlySet<ConcreteAction>): ReadonlySet<Action> {
  if (actions.size === 0) return NOTHING;
  const out = new Set<Action>(actions);
  if (CONCRETE.every((a) => actions.has(a))) out.add('*');
  return out;
}

export function createPolicy(config: AccessConfig | undefined, options: PolicyOptions = {}): Policy {
  const repositoryActions = config === undefined ? defaultRepositoryActions : ruleEngine(config, options.cacheEntries ?? 10_000);
  const anonymousCatalog = (config?.rules ?? []).some((r) => r.anonymous === true);

  const actionsFor = (principal: Principal, type: Access['type'], name: string): ReadonlySet<Action> => {
    if (type === 'repository') return repositoryActions(principal.subject, name);
    if (type === 'registry' && name === 'catalog') return principal.subject !== '' || anonymousCatalog ? CATALOG : NOTHING;
    return NOTHING;
  };

  const allows = (principal: Principal, required: readonly Access[]): boolean =>
    required.every((item) => {
      const granted = actionsFor(principal, item.type, item.name);
      return item.actions.every((a) => granted.has(a));
    });

  return {
    actionsFor,
    allows,
    grant: (principal, requested) => {
      const out: Access[] = [];
      for (const item of requested) {
        const granted = actionsFor(principal, item.type, item.name);
        const actions = new Set<Action>();
        for (const a of item.actions) {
          if (granted.has(a)) actions.add(a);
          else if (a === '*') for (const c of CONCRETE) if (granted.has(c)) actions.add(c);
        }
        if (actions.size > 0) out.push({ type: item.type, name: item.name, actions: [...actions] });
      }
      return out;
    },
    canPull: (principal, name) => repositoryActions(principal.subject, name).has('pull'),
    anonymousAllowed: (required) => allows(ANONYMOUS, required),
  };
}

function defaultRepositoryActions(subject: string): ReadonlySet<Action> {
  return subject === '' ? NOTHING : EVERYTHING;
}

function ruleEngine(config: AccessConfig, cacheEntries: number): (subject: string, name: string) => ReadonlySet<Action> {
  const groupsOf = new Map<string, Set<string>>();
  for (const [group, members] of Object.entries(config.groups ?? {})) {
    for (const member of members) {
      const set = groupsOf.get(member) ?? new Set<string>();
      set.add(group);
      groupsOf.set(member, set);
    }
  }
  const rules: CompiledRule[] = (config.rules ?? []).map((r) => ({
    globs: r.repositories.map(compileRepositoryGlob),
    users: new Set(r.users ?? []),
    groups: new Set(r.groups ?? []),
    anonymous: r.anonymous === true,
    actions: expand(r.actions),
  }));
  const appliesTo = (rule: CompiledRule, subject: string): boolean => {
    if (rule.anonymous) return true;
    if (subject === '') return false;
    if (rule.users.has(subject)) return true;
    for (const g of groupsOf.get(subject) ?? []) if (rule.groups.has(g)) return true;
    return false;
  };
  const cache = new Map<string, ReadonlySet<Action>>();
  return (subject, name) => {
    const key = `${subject}\u0000${name}`;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const granted = new Set<ConcreteAction>();
    for (const rule of rules) {
      if (rule.actions.every((a) => granted.has(a)) || !appliesTo(rule, subject)) continue;
      if (rule.globs.some((g) => g.matches(name, subject))) for (const a of rule.actions) granted.add(a);
    }
    const result = withStar(granted);
    if (cache.size >= cacheEntries) {
      // Drop the oldest entry (Map keeps insertion order).
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
    cache.set(key, result);
    return result;
  };
}
