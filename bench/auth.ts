/**
 * bench/auth.ts — authenticated manifest GET, Berth vs the reference (Debian's docker-registry,
 * CNCF distribution 2.8.2), both configured alike, on this machine.
 *
 * bcrypt costs tens of milliseconds per compare and docker sends Basic credentials on every
 * request, so a registry that runs bcrypt per request caps authenticated pulls at a few requests
 * per second per core. This entry measures, with wrk at --connections (50) on
 * /v2/<repo>/manifests/latest: Berth without auth, with htpasswd (Basic header on every request)
 * and with its own token server (Bearer token fetched from /token with the Basic credentials), and
 * the reference without auth, with htpasswd and with auth.token (a hand-signed ES256 token, kid =
 * libtrust ID). Then sequential wrong-password loops: Berth (Basic and /token), the reference, and
 * Berth with berth.ratelimit.failedlogins (must answer 429 after the burst).
 *
 * Every measurement is a fresh server process on a storage the registry's own unauthenticated
 * instance filled (lib/auth/servers.ts). Prints markdown tables; writes bench/results/auth.json.
 * See bench/README.md ("Authenticated pulls"). Run `node dist/bench/auth.js --help`.
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AUTH_USAGE, parseAuthArgs, type AuthOptions } from './lib/auth/args.js';
import { runLoad } from './lib/auth/load.js';
import { makeSigningCert, makeUser, signPullToken, type BenchUser } from './lib/auth/credentials.js';
import { expectChallenge, expectManifest, fetchToken, manifestUrl, sequentialLoop, tokenUrl } from './lib/auth/probes.js';
import { checks, renderChecks, renderDetails, renderLoops, renderRates, type AuthSample, type WrongLoop } from './lib/auth/report.js';
import {
  FAILED_LOGINS,
  prepareStorage,
  REPO,
  REF_TOKEN_ISSUER,
  REF_TOKEN_SERVICE,
  startInstance,
  stopInstance,
  type AuthMode,
  type Instance,
  type ServerSetup,
  type Side,
} from './lib/auth/servers.js';
import { berthMain, defaultBerthCmd, log, machineInfo, repoRoot, requireCommands, runEntry, writeResults } from './lib/common.js';
import { ForeignCpu, processCpuSeconds } from './lib/cpu.js';
import { shellQuote, sleep } from './lib/exec.js';
import { benchWorkDir, killAllStarted, startRegistry, stopRegistry } from './lib/registry.js';
import { processTree } from './lib/rss.js';
import { median } from './lib/stats.js';
import { SCHEMA2, type ImageFixture } from './lib/workloads.js';

const LABELS: Record<Side, string> = { berth: 'Berth', ref: 'reference' };
/** berth-none, ref-none, berth-htpasswd, … — reversed every other round. */
const CONFIGS: ReadonlyArray<readonly [Side, AuthMode]> = [
  ['berth', 'none'],
  ['ref', 'none'],
  ['berth', 'htpasswd'],
  ['ref', 'htpasswd'],
  ['berth', 'token'],
  ['ref', 'token'],
];

/** Longest measurement of a configuration that answers in waves (see measure). */
const MAX_SLOW_DURATION_S = 60;

interface Ctx {
  o: AuthOptions;
  workDir: string;
  user: BenchUser;
  /** The hand-signed token for the reference's auth.token mode. */
  refToken: string;
  setups: Record<Side, ServerSetup>;
  images: Record<Side, ImageFixture>;
}

function serverCpu(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + (processCpuSeconds(p) || 0), 0);
}

/**
 * Waits until the server is idle (< 10 % of a core over 500 ms; at most 60 s) and returns the
 * milliseconds waited. A server that runs bcrypt per request keeps computing the compares of
 * requests the warm-up's wrk abandoned when it exited (distribution does not cancel them); without
 * this wait that backlog would eat into the measurement.
 */
async function settle(pid: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const c0 = serverCpu(pid);
    await sleep(500);
    if (serverCpu(pid) - c0 < 0.05 || Date.now() - t0 > 60_000) return Date.now() - t0;
  }
}

/** Checks the instance answers as its mode should, and returns the Authorization header to load it with. */
async function authorizationFor(ctx: Ctx, i: Instance, sample: AuthSample): Promise<string | undefined> {
  const base = i.launched.base;
  const img = ctx.images[i.setup.side];
  switch (i.mode) {
    case 'none':
      await expectManifest(base, img, undefined);
      return undefined;
    case 'htpasswd':
    case 'limited':
      await expectChallenge(base, img, 'Basic');
      sample.firstAuthMs = await expectManifest(base, img, ctx.user.basic);
      return ctx.user.basic;
    case 'token': {
      let token = ctx.refToken;
      if (i.setup.side === 'berth') {
        const t = await fetchToken(base, img, ctx.user.basic);
        sample.tokenMs = t.ms;
        token = t.token;
      } else {
        await expectChallenge(base, img, 'Bearer');
      }
      sample.firstAuthMs = await expectManifest(base, img, `Bearer ${token}`);
      return `Bearer ${token}`;
    }
  }
}

