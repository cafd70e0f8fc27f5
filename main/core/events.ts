/** A minimal listener set: a throwing listener must not stop the others or the core. */
export class Listeners<E> {
  private readonly set = new Set<(event: E) => void>();

  add(listener: (event: E) => void): () => void {
    this.set.add(listener);
    return () => {
      this.set.delete(listener);
    };
  }

  get size(): number {
    return this.set.size;
  }

  emit(event: E): void {
    for (const listener of [...this.set]) {
      try {
        listener(event);
      } catch {
        // A broken window or socket is its own problem; the core keeps going.
      }
    }
  }
}
