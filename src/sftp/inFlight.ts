/** Waiting for the calls running on a raw descriptor before closing it. */

/**
 * Counts calls running on a raw descriptor, so that closing waits for them: a descriptor number
 * closed under a running read or write can be reused by another session's open at once.
 */
export class InFlight {
  private running = 0;
  private idle: (() => void) | undefined;

  enter(): void {
    this.running++;
  }

  leave(): void {
    if (--this.running === 0 && this.idle) {
      this.idle();
      this.idle = undefined;
    }
  }

  /** Resolves once nothing runs. */
  drained(): Promise<void> {
    return this.running === 0 ? Promise.resolve() : new Promise((resolve) => (this.idle = resolve));
  }
}