async function measure(ctx: Ctx, side: Side, mode: AuthMode, round: number): Promise<AuthSample> {
  const { o } = ctx;
  const sample: AuthSample = { side, mode, label: LABELS[side], round, ok: false };
  const foreign = new ForeignCpu();
  let inst: Instance | undefined;
  try {
    inst = await startInstance(ctx.setups[side], mode, ctx.workDir);
    sample.startupMs = inst.launched.startupMs;
    const authorization = await authorizationFor(ctx, inst, sample);
    const headers: Record<string, string> = { Accept: SCHEMA2 };
    if (authorization !== undefined) headers['Authorization'] = authorization;
    const common = { url: manifestUrl(inst.launched.base, ctx.images[side]), headers, connections: o.connections, threads: o.threads };
    const pid = inst.launched.pid;
    let durationS = o.durationS;
    if (o.warmupS > 0) {
      const warm = await runLoad({ ...common, durationS: o.warmupS, allowEmpty: true });
      sample.settleMs = await settle(pid);
      // Not even one response per connection during the warm-up: the server answers in waves of
      // `connections` requests (one bcrypt each, all sharing the CPU); measure ≥ 3 such waves.
      if (warm.requests < o.connections) durationS = Math.min(MAX_SLOW_DURATION_S, Math.max(durationS, Math.ceil(3 * (o.warmupS + sample.settleMs / 1000))));
    }
    sample.durationS = durationS;
    const c0 = serverCpu(pid);
    const w = await runLoad({ ...common, durationS });
    const cpu = serverCpu(pid) - c0;
    Object.assign(sample, {
      rps: w.rps,
      p50Ms: w.latencyMs.p50,
      p99Ms: w.latencyMs.p99,
      requests: w.requests,
      non2xx: w.non2xx,
      socketErrors: w.socketErrors.connect + w.socketErrors.read + w.socketErrors.write + w.socketErrors.timeout,
      cpuUsPerRequest: (cpu * 1e6) / w.requests,
    });
    if (w.non2xx > 0) throw new Error(`${w.non2xx} non-2xx/3xx responses of ${w.requests}`);
    sample.ok = true;
  } catch (e) {
    sample.error = e instanceof Error ? e.message : String(e);
    if (inst) sample.error += ` (server log: ${inst.launched.logPath}${o.keep ? '' : ', removed; use --keep'})`;
  } finally {
    if (inst) sample.peakRssMiB = (await stopInstance(inst)).peakMiB;
    sample.foreignCpu = foreign.share();
  }
  return sample;
}

function fmtSample(s: AuthSample): string {
  if (!s.ok) return `ERROR ${s.error ?? ''}`;
  const first = s.firstAuthMs !== undefined ? `; first authenticated GET ${s.firstAuthMs.toFixed(1)} ms` : '';
  const token = s.tokenMs !== undefined ? `; token request ${s.tokenMs.toFixed(1)} ms` : '';
  const longer = s.durationS !== undefined ? `; wrk ${s.durationS} s` : '';
  const settled = s.settleMs !== undefined && s.settleMs > 600 ? `; server busy ${(s.settleMs / 1000).toFixed(1)} s after the warm-up` : '';
  return `${(s.rps ?? 0).toFixed(1)} req/s, p99 ${(s.p99Ms ?? 0).toFixed(1)} ms, ${(s.cpuUsPerRequest ?? 0).toFixed(0)} µs server CPU/req${first}${token}${settled}${longer}; other processes ${((s.foreignCpu ?? 0) * 100).toFixed(0)}% CPU`;
}


type LoopOutcome = Pick<WrongLoop, 'result' | 'afterRightPassword'>;

/** Starts `side` in `mode`, runs one wrong-password loop in it, stops it; an error becomes the loop's error. */
async function loopIn(ctx: Ctx, side: Side, mode: AuthMode, name: string, expect: string, body: (i: Instance) => Promise<LoopOutcome>): Promise<WrongLoop> {
  const loop: WrongLoop = { name, expect };
  let inst: Instance | undefined;
  try {
    inst = await startInstance(ctx.setups[side], mode, ctx.workDir);
    Object.assign(loop, await body(inst));
  } catch (e) {
    loop.error = e instanceof Error ? e.message : String(e);
  } finally {
    if (inst) await stopInstance(inst);
  }
  const r = loop.result;
  log(`[wrong password] ${name}: ${r ? `${r.rps.toFixed(1)} req/s, statuses ${JSON.stringify(r.statuses)}` : `ERROR ${loop.error ?? ''}`}`);
  return loop;
}

