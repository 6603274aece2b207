/**
 * Listen addresses as distribution writes them: `host:port`, `[v6]:port` or `:port` (all
 * interfaces).
 */

/** `{host, port}`, or undefined when `addr` is not a valid listen address. */
export function parseAddr(addr: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}
