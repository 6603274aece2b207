/**
 * Runs the `docker` CLI against the test run's own engine (the one test/setup/20-docker-engine.sh
 * starts and announces in BERTH_DOCKER_HOST), never the system socket: every command gets an
 * explicit `-H`, a private DOCKER_CONFIG directory (no stored credentials are read or written) and
 * a timeout. Failures carry the command line with its stdout and stderr.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_DOCKER_TIMEOUT_MS = 60_000;

/** The engine address announced by the setup script, if any (`unix:///…/docker.sock`). */
export function dockerHostFromEnv(): string | undefined {
  const host = process.env['BERTH_DOCKER_HOST'];
  return host !== undefined && host !== '' ? host : undefined;
}

/** The client binary: BERTH_DOCKER_CLI (the one packaged with the engine) or `docker` on PATH. */
export function dockerBinaryFromEnv(): string {
  const bin = process.env['BERTH_DOCKER_CLI'];
  return bin !== undefined && bin !== '' ? bin : 'docker';
}

export interface DockerResult {
  readonly stdout: string;
  readonly stderr: string;
}

export class DockerCommandError extends Error {
  constructor(
    message: string,
    readonly stdout: string,
    readonly stderr: string,
    readonly exitCode: number | string | null,
  ) {
    super(message);
    this.name = 'DockerCommandError';
  }
}

export interface RunOptions {
  readonly timeoutMs?: number;
  /** Written to the command's stdin (e.g. `login --password-stdin`), then stdin is closed. */
  readonly input?: string;
}

export class DockerCli {
  private constructor(
    readonly host: string,
    readonly binary: string,
    readonly configDir: string,
  ) {}

  /** A client for `host` with a fresh, empty DOCKER_CONFIG directory. */
  static async create(host: string, binary = dockerBinaryFromEnv()): Promise<DockerCli> {
    const configDir = await mkdtemp(join(tmpdir(), 'berth-docker-config-'));
    return new DockerCli(host, binary, configDir);
  }

  /** Removes the private DOCKER_CONFIG directory. */
  async dispose(): Promise<void> {
    await rm(this.configDir, { recursive: true, force: true });
  }

