import type { ExportEvent } from '@exitseal/core/wire';
import type { JobChannel } from '../storage/job-journal.js';

/** A place where files leave the PC: a mounted stick, or an outbound folder. */
export interface WatchedArea {
  readonly root: string;
  readonly volumeKey: string;
  readonly mountToken: string;
  readonly channel: JobChannel;
  /**
   * What files already there when watching first starts are: 'baseline' for a stick (they did not leave this
   * PC and are left alone), 'process' for an outbound folder (whatever is in it leaves, so it is all sealed).
   */
  readonly existingFiles: 'baseline' | 'process';
  /**
   * For a stick: when its drive was first seen (VolumeInfo.firstSeenAt). Files created on it since then are
   * not baseline: they were copied here before watching could start.
   */
  readonly firstSeenAt?: number;
  /** The stick's identity for the export log; absent for outbound folders. */
  readonly device?: ExportEvent['device'];
}

/** What happens to a new plaintext file in the area, decided by policy when the area appears. */
export type AreaMode =
  | { readonly kind: 'seal' }
  /** Blocked or read-only device / channel: new files are moved off to quarantine and logged. */
  | { readonly kind: 'remove'; readonly action: 'block' | 'read-only'; readonly reason: string }
  | { readonly kind: 'allow' };
