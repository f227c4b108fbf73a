import type { Logger } from '../logging/logger.js';

export type NoticeKind = 'sealed' | 'quarantined' | 'blocked' | 'failed' | 'opened' | 'cannot-open';

/** A message for the person at the PC (shown by the tray app). Paths and names only; never content. */
export interface Notice {
  readonly kind: NoticeKind;
  readonly message: string;
  readonly at: string;
  readonly paths: readonly string[];
}

export interface UserNotifier {
  notify(kind: NoticeKind, message: string, paths: readonly string[]): void;
  recent(): readonly Notice[];
}

/**
 * Keeps the latest notices in memory for the tray app's local API (not built yet) and logs each one. Bounded,
 * so a stick of 10,000 files cannot grow it without limit.
 */
export class RecentNotices implements UserNotifier {
  private readonly notices: Notice[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly limit = 200,
    private readonly now: () => Date = () => new Date(),
  ) {}

  notify(kind: NoticeKind, message: string, paths: readonly string[]): void {
    const notice: Notice = { kind, message, at: this.now().toISOString(), paths: paths.slice(0, 20) };
    this.notices.push(notice);
    if (this.notices.length > this.limit) this.notices.splice(0, this.notices.length - this.limit);
    this.logger.info('user notice', { kind, message, paths: notice.paths });
  }

  recent(): readonly Notice[] {
    return [...this.notices];
  }
}
