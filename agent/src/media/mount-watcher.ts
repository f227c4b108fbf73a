import type { VolumeInfo, VolumeSource } from './volume.js';

export interface MountListener {
  mounted(volume: VolumeInfo): Promise<void>;
  unmounted(volume: VolumeInfo): Promise<void>;
}

/**
 * Polls the volume sources (on Linux a read of /proc/self/mountinfo, a few microseconds) and reports each
 * volume that appears or disappears, one at a time and in order: an unmount is always reported before a
 * new mount at the same place. The first source that reports a mount point wins, so declared volumes
 * (listed first) override detection.
 */
export class MountWatcher {
  private readonly known = new Map<string, VolumeInfo>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private scanning: Promise<void> = Promise.resolve();

  constructor(
    private readonly sources: readonly VolumeSource[],
    private readonly listener: MountListener,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Resolves after the first scan has been reported. */
  async start(): Promise<void> {
    this.running = true;
    this.scanning = this.scan();
    await this.scanning;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.scanning;
  }

  current(): VolumeInfo[] {
    return [...this.known.values()];
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.scanning = this.scan().finally(() => this.schedule());
    }, this.intervalMs);
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
