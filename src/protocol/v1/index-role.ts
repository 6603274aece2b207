/**
 * The remaining standalone-index endpoints: `GET /v1/_ping` (`{}` with
 * `X-Docker-Registry-Standalone: true`, which imgadm 3.5–3.7 cannot do without), login
 * (`POST /v1/users/` answers 401 so docker 1.x and Joyent's client fall through to checking the
 * credentials with `GET /v1/users/`, which goes through the access controller; accounts are never
 * created over v1) and `GET /v1/search` (repository names from the catalog, with the fields
 * docker's CLI reads).
 */
import { RegistryError } from '../../errors/registry-error.js';
import type { V1Context } from './context.js';
import { sendJson } from './http.js';

export async function ping(ctx: V1Context): Promise<void> {
  sendJson(ctx.req, ctx.res, 200, {});
}

/** `GET /v1/users/`: 200 "OK" when the credentials (Basic, as docker sends them) are accepted. */
export async function checkLogin(ctx: V1Context): Promise<void> {
  await ctx.deps.access.authorize(ctx.req, []);
  sendJson(ctx.req, ctx.res, 200, 'OK');
}

/** `POST /v1/users/`: no sign-up; 401 makes clients verify the credentials with GET instead. */
export async function createUser(ctx: V1Context): Promise<void> {
  ctx.req.resume();
  throw new RegistryError('UNAUTHORIZED', {
    message: 'Accounts cannot be created over the v1 API; log in with existing credentials',
    headers: { 'WWW-Authenticate': 'Basic realm="Berth"' },
  });
}

/** `PUT /v1/users/<name>/`: registry 0.9 ignored profile updates; Berth refuses them openly. */
export async function updateUser(ctx: V1Context): Promise<void> {
  ctx.req.resume();
  throw new RegistryError('UNSUPPORTED', { message: 'Accounts cannot be changed over the v1 API' });
}

const DEFAULT_PAGE_SIZE = 25;

function positive(value: string | null, fallback: number, max: number, what: string): number {
  if (value === null || value === '') return fallback;
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new RegistryError('V1_INVALID', { message: `Invalid ${what}: must be an integer from 1 to ${max}` });
  }
  return Number(value);
}

/** `GET /v1/search?q=&n=&page=`. */
export async function search(ctx: V1Context): Promise<void> {
  const principal = await ctx.deps.access.identify(ctx.req);
  const query = ctx.query.get('q') ?? '';
  const pageSize = positive(ctx.query.get('n'), DEFAULT_PAGE_SIZE, 100, 'n');
  const page = positive(ctx.query.get('page'), 1, 1_000_000, 'page');
  const hits = await ctx.store.search(query, (repository) => ctx.deps.access.canPull(principal, repository));
  const results = hits.slice((page - 1) * pageSize, page * pageSize).map((hit) => ({
    name: hit.name,
    description: hit.description,
    star_count: 0,
    is_official: false,
    is_automated: false,
    is_trusted: false,
  }));
  sendJson(ctx.req, ctx.res, 200, {
    query,
    num_results: hits.length,
    num_pages: Math.max(1, Math.ceil(hits.length / pageSize)),
    page,
    page_size: pageSize,
    results,
  });
}
