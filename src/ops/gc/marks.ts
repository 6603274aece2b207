/**
 * The mark set of a garbage collection: every digest reachable from a root, with its size when a
 * descriptor or record told it (for the "marked bytes" figure), and which manifests have had their
 * references followed. The only store-sized structure a collection keeps in memory.
 */
export class MarkSet {
  private readonly sizes = new Map<string, number>();
  private readonly expanded = new Set<string>();

  mark(digest: string, size: number | undefined): void {
    const old = this.sizes.get(digest);
    if (old === undefined || (old === 0 && size !== undefined)) this.sizes.set(digest, size ?? 0);
  }

  has(digest: string): boolean {
    return this.sizes.has(digest);
  }

  /** True the first time a manifest is expanded (its references followed). */
  startExpanding(digest: string): boolean {
    if (this.expanded.has(digest)) return false;
    this.expanded.add(digest);
    return true;
  }

  get count(): number {
    return this.sizes.size;
  }

  get bytes(): number {
    let total = 0;
    for (const size of this.sizes.values()) total += size;
    return total;
  }
}