  /** Runs `docker -H <host> ...args`; rejects on a non-zero exit or when the timeout expires. */
  run(args: readonly string[], options: RunOptions = {}): Promise<DockerResult> {
    const timeout = options.timeoutMs ?? DEFAULT_DOCKER_TIMEOUT_MS;
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: this.configDir, DOCKER_CLI_HINTS: 'false' };
    delete env['DOCKER_HOST'];
    delete env['DOCKER_CONTEXT'];
    delete env['DOCKER_TLS_VERIFY'];
    delete env['DOCKER_CERT_PATH'];
    const argv = ['-H', this.host, ...args];
    const shown = `${this.binary} ${argv.join(' ')}`;
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.binary,
        argv,
        { env, timeout, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
        (error, stdout, stderr) => {
          if (error === null) {
            resolve({ stdout, stderr });
            return;
          }
          const timedOut = error.killed === true && error.signal === 'SIGKILL';
          const why = timedOut ? `timed out after ${timeout} ms` : `failed (${error.code ?? error.signal ?? '?'})`;
          reject(
            new DockerCommandError(
              `${shown} ${why}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`,
              stdout,
              stderr,
              error.code ?? error.signal ?? null,
            ),
          );
        },
      );
      if (options.input !== undefined) child.stdin?.end(options.input);
    });
  }

  /** `docker login <registry>` with the password on stdin (never in argv). */
  async login(registry: string, user: string, password: string): Promise<DockerResult> {
    return this.run(['login', '--username', user, '--password-stdin', registry], { input: password, timeoutMs: 30_000 });
  }

  async logout(registry: string): Promise<void> {
    await this.run(['logout', registry], { timeoutMs: 15_000 });
  }

  /** `docker info` answers: the engine is up and the client can talk to it. */
  async serverVersion(): Promise<string> {
    const { stdout } = await this.run(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 15_000 });
    return stdout.trim();
  }

  /** CIDRs and hosts the engine talks plain HTTP to (127.0.0.0/8 by default). */
  async insecureRegistryCidrs(): Promise<string[]> {
    const { stdout } = await this.run(['info', '--format', '{{json .RegistryConfig.InsecureRegistryCIDRs}}'], {
      timeoutMs: 15_000,
    });
    const parsed: unknown = JSON.parse(stdout);
    return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : [];
  }

  /** `docker import <file> <ref>`; returns the new image ID. */
  async importTar(file: string, ref: string, changes: readonly string[] = []): Promise<string> {
    const args = ['import', ...changes.flatMap((c) => ['--change', c]), file, ref];
    const { stdout } = await this.run(args);
    return stdout.trim();
  }

  /** `docker load -i <file>`; returns the "Loaded image: …" names. */
  async load(file: string): Promise<string[]> {
    const { stdout } = await this.run(['load', '-i', file]);
    return [...stdout.matchAll(/^Loaded image(?: ID)?: (\S+)$/gm)].map((m) => m[1] ?? '');
  }

  /** `docker push <ref>`; returns the manifest digest and the per-layer status lines. */
  async push(ref: string): Promise<{ digest: string; size: number; output: string }> {
    const { stdout } = await this.run(['push', ref]);
    const match = /digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(stdout);
    if (match === null) throw new Error(`docker push ${ref}: no digest in output:\n${stdout}`);
    return { digest: match[1] ?? '', size: Number(match[2]), output: stdout };
  }

  /** `docker pull <ref>`; returns the digest the engine reported. */
  async pull(ref: string): Promise<{ digest: string; output: string }> {
    const { stdout } = await this.run(['pull', ref]);
    const match = /Digest: (sha256:[0-9a-f]{64})/.exec(stdout);
    if (match === null) throw new Error(`docker pull ${ref}: no digest in output:\n${stdout}`);
    return { digest: match[1] ?? '', output: stdout };
  }

  async tag(source: string, target: string): Promise<void> {
    await this.run(['tag', source, target]);
  }

  /** `docker rmi` of the names; with `ignoreMissing`, names that are not there are no error. */
  async rmi(refs: readonly string[], options: { ignoreMissing?: boolean } = {}): Promise<void> {
    for (const ref of refs) {
      try {
        await this.run(['rmi', ref]);
      } catch (err) {
        if (!(options.ignoreMissing === true && err instanceof DockerCommandError && /No such image/i.test(err.stderr))) {
          throw err;
        }
      }
    }
  }

  /** `docker create` (never started, no network) of the image; returns the container ID. */
  async createContainer(ref: string): Promise<string> {
    const { stdout } = await this.run(['create', '--network', 'none', ref]);
    return stdout.trim();
  }

  /** `docker export` of a container's merged filesystem into a tar file. */
  async exportContainer(containerId: string, file: string): Promise<void> {
    await this.run(['export', '--output', file, containerId]);
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.run(['rm', '--force', containerId]);
  }

  /** Whether the engine has an image by that name or ID. */
  async hasImage(ref: string): Promise<boolean> {
    try {
      await this.run(['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 15_000 });
      return true;
    } catch (err) {
      if (err instanceof DockerCommandError && /No such (image|object)/i.test(err.stderr)) return false;
      throw err;
    }
  }

  async imageId(ref: string): Promise<string> {
    const { stdout } = await this.run(['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 15_000 });
    return stdout.trim();
  }

  /** The image's `RepoDigests` (`repo@sha256:…`), sorted. */
  async repoDigests(ref: string): Promise<string[]> {
    return (await this.inspectStrings(ref, '{{json .RepoDigests}}')).sort();
  }

  /** The image's `RootFS.Layers` (diff IDs), lowest first. */
  async layerDiffIds(ref: string): Promise<string[]> {
    return this.inspectStrings(ref, '{{json .RootFS.Layers}}');
  }

  private async inspectStrings(ref: string, format: string): Promise<string[]> {
    const { stdout } = await this.run(['image', 'inspect', '--format', format, ref], { timeoutMs: 15_000 });
    const parsed: unknown = JSON.parse(stdout);
    if (parsed === null) return [];
    if (!Array.isArray(parsed)) throw new Error(`docker image inspect ${ref} ${format}: not a list: ${stdout}`);
    return parsed.filter((v): v is string => typeof v === 'string');
  }
}

/**
 * The test run's Docker engine for a suite: its address, or why the suite is skipped. Under
 * CI=true a missing engine is also registered as a failing test named after `suite`, so CI never
 * skips a Docker suite silently.
 */
export function dockerEngineForSuite(suite: string, failInCi: (name: string, run: () => void) => void): {
  readonly dockerHost: string | undefined;
  readonly skipReason: string | false;
} {
  const dockerHost = dockerHostFromEnv();
  if (dockerHost !== undefined) return { dockerHost, skipReason: false };
  if (process.env['CI'] === 'true') {
    failInCi(`${suite}: a test Docker engine is available in CI`, () => {
      throw new Error('CI=true but BERTH_DOCKER_HOST is not set: test/setup/20-docker-engine.sh did not start an engine');
    });
    return { dockerHost, skipReason: 'no test Docker engine (reported as a failure by the test above)' };
  }
  return {
    dockerHost,
    skipReason: 'BERTH_DOCKER_HOST is not set: no test Docker engine (test/setup/20-docker-engine.sh starts one; run the tests through test/run.sh)',
  };
}
