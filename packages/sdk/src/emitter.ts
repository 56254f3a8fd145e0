/** A listener's unsubscribe function. */
export type Unsubscribe = () => void;

type Listener = ((...args: any[]) => void) & { original?: Listener };

/** A minimal synchronous event emitter; a throwing listener never stops the others. */
export class Emitter {
  private listeners = new Map<string, Set<Listener>>();

  on(name: string, fn: Listener): Unsubscribe {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(fn);
    return () => this.off(name, fn);
  }

  off(name: string, fn: Listener): void {
    const set = this.listeners.get(name);
    if (!set) return;
    if (!set.delete(fn)) {
      // A listener added with once() is stored wrapped.
      for (const l of set)
        if (l.original === fn) {
          set.delete(l);
          break;
        }
    }
    if (set.size === 0) this.listeners.delete(name);
  }

  once(name: string, fn: Listener): Unsubscribe {
    const wrapper: Listener = (...args) => {
      this.off(name, wrapper);
      fn(...args);
    };
    wrapper.original = fn;
    return this.on(name, wrapper);
  }

  has(name: string): boolean {
    return this.listeners.has(name);
  }

  emit(name: string, ...args: unknown[]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        // An app's listener bug must not break delivery to the others or the SDK's state.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
