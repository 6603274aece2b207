/**
 * The web UI in a real browser: Debian's chromium (headless, driven by playwright-core) against a
 * real Berth process with htpasswd users and access rules. Content is pushed over HTTP like a
 * client would (a two-platform OCI index, an image with a signature and an SBOM as referrers, an
 * image pushed over the v1 API); then the browser opens the UI, filters as it types, opens a
 * repository and a tag, checks layers, platforms and referrers, signs in, deletes a tag through
 * the confirmation page, and the test checks through the v2 API that the tag is gone. Browsing is
 * checked with JavaScript off too. axe-core runs on every screen (0 serious or critical
 * violations), no Content-Security-Policy violation may occur, and screenshots land in the test's
 * output directory (`$BERTH_TEST_OUTPUT`, default dist/test-output/ui-browser).
 * Bounded to 60 s; skipped with a reason outside CI when chromium or playwright-core is missing.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { basic, writeHtpasswd } from '../helpers/auth-app.js';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { axeSource, launchChromium, missingBrowser, seriousViolations, type PwBrowser, type PwPage } from '../helpers/browser.js';
import { pushUiFixtures, type UiFixtures } from '../helpers/ui-fixtures.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const OUTPUT = process.env['BERTH_TEST_OUTPUT'] !== undefined ? join(process.env['BERTH_TEST_OUTPUT'], 'ui-browser') : join(ROOT, 'dist', 'test-output', 'ui-browser');
/** Set to a directory (e.g. docs) to also write the README's screenshots there. */
const DOCS = process.env['BERTH_UI_DOCS'];
const missing = missingBrowser();
const skip = missing !== undefined && process.env['CI'] !== 'true' ? missing : false;
const USERS = { alice: 'alice-secret' };

