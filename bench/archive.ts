/**
 * Archive benchmark (not a test): import and export throughput of a `docker save` archive of
 * `--mib` MiB (default 1024; random, incompressible layer data in `--layers` layers, default 4),
 * Berth's CLI (`berth import` into, `berth export` out of a fresh filesystem storage) against
 * `skopeo copy` between the same archive and the reference registry (Debian's docker-registry,
 * started as bench/lib/registry.ts does: `docker-archive:` → `docker://` and back). Prints MiB/s
 * and the Berth / skopeo ratios (target ≥ 1.5×). Everything lives in a temp dir, removed after.
 *
 *   node dist/bench/archive.js [--mib 1024] [--layers 4] [--ref-cmd "docker-registry serve {config}"]
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { pack } from 'tar-stream';
import { berthMain, log } from './lib/common.js';
import { runCommand } from './lib/exec.js';
import { startRegistry, stopRegistry, killAllStarted } from './lib/registry.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
}

/** A layer tar of one random file of `bytes`, streamed to disk; returns its sha256 and size. */
async function writeLayer(path: string, bytes: number): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  const tar = pack();
  const out = createWriteStream(path);
  const done = pipeline(tar, async function* (source: AsyncIterable<unknown>) {
    for await (const chunk of source) {
      hash.update(chunk as Buffer);
      yield chunk as Buffer;
    }
  }, out);
  await new Promise<void>((resolve, reject) => {
    const entry = tar.entry({ name: 'data/random.bin', size: bytes, mtime: new Date(0) }, (e) => (e ? reject(e) : resolve()));
    (async () => {
      let left = bytes;
      while (left > 0) {
        const n = Math.min(left, 1 << 20);
        if (!entry.write(randomBytes(n))) await new Promise<void>((r) => entry.once('drain', () => r()));
        left -= n;
      }
      entry.end(null);
    })().catch(reject);
  });
  tar.finalize();
  await done;
  return { digest: `sha256:${hash.digest('hex')}`, size: (await stat(path)).size };
}

/** A docker save archive (legacy layout) of `layers` layers of `mib` MiB in total. */
async function writeArchive(dir: string, file: string, mib: number, layers: number): Promise<number> {
  const per = Math.floor((mib * 1024 * 1024) / layers);
  const diffIds: string[] = [];
  const layerFiles: string[] = [];
  for (let i = 0; i < layers; i++) {
    const path = join(dir, `layer-${i}.tar`);
    diffIds.push((await writeLayer(path, per)).digest);
    layerFiles.push(path);
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } }));
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  const names = diffIds.map((d) => `${d.slice(7)}/layer.tar`);
  const manifest = Buffer.from(JSON.stringify([{ Config: configName, RepoTags: ['bench/app:1'], Layers: names }]));
  const tar = pack();
  const done = pipeline(tar, createWriteStream(file));
  const { createReadStream } = await import('node:fs');
  for (const [i, path] of layerFiles.entries()) {
    const size = (await stat(path)).size;
    await new Promise<void>((resolve, reject) => {
      const entry = tar.entry({ name: names[i] ?? '', size, mtime: new Date(0) }, (e) => (e ? reject(e) : resolve()));
      (async () => {
        for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
          if (!entry.write(chunk as Buffer)) await new Promise<void>((r) => entry.once('drain', () => r()));
        }
        entry.end(null);
      })().catch(reject);
    });
    await rm(path);
  }
  tar.entry({ name: configName, mtime: new Date(0) }, config);
  tar.entry({ name: 'manifest.json', mtime: new Date(0) }, manifest);
  tar.finalize();
  await done;
  return (await stat(file)).size;
}

async function timed(label: string, cmd: string, args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await runCommand(cmd, args, 30 * 60_000);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`${label} failed (${String(r.code)}): ${r.stderr.slice(-2000)}`);
  log(`${label}: ${s.toFixed(2)} s`);
  return s;
}

async function main(): Promise<void> {
  const mib = Number(arg('mib', '1024'));
  const layers = Number(arg('layers', '4'));
  const refCmd = arg('ref-cmd', 'docker-registry serve {config}');
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-archive-'));
  try {
    const archive = join(work, 'archive.tar');
    log(`writing a ${mib} MiB docker save archive (${layers} layers of random data)`);
    const bytes = await writeArchive(work, archive, mib, layers);
    const storage = join(work, 'berth');
    await mkdir(storage);
    const config = join(work, 'config.yml');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(config, `version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: ${storage} } }\n`);
    const node = process.execPath;
    const berthImport = await timed('berth import', node, [berthMain, 'import', archive, '--quiet', config]);
    const berthExport = await timed('berth export', node, [berthMain, 'export', 'bench/app:1', '-o', join(work, 'berth-out.tar'), '--quiet', config]);
    await rm(join(work, 'berth-out.tar'));
    await rm(storage, { recursive: true });

    const ref = await startRegistry({ key: 'ref', label: 'reference', cmd: refCmd, extraStorage: [], logLevel: 'error' }, work);
    let skopeoImport = 0;
    let skopeoExport = 0;
    try {
      const target = `docker://127.0.0.1:${ref.port}/bench/app:1`;
      skopeoImport = await timed('skopeo copy docker-archive: → reference', 'skopeo', ['--insecure-policy', 'copy', '--dest-tls-verify=false', `docker-archive:${archive}`, target]);
      skopeoExport = await timed('skopeo copy reference → docker-archive:', 'skopeo', ['--insecure-policy', 'copy', '--src-tls-verify=false', target, `docker-archive:${join(work, 'skopeo-out.tar')}:bench/app:1`]);
    } finally {
      await stopRegistry(ref);
    }
    const rate = (s: number): string => `${(bytes / 1048576 / s).toFixed(0)} MiB/s`;
    const rows = [
      ['import', berthImport, skopeoImport],
      ['export', berthExport, skopeoExport],
    ] as const;
    process.stdout.write(`\narchive ${(bytes / 1048576).toFixed(0)} MiB, ${layers} layers\n| direction | Berth | skopeo + reference | Berth / skopeo | target ≥ 1.5× |\n|---|---:|---:|---:|---|\n`);
    for (const [what, b, s] of rows) {
      const ratio = s / b;
      process.stdout.write(`| ${what} | ${rate(b)} (${b.toFixed(2)} s) | ${rate(s)} (${s.toFixed(2)} s) | ${ratio.toFixed(2)}× | ${ratio >= 1.5 ? 'met' : 'missed'} |\n`);
    }
  } finally {
    killAllStarted();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/archive: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  killAllStarted();
  process.exit(1);
});
