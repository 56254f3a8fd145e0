/**
 * The ids of the most recent events, bounded: a ring of `capacity` ids with a
 * set for lookups. An event can arrive on both streams, again in a replay,
 * and again from the polling fallback; an id seen within the last `capacity`
 * events is a duplicate.
 */
export class RecentIds {
  private ring: (string | undefined)[];
  private set = new Set<string>();
  private next = 0;

  constructor(readonly capacity = 2048) {
    this.ring = new Array(capacity);
  }

  /** Records `id`; false when it was already recorded (a duplicate). */
  add(id: string): boolean {
    if (this.set.has(id)) return false;
    const old = this.ring[this.next];
    if (old !== undefined) this.set.delete(old);
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.set.add(id);
    return true;
  }

  has(id: string): boolean {
    return this.set.has(id);
  }

  get size(): number {
    return this.set.size;
  }
}
