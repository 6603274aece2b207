/**
 * Registry content for the web-UI suites, pushed over HTTP like a client would: a two-platform
 * OCI index, a Docker schema 2 image with an entrypoint and exposed ports that carries two
 * referrers (a cosign-style signature and an SPDX SBOM), a public image, and an image pushed with
 * docker 1.x's v1 protocol. Works against an in-process app listening on loopback or a real Berth
 * process.
 */
import { createServer, type Server } from 'node:http';
import request from 'supertest';
import { pushV1, v1Chain } from '../protocol/v1-fixtures.js';
import type { TestApp } from './build-app.js';
import { buildImage, buildMultiPlatform, pushImageOverHttp, pushIndexOverHttp, sha256Digest, type Blob, type BuiltImage, type BuiltIndex } from './oci-image.js';

export interface UiFixtures {
  readonly multi: { readonly name: string; readonly tag: string; readonly built: BuiltIndex };
  readonly app: { readonly name: string; readonly tag: string; readonly built: BuiltImage; readonly signature: Blob; readonly sbom: Blob };
  readonly pub: { readonly name: string; readonly tag: string; readonly built: BuiltImage };
  readonly v1: { readonly name: string; readonly tag: string };
}

function blob(mediaType: string, bytes: Buffer): Blob {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length, bytes };
}

/** The image with extra keys in its config's `config` section (config and manifest rebuilt). */
export function withConfig(image: BuiltImage, extra: Record<string, unknown>): BuiltImage {
  const configJson = { ...image.configJson, config: { ...image.configJson.config, ...extra } };
  const config = blob(image.config.mediaType, Buffer.from(JSON.stringify(configJson)));
  const manifestJson = JSON.parse(image.manifest.bytes.toString('utf8')) as Record<string, unknown>;
  manifestJson['config'] = { mediaType: config.mediaType, digest: config.digest, size: config.size };
  const manifest = blob(image.manifest.mediaType, Buffer.from(JSON.stringify(manifestJson, null, 2)));
  return { ...image, config, configJson, manifest, blobs: [...image.layers, config, manifest] };
}

async function put(url: string, init: RequestInit, expected: number): Promise<Response> {
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status !== expected) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${text}`);
  return res;
}

async function pushBlob(base: string, repo: string, b: Blob): Promise<void> {
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  const location = new URL(start.headers.get('location') ?? '', base);
  location.searchParams.set('digest', b.digest);
  await put(location.toString(), { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(b.bytes) }, 201);
}

/** Pushes an OCI artifact manifest whose subject is `subject`, by digest; returns the manifest. */
export async function pushReferrer(base: string, repo: string, subject: Blob, artifactType: string, payload: string): Promise<Blob> {
  const empty = blob('application/vnd.oci.empty.v1+json', Buffer.from('{}'));
  const layer = blob(artifactType.includes('spdx') ? 'application/spdx+json' : 'application/vnd.dev.cosign.simplesigning.v1+json', Buffer.from(payload));
  await pushBlob(base, repo, empty);
  await pushBlob(base, repo, layer);
  const manifest = blob(
    'application/vnd.oci.image.manifest.v1+json',
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType,
        config: { mediaType: empty.mediaType, digest: empty.digest, size: empty.size },
        layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
        subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        annotations: { 'org.opencontainers.image.created': '2024-05-02T00:00:00Z' },
      }),
    ),
  );
  await put(`${base}/v2/${repo}/manifests/${manifest.digest}`, { method: 'PUT', headers: { 'content-type': manifest.mediaType }, body: new Uint8Array(manifest.bytes) }, 201);
  return manifest;
}

/** `v1Authorization`: credentials for the v1 push (v1 image writes need a user when auth is on). */
export async function pushUiFixtures(base: string, v1Authorization?: string): Promise<UiFixtures> {
  const multi = { name: 'team/multi', tag: '1.0', built: buildMultiPlatform(undefined, { layers: 1, layerBytes: 2048 }) };
  await pushIndexOverHttp(base, multi.name, multi.tag, multi.built);
  const appImage = withConfig(buildImage({ format: 'docker', layers: 2, layerBytes: 3000, cmd: ['serve', '--port', '8080'] }), {
    Entrypoint: ['/usr/local/bin/app'],
    ExposedPorts: { '8080/tcp': {} },
  });
  await pushImageOverHttp(base, 'team/app', 'latest', appImage);
  await pushImageOverHttp(base, 'team/app', 'old', buildImage({ format: 'docker', layers: 1, layerBytes: 1500 }));
  const signature = await pushReferrer(base, 'team/app', appImage.manifest, 'application/vnd.dev.cosign.artifact.sig.v1+json', '{"critical":{}}');
  const sbom = await pushReferrer(base, 'team/app', appImage.manifest, 'application/spdx+json', '{"spdxVersion":"SPDX-2.3"}');
  const pub = { name: 'public/hello', tag: '1', built: buildImage({ layers: 1, layerBytes: 1024 }) };
  await pushImageOverHttp(base, pub.name, pub.tag, pub.built);
  const v1 = { name: 'legacy/old', tag: 'v1only' };
  const agent = v1Authorization === undefined ? request(base) : request.agent(base).set('Authorization', v1Authorization);
  await pushV1({ http: agent } as unknown as TestApp, v1.name, v1.tag, v1Chain(2));
  return { multi, app: { name: 'team/app', tag: 'latest', built: appImage, signature, sbom }, pub, v1 };
}

/** Serves a request listener on a free loopback port; returns its base URL and the server. */
export async function listenLoopback(handle: Parameters<typeof createServer>[1]): Promise<{ readonly url: string; readonly server: Server }> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, server };
}
