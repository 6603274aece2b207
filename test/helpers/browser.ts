/**
 * A real browser for the UI's end-to-end suite: Debian's chromium (`/usr/bin/chromium`, installed
 * by test/setup/50-chromium.sh) driven by playwright-core — never a browser download — and
 * axe-core's source for accessibility checks. Both packages are resolved like any dependency
 * (node_modules), then through `NODE_PATH` entries (a private install prefix during development).
 * Only the few Playwright calls the suite makes are typed here, so the suite compiles whether or
 * not the package is installed; `missingBrowser()` says why the suite must skip.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';

export interface PwLocator {
  click(options?: { readonly timeout?: number }): Promise<void>;
  fill(value: string): Promise<void>;
  textContent(): Promise<string | null>;
  count(): Promise<number>;
  first(): PwLocator;
  locator(selector: string): PwLocator;
  waitFor(options?: { readonly state?: 'visible' | 'hidden' | 'attached' | 'detached'; readonly timeout?: number }): Promise<void>;
  press(key: string): Promise<void>;
  pressSequentially(text: string, options?: { readonly delay?: number }): Promise<void>;
}

export interface PwPage {
  goto(url: string, options?: { readonly waitUntil?: 'load' | 'domcontentloaded' | 'networkidle' }): Promise<{ status(): number } | null>;
  locator(selector: string): PwLocator;
  getByRole(role: string, options?: { readonly name?: string | RegExp; readonly exact?: boolean }): PwLocator;
  evaluate<T>(expression: string): Promise<T>;
  screenshot(options: { readonly path: string; readonly fullPage?: boolean }): Promise<Buffer>;
  url(): string;
  waitForURL(url: string | RegExp, options?: { readonly timeout?: number }): Promise<void>;
  keyboard: { press(key: string): Promise<void> };
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
  close(): Promise<void>;
}

export interface PwContext {
  newPage(): Promise<PwPage>;
  close(): Promise<void>;
}

export interface PwBrowser {
  newContext(options?: { readonly javaScriptEnabled?: boolean; readonly colorScheme?: 'light' | 'dark'; readonly viewport?: { readonly width: number; readonly height: number } }): Promise<PwContext>;
  close(): Promise<void>;
}

interface PlaywrightCore {
  readonly chromium: { launch(options: { readonly executablePath: string; readonly headless: boolean; readonly args: readonly string[]; readonly timeout?: number }): Promise<PwBrowser> };
}

function requireFromAnywhere(id: string): { readonly value: unknown; readonly path: string } | undefined {
  const bases = [import.meta.url, ...(process.env['NODE_PATH'] ?? '').split(':').filter((p) => p !== '').map((dir) => join(dir, 'noop.js'))];
  for (const base of bases) {
    try {
      const req = createRequire(base);
      const path = req.resolve(id);
      return { value: req(id) as unknown, path };
    } catch {
      // try the next place
    }
  }
  return undefined;
}

/** Why the browser suite cannot run here, or undefined when it can. */
export function missingBrowser(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (test/setup/50-chromium.sh installs Debian's chromium)`;
  if (requireFromAnywhere('playwright-core') === undefined) return 'playwright-core is not installed (devDependency)';
  if (requireFromAnywhere('axe-core') === undefined) return 'axe-core is not installed (devDependency)';
  return undefined;
}

export async function launchChromium(): Promise<PwBrowser> {
  const pw = requireFromAnywhere('playwright-core')?.value as PlaywrightCore | undefined;
  if (pw === undefined) throw new Error('playwright-core is not installed');
  return pw.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 20_000 });
}

/** axe-core's browser bundle (evaluated in the page by the suite). */
export function axeSource(): string {
  const found = requireFromAnywhere('axe-core');
  if (found === undefined) throw new Error('axe-core is not installed');
  return readFileSync(found.path.replace(/axe(\.min)?\.js$/, 'axe.min.js'), 'utf8');
}

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly targets: readonly string[];
}

/** Runs axe-core in the page; serious and critical violations. */
export async function seriousViolations(page: PwPage, source: string): Promise<AxeViolation[]> {
  const loaded = await page.evaluate<boolean>('typeof window.axe === "object"');
  if (!loaded) await page.evaluate<unknown>(`${source}\n;void 0`);
  return page.evaluate<AxeViolation[]>(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations
       .filter((v) => v.impact === 'serious' || v.impact === 'critical')
       .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => String(n.target)) })))`,
  );
}
