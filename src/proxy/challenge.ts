/**
 * Parses an upstream's `WWW-Authenticate` header (RFC 7235): the first `Basic` or `Bearer`
 * challenge with its parameters (`realm`, `service`, `scope`, quoted or not). Pure.
 */

export interface Challenge {
  readonly scheme: 'basic' | 'bearer';
  readonly params: Readonly<Record<string, string>>;
}

/** Splits `a="x, y", b=z, Bearer c=d` into tokens, honouring quotes. */
function* tokens(header: string): Generator<{ readonly word: string; readonly value?: string }> {
  let i = 0;
  const n = header.length;
  while (i < n) {
    while (i < n && (header[i] === ',' || header[i] === ' ' || header[i] === '\t')) i++;
    if (i >= n) return;
    let word = '';
    while (i < n && !/[\s,=]/.test(header[i] ?? '')) word += header[i++];
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
    if (header[i] !== '=') {
      if (word !== '') yield { word };
      continue;
    }
    i++;
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
    let value = '';
    if (header[i] === '"') {
      i++;
      while (i < n && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < n) i++;
        value += header[i++];
      }
      i++;
    } else {
      while (i < n && header[i] !== ',') value += header[i++];
      value = value.trim();
    }
    yield { word, value };
  }
}

/** The first Basic or Bearer challenge of the header, or undefined. */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (header === null || header === undefined || header.length > 8192) return undefined;
  let current: { scheme: string; params: Record<string, string> } | undefined;
  const found: { scheme: string; params: Record<string, string> }[] = [];
  for (const t of tokens(header)) {
    if (t.value === undefined) {
      current = { scheme: t.word.toLowerCase(), params: Object.create(null) as Record<string, string> };
      found.push(current);
    } else if (current !== undefined) {
      const key = t.word.toLowerCase();
      if (!(key in current.params)) current.params[key] = t.value;
    }
  }
  const first = found.find((c) => c.scheme === 'basic' || c.scheme === 'bearer');
  return first === undefined ? undefined : { scheme: first.scheme as 'basic' | 'bearer', params: first.params };
}
