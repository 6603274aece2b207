/**
 * Copy-to-clipboard pull commands for one image reference: docker, skopeo, and SmartOS (the
 * registry added once as a docker-type imgadm source, then `imgadm import`). The commands are
 * plain selectable text; the copy buttons are hidden until the script shows them.
 */
import { html, type SafeHtml } from '../html.js';

export interface PullTarget {
  /** `host[:port]` clients name the registry by. */
  readonly host: string;
  /** `http://host` or `https://host`. */
  readonly origin: string;
  readonly name: string;
  /** `:tag` or `@sha256:…`. */
  readonly suffix: string;
}

export function pullCommands(target: PullTarget, idBase: string): SafeHtml {
  const ref = `${target.host}/${target.name}${target.suffix}`;
  const insecure = target.origin.startsWith('http:');
  const local = target.name.slice(target.name.lastIndexOf('/') + 1);
  const ociTag = target.suffix.startsWith(':') ? target.suffix : '';
  const commands: [string, string][] = [
    ['docker', `docker pull ${ref}`],
    ['skopeo', `skopeo copy${insecure ? ' --src-tls-verify=false' : ''} docker://${ref} oci:${local}${ociTag}`],
    ['SmartOS: add the source once', `imgadm sources -a ${target.origin} -t docker`],
    ['SmartOS: import', `imgadm import ${ref}`],
  ];
  return html`<div class="cmds">${commands.map(
    ([label, command], i) => html`<div class="cmd"><span class="badge">${label}</span><code id="${idBase}-${i}">${command}</code><button type="button" class="secondary" data-copy="${idBase}-${i}" hidden aria-label="Copy the ${label} command">Copy</button></div>`,
  )}</div>`;
}
