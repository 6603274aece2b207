/**
 * The layering README's Architecture section describes, checked from the source's own imports:
 * each room of `src/` may import only the rooms listed for it (so plumbing never imports a
 * protocol or the server, core never imports HTTP, drivers import nothing of the registry), no
 * module takes part in an import circle (type imports included), and no tracked file names an
 * absolute path outside the repository (the project must stand alone for whoever clones it).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Room → the rooms it may import (besides itself). A room not listed here fails the test. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  'storage-drivers': [],
  errors: ['storage-drivers'],
  config: ['storage-drivers'],
  logging: ['config'],
  core: ['errors', 'storage-drivers'],
  http: ['errors'],
  auth: ['errors', 'http', 'config', 'core', 'storage-drivers'],
  'protocol/v2': ['auth', 'config', 'core', 'errors', 'http', 'logging'],
  'protocol/v1': ['auth', 'config', 'core', 'errors', 'http', 'logging'],
  smartos: ['auth', 'config', 'core', 'errors', 'http', 'logging'],
  ops: ['auth', 'config', 'core', 'errors', 'http', 'logging', 'storage-drivers'],
  ui: ['auth', 'config', 'core', 'errors', 'http', 'logging', 'smartos', 'ops'],
  proxy: ['auth', 'config', 'core', 'errors', 'http', 'logging', 'storage-drivers'],
  archive: ['config', 'core', 'errors', 'logging', 'storage-drivers'],
  server: ['auth', 'config', 'core', 'errors', 'http', 'logging', 'protocol/v1', 'protocol/v2', 'smartos', 'ops', 'ui', 'proxy', 'storage-drivers'],
  cli: ['auth', 'config', 'core', 'errors', 'http', 'logging', 'server', 'ops', 'archive', 'storage-drivers'],
};

/** Packages a room must never import, whatever the room table says. */
const FORBIDDEN_PACKAGES: Readonly<Record<string, readonly string[]>> = {
  core: ['node:http', 'node:https', 'express', 'pino-http'],
  'storage-drivers': ['express', 'pino-http'],
  errors: ['express'],
  http: ['express'],
};

function tracked(): string[] {
  return execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter((f) => f !== '');
}

function roomOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'storage-drivers') return 'storage-drivers';
  if (parts[1] === 'protocol') return `protocol/${parts[2] ?? ''}`;
  return parts.length > 2 ? (parts[1] ?? '') : '(top)';
}

interface Import {
  readonly target: string;
  readonly relative: boolean;
}

const IMPORT_RE = /^\s*(?:import|export)\b[^'";]*?\bfrom\s+'([^']+)'|^\s*import\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm;

function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec === undefined) continue;
    if (spec.startsWith('.')) out.push({ target: normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'), relative: true });
    else out.push({ target: spec, relative: false });
  }
  return out;
}

const sources = tracked().filter((f) => /^(src|storage-drivers)\/.*\.ts$/.test(f) && !f.endsWith('.d.ts'));

test('every room imports only the rooms below it', () => {
  const violations: string[] = [];
  for (const file of sources) {
    const room = roomOf(file);
    const allowed = ALLOWED[room];
    if (allowed === undefined) {
      violations.push(`${file}: room "${room}" is not in the layering table (test/architecture.test.ts)`);
      continue;
    }
    for (const imp of importsOf(file)) {
      if (imp.relative) {
        const target = roomOf(imp.target);
        if (target !== room && !allowed.includes(target)) violations.push(`${file} imports ${imp.target} (${room} → ${target})`);
      } else {
        const pkg = imp.target.startsWith('@') ? imp.target.split('/').slice(0, 2).join('/') : (imp.target.split('/')[0] ?? '');
        if ((FORBIDDEN_PACKAGES[room] ?? []).includes(pkg)) violations.push(`${file} imports ${pkg}, which ${room} must not use`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('no import circle between modules', () => {
  const graph = new Map<string, string[]>();
  for (const file of sources) graph.set(file, importsOf(file).filter((i) => i.relative).map((i) => i.target));
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, stack: string[]): void => {
    const s = state.get(file);
    if (s === 'done') return;
    if (s === 'open') {
      cycles.push([...stack.slice(stack.indexOf(file)), file].join(' → '));
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...stack, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepEqual(cycles, []);
});

test('no tracked file names an absolute path outside the repository', () => {
  // Paths of a development machine (home and work directories, the team's notes) make the
  // project depend on one machine; cite the public source instead.
  const pattern = /(?:^|[\s`'"(=])(\/(?:work|home|Users)\/[A-Za-z0-9._-]+)|(?:\.\.\/)+shared\/specs/;
  const offenders: string[] = [];
  const self = relative(ROOT, join(ROOT, 'test', 'architecture.test.ts'));
  for (const file of tracked()) {
    if (file === self || file === 'package-lock.json' || /\.(png|jpe?g|gz|tar|tgz)$/.test(file)) continue;
    let text: string;
    try {
      text = readFileSync(join(ROOT, file), 'utf8');
    } catch {
      continue;
    }
    text.split('\n').forEach((line, i) => {
      if (pattern.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
    });
  }
  assert.deepEqual(offenders, []);
});
