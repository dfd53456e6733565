/**
 * Runs tasks one after another. A task that returns a Promise holds back the next until it settles;
 * synchronous tasks run at once, so the data path pays nothing when no handler is asynchronous.
 */
export class SerialQueue {
  private readonly waiting: Array<() => unknown> = [];
  private busy = false;

  run(task: () => unknown): void {
    if (this.busy || this.waiting.length > 0) {
      this.waiting.push(task);
      return;
    }
    this.execute(task);
  }

  private execute(task: () => unknown): void {
    let result: unknown;
    try {
      result = task();
    } catch {
      result = undefined; // tasks report their own errors; the queue must keep going
    }
    if (result instanceof Promise) {
      this.busy = true;
      result.catch(() => undefined).then(() => {
        this.busy = false;
        this.drain();
      });
    }
  }

  private drain(): void {
    while (!this.busy && this.waiting.length > 0) this.execute(this.waiting.shift()!);
  }

  clear(): void {
    this.waiting.length = 0;
  }
}
