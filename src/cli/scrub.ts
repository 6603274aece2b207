/**
 * `berth scrub [--repair] config.yml`: checks the whole store (src/ops/scrub.ts) and prints each
 * problem with the repositories it affects. Exit 0 when nothing is broken, 1 when something is
 * (also after --repair, which says what it removed), 2 on bad usage.
 */
import { scrub, type ScrubIssue } from '../ops/scrub.js';
import { formatBytes, openStore, parseArgs, type Output } from './store.js';

export const SCRUB_USAGE = 'berth scrub [--repair] config.yml';

function issueLine(i: ScrubIssue): string {
  const where = i.repositories.length > 0 ? ` (repositories: ${i.repositories.join(', ')})` : ' (no repository)';
  const fixed = i.repaired ? ' [removed]' : '';
  switch (i.kind) {
    case 'corrupt-blob':
      return `corrupt blob: ${i.digest ?? ''} hashes to ${i.computed ?? ''}${where}${fixed}`;
    case 'missing-blob':
      return `missing blob: ${i.digest ?? ''} is linked or referenced but not stored${where}`;
    case 'missing-manifest':
      return `missing manifest: ${i.digest ?? ''} has a revision link but no blob${where}`;
    case 'unparsable-manifest':
      return `unparsable manifest: ${i.digest ?? ''}${where}${fixed}`;
    case 'dangling-tag':
      return `dangling tag: ${i.repositories[0] ?? ''}:${i.tag ?? ''} points at missing manifest ${i.digest ?? ''}`;
    case 'stale-upload':
      return `stale upload session: ${i.repositories[0] ?? ''} ${i.upload ?? ''}${fixed}`;
  }
}

export async function scrubCommand(args: readonly string[], env: NodeJS.ProcessEnv, io: Output): Promise<number> {
  const parsed = parseArgs(args);
  const configPath = parsed.positional[0];
  if (configPath === undefined || parsed.positional.length > 1 || [...parsed.flags].some((f) => f !== 'repair')) {
    io.err(`usage: ${SCRUB_USAGE}`);
    return 2;
  }
  const { config, driver } = await openStore(configPath, env);
  const report = await scrub(driver, {
    repair: parsed.flags.has('repair'),
    staleUploadMs: config.storage.uploadPurging.ageMs,
    onProgress: (p) => io.status?.(`${p.blobs} blobs (${formatBytes(p.bytes)}) hashed, ${p.repositories} repositories checked`),
  });
  io.status?.('');
  for (const issue of report.issues) io.out(issueLine(issue));
  io.out(`scrub: ${report.blobs} blobs (${formatBytes(report.bytes)}) hashed, ${report.repositories} repositories checked, ${report.issues.length} problems`);
  return report.issues.length === 0 ? 0 : 1;
}
