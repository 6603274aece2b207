/**
 * distribution's notification envelope (`application/vnd.docker.distribution.events.v1+json`):
 * `{"events": [...]}`, each event with `id`, `timestamp`, `action`, `target`, `request`, `actor`
 * and `source`. `target.length` repeats `size` (distribution keeps it for old receivers); empty
 * fields are left out as distribution's `omitempty` does.
 */
import { randomUUID } from 'node:crypto';
import type { RegistryEvent } from '../../core/events.js';

export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

export interface EventSource {
  /** `hostname:port` of this process. */
  readonly addr: string;
  /** New at every start. */
  readonly instanceID: string;
}

export interface Envelope {
  readonly id: string;
  readonly timestamp: string;
  readonly action: string;
  readonly target: Readonly<Record<string, string | number>>;
  readonly request: Readonly<Record<string, string>>;
  readonly actor: { readonly name?: string };
  readonly source: EventSource;
}

export function toEnvelope(event: RegistryEvent, source: EventSource, now: Date = new Date()): Envelope {
  const t = event.target;
  const target: Record<string, string | number> = {};
  if (t.mediaType !== undefined) target['mediaType'] = t.mediaType;
  if (t.size !== undefined) {
    target['size'] = t.size;
    target['length'] = t.size;
  }
  if (t.digest !== undefined) target['digest'] = t.digest;
  target['repository'] = t.repository;
  if (t.fromRepository !== undefined) target['fromRepository'] = t.fromRepository;
  if (t.url !== undefined) target['url'] = t.url;
  if (t.tag !== undefined) target['tag'] = t.tag;
  return {
    id: randomUUID(),
    timestamp: now.toISOString(),
    action: event.action,
    target,
    request: { ...event.request },
    actor: event.actor !== undefined ? { name: event.actor } : {},
    source,
  };
}

/** The POST body for one or more events. */
export function envelopeBody(events: readonly Envelope[]): string {
  return JSON.stringify({ events }, null, 2);
}
