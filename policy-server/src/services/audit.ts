import type { Clock } from './clock.js';
import type { LogChain } from './chain.js';
import type { AuditRow, Store } from '../storage/store.js';

/** Records every administrative action in the audit log, chained like the export log. */
export class AuditService {
  constructor(
    private readonly store: Store,
    private readonly chain: LogChain,
    private readonly clock: Clock,
  ) {}

  /** `detail` must never hold secrets: ids, names and counts only. */
  record(actor: string, action: string, target: string, detail: Record<string, unknown> = {}): Promise<AuditRow> {
    return this.store.audit.append({ at: this.clock.now().toISOString(), actor, action, target, detail: JSON.stringify(detail) }, this.chain);
  }

  list(beforeSeq: number | undefined, limit: number): Promise<AuditRow[]> {
    return this.store.audit.list(beforeSeq, limit);
  }

  verify() {
    return this.chain.verify('audit', (after, limit) => this.store.audit.scan(after, limit), () => this.store.audit.anchor());
  }
}
