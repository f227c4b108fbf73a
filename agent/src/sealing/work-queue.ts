/**
 * Runs one task per key with bounded concurrency. A key queued again while its task runs is run once more
 * afterwards (a file written again while it was being sealed is looked at again); queued twice while
 * waiting, it runs once.
 */
export class KeyedWorkQueue {
  private readonly waiting = new Map<string, () => Promise<void>>();
  private readonly running = new Set<string>();
  private readonly again = new Map<string, () => Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly concurrency: number) {}

  push(key: string, task: () => Promise<void>): void {
    if (this.stopped) return;
    if (this.running.has(key)) this.again.set(key, task);
    else this.waiting.set(key, task);
    this.pump();
  }

  has(key: string): boolean {
    return this.waiting.has(key) || this.running.has(key);
  }

  get size(): number {
    return this.waiting.size + this.running.size;
  }

  /** Drops what has not started; resolves when what runs has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting.clear();
    this.again.clear();
    await this.idle();
  }

  idle(): Promise<void> {
    if (this.running.size === 0 && this.waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running.size < this.concurrency) {
      const next = this.waiting.entries().next();
      if (next.done) break;
      const [key, task] = next.value;
      this.waiting.delete(key);
      this.running.add(key);
      void task()
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(key);
          const rerun = this.again.get(key);
          if (rerun) {
            this.again.delete(key);
            if (!this.stopped) this.waiting.set(key, rerun);
          }
          this.pump();
          if (this.running.size === 0 && this.waiting.size === 0) {
            const waiters = this.idleWaiters;
            this.idleWaiters = [];
            for (const resolve of waiters) resolve();
          }
        });
    }
  }
}