/** Status of one manifest GET with the right password (0 on a transport error). */
async function rightPasswordStatus(base: string, img: ImageFixture, basic: string): Promise<number> {
  try {
    await expectManifest(base, img, basic);
    return 200;
  } catch (e) {
    const m = /status (\d+)/.exec(e instanceof Error ? e.message : String(e));
    return m?.[1] !== undefined ? Number(m[1]) : 0;
  }
}

async function wrongPasswordLoops(ctx: Ctx): Promise<WrongLoop[]> {
  const n = ctx.o.wrongRequests;
  const { user } = ctx;
  const berthImg = ctx.images.berth;
  const loops: WrongLoop[] = [];
  loops.push(
    await loopIn(ctx, 'berth', 'htpasswd', 'Berth htpasswd: manifest GET, wrong Basic password', 'each 401 costs a bcrypt compare (failures are never cached); the right password still works', async (i) => {
      await expectManifest(i.launched.base, berthImg, user.basic); // right password verified and cached first
      const result = await sequentialLoop(manifestUrl(i.launched.base, berthImg), user.wrongBasic, n);
      return { result, afterRightPassword: await rightPasswordStatus(i.launched.base, berthImg, user.basic) };
    }),
  );
  loops.push(
    await loopIn(ctx, 'berth', 'token', 'Berth token server: GET /token, wrong Basic password', 'each 401 costs a bcrypt compare', async (i) => {
      const url = await tokenUrl(i.launched.base, berthImg);
      return { result: await sequentialLoop(url, user.wrongBasic, n, 'application/json') };
    }),
  );
  loops.push(
    await loopIn(ctx, 'ref', 'htpasswd', 'reference htpasswd: manifest GET, wrong Basic password', 'for comparison (no rate limiting in distribution)', async (i) => {
      const img = ctx.images.ref;
      return { result: await sequentialLoop(manifestUrl(i.launched.base, img), user.wrongBasic, n), afterRightPassword: await rightPasswordStatus(i.launched.base, img, user.basic) };
    }),
  );
  loops.push(
    await loopIn(
      ctx,
      'berth',
      'limited',
      `Berth htpasswd + berth.ratelimit.failedlogins {rate: ${FAILED_LOGINS.rate}, burst: ${FAILED_LOGINS.burst}}`,
      `${FAILED_LOGINS.burst}× 401 (bcrypt), then 429 with Retry-After and no bcrypt; the locked user+address gets 429 for the right password too until a token refills`,
      async (i) => ({
        result: await sequentialLoop(manifestUrl(i.launched.base, berthImg), user.wrongBasic, n),
        afterRightPassword: await rightPasswordStatus(i.launched.base, berthImg, user.basic),
      }),
    ),
  );
  return loops;
}

/** Client ceiling: the same wrk GET (with an Authorization header) against lib/calib-server.ts. */
async function calibrateClient(o: AuthOptions, user: BenchUser, workDir: string): Promise<number> {
  const server = join(dirname(fileURLToPath(import.meta.url)), 'lib', 'calib-server.js');
  const reg = await startRegistry({ key: 'calib', label: 'no-op server', cmd: `node ${shellQuote(server)} --size 0`, extraStorage: [], logLevel: 'error' }, workDir);
  try {
    const w = await runLoad({
      url: `${reg.base}/manifest`,
      headers: { Accept: SCHEMA2, Authorization: user.basic },
      connections: o.connections,
      threads: o.threads,
      durationS: Math.min(5, o.durationS),
    });
    return w.rps;
  } finally {
    await stopRegistry(reg);
  }
}

