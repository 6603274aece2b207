/**
 * The UI's own URLs, in one place, below `http.prefix`. Repository names, tags and digests follow
 * the distribution grammar (letters, digits, `._-/:@`), so they are safe in a path as they are.
 */
export interface UiUrls {
  home(query?: { readonly q?: string; readonly page?: number }): string;
  repo(name: string, query?: { readonly page?: number; readonly tag?: string }): string;
  image(name: string, ref: { readonly tag: string } | { readonly digest: string }): string;
  asset(name: string): string;
  login(next?: string): string;
  logout(): string;
  deleteForm(): string;
  deleteConfirm(name: string, ref: { readonly tag: string } | { readonly digest: string }): string;
}

function qs(params: Record<string, string | number | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '');
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
}

export function uiUrls(prefix: string): UiUrls {
  const base = `${prefix}/ui`;
  return {
    home: (q = {}) => `${base}/${qs({ q: q.q, page: q.page !== undefined && q.page > 1 ? q.page : undefined })}`,
    repo: (name, q = {}) => `${base}/repo/${name}${qs({ tag: q.tag, page: q.page !== undefined && q.page > 1 ? q.page : undefined })}`,
    image: (name, ref) => `${base}/image/${name}${'tag' in ref ? `:${ref.tag}` : `@${ref.digest}`}`,
    asset: (name) => `${base}/static/${name}`,
    login: (next) => `${base}/login${qs({ next })}`,
    logout: () => `${base}/logout`,
    deleteForm: () => `${base}/delete`,
    deleteConfirm: (name, ref) => `${base}/delete${qs({ repo: name, ...('tag' in ref ? { tag: ref.tag } : { digest: ref.digest }) })}`,
  };
}
