/**
 * IP addresses and CIDR ranges for the rate limiter and the trusted-proxy check: strict parsing of
 * IPv4 (dotted decimal, no leading zeros) and IPv6 (`::`, embedded IPv4 tail, zone id dropped),
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`) treated as the IPv4 address it carries, RFC 5952 formatting,
 * and prefix containment. Addresses are kept as bytes (4 or 16).
 */

export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

export interface CidrRange {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

const IPV4_PART = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4Bytes(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => IPV4_PART.test(p))) return undefined;
  return Uint8Array.from(parts.map(Number));
}

function parseIpv6Bytes(text: string): Uint8Array | undefined {
  const zone = text.indexOf('%');
  const body = zone >= 0 ? text.slice(0, zone) : text;
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? '';
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIpv4Bytes(part);
        if (v4 === undefined) return undefined;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else if (HEX_GROUP.test(part)) out.push(parseInt(part, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 2 ? head.length + tail.length > 7 : head.length !== 8) return undefined;
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

function isMapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Parses an address; IPv4-mapped IPv6 becomes IPv4. Undefined when it is not an address. */
export function parseIp(text: string): IpAddress | undefined {
  const v4 = parseIpv4Bytes(text);
  if (v4 !== undefined) return { family: 4, bytes: v4 };
  if (!text.includes(':')) return undefined;
  const v6 = parseIpv6Bytes(text);
  if (v6 === undefined) return undefined;
  return isMapped(v6) ? { family: 4, bytes: v6.slice(12) } : { family: 6, bytes: v6 };
}

/** Dotted decimal, or RFC 5952 IPv6 (lowercase, longest zero run compressed). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return Array.from(ip.bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** `a.b.c.d/n`, `v6/n`, or a bare address (a single-address range). Mapped ranges become IPv4. */
export function parseCidr(text: string): CidrRange | undefined {
  const slash = text.indexOf('/');
  const addressText = slash >= 0 ? text.slice(0, slash) : text;
  const v4 = parseIpv4Bytes(addressText);
  const bytes = v4 ?? (addressText.includes(':') ? parseIpv6Bytes(addressText) : undefined);
  if (bytes === undefined || addressText.includes('%')) return undefined;
  const bits = bytes.length * 8;
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(?:0|[1-9]\d{0,2})$/.test(p) || Number(p) > bits) return undefined;
    prefix = Number(p);
  }
  if (bytes.length === 16 && isMapped(bytes) && prefix >= 96) return mask({ family: 4, bytes: bytes.slice(12), prefix: prefix - 96 });
  return mask({ family: bytes.length === 4 ? 4 : 6, bytes, prefix });
}

function mask(range: CidrRange): CidrRange {
  const bytes = Uint8Array.from(range.bytes);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, range.prefix - 8 * i));
    bytes[i] = (bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return { family: range.family, bytes, prefix: range.prefix };
}

export function formatCidr(range: CidrRange): string {
  return `${formatIp(range)}/${range.prefix}`;
}

export function cidrContains(range: CidrRange, ip: IpAddress): boolean {
  if (range.family !== ip.family) return false;
  const full = Math.floor(range.prefix / 8);
  for (let i = 0; i < full; i++) if (range.bytes[i] !== ip.bytes[i]) return false;
  const rest = range.prefix % 8;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return ((range.bytes[full] ?? 0) & m) === ((ip.bytes[full] ?? 0) & m);
}

/** The range of the first `prefix` bits of an address (IPv6 clients are limited per /64). */
export function prefixOf(ip: IpAddress, prefix: number): CidrRange {
  return mask({ family: ip.family, bytes: ip.bytes, prefix });
}
