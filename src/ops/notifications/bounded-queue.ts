/**
 * A FIFO with a fixed capacity: pushing onto a full queue drops (and returns) the oldest item.
 * O(1) amortised push and shift.
 */
export class BoundedQueue<T> {
  #items: T[] = [];
  #head = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds `item`; when full, removes the oldest item first and returns it. */
  push(item: T): T | undefined {
    const dropped = this.length >= this.capacity ? this.shift() : undefined;
    this.#items.push(item);
    return dropped;
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#head += 1;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
