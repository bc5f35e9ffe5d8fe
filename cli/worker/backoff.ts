/**
 * The worker's wait between failed attempts (registering, announcing itself, reading its queue):
 * starts at `initialMs`, doubles after each wait up to `maxMs`, and starts over after a success.
 */
export class Backoff {
  private delayMs: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly pause: (ms: number) => Promise<void>,
  ) {
    this.delayMs = initialMs;
  }

  /** The next wait, in whole seconds (for "retrying in Ns"). */
  get nextSeconds(): number {
    return Math.round(this.delayMs / 1000);
  }

  async wait(): Promise<void> {
    await this.pause(this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, this.maxMs);
  }

  reset(): void {
    this.delayMs = this.initialMs;
  }
}
