import { open, stat } from 'node:fs/promises';
import { AGE_MAGIC, looksArmored } from '@exitseal/core';
import { basename, join } from 'node:path';
import { isTempFileName } from '../files/atomic-write.js';
import { FileOperationError } from '../files/errors.js';
import { inspectFile, openFile } from '../files/sealed-file-io.js';
import { errorFields, type Logger } from '../logging/logger.js';
import type { PolicySource } from '../policy/agent-policy.js';
import type { UserNotifier } from '../sealing/notifier.js';
import { watchTree, type TreeWatch } from '../sealing/tree-watcher.js';
import { KeyedWorkQueue } from '../sealing/work-queue.js';
import type { AgentDatabase } from '../storage/database.js';
import type { EventOutbox } from '../storage/event-outbox.js';
import type { RequestStore } from '../storage/request-store.js';

export interface InboundDependencies {
  readonly policy: PolicySource;
  readonly db: AgentDatabase;
  readonly store: RequestStore;
  readonly outbox: EventOutbox;
  readonly notifier: UserNotifier;
  readonly logger: Logger;
  readonly host: string;
  readonly osUserOf: (path: string) => Promise<string>;
  readonly settleMs: number;
}

/**
 * Opening on import: a sealed file that lands in an inbound folder (Desktop, Documents, Downloads) is
 * opened in place when the policy in force holds its zone's identity (the crash-safe rewrite of openFile:
 * the sealed file stays until the plaintext is complete and authenticated), and logged. A file of a zone
 * this PC may not open stays sealed and is listed, for the person to ask for its decryption.
 * Files already there when the agent starts are looked at too (only their headers are read), so a sealed
 * file copied in while the agent was stopped is still opened or listed; a file already listed is not
 * announced again.
 */
export class InboundOpener {
  private readonly watches: TreeWatch[] = [];
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly queue = new KeyedWorkQueue(2);
  private stopped = false;
  readonly counts = { opened: 0, locked: 0, failed: 0 };

  constructor(private readonly deps: InboundDependencies) {}

  async start(folders: readonly string[]): Promise<string[]> {
    const watched: string[] = [];
    for (const root of folders) {
      const exists = await stat(root).then((s) => s.isDirectory()).catch(() => false);
      if (!exists) continue;
      await new Promise<void>((resolve) => {
        const watch = watchTree(root, {
          // Sealed files already there when the agent starts are opened or listed as well.
          existing: (relPath, stats) => {
            if (stats?.isFile() && !isTempFileName(basename(relPath))) this.schedule(join(root, ...relPath.split('/')));
          },
          ready: () => resolve(),
          written: (relPath) => {
            if (!isTempFileName(basename(relPath))) this.schedule(join(root, ...relPath.split('/')));
          },
          removed: () => undefined,
          error: (error) => {
            this.deps.logger.warn('inbound folder watch error', { root, ...errorFields(error) });
            resolve();
          },
        });
        this.watches.push(watch);
      });
      watched.push(root);
    }
    this.deps.logger.info('inbound folders watched', { folders: watched });
    return watched;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.watches.map((watch) => watch.close()));
    await this.queue.stop();
  }

  isIdle(): boolean {
    return this.timers.size === 0 && this.queue.size === 0;
  }

  private schedule(path: string): void {
    if (this.stopped) return;
    const previous = this.timers.get(path);
    if (previous) clearTimeout(previous);
    this.timers.set(
      path,
      setTimeout(() => {
        this.timers.delete(path);
        this.queue.push(path, () => this.process(path));
      }, this.deps.settleMs),
    );
  }

  /**
   * Reads the first KiB only: at start every file of the inbound folders is looked at, and most are plain
   * documents that must not cost a 128 KiB header read each.
   */
  private async mayBeSealed(path: string): Promise<boolean> {
    let handle;
    try {
      handle = await open(path, 'r');
      const head = Buffer.alloc(1024);
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      const start = head.subarray(0, bytesRead);
      return start.subarray(0, AGE_MAGIC.length).toString('latin1') === AGE_MAGIC || looksArmored(start);
    } catch {
      return false;
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }

  private async process(path: string): Promise<void> {
    if (this.stopped || !(await this.mayBeSealed(path))) return;
    let inspection;
    try {
      inspection = await inspectFile(path);
    } catch {
      // Gone, unreadable, or an age-looking file with a broken header: nothing to open here.
      return;
    }
    if (inspection.kind !== 'exitseal' || inspection.meta === null) return;
    const { zoneId, fileId, keyVersion } = inspection.meta;
    const osUser = await this.deps.osUserOf(path).catch(() => 'unknown');
    const identities = this.deps.policy.current().openable.get(zoneId);
    if (!identities) {
      const known = this.deps.store.locked(path);
      if (known?.zoneId === zoneId && known.fileId === (fileId ?? null)) return;
      this.deps.store.recordLocked(path, osUser, zoneId, fileId ?? null);
      this.counts.locked++;
      this.deps.notifier.notify('cannot-open', `${basename(path)} is sealed to zone ${zoneId}, which may not be opened here; you can ask for its decryption`, [path], osUser);
      return;
    }
    try {
      const result = await openFile(path, { outputPath: path }, identities);
      const policy = this.deps.policy.current();
      this.deps.db.transaction(() => {
        this.deps.store.forgetLocked(path);
        this.deps.outbox.append({
          host: this.deps.host,
          osUser,
          zoneId: policy.zoneId,
          channel: 'removableMedia',
          fileName: basename(path),
          mediaPath: path.slice(0, 4096),
          size: result.plaintextBytes,
          sha256: result.sha256 ?? undefined,
          fileId: fileId ?? undefined,
          keyVersion,
          action: 'opened-on-import',
          reason: `sealed in zone ${zoneId}`,
        });
      });
      this.counts.opened++;
      this.deps.notifier.notify('opened', `${basename(path)} (zone ${zoneId}) was opened`, [path], osUser);
    } catch (error) {
      if (error instanceof FileOperationError && error.code === 'SOURCE_CHANGED') {
        this.schedule(path);
        return;
      }
      if (error instanceof FileOperationError && error.code === 'SOURCE_VANISHED') return;
      this.counts.failed++;
      this.deps.logger.warn('could not open an imported sealed file', { path, zone: zoneId, ...errorFields(error) });
      this.deps.notifier.notify('failed', `${basename(path)} could not be opened (${error instanceof Error ? error.message : 'error'})`, [path], osUser);
    }
  }
}
