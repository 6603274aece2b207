/**
 * bench/lib/auth/probes.ts — the single requests around the load of the authenticated benchmark:
 * the correctness checks before a measurement (no credentials → 401 with a challenge of the mode's
 * scheme; the measured credentials → 200 with the pushed manifest byte for byte), getting a token
 * from Berth's token server the way docker does (401 challenge on /v2/ → GET <realm>?service=…&
 * scope=repository:<repo>:pull with Basic credentials), and the sequential wrong-password loop.
 */
import { header, request } from '../http.js';
import { SCHEMA2, type ImageFixture } from '../workloads.js';

function fail(msg: string): never {
  throw new Error(msg);
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export function manifestUrl(base: string, img: ImageFixture): string {
  return `${base}/v2/${img.repo}/manifests/latest`;
}

/** GET without credentials must be 401 with a `WWW-Authenticate` of `scheme`. */
export async function expectChallenge(base: string, img: ImageFixture, scheme: 'Basic' | 'Bearer'): Promise<string> {
  const url = manifestUrl(base, img);
  const r = await request(url, { method: 'GET', headers: { accept: SCHEMA2 } });
  if (r.status !== 401) fail(`GET ${url} without credentials: expected 401, got ${r.status}`);
  const challenge = header(r.headers, 'www-authenticate') ?? fail(`GET ${url}: 401 without WWW-Authenticate`);
  if (!challenge.toLowerCase().startsWith(scheme.toLowerCase())) fail(`GET ${url}: challenge ${challenge}, expected ${scheme}`);
  return challenge;
}

/** GET with `authorization` (or none) must be 200 with the pushed manifest; returns the latency in ms. */
export async function expectManifest(base: string, img: ImageFixture, authorization: string | undefined): Promise<number> {
  const url = manifestUrl(base, img);
  const headers: Record<string, string> = { accept: SCHEMA2 };
  if (authorization !== undefined) headers['authorization'] = authorization;
  const t0 = process.hrtime.bigint();
  const r = await request(url, { method: 'GET', headers });
  const took = ms(t0);
  if (r.status !== 200) fail(`GET ${url}: status ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  if (!r.body.equals(img.manifest)) fail(`GET ${url}: body differs from the pushed manifest`);
  const d = header(r.headers, 'docker-content-digest');
  if (d !== img.manifestDigest) fail(`GET ${url}: Docker-Content-Digest ${String(d)}`);
  return took;
}

function challengeParam(challenge: string, name: string): string | undefined {
  return new RegExp(`${name}="([^"]*)"`).exec(challenge)?.[1];
}

export interface FetchedToken {
  readonly token: string;
  /** The token request URL (realm with service and scope). */
  readonly url: string;
  readonly service: string;
  readonly expiresIn: number;
  /** Latency of the token request (one bcrypt compare) in ms. */
  readonly ms: number;
}

/** The token request URL docker builds from the challenge: `<realm>?service=<service>&scope=repository:<repo>:pull`. */
export async function tokenUrl(base: string, img: ImageFixture): Promise<string> {
  const challenge = await expectChallenge(base, img, 'Bearer');
  const realm = challengeParam(challenge, 'realm') ?? fail(`challenge without realm: ${challenge}`);
  const service = challengeParam(challenge, 'service') ?? fail(`challenge without service: ${challenge}`);
  const url = new URL(realm);
  url.searchParams.set('service', service);
  url.searchParams.append('scope', `repository:${img.repo}:pull`);
  return url.toString();
}

/** docker's way: the challenge names realm and service; GET the realm with Basic credentials. */
export async function fetchToken(base: string, img: ImageFixture, basic: string): Promise<FetchedToken> {
  const url = await tokenUrl(base, img);
  const t0 = process.hrtime.bigint();
  const r = await request(url, { method: 'GET', headers: { authorization: basic } });
  const took = ms(t0);
  if (r.status !== 200) fail(`GET ${url}: status ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  const body = JSON.parse(r.body.toString('utf8')) as { token?: unknown; access_token?: unknown; expires_in?: unknown };
  const token = typeof body.token === 'string' ? body.token : fail(`token response without token: ${r.body.toString('utf8').slice(0, 300)}`);
  if (body.access_token !== token) fail('token response: access_token differs from token');
  const u = new URL(url);
  return { token, url, service: u.searchParams.get('service') ?? '', expiresIn: typeof body.expires_in === 'number' ? body.expires_in : Number.NaN, ms: took };
}

export interface LoopResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** status → count */
  readonly statuses: Record<string, number>;
  /** Sequence of statuses, in order. */
  readonly sequence: number[];
  /** Latencies (ms) per status. */
  readonly latencyMs: Record<string, number[]>;
  readonly retryAfter: string[];
}

/** `n` sequential GETs of `url` with `authorization`, each on a new connection, timed one by one. */
export async function sequentialLoop(url: string, authorization: string, n: number, accept = SCHEMA2): Promise<LoopResult> {
  const statuses: Record<string, number> = {};
  const latencyMs: Record<string, number[]> = {};
  const sequence: number[] = [];
  const retryAfter: string[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const ti = process.hrtime.bigint();
    const r = await request(url, { method: 'GET', headers: { accept, authorization }, timeoutMs: 30_000 });
    const took = ms(ti);
    const k = String(r.status);
    statuses[k] = (statuses[k] ?? 0) + 1;
    (latencyMs[k] ??= []).push(took);
    sequence.push(r.status);
    const ra = header(r.headers, 'retry-after');
    if (ra !== undefined) retryAfter.push(ra);
  }
  const seconds = ms(t0) / 1000;
  return { requests: n, seconds, rps: n / seconds, statuses, sequence, latencyMs, retryAfter };
}
