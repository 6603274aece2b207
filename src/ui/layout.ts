/**
 * The page shell every UI page shares: document head (stylesheet, icon and the deferred script,
 * all served by Berth under hashed names), a skip link, the top bar (home link, search box,
 * sign-in state with a CSRF-protected sign-out form), the main landmark, and a polite live region
 * the script announces results and copies in.
 */
import { ASSETS } from './assets.js';
import { html, type SafeHtml } from './html.js';
import type { UiUrls } from './urls.js';

export interface PageContext {
  readonly urls: UiUrls;
  /** The signed-in user, empty for anonymous. */
  readonly user: string;
  readonly csrf: string;
  /** Whether the registry has credentials to sign in with. */
  readonly signInAvailable: boolean;
  /** The path the user is on (for the sign-in `next`). */
  readonly here: string;
}

export interface PageOptions {
  readonly title: string;
  /** Omit the search box in the top bar (the list page has its own). */
  readonly noSearch?: boolean;
  readonly query?: string;
}

export function page(ctx: PageContext, options: PageOptions, body: SafeHtml): string {
  const { urls } = ctx;
  const account =
    ctx.user !== ''
      ? html`<span>Signed in as <strong>${ctx.user}</strong></span>
          <form class="inline" method="post" action="${urls.logout()}"><input type="hidden" name="csrf" value="${ctx.csrf}"><button type="submit" class="secondary">Sign out</button></form>`
      : ctx.signInAvailable
        ? html`<a href="${urls.login(ctx.here)}">Sign in</a>`
        : html``;
  const search = options.noSearch === true
    ? html``
    : html`<form role="search" method="get" action="${urls.home()}"><label class="sr" for="top-q">Search repositories and tags</label><input type="search" id="top-q" name="q" placeholder="Search (press /)" value="${options.query ?? ''}"></form>`;
  return `<!doctype html>\n${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="color-scheme" content="light dark"><meta name="referrer" content="same-origin">
<title>${options.title} · Berth</title>
<link rel="stylesheet" href="${urls.asset(ASSETS.style.name)}"><link rel="icon" href="${urls.asset(ASSETS.icon.name)}" type="image/svg+xml"><script src="${urls.asset(ASSETS.script.name)}" defer></script></head>
<body><a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="${urls.home()}">Berth</a>${search}<nav aria-label="Account">${account}</nav></header>
<main id="main" tabindex="-1">${body}</main>
<div id="live" class="sr" aria-live="polite"></div>
</body></html>`.value}\n`;
}
