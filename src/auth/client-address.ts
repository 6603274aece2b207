/**
 * The client address of a request, for rate limiting and logs. `X-Forwarded-For` is honoured only
 * when the socket's peer is inside `berth.trustedproxies`: the list is walked from the right (the
 * entry the nearest proxy appended) past every trusted proxy, and the first address that is not a
 * trusted proxy is the client. Entries left of it were written by the client and are ignored, so
 * a client cannot choose its own rate-limit key. An unparseable entry ends the walk at the last
 * trusted hop; when every hop is trusted the left-most one is the client. Entries may carry a port
 * (`1.2.3.4:5678`, `[2001:db8::1]:443`). IPv4-mapped IPv6 peers (`::ffff:10.0.0.1`, what a
 * dual-stack socket reports) are treated as IPv4. The result is normalised (RFC 5952 for IPv6).
 */
import type { IncomingMessage } from 'node:http';
import { cidrContains, formatIp, parseCidr, parseIp, type CidrRange, type IpAddress } from './ip-address.js';

export type ClientAddress = (req: IncomingMessage) => string;

/** Parses one X-Forwarded-For entry, allowing a port and IPv6 brackets. */
function parseForwardedEntry(entry: string): IpAddress | undefined {
  const text = entry.trim().replace(/^"(.*)"$/, '$1');
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed !== null) return parseIp(bracketed[1] ?? '');
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  return parseIp(v4WithPort !== null ? (v4WithPort[1] ?? '') : text);
}

/** `trustedProxies`: validated CIDR strings (rate-limit-config.ts). Throws on an invalid one. */
export function createClientAddress(trustedProxies: readonly string[]): ClientAddress {
  const ranges: CidrRange[] = trustedProxies.map((text) => {
    const range = parseCidr(text);
    if (range === undefined) throw new Error(`berth.trustedproxies: invalid range ${JSON.stringify(text)}`);
    return range;
  });
  const trusted = (ip: IpAddress): boolean => ranges.some((r) => cidrContains(r, ip));
  return (req) => {
    const remote = req.socket.remoteAddress ?? '';
    const peer = parseIp(remote);
    if (peer === undefined) return remote === '' ? 'unknown' : remote;
    if (ranges.length === 0 || !trusted(peer)) return formatIp(peer);
    const header = req.headers['x-forwarded-for'];
    const entries = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').filter((e) => e.trim() !== '');
    let client = peer;
    for (let i = entries.length - 1; i >= 0; i--) {
      const hop = parseForwardedEntry(entries[i] ?? '');
      if (hop === undefined) break;
      client = hop;
      if (!trusted(hop)) break;
    }
    return formatIp(client);
  };
}
