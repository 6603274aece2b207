/**
 * `berth export NAME:TAG|NAME@DIGEST... -o FILE|- [--format docker|oci] [--platform OS/ARCH[/VARIANT]]
 * [--quiet] config.yml`: writes images of the configured storage as an archive `docker load` and
 * `skopeo copy oci-archive:` accept (src/archive/archive-export.ts). A file is written under a
 * temporary name beside it and renamed when complete, so a failed export leaves no partial file.
 * Progress goes to stderr. The configuration is the last argument (a .yml/.yaml path or an
 * existing file), else BERTH_CONFIG.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { ArchiveError } from '../archive/archive-error.js';
import { exportArchive, type ExportFormat } from '../archive/archive-export.js';
import { parseImageRef, type ImageRef } from '../archive/image-names.js';
import { Progress } from '../archive/progress.js';
import type { Platform } from '../core/manifests/parse.js';
import { createRegistry } from '../core/registry.js';
import { parseArchiveArgs } from './archive-args.js';
import { openStoreOrReport, type Output } from './store.js';

export const ARCHIVE_EXPORT_USAGE = `berth export NAME:TAG... -o FILE|- [--format docker|oci] [--platform OS/ARCH] [--quiet] config.yml
                                    write images as a docker load / OCI archive (default --format docker)`;

function hostPlatform(): Platform {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
  return { os: 'linux', architecture: arch };
}

function parsePlatform(text: string): Platform | undefined {
  const [os, architecture, variant, ...rest] = text.split('/');
  if (os === undefined || os === '' || architecture === undefined || architecture === '' || rest.length > 0) return undefined;
  return { os, architecture, ...(variant !== undefined && variant !== '' ? { variant } : {}) };
}

export async function exportCommand(args: readonly string[], env: NodeJS.ProcessEnv, output: Output): Promise<number> {
  const parsed = parseArchiveArgs(
    args,
    { '-o': 'output', '--output': 'output', '--format': 'format', '--platform': 'platform' },
    { '--quiet': 'quiet', '-q': 'quiet' },
  );
  const positional = [...parsed.positional];
  const last = positional[positional.length - 1];
  let configPath = env['BERTH_CONFIG'];
  if (last !== undefined && (/\.ya?ml$/.test(last) || existsSync(last))) {
    configPath = last;
    positional.pop();
  }
  const outputs = parsed.values.get('output') ?? [];
  const format = (parsed.values.get('format') ?? ['docker'])[0];
  const platformText = (parsed.values.get('platform') ?? [])[0];
  const platform = platformText === undefined ? hostPlatform() : parsePlatform(platformText);
  const problems = [...parsed.problems];
  if (outputs.length !== 1) problems.push('name one output with -o FILE (or -o - for stdout)');
  if (format !== 'docker' && format !== 'oci') problems.push(`--format must be docker or oci, not ${JSON.stringify(format)}`);
  if (platform === undefined) problems.push(`--platform must be OS/ARCH[/VARIANT], not ${JSON.stringify(platformText)}`);
  if (positional.length === 0) problems.push('name at least one image (NAME:TAG)');
  if (configPath === undefined) problems.push('name the configuration file (or set BERTH_CONFIG)');
  let refs: ImageRef[] = [];
  try {
    refs = positional.map(parseImageRef);
  } catch (error) {
    problems.push((error as Error).message);
  }
  const target = outputs[0];
  if (problems.length > 0 || configPath === undefined || target === undefined || platform === undefined) {
    for (const p of problems) output.err(`export: ${p}`);
    output.err(`usage: ${ARCHIVE_EXPORT_USAGE}`);
    return 2;
  }
  if (target === '-' && process.stdout.isTTY === true) {
    output.err('export: refusing to write an archive to a terminal (use -o FILE or a pipe)');
    return 2;
  }
  const store = await openStoreOrReport(configPath, env, output);
  if (store === undefined) return 1;
  const registry = createRegistry(store.driver, {
    maxBlobBytes: store.config.berth.maxBlobBytes,
    manifestCacheBytes: store.config.berth.manifestCacheBytes,
    now: () => new Date(),
  });
  const progress = new Progress({ line: output.err, ...(output.status !== undefined ? { status: output.status } : {}), quiet: parsed.flags.has('quiet') });
  const partial = target === '-' ? undefined : `${target}.partial-${process.pid}`;
  const sink: Writable = partial === undefined ? process.stdout : createWriteStream(partial, { highWaterMark: 1 << 20 });
  try {
    await exportArchive(registry, refs, sink, { format: format as ExportFormat, platform, progress });
    if (partial !== undefined) await rename(partial, target);
    progress.finish(`exported ${refs.length} image${refs.length === 1 ? '' : 's'}`);
    return 0;
  } catch (error) {
    if (partial !== undefined) await rm(partial, { force: true });
    output.status?.('');
    if (error instanceof ArchiveError) {
      output.err(`export: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
