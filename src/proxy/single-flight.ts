/**
 * In-process single flight: concurrent calls with the same key share one running promise; the
 * next call after it settles starts a new one. Across nodes there is no coordination: each node
 * runs its own flight and storage's atomic writes make the last identical result win.
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.running.get(key);
    if (existing !== undefined) return existing;
    // `work` starts on a microtask, after the entry is recorded (even if it throws at once).
    const promise = Promise.resolve()
      .then(work)
      .finally(() => this.running.delete(key));
    this.running.set(key, promise);
    return promise;
  }

  get size(): number {
    return this.running.size;
  }
}
