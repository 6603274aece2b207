/**
 * `berth import FILE|DIR|- [--tag NAME:TAG]… [--quiet] [config.yml]`: loads a docker save archive,
 * an OCI image layout (directory or tar) or either compressed with gzip or zstd into the storage
 * of the configuration (src/archive/archive-import.ts). No server is needed and running servers
 * are safe: the import commits as a push does. Progress goes to stderr (a redrawn line on a
 * terminal, plain lines otherwise), the imported names to stdout; exit 0 on success, 1 when the
 * archive is refused (nothing of it is then visible), 2 on bad usage.
 */
import { stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { ArchiveError } from '../archive/archive-error.js';
import { importArchive, type ImportInput } from '../archive/archive-import.js';
import { formatName, parseImageName, type ImageName } from '../archive/image-names.js';
import { Progress } from '../archive/progress.js';
import { createRegistry } from '../core/registry.js';
import { parseArchiveArgs } from './archive-args.js';
import { openStoreOrReport, type Output } from './store.js';

export const ARCHIVE_IMPORT_USAGE = `berth import FILE|DIR|- [--tag NAME:TAG]... [--quiet] config.yml
                                    load a docker save archive or OCI image layout (tar, gzip, zstd or a directory)`;

export async function importCommand(args: readonly string[], env: NodeJS.ProcessEnv, output: Output): Promise<number> {
  const parsed = parseArchiveArgs(args, { '--tag': 'tag', '-t': 'tag' }, { '--quiet': 'quiet', '-q': 'quiet' });
  const [source, configArg, ...extra] = parsed.positional;
  const configPath = configArg ?? env['BERTH_CONFIG'];
  if (parsed.problems.length > 0 || source === undefined || configPath === undefined || extra.length > 0) {
    for (const p of parsed.problems) output.err(`import: ${p}`);
    output.err(`usage: ${ARCHIVE_IMPORT_USAGE}`);
    return 2;
  }
  let tags: ImageName[];
  try {
    tags = (parsed.values.get('tag') ?? []).map(parseImageName);
  } catch (error) {
    output.err(`import: --tag ${(error as Error).message}`);
    return 2;
  }
  const store = await openStoreOrReport(configPath, env, output);
  if (store === undefined) return 1;
  const { config, driver } = store;
  if (config.storage.readOnly) {
    output.err('import: the configuration\'s storage is read-only (storage.maintenance.readonly); nothing can be imported');
    return 1;
  }
  let input: ImportInput;
  if (source === '-') input = { kind: 'stream', stream: process.stdin };
  else {
    let info;
    try {
      info = await stat(source);
    } catch (error) {
      output.err(`import: ${source}: ${(error as Error).message}`);
      return 1;
    }
    input = info.isDirectory()
      ? { kind: 'directory', path: source }
      : { kind: 'stream', stream: createReadStream(source, { highWaterMark: 1 << 20 }), size: info.size };
  }
  const registry = createRegistry(driver, {
    maxBlobBytes: config.berth.maxBlobBytes,
    manifestCacheBytes: config.berth.manifestCacheBytes,
    now: () => new Date(),
  });
  const quiet = parsed.flags.has('quiet');
  const progress = new Progress({ line: output.err, ...(output.status !== undefined ? { status: output.status } : {}), quiet });
  try {
    const result = await importArchive(registry, input, { tags, maxManifestBytes: config.berth.maxManifestBytes, progress });
    progress.finish('read');
    for (const image of result.images) output.out(`${image.names.map(formatName).join(' ')} ${image.digest}`);
    return 0;
  } catch (error) {
    output.status?.('');
    if (error instanceof ArchiveError) {
      output.err(`import: refused: ${error.message}; nothing was imported`);
      return 1;
    }
    throw error;
  }
}
