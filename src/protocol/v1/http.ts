/**
 * HTTP conventions of the v1 API as registry 0.9 (and so every v1 client) knew them: JSON bodies
 * (`true` for a successful write), the version/standalone headers on every response, `no-cache`
 * on mutable answers and a one-year cache (with registry 0.9's unconditional 304 on
 * If-Modified-Since) on immutable ones, the index role's token/endpoint headers, capped body
 * reading, and single byte ranges for layers.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../config/schema.js';
import { RegistryError } from '../../errors/registry-error.js';

/** The registry version v1 clients are told (the last release of the Python registry). */
export const V1_REGISTRY_VERSION = '0.9.1';

/** On every v1 response (errors too); immutable answers replace the cache headers. */
export function setCommonHeaders(res: ServerResponse): void {
  res.setHeader('X-Docker-Registry-Version', V1_REGISTRY_VERSION);
  res.setHeader('X-Docker-Registry-Standalone', 'true');
  noCache(res);
}

export function noCache(res: ServerResponse): void {
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Expires', '-1');
}

export function immutable(res: ServerResponse, now: Date): void {
  res.removeHeader('Pragma');
  res.setHeader('Cache-Control', 'public, max-age=31536000');
  res.setHeader('Expires', new Date(now.getTime() + 365 * 24 * 3600 * 1000).toUTCString());
  res.setHeader('Last-Modified', new Date(0).toUTCString());
}

/** registry 0.9 answered any conditional GET of an immutable object with 304. */
export function notModified(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.headers['if-modified-since'] === undefined) return false;
  res.statusCode = 304;
  res.end();
  return true;
}

export function sendBytes(req: IncomingMessage, res: ServerResponse, status: number, body: Buffer, contentType = 'application/json'): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', body.length);
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown, cache: 'none' | 'keep' = 'none'): void {
  if (cache === 'none') noCache(res);
  sendBytes(req, res, status, Buffer.from(JSON.stringify(value)));
}

/** registry 0.9's answer to a successful write. */
export function sendTrue(req: IncomingMessage, res: ServerResponse): void {
  sendJson(req, res, 200, true);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  noCache(res);
  res.statusCode = status;
  res.setHeader('Content-Length', 0);
  res.end();
}

/** Reads a small request body (JSON), refusing more than `max` bytes with 413. */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  const tooLarge = (): RegistryError =>
    new RegistryError('SIZE_INVALID', { status: 413, message: `request body exceeds the ${max} byte limit`, detail: { limit: max } });
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > max) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > max) throw tooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The `host[:port]` v1 clients should use as registry endpoint (X-Docker-Endpoints). */
export function endpointOf(req: IncomingMessage, config: Config): string {
  if (config.http.baseUrl !== undefined) return new URL(config.http.baseUrl).host;
  return req.headers.host ?? `${config.http.host}:${config.http.port}`;
}

export type TokenAccess = 'read' | 'write' | 'delete';

/**
 * The index role's answer headers: a session token (`X-Docker-Token`, echoed in
 * `WWW-Authenticate`, replayed by clients as `Authorization: Token …`) and the registry endpoint.
 * With auth on, the token is a signed session token naming the user (auth/v1-tokens.ts); without,
 * it is opaque and never checked, as in registry 0.9's standalone mode. Either way access is
 * decided by the access controller on every request. The header carries no leading `Token` word:
 * docker adds it itself.
 */
export function indexHeaders(
  req: IncomingMessage,
  res: ServerResponse,
  config: Config,
  repository: string,
  access: TokenAccess,
  signed: string | undefined,
): void {
  const token = signed ?? `signature=${randomBytes(16).toString('hex')},repository="${repository}",access=${access}`;
  res.setHeader('X-Docker-Token', token);
  res.setHeader('WWW-Authenticate', `Token ${token}`);
  res.setHeader('X-Docker-Endpoints', endpointOf(req, config));
}

/** docker/<x.y> older than 0.10 in a User-Agent (registry 0.9 refused their layer pushes: 412). */
export function isDockerBefore010(userAgent: string | undefined): boolean {
  const m = /(?:^|[\s(])docker\/(\d+)\.(\d+)/i.exec(userAgent ?? '');
  return m !== null && Number(m[1]) === 0 && Number(m[2]) < 10;
}
