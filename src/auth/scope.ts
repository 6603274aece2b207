/**
 * Token-request scopes and Bearer challenges (auth.md §2, §5). `parseScopes` reads the `scope`
 * parameters of a token request (repeated, space-joined, or both) into {@link Access} items:
 * `repository(<class>)` counts as `repository`, the type is cut at the first `:` and the actions at
 * the last (a name may carry one `host:port` colon), unknown types, unknown actions and malformed
 * items are dropped, and repeated resources are merged. `bearerChallenge` writes the one
 * `WWW-Authenticate: Bearer …` value a 401 carries.
 */
import type { Access, Action } from './access.js';

/** Most scope items read from one request; the rest is ignored. */
export const MAX_SCOPE_ITEMS = 64;

const ACTION_ORDER: readonly Action[] = ['pull', 'push', 'delete', '*'];
const TYPE = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/;
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
/** `[host[:port]/]component(/component)*` (a host may hold upper case letters and a port). */
const REPOSITORY_NAME = new RegExp(`^(?:[A-Za-z0-9.-]+:[0-9]+/)?${COMPONENT}(?:/${COMPONENT})*$`);
const REGISTRY_NAME = /^[a-z0-9]+$/;
const MAX_NAME_LENGTH = 255 + 1 + 255;

function isAction(value: string): value is Action {
  return (ACTION_ORDER as readonly string[]).includes(value);
}

/** Parses one `type:name:actions` item; undefined when it is malformed or of an unknown type. */
export function parseScopeItem(item: string): Access | undefined {
  const first = item.indexOf(':');
  const last = item.lastIndexOf(':');
  if (first === -1 || last === first) return undefined;
  const typeMatch = TYPE.exec(item.slice(0, first));
  const name = item.slice(first + 1, last);
  const actionsText = item.slice(last + 1);
  if (typeMatch === null || name.length === 0 || name.length > MAX_NAME_LENGTH) return undefined;
  if (name.indexOf(':') !== name.lastIndexOf(':')) return undefined;
  const type = typeMatch[1];
  const requested = new Set(actionsText.split(',').filter(isAction));
  if (type === 'repository') {
    if (!REPOSITORY_NAME.test(name)) return undefined;
    const actions = ACTION_ORDER.filter((a) => requested.has(a));
    return actions.length === 0 ? undefined : { type: 'repository', name, actions };
  }
  if (type === 'registry' && typeMatch[2] === undefined) {
    if (!REGISTRY_NAME.test(name) || !requested.has('*')) return undefined;
    return { type: 'registry', name, actions: ['*'] };
  }
  return undefined;
}

/** Reads every `scope` value (each may hold several space-separated items) into merged access items. */
export function parseScopes(values: string | readonly string[] | undefined): Access[] {
  const list = values === undefined ? [] : typeof values === 'string' ? [values] : values;
  const merged = new Map<string, { type: Access['type']; name: string; actions: Set<Action> }>();
  let seen = 0;
  for (const value of list) {
    for (const item of value.split(/[ \t]+/)) {
      if (item === '') continue;
      if (++seen > MAX_SCOPE_ITEMS) break;
      const access = parseScopeItem(item);
      if (access === undefined) continue;
      const key = `${access.type} ${access.name}`;
      const entry = merged.get(key) ?? { type: access.type, name: access.name, actions: new Set<Action>() };
      for (const a of access.actions) entry.actions.add(a);
      merged.set(key, entry);
    }
  }
  return [...merged.values()].map((e) => ({ type: e.type, name: e.name, actions: ACTION_ORDER.filter((a) => e.actions.has(a)) }));
}

/** `repository:foo/bar:pull,push registry:catalog:*` (items joined by one space). */
export function formatScope(access: readonly Access[]): string {
  return access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' ');
}

/** RFC 7230 quoted-string content. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export interface BearerChallengeOptions {
  readonly realm: string;
  readonly service: string;
  /** Required access; omitted (or empty) on `/v2/`. */
  readonly scope?: readonly Access[];
  /** `invalid_token` for a bad token, `insufficient_scope` for a valid one with too little access. */
  readonly error?: 'invalid_token' | 'insufficient_scope';
}

/** The value of `WWW-Authenticate` for a Bearer 401, e.g. `Bearer realm="…",service="…",scope="…"`. */
export function bearerChallenge(options: BearerChallengeOptions): string {
  const parts = [`realm=${quote(options.realm)}`, `service=${quote(options.service)}`];
  if (options.scope !== undefined && options.scope.length > 0) parts.push(`scope=${quote(formatScope(options.scope))}`);
  if (options.error !== undefined) parts.push(`error=${quote(options.error)}`);
  return `Bearer ${parts.join(',')}`;
}

/** The value of `WWW-Authenticate` for a Basic 401. */
export function basicChallenge(realm: string): string {
  return `Basic realm=${quote(realm)}`;
}
