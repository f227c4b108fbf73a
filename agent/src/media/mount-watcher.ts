import type { HotplugKind, HotplugSource } from './usb-hotplug.js';
import type { VolumeInfo, VolumeSource } from './volume.js';

export interface MountListener {
  mounted(volume: VolumeInfo): Promise<void>;
  unmounted(volume: VolumeInfo): Promise<void>;
}

/** Rescans on USB hot-plug events, in addition to the poll. */
export interface MountWatcherHotplug {
  readonly source: HotplugSource;
  /**
   * After an attach or detach, rescan at each of these delays: the drive letter (Windows) or /Volumes entry
   * (macOS) appears some hundreds of milliseconds after the USB device does, and how long varies.
   */
  readonly settleDelaysMs: readonly number[];
  /**
   * The poll interval while events arrive (default HOTPLUG_POLL_INTERVAL_MS; never shorter than the watcher's
   * own interval). Events rescan at once, so the poll only catches what they miss: a drive letter later than
   * the last settle rescan, a card in a reader that is not on USB.
   */
  readonly pollIntervalMs?: number;
  /** Told once if hot-plug events are unavailable; the poll then carries on alone. */
  readonly unavailable: (error: unknown) => void;
}

/** Default rescan delays after a hot-plug event. */
export const HOTPLUG_SETTLE_DELAYS_MS: readonly number[] = [0, 150, 600, 1500, 3000];

/**
 * Default poll interval while hot-plug events work: drivelist's scan costs far more than Linux's read of the
 * mount table. A drive seen up to this late is still within the sealing engine's arrival grace
 * (ARRIVAL_GRACE_MS, 5 s), so files copied to it meanwhile are still sealed.
 */
export const HOTPLUG_POLL_INTERVAL_MS = 2_000;

/**
 * Polls the volume sources (on Linux a read of /proc/self/mountinfo, a few microseconds) and reports each
 * volume that appears or disappears, one at a time and in order: an unmount is always reported before a
 * new mount at the same place. The first source that reports a mount point wins, so declared volumes
 * (listed first) override detection. With a hot-plug source, a USB attach or detach also triggers rescans
 * (after short settle delays) without waiting for the poll, and the poll slows down (pollIntervalMs) for as
 * long as the subscription holds. Scans never overlap: each waits for the last.
 */
export class MountWatcher {
  private readonly known = new Map<string, VolumeInfo>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private scanning: Promise<void> = Promise.resolve();
  private readonly settleTimers = new Set<ReturnType<typeof setTimeout>>();
  private unsubscribe: (() => Promise<void>) | undefined;
  private hotplugActive = false;

  constructor(
    private readonly sources: readonly VolumeSource[],
    private readonly listener: MountListener,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
    private readonly hotplug?: MountWatcherHotplug,
  ) {}

  /** Resolves after the first scan has been reported. Subscribes to hot-plug events first, so none is missed. */
  async start(): Promise<void> {
    this.running = true;
    if (this.hotplug) {
      try {
        this.unsubscribe = await this.hotplug.source.subscribe((kind) => this.deviceEvent(kind));
        this.hotplugActive = true;
      } catch (error) {
        this.hotplug.unavailable(error);
      }
    }
    await this.enqueueScan();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.hotplugActive = false;
    if (this.timer) clearTimeout(this.timer);
    for (const timer of this.settleTimers) clearTimeout(timer);
    this.settleTimers.clear();
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    if (unsubscribe) await unsubscribe().catch((error: unknown) => this.onError(error));
    await this.scanning;
  }

  current(): VolumeInfo[] {
    return [...this.known.values()];
  }

  /** The poll interval in force: slower while hot-plug events trigger rescans, the configured one otherwise. */
  pollIntervalMs(): number {
    if (!this.hotplugActive || !this.hotplug) return this.intervalMs;
    return Math.max(this.intervalMs, this.hotplug.pollIntervalMs ?? HOTPLUG_POLL_INTERVAL_MS);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.enqueueScan().finally(() => this.schedule());
    }, this.pollIntervalMs());
  }

  /** A new device event restarts the settle rescans: the drive of the last device to arrive is the one awaited. */
  private deviceEvent(_kind: HotplugKind): void {
    if (!this.running || !this.hotplug) return;
    for (const timer of this.settleTimers) clearTimeout(timer);
    this.settleTimers.clear();
    for (const delay of this.hotplug.settleDelaysMs) {
      const timer = setTimeout(() => {
        this.settleTimers.delete(timer);
        void this.enqueueScan();
      }, delay);
      this.settleTimers.add(timer);
    }
  }

  /** Runs a scan after the one in progress (if any): polls and hot-plug rescans never run at once. */
  private enqueueScan(): Promise<void> {
    const next = this.scanning.then(() => (this.running ? this.scan() : undefined)).catch((error: unknown) => this.onError(error));
    this.scanning = next;
    return next;
  }

  private async scan(): Promise<void> {
    const present = new Map<string, VolumeInfo>();
    const mountPoints = new Set<string>();
    for (const source of this.sources) {
      let volumes: VolumeInfo[];
      try {
        volumes = await source.list();
      } catch (error) {
        // One failing source must not make the others' volumes look unmounted: keep what we knew.
        this.onError(error);
        return;
      }
      for (const volume of volumes) {
        if (mountPoints.has(volume.mountPoint)) continue;
        mountPoints.add(volume.mountPoint);
        present.set(`${volume.mountPoint}|${volume.mountToken}`, volume);
      }
    }
    for (const [key, volume] of this.known) {
      if (present.has(key)) continue;
      this.known.delete(key);
      await this.report(() => this.listener.unmounted(volume));
    }
    for (const [key, volume] of present) {
      if (this.known.has(key)) continue;
      this.known.set(key, volume);
      await this.report(() => this.listener.mounted(volume));
    }
  }

  private async report(call: () => Promise<void>): Promise<void> {
    try {
      await call();
    } catch (error) {
      this.onError(error);
    }
  }
}
