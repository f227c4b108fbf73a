import { errorFields, type LogFields, type Logger } from '../logging/logger.js';

/** Exponential backoff with jitter: 1 s, 2 s, 4 s ... up to a ceiling; reset after a success. */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly firstMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The wait before the next attempt after one more failure. */
  nextDelayMs(): number {
    const base = Math.min(this.maxMs, this.firstMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    // Up to a quarter less, so thousands of agents coming back after an outage do not all call at once.
    return Math.max(1, Math.round(base * (1 - 0.25 * this.random())));
  }

  reset(): void {
    this.failures = 0;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}

/**
 * Logs a repeating failure once, then at most once per interval with how many were not logged, and says
 * when it stops: a server down for a day gives a handful of lines, not thousands.
 */
export class ThrottledErrorLog {
  private lastLoggedAt: number | undefined;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  failed(error: unknown, fields: LogFields = {}): void {
    const now = this.now();
    if (this.lastLoggedAt !== undefined && now - this.lastLoggedAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.logger.warn(this.message, { ...fields, ...errorFields(error), repeatsNotLogged: this.suppressed });
    this.lastLoggedAt = now;
    this.suppressed = 0;
  }

  recovered(fields: LogFields = {}): void {
    if (this.lastLoggedAt === undefined) return;
    this.logger.info(`${this.message}: recovered`, { ...fields, repeatsNotLogged: this.suppressed });
    this.lastLoggedAt = undefined;
    this.suppressed = 0;
  }
}
