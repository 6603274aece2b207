/**
 * Registry events (distribution's notification model): what happened (`push`, `pull`, `mount`,
 * `delete`) to which content, and the request that did it. Front ends emit them through an
 * injected {@link RegistryEvents} sink after an operation succeeded; the sink (webhook delivery
 * in `src/ops/notifications`) must never block or fail the request. {@link noEvents} is the
 * default: `active` is false so emitters skip building the event at all.
 */

export type EventAction = 'push' | 'pull' | 'mount' | 'delete';

export interface EventTarget {
  readonly mediaType?: string;
  readonly digest?: string;
  readonly size?: number;
  readonly repository: string;
  /** Cross-repository mounts: the repository the blob came from. */
  readonly fromRepository?: string;
  readonly url?: string;
  readonly tag?: string;
}

export interface EventRequest {
  readonly id: string;
  readonly addr: string;
  readonly host: string;
  readonly method: string;
  readonly useragent: string;
}

export interface RegistryEvent {
  readonly action: EventAction;
  readonly target: EventTarget;
  readonly request: EventRequest;
  /** The authenticated user, undefined when anonymous. */
  readonly actor?: string;
}

export interface RegistryEvents {
  /** False when nobody listens: emitters may skip building events. */
  readonly active: boolean;
  /** Takes the event and returns at once (delivery happens elsewhere); never throws. */
  emit(event: RegistryEvent): void;
}

export const noEvents: RegistryEvents = { active: false, emit: () => undefined };
