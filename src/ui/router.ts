/**
 * The web UI's routes, mounted by the server for browser requests only: `GET /` when the client
 * asks for HTML, and everything under `/ui/` — pages, their JSON twins under `/ui/api/`, the
 * static assets, sign-in/out and deletes. Every read goes through the same access controller as
 * the API (`canPull`, `allows`); every POST needs the session's CSRF token. Pages are rendered on
 * the server (templates in pages/), and every response carries a strict Content-Security-Policy
 * (no inline script or style).
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Access, AccessController, Principal } from '../auth/access.js';
import type { Audit } from '../auth/audit.js';
import { createSessionSigner } from '../auth/session.js';
import type { Config } from '../config/schema.js';
import { parseDigest, type ParsedDigest } from '../core/digest.js';
import { assertName, assertTag } from '../core/reference.js';
import type { Registry } from '../core/registry.js';
import { V1Store } from '../core/v1/store.js';
import { RegistryError } from '../errors/registry-error.js';
import { sendError } from '../http/error-response.js';
import { requestBase } from '../http/request-base.js';
import { mapLimit } from '../smartos/memo.js';
import { parseImageReference } from '../smartos/routes.js';
import { SmartOsService } from '../smartos/service.js';
import { TranslationError, translate } from '../smartos/translate.js';
import { ASSETS_BY_NAME } from './assets.js';
import { CatalogView } from './data/catalog-view.js';
import { ManifestDetails } from './data/manifest-view.js';
import type { SafeHtml } from './html.js';
import { page, type PageContext, type PageOptions } from './layout.js';
import { confirmDeletePage, loginPage, messagePage } from './pages/forms.js';
import { imagePage, type ImageData } from './pages/image.js';
import { listPage, type GcStatus } from './pages/list.js';
import type { PullTarget } from './pages/pull-commands.js';
import { repositoryPage, type TagRow } from './pages/repository.js';
import { UiSessions, type UiIdentity } from './sessions.js';
import { uiUrls } from './urls.js';

export type { GcStatus };

export interface UiDeps {
  readonly registry: Registry;
  readonly config: Config;
  readonly access: AccessController;
  readonly logger: Logger;
  readonly audit: Audit;
  /** Session and CSRF key shared by every node (auth/session.ts); see the server for its source. */
  readonly sessionKey: Buffer;
  /** Garbage-collection status for the home page, once a collector exists (src/ops). */
  readonly gcStatus?: () => Promise<GcStatus | undefined>;
  readonly now?: () => number;
}

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const REPOS_PER_PAGE = 50;
const TAGS_PER_PAGE = 100;
const TAG_HITS = 50;

/** Whether a request for `/` comes from a browser (it prefers HTML), not an API client. */
export function wantsHtml(req: Request): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html');
}

function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

function queryText(req: Request, key: string, max = 200): string {
  const v = req.query[key];
  return typeof v === 'string' ? v.slice(0, max) : '';
}

function pageNumber(req: Request): number {
  const n = Number.parseInt(queryText(req, 'page', 8), 10);
  return Number.isFinite(n) && n > 0 ? n : 1;
}

function bodyText(req: Request, key: string, max = 1024): string | undefined {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) return undefined;
  const v = (body as Record<string, unknown>)[key];
  return typeof v === 'string' ? v.slice(0, max) : undefined;
}

type Ref = { readonly tag: string } | { readonly digest: string };

/** A percent-decoded path segment; malformed escapes are the client's error, not a 500. */
function decodePath(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new RegistryError('NAME_INVALID', { message: 'malformed percent-encoding in the path' });
  }
}

