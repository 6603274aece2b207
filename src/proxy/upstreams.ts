/**
 * Which upstream serves a local repository name, and under which name there: the longest
 * configured prefix that is the name itself or a leading path of it wins (`docker.io` serves
 * `docker.io/library/alpine` as `library/alpine`); the empty prefix (distribution's `proxy`
 * section) serves every name unchanged. Docker Hub's official images live under `library/`, so a
 * one-component name sent to Docker Hub gets that prefix, as docker does.
 */
import type { UpstreamConfig } from '../config/proxy-schema.js';

const DOCKER_HUB_HOSTS = new Set(['registry-1.docker.io', 'index.docker.io', 'docker.io', 'registry.hub.docker.com']);

export interface Route<U> {
  readonly upstream: U;
  /** The repository name at the upstream. */
  readonly remoteName: string;
}

export class UpstreamTable<U extends { readonly upstream: UpstreamConfig }> {
  /** `entries` in any order; matched longest prefix first. */
  constructor(private readonly entries: readonly U[]) {
    this.entries = [...entries].sort((a, b) => b.upstream.prefix.length - a.upstream.prefix.length);
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  route(name: string): Route<U> | undefined {
    for (const entry of this.entries) {
      const prefix = entry.upstream.prefix;
      let rest: string;
      if (prefix === '') rest = name;
      else if (name.startsWith(`${prefix}/`)) rest = name.slice(prefix.length + 1);
      else continue;
      return { upstream: entry, remoteName: remoteName(entry.upstream, rest) };
    }
    return undefined;
  }
}

function remoteName(upstream: UpstreamConfig, rest: string): string {
  if (!rest.includes('/') && DOCKER_HUB_HOSTS.has(new URL(upstream.remoteUrl).hostname)) return `library/${rest}`;
  return rest;
}
