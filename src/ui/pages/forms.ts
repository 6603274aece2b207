/**
 * The UI's small pages: sign-in, delete confirmation, and messages (errors, refusals). Every form
 * posts a CSRF token; the confirmation page is what makes a delete need two deliberate steps
 * without any script.
 */
import { html, type SafeHtml } from '../html.js';
import type { PageContext } from '../layout.js';

export function loginPage(ctx: PageContext, next: string, error?: string): SafeHtml {
  return html`<h1>Sign in</h1>
${error !== undefined ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="${ctx.urls.login()}" class="card">
<input type="hidden" name="csrf" value="${ctx.csrf}">
<input type="hidden" name="next" value="${next}">
<label for="user">User name</label><input type="text" id="user" name="user" autocomplete="username" required autofocus>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p>
</form>
<p class="muted">Use the credentials you give <code>docker login</code>.</p>`;
}

export function confirmDeletePage(ctx: PageContext, name: string, ref: { readonly tag: string } | { readonly digest: string }): SafeHtml {
  const isTag = 'tag' in ref;
  const what = isTag ? html`the tag <code>${name}:${ref.tag}</code>` : html`the manifest <code>${name}@${ref.digest}</code> and every tag pointing at it`;
  return html`<h1>Delete ${isTag ? 'tag' : 'manifest'}?</h1>
<p>This deletes ${what}. ${isTag ? 'The image stays available by digest and under its other tags.' : 'Clients can no longer pull it from this repository.'}</p>
<form method="post" action="${ctx.urls.deleteForm()}" class="card">
<input type="hidden" name="csrf" value="${ctx.csrf}">
<input type="hidden" name="repo" value="${name}">
${isTag ? html`<input type="hidden" name="tag" value="${ref.tag}">` : html`<input type="hidden" name="digest" value="${ref.digest}">`}
<button type="submit" class="danger">Delete</button> <a href="${isTag ? ctx.urls.repo(name) : ctx.urls.image(name, ref)}">Cancel</a>
</form>`;
}

export function messagePage(ctx: PageContext, title: string, message: string, options: { readonly signIn?: boolean } = {}): SafeHtml {
  return html`<h1>${title}</h1><p class="error" role="alert">${message}</p>
${options.signIn === true && ctx.user === '' && ctx.signInAvailable ? html`<p><a href="${ctx.urls.login(ctx.here)}">Sign in</a> to see more.</p>` : ''}
<p><a href="${ctx.urls.home()}">Back to the repositories</a></p>`;
}