export function createUiRouter(deps: UiDeps): Router {
  const { registry, config, access, logger } = deps;
  const prefix = config.http.prefix;
  const urls = uiUrls(prefix);
  const signer = createSessionSigner(deps.sessionKey, deps.now !== undefined ? { now: deps.now } : {});
  const sessions = new UiSessions(signer, access, { prefix, ...(config.http.baseUrl !== undefined ? { baseUrl: config.http.baseUrl } : {}) });
  const catalog = new CatalogView(registry, access, deps.now !== undefined ? { now: deps.now } : {});
  const details = new ManifestDetails(registry);
  const v1 = new V1Store(registry, { maxLayerBytes: 0, now: () => new Date(), recordBridge: false });
  const smartos = new SmartOsService({ registry, config, access, logger });
  const allows = (principal: Principal, required: readonly Access[]): Promise<boolean> => access.allows?.(principal, required) ?? Promise.resolve(false);
  const deletesOn = config.storage.deleteEnabled && !config.storage.readOnly;
  const canDelete = async (principal: Principal, name: string): Promise<boolean> =>
    deletesOn && (await allows(principal, [{ type: 'repository', name, actions: ['delete'] }]));

  const context = (req: Request, id: UiIdentity): PageContext => ({
    urls,
    user: id.principal.subject,
    csrf: id.csrf,
    signInAvailable: access.signIn !== undefined,
    here: `${prefix}${req.originalUrl.startsWith(prefix) ? req.originalUrl.slice(prefix.length) : req.originalUrl}`.slice(0, 500),
  });

  const send = (res: Response, status: number, ctx: PageContext, options: PageOptions, body: SafeHtml): void => {
    const text = page(ctx, options, body);
    res.status(status);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Vary', 'Cookie');
    res.end(res.req.method === 'HEAD' ? undefined : text);
  };

  const target = (req: Request, name: string, ref: Ref): PullTarget => {
    const base = new URL(requestBase(req, { ...(config.http.baseUrl !== undefined ? { baseUrl: config.http.baseUrl } : {}), prefix: '', relative: false }));
    return { host: base.host, origin: `${base.protocol}//${base.host}`, name, suffix: 'tag' in ref ? `:${ref.tag}` : `@${ref.digest}` };
  };

  /** Pull access on the repository, or the refusal the API would give (401 anonymous, 403 user). */
  const requirePull = async (principal: Principal, name: string): Promise<void> => {
    if (await access.canPull(principal, name)) return;
    if (principal.subject === '') throw new RegistryError('UNAUTHORIZED', { message: 'sign in to see this repository' });
    throw new RegistryError('DENIED', { message: 'you may not see this repository' });
  };

  const fail = (req: Request, res: Response, id: UiIdentity | undefined, error: unknown): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (req.path.startsWith('/ui/api/')) {
      sendError(req, res, error, logger, 'plain');
      return;
    }
    const ctx = id !== undefined ? context(req, id) : { urls, user: '', csrf: '', signInAvailable: false, here: urls.home() };
    if (error instanceof RegistryError && error.status < 500) {
      const titles: Readonly<Record<number, string>> = { 401: 'Sign in required', 403: 'Not allowed', 404: 'Not found', 405: 'Not available', 429: 'Too many requests' };
      if (error.headers?.['Retry-After'] !== undefined) res.setHeader('Retry-After', error.headers['Retry-After']);
      send(res, error.status, ctx, { title: titles[error.status] ?? 'Error' }, messagePage(ctx, titles[error.status] ?? 'Error', error.message, { signIn: error.status === 401 || error.status === 404 }));
      return;
    }
    logger.error({ err: error, path: req.path }, 'ui request failed');
    send(res, 500, ctx, { title: 'Error' }, messagePage(ctx, 'Something went wrong', 'The server could not show this page; the details are in its log.'));
  };

  /** Wraps a handler: security headers, the caller's identity, errors as pages (or JSON). */
  const route =
    (handler: (req: Request, res: Response, id: UiIdentity) => Promise<void>) =>
    async (req: Request, res: Response): Promise<void> => {
      securityHeaders(res);
      let id: UiIdentity | undefined;
      try {
        id = await sessions.identify(req, res);
        await handler(req, res, id);
      } catch (error) {
        fail(req, res, id, error);
      }
    };

  const requireCsrf = (req: Request, id: UiIdentity): void => {
    if (!sessions.checkCsrf(req, id, bodyText(req, 'csrf', 200))) {
      throw new RegistryError('DENIED', { message: 'the form has expired or did not come from this site; reload the page and try again' });
    }
  };

  // ---- pages

  const home = route(async (req, res, id) => {
    const q = queryText(req, 'q');
    const [data, tags, gc] = await Promise.all([
      catalog.page(id.principal, q, pageNumber(req), REPOS_PER_PAGE),
      catalog.findTags(id.principal, q, TAG_HITS),
      deps.gcStatus?.().catch(() => undefined),
    ]);
    const ctx = context(req, id);
    send(res, 200, ctx, { title: q === '' ? 'Repositories' : `Search: ${q}`, noSearch: true }, listPage(ctx, data, tags, gc));
  });

  const tagRows = async (name: string, tags: readonly string[]): Promise<TagRow[]> =>
    mapLimit(tags, 8, async (tag): Promise<TagRow> => {
      const digest = await registry.tags.resolve(name, tag);
      const [summary, referrers, meta] = await Promise.all([
        digest === undefined ? undefined : details.summary(name, digest),
        digest === undefined ? [] : registry.referrers.list(name, digest),
        v1.tagMetadata(name, tag).catch(() => undefined),
      ]);
      return { tag, ...(summary !== undefined ? { summary } : {}), referrers, v1: meta !== undefined };
    });

  const loadRepository = async (principal: Principal, name: string, pageNo: number) => {
    await requirePull(principal, name);
    const tags = await registry.tags.list(name);
    if (tags.length === 0 && !(await registry.repositoryExists(name))) throw new RegistryError('NAME_UNKNOWN', { message: 'no such repository' });
    const pages = Math.max(1, Math.ceil(tags.length / TAGS_PER_PAGE));
    const current = Math.min(pageNo, pages);
    const [rows, usage, deletable] = await Promise.all([
      tagRows(name, tags.slice((current - 1) * TAGS_PER_PAGE, current * TAGS_PER_PAGE)),
      catalog.usage(name).catch(() => undefined),
      canDelete(principal, name),
    ]);
    return { tags, current, rows, usage, deletable };
  };

  const repositoryRoute = route(async (req, res, id) => {
    const name = assertName(decodePath(req.path.slice('/ui/repo/'.length)));
    const repo = await loadRepository(id.principal, name, pageNumber(req));
    const wanted = queryText(req, 'tag');
    const pullTag = repo.tags.includes(wanted) ? wanted : repo.tags.includes('latest') ? 'latest' : repo.tags[0];
    const deleted = queryText(req, 'deleted');
    const ctx = context(req, id);
    send(
      res,
      200,
      ctx,
      { title: name },
      repositoryPage(ctx, {
        name,
        ...(repo.usage !== undefined ? { usage: repo.usage } : {}),
        totalTags: repo.tags.length,
        page: repo.current,
        pageSize: TAGS_PER_PAGE,
        rows: repo.rows,
        ...(pullTag !== undefined ? { pull: target(req, name, { tag: pullTag }) } : {}),
        canDelete: repo.deletable,
        ...(deleted !== '' ? { flash: `Deleted ${deleted}.` } : {}),
      }),
    );
  });

  const smartosOf = async (req: Request, name: string, tag: string | undefined, digest: ParsedDigest): Promise<Pick<ImageData, 'smartos' | 'smartosError'>> => {
    try {
      const loaded = await smartos.load(name, digest);
      const host = smartos.registryHost(req);
      const result =
        tag !== undefined
          ? smartos.translateMemo(host, name, tag, loaded)
          : translate({ registry: host, repository: name, digest: loaded.digest.digest, image: loaded.source });
      return { smartos: { rows: result.layers.map((l) => ({ uuid: l.manifest.uuid, layer: l.blob.digest })), notes: [...loaded.notes, ...result.warnings] } };
    } catch (error) {
      if (error instanceof TranslationError) return { smartosError: `imgadm cannot import this image: ${error.message}` };
      if (error instanceof RegistryError && error.status < 500) return { smartosError: error.message };
      throw error;
    }
  };

  const imageRoute = route(async (req, res, id) => {
    const text = req.path.slice('/ui/image/'.length).split('/').map(decodePath).join('/');
    const { name, ref } = parseImageReference(text);
    await requirePull(id.principal, name);
    const digest = ref.kind === 'digest' ? ref.digest : await registry.tags.resolve(name, ref.tag);
    const found = digest === undefined ? undefined : await details.details(name, digest);
    if (digest === undefined || found === undefined) {
      throw new RegistryError('MANIFEST_UNKNOWN', { message: `${name}${ref.kind === 'tag' ? `:${ref.tag}` : `@${ref.digest.digest}`} is not in the registry` });
    }
    const tag = ref.kind === 'tag' ? ref.tag : undefined;
    const tagCount = (await registry.tags.list(name)).length;
    const [referrers, tags, deletable, smartosPart] = await Promise.all([
      registry.referrers.list(name, digest),
      tagCount <= 500 ? registry.tags.tagsOf(name, digest) : Promise.resolve(tag !== undefined ? [tag] : []),
      canDelete(id.principal, name),
      found.parsed.kind === 'index' || (found.parsed.kind === 'image' && found.parsed.subject === undefined) || found.parsed.kind === 'schema1'
        ? smartosOf(req, name, tag, digest)
        : Promise.resolve({}),
    ]);
    const ctx = context(req, id);
    send(
      res,
      200,
      ctx,
      { title: tag !== undefined ? `${name}:${tag}` : `${name}@${digest.hex.slice(0, 12)}` },
      imagePage(ctx, {
        name,
        ...(tag !== undefined ? { tag } : {}),
        details: found,
        referrers,
        tags,
        pull: target(req, name, tag !== undefined ? { tag } : { digest: digest.digest }),
        ...smartosPart,
        canDelete: deletable,
      }),
    );
  });

  // ---- sign-in, sign-out

  const safeNext = (next: string | undefined): string =>
    next !== undefined && next.startsWith(`${prefix}/`) && !next.startsWith('//') && !next.includes('\\') && !/[\r\n]/.test(next) ? next : urls.home();

  const loginForm = route(async (req, res, id) => {
    if (access.signIn === undefined) throw new RegistryError('UNSUPPORTED', { status: 404, message: 'this registry has no accounts to sign in with' });
    const ctx = context(req, id);
    send(res, 200, ctx, { title: 'Sign in' }, loginPage(ctx, safeNext(queryText(req, 'next', 500))));
  });

  const loginPost = route(async (req, res, id) => {
    const signIn = access.signIn;
    if (signIn === undefined) throw new RegistryError('UNSUPPORTED', { status: 404, message: 'this registry has no accounts to sign in with' });
    requireCsrf(req, id);
    const user = bodyText(req, 'user', 256) ?? '';
    const password = bodyText(req, 'password', 1024) ?? '';
    const next = safeNext(bodyText(req, 'next', 500));
    const principal = user === '' ? undefined : await signIn.call(access, req, user, password);
    if (principal === undefined) {
      const ctx = context(req, id);
      send(res, 401, ctx, { title: 'Sign in' }, loginPage(ctx, next, 'Wrong user name or password.'));
      return;
    }
    sessions.start(req, res, principal.subject);
    res.redirect(303, next);
  });

  const logoutPost = route(async (req, res, id) => {
    requireCsrf(req, id);
    sessions.start(req, res, '');
    res.redirect(303, urls.home());
  });

  // ---- deletes

  const parseTarget = (repo: string, tag: string, digest: string): { name: string; ref: Ref; parsed?: ParsedDigest } => {
    const name = assertName(repo);
    if (tag !== '') return { name, ref: { tag: assertTag(tag) } };
    const parsed = parseDigest(digest);
    return { name, ref: { digest: parsed.digest }, parsed };
  };

  const requireDelete = async (principal: Principal, name: string): Promise<void> => {
    if (!config.storage.deleteEnabled) throw new RegistryError('UNSUPPORTED', { message: 'deletes are disabled on this registry (storage.delete.enabled)' });
    if (config.storage.readOnly) throw new RegistryError('UNSUPPORTED', { message: 'the registry is in read-only mode' });
    if (await canDelete(principal, name)) return;
    if (principal.subject === '') throw new RegistryError('UNAUTHORIZED', { message: 'sign in to delete' });
    throw new RegistryError('DENIED', { message: 'you may not delete in this repository' });
  };

  const deleteConfirm = route(async (req, res, id) => {
    const { name, ref } = parseTarget(queryText(req, 'repo', 300), queryText(req, 'tag', 200), queryText(req, 'digest', 200));
    await requirePull(id.principal, name);
    await requireDelete(id.principal, name);
    const ctx = context(req, id);
    send(res, 200, ctx, { title: 'Delete?' }, confirmDeletePage(ctx, name, ref));
  });

  const deletePost = route(async (req, res, id) => {
    requireCsrf(req, id);
    const { name, ref, parsed } = parseTarget(bodyText(req, 'repo', 300) ?? '', bodyText(req, 'tag', 200) ?? '', bodyText(req, 'digest', 200) ?? '');
    await requirePull(id.principal, name);
    await requireDelete(id.principal, name);
    const removed = 'tag' in ref ? await registry.tags.delete(name, ref.tag) : await registry.manifests.delete(name, parsed as ParsedDigest);
    const label = 'tag' in ref ? `${name}:${ref.tag}` : `${name}@${ref.digest}`;
    if (!removed) throw new RegistryError('MANIFEST_UNKNOWN', { message: `${label} is not in the registry` });
    deps.audit(req, id.principal, {
      api: 'ui',
      action: 'tag' in ref ? 'untag' : 'delete',
      repository: name,
      reference: 'tag' in ref ? ref.tag : ref.digest,
      ...('digest' in ref ? { digest: ref.digest } : {}),
    });
    catalog.forget(name);
    res.redirect(303, `${urls.repo(name)}?${new URLSearchParams({ deleted: label }).toString()}`);
  });

  // ---- JSON twins (same data, same access decisions)

  const apiRepositories = route(async (req, res, id) => {
    const q = queryText(req, 'q');
    const [data, tags] = await Promise.all([catalog.page(id.principal, q, pageNumber(req), REPOS_PER_PAGE), catalog.findTags(id.principal, q, TAG_HITS)]);
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      query: data.query,
      page: data.page,
      pageSize: data.pageSize,
      total: data.total,
      repositories: data.rows.map((r) => ({ name: r.name, tags: r.tags, sizeBytes: r.usage?.totalBytes ?? null })),
      tags,
    });
  });

  const apiRepository = route(async (req, res, id) => {
    const name = assertName(decodePath(req.path.slice('/ui/api/repositories/'.length)));
    const repo = await loadRepository(id.principal, name, pageNumber(req));
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      name,
      totalTags: repo.tags.length,
      page: repo.current,
      usage: repo.usage ?? null,
      canDelete: repo.deletable,
      tags: repo.rows.map((r) => ({
        tag: r.tag,
        digest: r.summary?.digest ?? null,
        mediaType: r.summary?.mediaType ?? null,
        sizeBytes: r.summary?.size ?? null,
        created: r.summary?.created ?? null,
        platforms: r.summary?.platforms ?? [],
        referrers: r.referrers,
        v1: r.v1,
      })),
    });
  });

  const apiSession = route(async (_req, res, id) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ user: id.principal.subject, csrf: id.csrf, signInAvailable: access.signIn !== undefined });
  });

  // ---- wiring

  // strict: `/ui` (redirected) and `/ui/` (the list) are different routes.
  const router = Router({ strict: true });
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
  router.get('/', (req: Request, res: Response, next: NextFunction) => {
    if (!wantsHtml(req)) {
      next();
      return;
    }
    void home(req, res);
  });
  router.get('/ui', (_req: Request, res: Response) => res.redirect(301, urls.home()));
  router.get('/ui/', home);
  router.get('/ui/static/:file', (req: Request, res: Response) => {
    securityHeaders(res);
    const asset = ASSETS_BY_NAME.get(String(req.params['file']));
    if (asset === undefined) {
      res.status(404).type('text/plain').end('not found');
      return;
    }
    res.setHeader('Content-Type', asset.contentType);
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  });
  router.get(/^\/ui\/repo\/.+/, repositoryRoute);
  router.get(/^\/ui\/image\/.+/, imageRoute);
  router.get('/ui/login', loginForm);
  router.post('/ui/login', form, loginPost);
  router.post('/ui/logout', form, logoutPost);
  router.get('/ui/delete', deleteConfirm);
  router.post('/ui/delete', form, deletePost);
  router.get('/ui/api/repositories', apiRepositories);
  router.get(/^\/ui\/api\/repositories\/.+/, apiRepository);
  router.get('/ui/api/session', apiSession);
  router.all(/^\/ui\//, route(async () => {
    throw new RegistryError('UNSUPPORTED', { status: 404, message: 'no such page' });
  }));
  // Body-parser errors (too large, malformed) on UI forms: a page, never a stack trace.
  router.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!req.path.startsWith('/ui/')) {
      next(error);
      return;
    }
    securityHeaders(res);
    const status = typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 500;
    fail(req, res, undefined, status < 500 ? new RegistryError('UNSUPPORTED', { status, message: 'the form could not be read' }) : error);
  });
  return router;
}
