import type { Logger } from '../logging/logger.js';

export type NoticeKind = 'sealed' | 'quarantined' | 'blocked' | 'failed' | 'opened' | 'cannot-open' | 'released' | 'request-decided';

/** A message for the person at the PC (shown by the tray app). Paths and names only; never content. */
export interface Notice {
  readonly kind: NoticeKind;
  readonly message: string;
  readonly at: string;
  readonly paths: readonly string[];
  /** The person it concerns; absent for notices about the PC (a refused device), which everyone sees. */
  readonly osUser?: string;
}

export interface UserNotifier {
  notify(kind: NoticeKind, message: string, paths: readonly string[], osUser?: string): void;
  /** Called with each notice as it is made (the tray app's notification stream); returns the unsubscribe function. */
  subscribe(listener: (notice: Notice) => void): () => void;
  recent(): readonly Notice[];
}

/**
 * Keeps the latest notices in memory for the tray app's local API, streams them to its subscribers, and logs each one. Bounded,
 * so a stick of 10,000 files cannot grow it without limit.
 */
export class RecentNotices implements UserNotifier {
  private readonly notices: Notice[] = [];
  private readonly listeners = new Set<(notice: Notice) => void>();

  constructor(
    private readonly logger: Logger,
    private readonly limit = 200,
    private readonly now: () => Date = () => new Date(),
  ) {}

  notify(kind: NoticeKind, message: string, paths: readonly string[], osUser?: string): void {
    const notice: Notice = { kind, message, at: this.now().toISOString(), paths: paths.slice(0, 20), ...(osUser === undefined ? {} : { osUser }) };
    this.notices.push(notice);
    if (this.notices.length > this.limit) this.notices.splice(0, this.notices.length - this.limit);
    this.logger.info('user notice', { kind, message, paths: notice.paths, osUser });
    for (const listener of this.listeners) {
      try {
        listener(notice);
      } catch (error) {
        this.logger.warn('a notice listener failed', { error: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  subscribe(listener: (notice: Notice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  recent(): readonly Notice[] {
    return [...this.notices];
  }
}
