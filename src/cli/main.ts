#!/usr/bin/env -S node --max-semi-space-size=8
/**
 * Berth's command line: `berth serve [config.yml] [--workers N|auto]`, `berth verify-config
 * config.yml`, `berth garbage-collect`, `berth scrub`, `berth delete-repository`,
 * `berth import-v1-storage SOURCE [config.yml]`, `berth import`, `berth export`, `berth
 * version`. The config path of `serve` may also come from BERTH_CONFIG. With more than one
 * worker (`--workers`, else `berth.workers`) this process becomes the cluster primary
 * (`cluster-primary.ts`) and every worker runs `serve`. Every command's module is imported only
 * when that command runs, so that `serve` applies the heap settings before anything else loads
 * (module loading alone used to grow the young generation to twice its cap, ~8 MiB more RSS).
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Output } from './store.js';
import { applyHeapSettings } from './heap-settings.js';

/** The usage text (it names every command's options, so it loads their modules). */
async function usage(): Promise<string> {
  const [gc, scrub, del, v1, archiveImport, archiveExport] = await Promise.all([
    import('./gc.js'),
    import('./scrub.js'),
    import('./delete-repository.js'),
    import('./import-v1-storage.js'),
    import('./import.js'),
    import('./export.js'),
  ]);
  return `usage:
  berth serve [config.yml] [--workers N|auto]
                                    run the registry (default: filesystem storage in ./data, 127.0.0.1:5000);
                                    --workers forks N processes on one socket (default berth.workers, 1)
  berth verify-config config.yml    validate a configuration file and exit
  berth version                     print the version
  ${gc.GC_USAGE}
  ${scrub.SCRUB_USAGE}
  ${del.DELETE_REPOSITORY_USAGE}
  ${v1.IMPORT_USAGE}
  ${archiveImport.ARCHIVE_IMPORT_USAGE}
  ${archiveExport.ARCHIVE_EXPORT_USAGE}`;
}

function output(): Output {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    ...(tty
      ? {
          status: (line: string) => {
            const now = Date.now();
            if (line !== '' && now - last < 200) return;
            last = now;
            process.stderr.write(`\r\x1b[K${line}`);
          },
        }
      : {}),
  };
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

interface ServeArgs {
  readonly configPath: string | undefined;
  /** From --workers; undefined = the config decides. */
  readonly workers: number | undefined;
}

function parseServeArgs(args: readonly string[]): ServeArgs | string {
  let configPath: string | undefined;
  let workers: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--workers' || a.startsWith('--workers=')) {
      const v = a === '--workers' ? args[++i] : a.slice('--workers='.length);
      if (v === 'auto') workers = availableParallelism();
      else if (v !== undefined && /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 256) workers = Number(v);
      else return `--workers needs a number (1–256) or "auto", got ${JSON.stringify(v ?? '')}`;
    } else if (a.startsWith('-')) {
      return `unknown option ${JSON.stringify(a)}`;
    } else if (configPath === undefined) {
      configPath = a;
    } else {
      return `unexpected argument ${JSON.stringify(a)}`;
    }
  }
  return { configPath: configPath ?? process.env['BERTH_CONFIG'], workers };
}

async function serveCommand(args: readonly string[]): Promise<number> {
  // Before the server's modules load, so that loading them cannot grow the heap past the caps.
  const heap = applyHeapSettings();
  const parsed = parseServeArgs(args);
  if (typeof parsed === 'string') {
    process.stderr.write(`${parsed}\n${await usage()}\n`);
    return 2;
  }
  if (cluster.isWorker) {
    const { WORKER_ID_ENV } = await import('./cluster-primary.js');
    const worker = Number(process.env[WORKER_ID_ENV] ?? '0');
    await (await import('./serve.js')).serve(parsed.configPath, process.env, { worker, onBufferBytes: heap.onBufferBytes });
    return -1;
  }
  const { loadConfigFile } = await import('../config/load.js');
  const { config } = await loadConfigFile(parsed.configPath, process.env);
  const workers = parsed.workers ?? config.berth.workers;
  if (workers <= 1) {
    await (await import('./serve.js')).serve(parsed.configPath, process.env, { onBufferBytes: heap.onBufferBytes });
    return -1;
  }
  const { createLogger } = await import('../logging/logger.js');
  const { runPrimary } = await import('./cluster-primary.js');
  return runPrimary({ workers, drainTimeoutMs: config.http.drainTimeoutMs, logger: createLogger(config).child({ primary: true }) });
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, arg] = argv;
  switch (command) {
    case 'serve':
      return serveCommand(argv.slice(1));
    case 'verify-config': {
      if (arg === undefined) {
        process.stderr.write(`${await usage()}\n`);
        return 2;
      }
      const { verifyConfig } = await import('./verify-config.js');
      const result = await verifyConfig(arg, process.env);
      for (const line of result.lines) (result.ok ? process.stdout : process.stderr).write(`${line}\n`);
      return result.ok ? 0 : 1;
    }
    case 'garbage-collect':
      return (await import('./gc.js')).garbageCollectCommand(argv.slice(1), process.env, output());
    case 'scrub':
      return (await import('./scrub.js')).scrubCommand(argv.slice(1), process.env, output());
    case 'delete-repository':
      return (await import('./delete-repository.js')).deleteRepositoryCommand(argv.slice(1), process.env, output());
    case 'import-v1-storage':
      return (await import('./import-v1-storage.js')).importV1StorageCommand(argv.slice(1), process.env, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
    case 'import':
      return (await import('./import.js')).importCommand(argv.slice(1), process.env, output());
    case 'export':
      return (await import('./export.js')).exportCommand(argv.slice(1), process.env, output());
    case 'version':
    case '--version':
      process.stdout.write(`berth ${version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(`${await usage()}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command ${JSON.stringify(command)}\n${await usage()}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`berth: ${message}\n`);
    process.exit(1);
  },
);