async function main(): Promise<number> {
  const o = parseAuthArgs(process.argv.slice(2), { berthCmd: defaultBerthCmd, out: join(repoRoot, 'bench', 'results', 'auth.json') });
  if (o.help) {
    process.stdout.write(AUTH_USAGE);
    return 0;
  }
  await requireCommands(['wrk', 'openssl'], [o.berthCmd, o.refCmd]);
  if (o.berthCmd === defaultBerthCmd && !existsSync(berthMain)) throw new Error(`Berth is not built (${berthMain} missing): run \`npx tsc -p tsconfig.json\`, or pass --berth-cmd`);
  const t0 = Date.now();
  const load0 = loadavg();
  const { workDir, cleanup } = benchWorkDir('berth-auth-bench-', o);
  try {
    log(`work dir ${workDir}`);
    const user = makeUser(workDir, o.bcryptCost);
    log(`htpasswd: user ${user.user}, bcrypt cost ${o.bcryptCost}; one compare in this process: ${user.bcryptMs.toFixed(1)} ms`);
    const cert = await makeSigningCert(workDir);
    const refToken = await signPullToken(cert, { issuer: REF_TOKEN_ISSUER, service: REF_TOKEN_SERVICE, subject: user.user, repo: REPO, lifetimeS: 24 * 3600 });
    log(`reference token: ES256, kid ${cert.kid}, pull on ${REPO}`);
    const files = { htpasswdPath: user.htpasswdPath, certPath: cert.certPath };
    const setups: Record<Side, ServerSetup> = {
      berth: { side: 'berth', label: LABELS.berth, cmd: o.berthCmd, storage: join(workDir, 'storage-berth'), logLevel: o.logLevel, files },
      ref: { side: 'ref', label: LABELS.ref, cmd: o.refCmd, storage: join(workDir, 'storage-ref'), logLevel: o.logLevel, files },
    };
    log(`${LABELS.berth}: ${o.berthCmd}`);
    log(`${LABELS.ref}: ${o.refCmd}`);
    let ceiling: number | undefined;
    if (o.calibrate) {
      ceiling = await calibrateClient(o, user, workDir);
      log(`client ceiling (wrk GET with an Authorization header vs a no-op node server): ${ceiling.toFixed(0)} req/s`);
    }
    const images: Record<Side, ImageFixture> = { berth: await prepareStorage(setups.berth, workDir), ref: await prepareStorage(setups.ref, workDir) };
    log(`pushed ${REPO}:latest (${images.berth.manifestDigest}) to both`);
    const ctx: Ctx = { o, workDir, user, refToken, setups, images };

    const samples: AuthSample[] = [];
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? CONFIGS : [...CONFIGS].reverse();
      for (const [side, mode] of order) {
        const s = await measure(ctx, side, mode, round);
        log(`[r${round + 1}] ${LABELS[side]} ${mode}: ${fmtSample(s)}`);
        samples.push(s);
      }
    }
    const loops = await wrongPasswordLoops(ctx);
    const list = checks({
      samples,
      ...(loops[0]?.result !== undefined ? { berthWrong: loops[0].result } : {}),
      ...(loops[3]?.result !== undefined ? { limited: loops[3].result } : {}),
      bcryptMs: user.bcryptMs,
      limitBurst: FAILED_LOGINS.burst,
    });

    const elapsedS = (Date.now() - t0) / 1000;
    const load1 = loadavg();
    const foreign = samples.map((s) => s.foreignCpu ?? 0);
    const errors = samples.filter((s) => !s.ok);
    const loopErrors = loops.filter((l) => l.result === undefined);
    const lines = [
      `## Berth authenticated-pull benchmark — ${new Date().toISOString()}`,
      '',
      `wrk -c ${o.connections} -t ${o.threads} -d ${o.durationS}s (after ${o.warmupS} s warm-up) on /v2/${REPO}/manifests/latest; ${o.rounds} round(s)${o.rounds > 1 ? ', medians' : ''}; htpasswd: one user, bcrypt cost ${o.bcryptCost} (one compare here: ${user.bcryptMs.toFixed(0)} ms).`,
      `Machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), shared by client (wrk) and server, and with other developers' jobs: load average ${load0.map((x) => x.toFixed(2)).join(' ')} at the start, ${load1.map((x) => x.toFixed(2)).join(' ')} at the end; other processes used median ${(median(foreign) * 100).toFixed(0)} %, max ${(Math.max(0, ...foreign) * 100).toFixed(0)} % of the CPU during the samples.` +
        (ceiling !== undefined ? ` Client ceiling (the same wrk GET vs a no-op node server): ${ceiling.toFixed(0)} req/s.` : ''),
      '',
      renderRates(samples, LABELS),
      '',
      renderChecks(list),
      '',
      renderDetails(samples),
      '',
      renderLoops(loops),
      '',
    ];
    if (errors.length > 0 || loopErrors.length > 0) {
      lines.push(`${errors.length + loopErrors.length} failed measurement(s):`);
      for (const e of errors) lines.push(`- r${e.round + 1} ${e.label} ${e.mode}: ${e.error ?? ''}`);
      for (const l of loopErrors) lines.push(`- ${l.name}: ${l.error ?? ''}`);
      lines.push('');
    }
    lines.push(`Total time ${elapsedS.toFixed(0)} s.`);
    process.stdout.write(`${lines.join('\n')}\n`);

    const result = {
      schema: 1,
      finishedAt: new Date().toISOString(),
      elapsedS,
      machine: { ...(await machineInfo(o.refCmd)), loadavgStart: load0, loadavgEnd: load1 },
      options: o,
      commands: { berth: o.berthCmd, ref: o.refCmd },
      bcrypt: { cost: o.bcryptCost, compareMs: user.bcryptMs },
      clientCeilingRps: ceiling ?? null,
      checks: list,
      samples,
      wrongPasswordLoops: loops,
    };
    writeResults(o.out, result);
    return errors.length + loopErrors.length > 0 ? 2 : 0;
  } finally {
    cleanup();
  }
}

runEntry(main, killAllStarted);