describe('web UI in chromium', { skip, timeout: 60_000 }, () => {
  let berth: BerthProcess;
  let browser: PwBrowser;
  let fx: UiFixtures;
  let axe: string;
  const cspErrors: string[] = [];

  before(async () => {
    if (missing !== undefined) throw new Error(`CI=true but the browser suite cannot run: ${missing}`);
    await mkdir(OUTPUT, { recursive: true });
    const htpasswd = await writeHtpasswd(USERS);
    berth = await startBerth({
      config: {
        auth: { htpasswd: { realm: 'berth', path: htpasswd } },
        berth: { access: { rules: [{ repositories: ['**'], anonymous: true, actions: ['pull', 'push'] }, { repositories: ['**'], users: ['alice'], actions: ['*'] }] } },
      },
    });
    fx = await pushUiFixtures(berth.url, basic('alice', USERS.alice));
    axe = axeSource();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
  });

  async function open(page: PwPage, path: string): Promise<void> {
    const res = await page.goto(`${berth.url}${path}`, { waitUntil: 'load' });
    assert.equal(res?.status(), 200, path);
  }

  async function check(page: PwPage, shot: string, docsName?: string): Promise<void> {
    const violations = await seriousViolations(page, axe);
    assert.deepEqual(violations, [], `axe on ${page.url()}`);
    await page.screenshot({ path: join(OUTPUT, `${shot}.png`), fullPage: true });
    if (DOCS !== undefined && docsName !== undefined) await page.screenshot({ path: join(DOCS, docsName), fullPage: false });
  }

  /** Polls an expression (page.waitForFunction would need eval, which the page's CSP forbids). */
  async function waitUntil(page: PwPage, expression: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await page.evaluate<boolean>(expression))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  function watch(page: PwPage): void {
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) cspErrors.push(m.text());
    });
    page.on('pageerror', (e) => cspErrors.push(`page error: ${e.message}`));
  }

  test('browse, filter, repository and image pages, sign in, delete a tag', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    watch(page);

    // A browser asking for / gets the UI.
    await open(page, '/');
    assert.equal(await page.locator('h1').textContent(), 'Repositories');
    await check(page, '01-home');

    // Keyboard: "/" focuses the filter; typing filters without a page load.
    await page.keyboard.press('/');
    assert.equal(await page.evaluate<string>('document.activeElement && document.activeElement.id'), 'q');
    await page.locator('#q').pressSequentially('multi', { delay: 20 });
    await waitUntil(page, '!document.querySelector("#results").textContent.includes("public/hello")', 5000);
    assert.ok(page.url().endsWith('/ui/?q=multi'), page.url());
    assert.equal(await page.locator('#results a[href="/ui/repo/team/multi"]').count(), 1);
    await check(page, '02-filtered');

    // The multi-platform repository: platforms of the index.
    await page.locator('#results a[href="/ui/repo/team/multi"]').click();
    await page.waitForURL(/\/ui\/repo\/team\/multi$/);
    const multi = (await page.locator('main').textContent()) ?? '';
    assert.ok(multi.includes('linux/amd64') && multi.includes('linux/arm64/v8'), 'platforms');
    await check(page, '03-repo-multi');
    await page.getByRole('link', { name: '1.0', exact: true }).click();
    await page.waitForURL(/\/ui\/image\/team\/multi:1\.0$/);
    assert.equal(await page.locator('#platforms + table tbody tr').count(), 2);
    await check(page, '04-image-index');

    // The signed image: referrers under their subject, then the image page.
    await open(page, '/ui/repo/team/app');
    const app = (await page.locator('main').textContent()) ?? '';
    assert.ok(app.includes('signature') && app.includes('SBOM'), 'referrers listed');
    await check(page, '05-repo-app', 'ui-repository.png');
    await page.getByRole('link', { name: 'latest', exact: true }).click();
    await page.waitForURL(/\/ui\/image\/team\/app:latest$/);
    const image = (await page.locator('main').textContent()) ?? '';
    for (const layer of fx.app.built.layers) assert.ok(image.includes(layer.digest.slice(0, 19)), 'layer listed');
    assert.ok(image.includes('/usr/local/bin/app') && image.includes('8080/tcp'), 'config');
    assert.ok(image.includes('SmartOS images'), 'SmartOS UUIDs');
    assert.equal(await page.locator('#layers + table tbody tr').count(), 2);
    await check(page, '06-image-app', 'ui-image.png');

    // The copy button copies a pull command (the script shows it).
    assert.equal(await page.locator('button[data-copy="pull-0"]:not([hidden])').count(), 1);

    // The v1-pushed image.
    await open(page, '/ui/repo/legacy/old');
    assert.ok(((await page.locator('main').textContent()) ?? '').includes('v1 push'));
    await check(page, '07-repo-v1');

    // Sign in (anonymous may not delete: no delete link before).
    await open(page, '/ui/repo/team/app');
    assert.equal(await page.locator('a[href*="/ui/delete"]').count(), 0);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL(/\/ui\/login/);
    await check(page, '08-sign-in');
    await page.locator('#user').fill('alice');
    await page.locator('#password').fill(USERS.alice);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/ui\/repo\/team\/app$/);
    assert.ok(((await page.locator('header').textContent()) ?? '').includes('alice'));

    // Delete the tag `old` through the confirmation page.
    await page.getByRole('link', { name: 'Delete tag old' }).click();
    await page.waitForURL(/\/ui\/delete\?/);
    await check(page, '09-confirm-delete');
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(/deleted=/);
    assert.ok(((await page.locator('.flash').textContent()) ?? '').includes('Deleted team/app:old'));
    await check(page, '10-deleted');
    const gone = await fetch(`${berth.url}/v2/team/app/manifests/old`, { headers: { Authorization: basic('alice', USERS.alice), Accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
    assert.equal(gone.status, 404, 'the tag is gone through the API');
    const kept = await fetch(`${berth.url}/v2/team/app/manifests/latest`, { headers: { Authorization: basic('alice', USERS.alice), Accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
    assert.equal(kept.status, 200);

    // Sign out.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/ui\/$/);
    assert.equal(await page.getByRole('link', { name: 'Sign in' }).count(), 1);
    await context.close();
    assert.deepEqual(cspErrors, []);
  });

  test('JavaScript off: browsing works; dark theme from the system setting', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, colorScheme: 'dark', viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    await open(page, '/ui/');
    await page.locator('#q').fill('app');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=app/);
    assert.equal(await page.locator('#results a[href="/ui/repo/public/hello"]').count(), 0);
    await page.locator('#results a[href="/ui/repo/team/app"]').click();
    await page.waitForURL(/\/ui\/repo\/team\/app$/);
    assert.equal(await page.locator('button[data-copy]:not([hidden])').count(), 0, 'copy buttons need the script');
    assert.ok(((await page.locator('code#pull-0').textContent()) ?? '').startsWith('docker pull'));
    await page.getByRole('link', { name: 'latest', exact: true }).click();
    await page.waitForURL(/\/ui\/image\/team\/app:latest$/);
    const background = await page.evaluate<string>('getComputedStyle(document.documentElement).backgroundColor');
    assert.equal(background, 'rgb(18, 21, 26)', 'dark theme');
    await page.screenshot({ path: join(OUTPUT, '11-image-dark-nojs.png'), fullPage: true });
    await context.close();
  });
});
