/**
 * JSON written the way Go's encoding/json writes it, so that documents Berth synthesizes (v1 image
 * JSON, schema1 manifests, schema2 configs) are byte-identical to the ones distribution and docker
 * produced for the same input: HTML-safe string escapes (`<` → `\u003c`), map keys sorted by
 * bytes, raw values kept as written but compacted (`json.RawMessage` inside a map), and
 * `json.MarshalIndent` layout. Also a scanner that splits a JSON object into its keys and raw
 * value texts without re-encoding numbers or strings (Go's `map[string]*json.RawMessage`).
 */

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;

function escapeChar(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** A JSON string literal as Go's json.Marshal writes it (HTML characters escaped). */
export function goString(value: string): string {
  return JSON.stringify(value).replace(HTML_UNSAFE, escapeChar);
}

/** A JSON value as Go's json.Marshal writes it: strings escaped as {@link goString}, compact. */
export function goMarshal(value: unknown): string {
  return JSON.stringify(value).replace(HTML_UNSAFE, escapeChar);
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/** Go's json.Compact with HTML escaping: insignificant whitespace removed, nothing else changed. */
export function compactRaw(raw: string): string {
  let out = '';
  let inString = false;
  let escaped = false;
  for (const c of raw) {
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      out += c === '<' || c === '>' || c === '&' || c === '\u2028' || c === '\u2029' ? escapeChar(c) : c;
      continue;
    }
    if (isSpace(c)) continue;
    if (c === '"') inString = true;
    out += c;
  }
  return out;
}

/** End index (exclusive) of the JSON string literal starting at `start` (a `"`). */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '"') return i + 1;
  }
  throw new SyntaxError('unterminated string');
}

/** End index (exclusive) of the JSON value starting at `start`. */
function valueEnd(text: string, start: number): number {
  const first = text[start];
  if (first === '"') return stringEnd(text, start);
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let i = start; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        i = stringEnd(text, i) - 1;
      } else if (c === '{' || c === '[') {
        depth++;
      } else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    throw new SyntaxError('unterminated container');
  }
  let i = start;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (c === ',' || c === '}' || c === ']' || isSpace(c)) break;
    i++;
  }
  return i;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text[i] ?? '')) i++;
  return i;
}

/**
 * The members of a JSON object as `key → raw value text` (Go's `map[string]*json.RawMessage`:
 * a later duplicate key replaces an earlier one). Throws SyntaxError unless `text` is a valid
 * JSON object.
 */
export function rawMembers(text: string): Map<string, string> {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SyntaxError('not a JSON object');
  const members = new Map<string, string>();
  let i = skipSpace(text, 0) + 1; // past '{'
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] === '}') return members;
    if (text[i] === ',') i = skipSpace(text, i + 1);
    const keyEnd = stringEnd(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd) + 1; // past ':'
    i = skipSpace(text, i);
    const end = valueEnd(text, i);
    members.set(key, text.slice(i, end));
    i = end;
  }
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A `map[string]*json.RawMessage` marshalled by Go: keys sorted bytewise, values compacted. */
export function marshalRawMap(members: ReadonlyMap<string, string>): string {
  const keys = [...members.keys()].sort(compareUtf8);
  return `{${keys.map((k) => `${goString(k)}:${compactRaw(members.get(k) ?? 'null')}`).join(',')}}`;
}

/** A JSON value for {@link goIndent}: objects keep their key order (Go struct field order). */
export type GoValue = string | number | boolean | null | readonly GoValue[] | { readonly [key: string]: GoValue };

/** Go's json.MarshalIndent(value, prefix, indent) for plain values (struct order = key order). */
export function goIndent(value: GoValue, prefix: string, indent: string): string {
  const write = (v: GoValue, depth: number): string => {
    if (v === null || typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
    if (typeof v === 'string') return goString(v);
    const pad = prefix + indent.repeat(depth + 1);
    const close = prefix + indent.repeat(depth);
    if (Array.isArray(v)) {
      const items = v as readonly GoValue[];
      if (items.length === 0) return '[]';
      return `[\n${items.map((item) => pad + write(item, depth + 1)).join(',\n')}\n${close}]`;
    }
    const entries = Object.entries(v as { readonly [key: string]: GoValue });
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, item]) => `${pad}${goString(k)}: ${write(item, depth + 1)}`).join(',\n')}\n${close}}`;
  };
  return write(value, 0);
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** Go's zero time, as json.Marshal writes an unset time.Time. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * An RFC 3339 time as Go re-marshals it after parsing (RFC3339Nano: trailing zeros of the fraction
 * dropped, a zero offset written as `Z`). Anything else is returned unchanged.
 */
export function goTime(value: string): string {
  const m = RFC3339.exec(value);
  if (m === null) return value;
  const [, base = '', fraction = '', zone = ''] = m;
  const digits = fraction.slice(1, 10).replace(/0+$/, '');
  const offset = zone.toUpperCase() === 'Z' || zone === '+00:00' || zone === '-00:00' ? 'Z' : zone;
  return `${base.toUpperCase()}${digits === '' ? '' : `.${digits}`}${offset}`;
}
