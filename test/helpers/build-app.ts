/**
 * Builds a complete Berth app for in-process protocol tests (supertest), on the in-memory driver
 * unless a driver is given, with a config built from a distribution-format document.
 */
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import request from 'supertest';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { checked } from '../../storage-drivers/checked.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import type { AccessController } from '../../src/auth/access.js';
import { buildConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createApp, type App } from '../../src/server/create-app.js';

export interface TestApp {
  readonly app: App;
  readonly driver: StorageDriver;
  readonly config: Config;
  readonly http: ReturnType<typeof request>;
}

export function testConfig(doc: Record<string, unknown> = {}): Config {
  const base: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'error', accesslog: { disabled: true } },
    storage: { inmemory: {}, delete: { enabled: true } },
  };
  return buildConfig({ ...base, ...doc }).config;
}

export function buildTestApp(options: { config?: Record<string, unknown>; driver?: StorageDriver; access?: AccessController } = {}): TestApp {
  const config = testConfig(options.config);
  const driver = options.driver ?? checked(createInMemoryDriver());
  const app = createApp({
    config,
    logger: pino({ level: 'silent' }),
    driver,
    ...(options.access !== undefined ? { access: options.access } : {}),
  });
  return { app, driver, config, http: request(app.handle) };
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Pushes a blob monolithically (POST then PUT) and returns its digest. */
export async function pushBlob(t: TestApp, name: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const start = await t.http.post(`/v2/${name}/blobs/uploads/`).expect(202);
  const location = new URL(String(start.headers['location']));
  const sep = location.search === '' ? '?' : '&';
  await t.http
    .put(`${location.pathname}${location.search}${sep}digest=${digest}`)
    .set('Content-Type', 'application/octet-stream')
    .send(bytes)
    .expect(201);
  return digest;
}

export interface PushedImage {
  readonly manifest: Buffer;
  readonly digest: string;
  readonly configDigest: string;
  readonly layerDigests: string[];
}

/** Pushes a small schema2 (or OCI) image and tags it. */
export async function pushImage(
  t: TestApp,
  name: string,
  tag: string,
  options: { oci?: boolean; layers?: number; extra?: Record<string, unknown> } = {},
): Promise<PushedImage> {
  const oci = options.oci === true;
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: Math.random() }));
  const configDigest = await pushBlob(t, name, configBytes);
  const layers: { mediaType: string; digest: string; size: number }[] = [];
  for (let i = 0; i < (options.layers ?? 1); i++) {
    const bytes = Buffer.from(`layer ${i} ${Math.random()}`);
    layers.push({
      mediaType: oci ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip',
      digest: await pushBlob(t, name, bytes),
      size: bytes.length,
    });
  }
  const mediaType = oci ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json',
        digest: configDigest,
        size: configBytes.length,
      },
      layers,
      ...options.extra,
    }),
  );
  const res = await t.http.put(`/v2/${name}/manifests/${tag}`).set('Content-Type', mediaType).send(manifest.toString()).expect(201);
  return { manifest, digest: String(res.headers['docker-content-digest']), configDigest, layerDigests: layers.map((l) => l.digest) };
}

/** A supertest parser that collects the raw body bytes. */
export function binary(res: request.Response, cb: (err: Error | null, body: Buffer) => void): void {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => cb(null, Buffer.concat(chunks)));
}

/** The path+query of a Location header, for the next request. */
export function locationPath(value: unknown): string {
  const u = new URL(String(value), 'http://placeholder');
  return u.pathname + u.search;
}

export function withQuery(path: string, params: Record<string, string>): string {
  const qs = new URLSearchParams(params).toString();
  return `${path}${path.includes('?') ? '&' : '?'}${qs}`;
}
