/**
 * Who is using the UI: the session cookie (auth/session.ts: signed, stateless, shared by every
 * node) read on each request and turned into a principal, a new anonymous session set when the
 * browser has none (so every form can carry a CSRF token, sign-in included), and the CSRF check
 * for state-changing requests: the token must match the session, and a browser-sent Origin or
 * `Sec-Fetch-Site` must not name another site. The cookie is HttpOnly and SameSite=Strict, Secure
 * when the request came over HTTPS, scoped to `http.prefix`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessController, Principal } from '../auth/access.js';
import type { Session, SessionSigner } from '../auth/session.js';
import { firstHeader } from '../http/request-base.js';

export const COOKIE = 'berth_ui';

export interface UiIdentity {
  readonly principal: Principal;
  readonly session: Session;
  readonly csrf: string;
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function isHttps(req: IncomingMessage, baseUrl: string | undefined): boolean {
  if (baseUrl !== undefined) return baseUrl.startsWith('https:');
  return (req.socket as { encrypted?: boolean }).encrypted === true || firstHeader(req, 'x-forwarded-proto') === 'https';
}

export class UiSessions {
  constructor(
    private readonly signer: SessionSigner,
    private readonly access: AccessController,
    private readonly options: { readonly prefix: string; readonly baseUrl?: string },
  ) {}

  /** The caller's identity; sets a fresh anonymous session cookie when there is no valid one. */
  async identify(req: IncomingMessage, res: ServerResponse): Promise<UiIdentity> {
    let session = this.signer.decode(readCookie(req, COOKIE));
    if (session !== undefined && session.subject !== '') {
      const stillThere = this.access.signIn === undefined ? false : this.access.knows === undefined ? true : await this.access.knows(session.subject);
      if (!stillThere) session = undefined;
    }
    if (session === undefined) session = this.start(req, res, '');
    return { principal: { subject: session.subject }, session, csrf: this.signer.csrfToken(session) };
  }

  /** Starts a new session (fresh nonce) for the subject and sets its cookie. */
  start(req: IncomingMessage, res: ServerResponse, subject: string): Session {
    const session = this.signer.create(subject);
    const attributes = [`Path=${this.options.prefix}/`, 'HttpOnly', 'SameSite=Strict', `Max-Age=${this.signer.lifetimeSeconds}`];
    if (isHttps(req, this.options.baseUrl)) attributes.push('Secure');
    res.setHeader('Set-Cookie', `${COOKIE}=${this.signer.encode(session)}; ${attributes.join('; ')}`);
    return session;
  }

  /** Whether a state-changing request carries this session's CSRF token and comes from this site. */
  checkCsrf(req: IncomingMessage, identity: UiIdentity, token: string | undefined): boolean {
    const site = firstHeader(req, 'sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
    const origin = firstHeader(req, 'origin');
    if (origin !== undefined && origin !== 'null') {
      let host: string;
      try {
        host = new URL(origin).host;
      } catch {
        return false;
      }
      const expected = this.options.baseUrl !== undefined ? new URL(this.options.baseUrl).host : (firstHeader(req, 'x-forwarded-host') ?? req.headers.host);
      if (host !== expected) return false;
    }
    return this.signer.checkCsrf(identity.session, token);
  }
}
