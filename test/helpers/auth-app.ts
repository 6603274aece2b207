/**
 * Builds an in-process Berth app with authentication for protocol tests: an htpasswd file (bcrypt,
 * cost 4 to keep tests quick) in a temp dir, the access controller and token server built from a
 * distribution-format config exactly as `berth serve` builds them, and a second, open app on the
 * same in-memory driver to seed content without credentials.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashSync } from '@node-rs/bcrypt';
import { pino } from 'pino';
import request from 'supertest';
import { checked } from '../../storage-drivers/checked.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { createAuth } from '../../src/auth/create-auth.js';
import { parseAuthSettings } from '../../src/auth/settings.js';
import { createApp } from '../../src/server/create-app.js';
import { buildTestApp, testConfig, type TestApp } from './build-app.js';

export interface AuthTestApp {
  readonly t: TestApp;
  /** An app without auth on the same storage. */
  readonly seed: TestApp;
  readonly htpasswd: string;
  readonly logLines: string[];
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

export async function writeHtpasswd(users: Readonly<Record<string, string>>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-auth-'));
  const path = join(dir, 'htpasswd');
  await writeFile(path, Object.entries(users).map(([u, p]) => `${u}:${hashSync(p, 4)}`).join('\n') + '\n');
  return path;
}

/** `doc` is merged over a config whose `auth.htpasswd.path` points at the users' file. */
export async function buildAuthApp(users: Readonly<Record<string, string>>, doc: (htpasswd: string) => Record<string, unknown>): Promise<AuthTestApp> {
  const htpasswd = await writeHtpasswd(users);
  const config = testConfig(doc(htpasswd));
  const driver = checked(createInMemoryDriver());
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const auth = await createAuth({ settings: parseAuthSettings(config.authSections), driver, logger, urls: { prefix: '', relative: false } });
  const app = createApp({
    config,
    logger,
    driver,
    access: auth.access,
    ...(auth.tokenRouter !== undefined ? { tokenRouter: auth.tokenRouter } : {}),
    ...(auth.sessionKey !== undefined ? { sessionKey: auth.sessionKey } : {}),
  });
  const seed = buildTestApp({ driver });
  return { t: { app, driver, config, http: request(app.handle) }, seed, htpasswd, logLines };
}
