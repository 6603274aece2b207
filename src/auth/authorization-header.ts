/**
 * Parses the `Authorization` request header into Basic credentials, a Bearer token or v1 `Token`
 * fields. Pure: no I/O, no verification. A header that is present but malformed (Basic without a
 * colon, bad base64, invalid UTF-8, empty user, control characters, over
 * {@link MAX_AUTHORIZATION_LENGTH}) throws {@link MalformedAuthorizationError}, which callers answer
 * with 401 and their challenge. An absent header or an unknown scheme yields `undefined`.
 */

/** Longest Authorization value accepted, in characters (8 KiB). */
export const MAX_AUTHORIZATION_LENGTH = 8 * 1024;

export type AuthorizationHeader =
  | { readonly scheme: 'basic'; readonly user: string; readonly password: string }
  | { readonly scheme: 'bearer'; readonly token: string }
  | { readonly scheme: 'token'; readonly fields: Readonly<Record<string, string>> };

export type MalformedReason =
  | 'too_long'
  | 'no_credentials'
  | 'bad_base64'
  | 'bad_utf8'
  | 'no_colon'
  | 'empty_user'
  | 'control_characters'
  | 'bad_token';

/** A present but unusable Authorization header (answer 401). Never carries the header's value. */
export class MalformedAuthorizationError extends Error {
  override readonly name = 'MalformedAuthorizationError';
  constructor(readonly reason: MalformedReason) {
    super(`malformed Authorization header: ${reason}`);
  }
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** RFC 6750 b64token (JWTs use only `A-Za-z0-9-_.`). */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** base64(":"): what containers/image sends on a Basic challenge without credentials. */
const ANONYMOUS_BASIC = 'Og==';
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeBasic(encoded: string): { user: string; password: string } {
  if (encoded === '') throw new MalformedAuthorizationError('no_credentials');
  if (!BASE64.test(encoded) || encoded.replace(/=+$/, '').length % 4 === 1) throw new MalformedAuthorizationError('bad_base64');
  const padded = encoded.replace(/=+$/, '');
  // Padding, when present, must be exactly what the length requires.
  if (encoded.length !== padded.length && encoded.length % 4 !== 0) throw new MalformedAuthorizationError('bad_base64');
  let text: string;
  try {
    text = utf8.decode(Buffer.from(padded, 'base64'));
  } catch {
    throw new MalformedAuthorizationError('bad_utf8');
  }
  const colon = text.indexOf(':');
  if (colon === -1) throw new MalformedAuthorizationError('no_colon');
  const user = text.slice(0, colon);
  const password = text.slice(colon + 1);
  if (user === '') throw new MalformedAuthorizationError('empty_user');
  if (CONTROL.test(user) || CONTROL.test(password)) throw new MalformedAuthorizationError('control_characters');
  return { user, password };
}

/**
 * v1 `Token` credentials, read leniently: leading `Token` words are skipped (docker sends
 * `Token Token signature=…` when the registry included the word), then `k=v` / `k="v"` pairs
 * separated by commas. Pairs without `=` are ignored; no pair at all is malformed.
 */
function parseTokenFields(rest: string): Record<string, string> {
  let text = rest.trim();
  while (/^token(\s+|$)/i.test(text)) text = text.replace(/^token\s*/i, '');
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === ',' || text[i] === ' ' || text[i] === '\t')) i++;
    const eq = text.indexOf('=', i);
    const comma = text.indexOf(',', i);
    if (eq === -1 || (comma !== -1 && comma < eq)) {
      // A word without '=': skip to the next comma.
      i = comma === -1 ? text.length : comma + 1;
      continue;
    }
    const key = text.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
      i++; // closing quote
      const next = text.indexOf(',', i);
      i = next === -1 ? text.length : next + 1;
    } else {
      const next = text.indexOf(',', i);
      value = (next === -1 ? text.slice(i) : text.slice(i, next)).trim();
      i = next === -1 ? text.length : next + 1;
    }
    if (key !== '' && !(key in fields)) fields[key] = value;
  }
  if (Object.keys(fields).length === 0) throw new MalformedAuthorizationError('bad_token');
  return fields;
}

/** Whether the value is Basic with empty user and password (anonymous, see module comment). */
export function isAnonymousBasic(value: string): boolean {
  const trimmed = value.trim();
  return /^basic[ \t]/i.test(trimmed) && trimmed.slice(6).trim() === ANONYMOUS_BASIC;
}

/** Parses one Authorization value (see module comment). */
export function parseAuthorization(value: string | undefined): AuthorizationHeader | undefined {
  if (value === undefined) return undefined;
  if (value.length > MAX_AUTHORIZATION_LENGTH) throw new MalformedAuthorizationError('too_long');
  if (CONTROL.test(value.replace(/\t/g, ' '))) throw new MalformedAuthorizationError('control_characters');
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  const space = trimmed.search(/[ \t]/);
  const scheme = (space === -1 ? trimmed : trimmed.slice(0, space)).toLowerCase();
  const rest = space === -1 ? '' : trimmed.slice(space + 1).trim();
  switch (scheme) {
    case 'basic':
      if (rest === ANONYMOUS_BASIC) return undefined;
      return { scheme: 'basic', ...decodeBasic(rest) };
    case 'bearer':
      if (!B64TOKEN.test(rest)) throw new MalformedAuthorizationError(rest === '' ? 'no_credentials' : 'bad_token');
      return { scheme: 'bearer', token: rest };
    case 'token':
      return { scheme: 'token', fields: parseTokenFields(rest) };
    default:
      return undefined;
  }
}
