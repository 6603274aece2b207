/**
 * Progress of an import or export: bytes, rate and ETA of the current item (layer, blob) and of
 * the whole run. On a terminal one status line is redrawn (at most five times a second); otherwise
 * one plain line per finished item; quiet prints nothing. The sink functions come from the CLI.
 */

export interface ProgressSink {
  /** A finished line (stdout or stderr, as the CLI chooses). */
  readonly line: (text: string) => void;
  /** A transient status line (terminal only); absent: plain lines. */
  readonly status?: (text: string) => void;
  readonly quiet?: boolean;
}

export class Progress {
  private total: number | undefined;
  private done = 0;
  private readonly started = Date.now();
  private item = '';
  private itemSize = 0;
  private itemDone = 0;
  private itemStarted = Date.now();
  private lastDraw = 0;

  constructor(private readonly sink: ProgressSink) {}

  /** Overall bytes expected (undefined: unknown, e.g. stdin). */
  setTotal(total: number | undefined): void {
    this.total = total;
  }

  /** Overall bytes moved so far, when they are counted elsewhere than per item (compressed input). */
  setDone(done: number): void {
    this.done = done;
    this.draw();
  }

  startItem(name: string, size: number): void {
    this.item = name;
    this.itemSize = size;
    this.itemDone = 0;
    this.itemStarted = Date.now();
    this.draw();
  }

  /** Bytes of the current item; `countOverall` adds them to the overall figure too. */
  advance(n: number, countOverall: boolean): void {
    this.itemDone += n;
    if (countOverall) this.done += n;
    this.draw();
  }

  endItem(): void {
    if (this.sink.quiet === true) return;
    const seconds = (Date.now() - this.itemStarted) / 1000;
    if (this.sink.status === undefined) {
      this.sink.line(`${this.item}: ${formatSize(this.itemDone)} in ${seconds.toFixed(1)} s (${formatRate(this.itemDone, seconds)})`);
    }
  }

  /** A plain message (always a full line; the status line is cleared first). */
  message(text: string): void {
    if (this.sink.quiet === true) return;
    this.sink.status?.('');
    this.sink.line(text);
  }

  /** The closing summary. */
  finish(what: string): void {
    if (this.sink.quiet === true) return;
    this.sink.status?.('');
    const seconds = (Date.now() - this.started) / 1000;
    this.sink.line(`${what}: ${formatSize(this.done)} in ${seconds.toFixed(1)} s (${formatRate(this.done, seconds)})`);
  }

  private draw(): void {
    if (this.sink.quiet === true || this.sink.status === undefined) return;
    const now = Date.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const itemSeconds = (now - this.itemStarted) / 1000;
    const overallSeconds = (now - this.started) / 1000;
    const item = `${this.item} ${formatSize(this.itemDone)}/${formatSize(this.itemSize)} ${formatRate(this.itemDone, itemSeconds)} ETA ${eta(this.itemDone, this.itemSize, itemSeconds)}`;
    const overall =
      this.total === undefined
        ? `total ${formatSize(this.done)} ${formatRate(this.done, overallSeconds)}`
        : `total ${formatSize(this.done)}/${formatSize(this.total)} ${formatRate(this.done, overallSeconds)} ETA ${eta(this.done, this.total, overallSeconds)}`;
    this.sink.status(`${item} | ${overall}`);
  }
}

export function formatSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i] ?? ''}`;
}

function formatRate(bytes: number, seconds: number): string {
  return seconds <= 0 ? '-' : `${formatSize(Math.round(bytes / seconds))}/s`;
}

function eta(done: number, total: number, seconds: number): string {
  if (done <= 0 || seconds <= 0 || total <= done) return done >= total ? '0s' : '?';
  const left = ((total - done) * seconds) / done;
  return left >= 60 ? `${Math.floor(left / 60)}m${Math.round(left % 60)}s` : `${Math.ceil(left)}s`;
}
