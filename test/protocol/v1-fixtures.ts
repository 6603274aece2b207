/**
 * Fixtures for the v1 protocol tests: v1 images (JSON + layer tar, gzipped or not) with the IDs
 * and checksums docker 1.x computes, and a push that follows docker 1.x's exact request sequence
 * (moby/moby v1.x, `registry/session.go` and `graph/push.go` / `distribution/push_v1.go`) through supertest.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { pushBlob, type TestApp } from '../helpers/build-app.js';
import { createTar } from '../helpers/tar.js';

export const DOCKER_UA = 'docker/1.9.1 go/go1.4.3 git-commit/a34a1d5 kernel/4.2.0 os/linux arch/amd64';

export interface V1Fixture {
  readonly id: string;
  readonly parent?: string;
  readonly json: Buffer;
  readonly layer: Buffer;
  /** sha256 of the uncompressed tar. */
  readonly diffId: string;
  readonly gzip: boolean;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function randomId(): string {
  return randomBytes(32).toString('hex');
}

/** `X-Docker-Checksum-Payload` as docker computes it: sha256(json + "\n" + layer). */
export function payloadChecksum(json: Buffer, layer: Buffer): string {
  return `sha256:${createHash('sha256').update(json).update('\n').update(layer).digest('hex')}`;
}

export interface FixtureOptions {
  readonly parent?: string;
  readonly gzip?: boolean;
  readonly id?: string;
  readonly cmd?: string;
  readonly extra?: Record<string, unknown>;
  readonly files?: number;
}

/** A v1 image as docker 1.9 pushed one: random ID, full JSON, a tar layer of a few files. */
export function v1Image(options: FixtureOptions = {}): V1Fixture {
  const id = options.id ?? randomId();
  const dir = `v1-${id.slice(0, 8)}/`;
  const entries = [{ name: dir, mtime: 1_400_000_000 }];
  for (let i = 0; i < (options.files ?? 2); i++) {
    entries.push({ name: `${dir}f${i}.bin`, data: randomBytes(2000 + i * 777), mtime: 1_400_000_000 } as (typeof entries)[number]);
  }
  const tar = createTar(entries);
  const gzip = options.gzip ?? true;
  const layer = gzip ? gzipSync(tar) : tar;
  const doc = {
    id,
    ...(options.parent !== undefined ? { parent: options.parent } : {}),
    created: '2015-06-01T10:20:30.123456789Z',
    container: randomBytes(32).toString('hex'),
    container_config: { Cmd: ['/bin/sh', '-c', options.cmd ?? `#(nop) ADD dir:${id.slice(0, 12)} in /`] },
    docker_version: '1.9.1',
    author: 'v1 fixture <v1@berth.test>',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'], WorkingDir: '' },
    architecture: 'amd64',
    os: 'linux',
    Size: tar.length,
    ...options.extra,
  };
  return {
    id,
    ...(options.parent !== undefined ? { parent: options.parent } : {}),
    json: Buffer.from(JSON.stringify(doc)),
    layer,
    diffId: `sha256:${sha256Hex(tar)}`,
    gzip,
  };
}

/** A base image and `count - 1` children on top of it, base first. */
export function v1Chain(count: number, options: { readonly gzip?: (i: number) => boolean } = {}): V1Fixture[] {
  const chain: V1Fixture[] = [];
  for (let i = 0; i < count; i++) {
    const parent = chain[i - 1]?.id;
    chain.push(v1Image({ ...(parent !== undefined ? { parent } : {}), gzip: options.gzip?.(i) ?? true, cmd: `step ${i}` }));
  }
  return chain;
}

/** Pushes one image: existence check, json, layer, checksum (docker's pushImage). */
export async function pushV1Image(t: TestApp, image: V1Fixture): Promise<void> {
  const exists = await t.http.get(`/v1/images/${image.id}/json`).set('User-Agent', DOCKER_UA);
  if (exists.status === 200) return;
  const put = await t.http.put(`/v1/images/${image.id}/json`).set('User-Agent', DOCKER_UA).set('Content-Type', 'application/json').send(image.json.toString());
  if (put.status === 409) return;
  assert.equal(put.status, 200, `PUT json: ${put.status} ${put.text}`);
  await t.http
    .put(`/v1/images/${image.id}/layer`)
    .set('User-Agent', DOCKER_UA)
    .set('Content-Type', 'application/octet-stream')
    .send(image.layer)
    .expect(200);
  await t.http
    .put(`/v1/images/${image.id}/checksum`)
    .set('User-Agent', DOCKER_UA)
    .set('X-Docker-Checksum', `tarsum+sha256:${sha256Hex(image.json)}`)
    .set('X-Docker-Checksum-Payload', payloadChecksum(image.json, image.layer))
    .expect(200);
}

/**
 * docker 1.x's push of `name:tag` (chain base first): index PUT, every image, the tag, and the
 * final index PUT (which docker requires to answer 204).
 */
export async function pushV1(t: TestApp, name: string, tag: string, chain: readonly V1Fixture[]): Promise<void> {
  const top = chain[chain.length - 1];
  assert.ok(top !== undefined);
  const list = [...chain.slice(0, -1).map((i) => ({ id: i.id })), { id: top.id, Tag: tag }];
  const start = await t.http
    .put(`/v1/repositories/${name}/`)
    .set('User-Agent', DOCKER_UA)
    .set('X-Docker-Token', 'true')
    .set('Content-Type', 'application/json')
    .send(JSON.stringify(list));
  assert.equal(start.status, 200, start.text);
  assert.ok(start.headers['x-docker-endpoints'], 'X-Docker-Endpoints');
  assert.ok(start.headers['x-docker-token'], 'X-Docker-Token');
  for (const image of chain) await pushV1Image(t, image);
  await t.http
    .put(`/v1/repositories/${name}/tags/${tag}`)
    .set('User-Agent', DOCKER_UA)
    .set('Content-Type', 'application/json')
    .send(JSON.stringify(top.id))
    .expect(200);
  await t.http
    .put(`/v1/repositories/${name}/images`)
    .set('User-Agent', DOCKER_UA)
    .set('X-Docker-Token', 'true')
    .set('X-Docker-Endpoints', String(start.headers['x-docker-endpoints']))
    .set('Content-Type', 'application/json')
    .send('[]')
    .expect(204);
}

/** Pushes an image built by test/helpers/oci-image.ts over v2 (layers, config, manifest by tag). */
export async function pushBuiltV2(
  t: TestApp,
  name: string,
  tag: string,
  image: { readonly layers: readonly { readonly bytes: Buffer }[]; readonly config: { readonly bytes: Buffer }; readonly manifest: { readonly bytes: Buffer; readonly mediaType: string } },
): Promise<string> {
  for (const blob of [...image.layers, image.config]) await pushBlob(t, name, blob.bytes);
  const res = await t.http.put(`/v2/${name}/manifests/${tag}`).set('Content-Type', image.manifest.mediaType).send(image.manifest.bytes.toString());
  assert.equal(res.status, 201, res.text);
  return String(res.headers['docker-content-digest']);
}
