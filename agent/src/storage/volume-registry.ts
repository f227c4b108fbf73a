import type { AgentDatabase, SqlStatement } from './database.js';

export interface BaselineEntry {
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * Remembers, per volume, what was on it when it was inserted (the baseline: those files did not leave this
 * PC) and which mount that baseline belongs to. When the agent restarts while the same mount is still in
 * place (a crash, kill -9, an update), it keeps the old baseline, so files written while it was down are
 * still recognised as new and sealed. A new mount (the stick came back) gets a new baseline.
 */
export class VolumeRegistry {
  private readonly getVolume: SqlStatement;
  private readonly putVolume: SqlStatement;
  private readonly setUnmounted: SqlStatement;
  private readonly clearBaseline: SqlStatement;
  private readonly putBaseline: SqlStatement;
  private readonly readBaseline: SqlStatement;

  constructor(
    private readonly db: AgentDatabase,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.getVolume = db.prepare('SELECT mount_token, mounted FROM volumes WHERE volume_key = ?');
    this.putVolume = db.prepare(
      `INSERT INTO volumes (volume_key, mount_token, mounted, updated_at) VALUES (?, ?, 1, ?)
       ON CONFLICT (volume_key) DO UPDATE SET mount_token = excluded.mount_token, mounted = 1, updated_at = excluded.updated_at`,
    );
    this.setUnmounted = db.prepare('UPDATE volumes SET mounted = 0, updated_at = ? WHERE volume_key = ?');
    this.clearBaseline = db.prepare('DELETE FROM baseline WHERE volume_key = ?');
    this.putBaseline = db.prepare('INSERT OR REPLACE INTO baseline (volume_key, rel_path, size, mtime_ms) VALUES (?, ?, ?, ?)');
    this.readBaseline = db.prepare('SELECT rel_path, size, mtime_ms FROM baseline WHERE volume_key = ?');
  }

  /** The stored baseline if this exact mount was already being watched (the agent restarted), else undefined. */
  continuingBaseline(volumeKey: string, mountToken: string): Map<string, BaselineEntry> | undefined {
    const row = this.getVolume.get(volumeKey) as { mount_token: string; mounted: number } | undefined;
    if (row?.mounted !== 1 || row.mount_token !== mountToken) return undefined;
    const baseline = new Map<string, BaselineEntry>();
    for (const entry of this.readBaseline.all(volumeKey) as { rel_path: string; size: number; mtime_ms: number }[]) {
      baseline.set(entry.rel_path, { size: entry.size, mtimeMs: entry.mtime_ms });
    }
    return baseline;
  }

  /** Stores a fresh baseline for a new mount, replacing the previous one. */
  saveBaseline(volumeKey: string, mountToken: string, baseline: ReadonlyMap<string, BaselineEntry>): void {
    this.db.transaction(() => {
      this.clearBaseline.run(volumeKey);
      for (const [relPath, entry] of baseline) this.putBaseline.run(volumeKey, relPath, entry.size, entry.mtimeMs);
      this.putVolume.run(volumeKey, mountToken, this.now().toISOString());
    });
  }

  /**
   * A file the agent has dealt with (sealed, found sealed, allowed): as it is now, it is part of the baseline,
   * so a restart on the same mount does not take it for new (and log it again).
   */
  acceptIntoBaseline(volumeKey: string, relPath: string, entry: BaselineEntry): void {
    this.putBaseline.run(volumeKey, relPath, entry.size, entry.mtimeMs);
  }

  markUnmounted(volumeKey: string): void {
    this.setUnmounted.run(this.now().toISOString(), volumeKey);
  }
}
