/**
 * Repository-name globs of the access policy (`berth.access.rules[].repositories`), parsed and
 * compiled to a RegExp once:
 *
 * - `*` matches any characters within one path component (never `/`);
 * - `**` is a whole component and matches any number of components, zero included
 *   (`team/**` matches `team`, `team/a` and `team/a/b`; `**` alone matches every name);
 * - `?` matches one character other than `/`;
 * - `{user}` is a whole component that matches the caller's user name. It never matches an
 *   anonymous caller, nor a user name that is not a valid single name component (a user called
 *   `bob/x` does not get `users/bob/x/**`), so personal namespaces cannot overlap;
 * - anything else is literal and must be a valid lowercase repository-name character
 *   (`a-z 0-9 . _ -` and `/` between components).
 *
 * A glob with `{user}` keeps its pattern source and compiles the RegExp for a given user on demand;
 * the caller (policy.ts) also caches results per user and name.
 */

export interface RepositoryGlob {
  readonly source: string;
  readonly hasUser: boolean;
  /** Whether `name` matches for the caller `user` (`''` = anonymous). */
  matches(name: string, user: string): boolean;
}

/** A user name that can stand for one repository-name component. */
const USER_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const LITERAL = /^[a-z0-9._-]$/;
const USER_TOKEN = '{user}';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** Throws an Error with a readable reason when the glob is invalid. */
export function compileRepositoryGlob(glob: string): RepositoryGlob {
  if (glob === '') throw new Error('empty repository pattern');
  const components = glob.split('/');
  // Regex pieces; the `{user}` placeholder is spliced in per user.
  const pieces: Array<string | typeof USER_TOKEN> = [];
  let hasUser = false;
  components.forEach((component, index) => {
    const last = index === components.length - 1;
    if (component === '') throw new Error(`empty path component in ${JSON.stringify(glob)}`);
    if (component === '**') {
      if (components[index - 1] === '**') throw new Error(`repeated "**" in ${JSON.stringify(glob)}`);
      // Zero or more whole components, each followed by its slash (or preceded, at the end).
      if (last) pieces.push(index === 0 ? '.*' : '(?:/.*)?');
      else pieces.push('(?:[^/]+/)*');
      return;
    }
    if (component.includes('**')) throw new Error(`"**" must be a whole path component in ${JSON.stringify(glob)}`);
    if (component.includes('{') || component.includes('}')) {
      if (component !== USER_TOKEN) throw new Error(`only "{user}", as a whole path component, may use braces in ${JSON.stringify(glob)}`);
      hasUser = true;
      pieces.push(USER_TOKEN);
    } else {
      let re = '';
      for (const ch of component) {
        if (ch === '*') re += '[^/]*';
        else if (ch === '?') re += '[^/]';
        else if (LITERAL.test(ch)) re += escapeRegExp(ch);
        else throw new Error(`invalid character ${JSON.stringify(ch)} in ${JSON.stringify(glob)} (repository names are lowercase a-z 0-9 . _ -)`);
      }
      pieces.push(re);
    }
    const next = components[index + 1];
    // `a/**` makes its own leading slash optional; other components are joined by `/`.
    if (!last && !(next === '**' && index + 1 === components.length - 1)) pieces.push('/');
  });
  const sourceFor = (user: string): string => `^${pieces.map((p) => (p === USER_TOKEN ? escapeRegExp(user) : p)).join('')}$`;
  if (!hasUser) {
    const re = new RegExp(sourceFor(''));
    return { source: glob, hasUser, matches: (name) => re.test(name) };
  }
  // Compiled per user on demand; a few hundred users' expressions are kept.
  const perUser = new Map<string, RegExp>();
  return {
    source: glob,
    hasUser,
    matches: (name, user) => {
      if (!USER_COMPONENT.test(user)) return false;
      let re = perUser.get(user);
      if (re === undefined) {
        if (perUser.size >= 256) perUser.clear();
        re = new RegExp(sourceFor(user));
        perUser.set(user, re);
      }
      return re.test(name);
    },
  };
}
