import { stat } from 'node:fs/promises';
import type { DeclaredVolume } from '../config/agent-config.js';
import { describeMount, type LinuxPaths, type MountEntry } from './device-info.linux.js';
import type { VolumeInfo, VolumeSource } from './volume.js';

/**
 * Volumes the configuration declares removable: a mount point (the e2e tests' loop-mounted exFAT image, a
 * stick on a machine whose sysfs hides the USB bus) or a plain directory (machines without loop devices).
 * They go through the same watcher and sealing engine as detected sticks.
 */
export class DeclaredVolumeSource implements VolumeSource {
  private readonly described = new Map<string, VolumeInfo>();

  constructor(
    private readonly declared: readonly DeclaredVolume[],
    private readonly environment: {
      readonly mountTable?: () => Promise<MountEntry[]>;
      readonly bootId: () => Promise<string>;
      readonly linuxPaths?: LinuxPaths;
    },
  ) {}

  async list(): Promise<VolumeInfo[]> {
    if (this.declared.length === 0) return [];
    const bootId = await this.environment.bootId();
    const mounts = this.declared.some((volume) => volume.kind === 'mount') && this.environment.mountTable ? await this.environment.mountTable() : [];
    const volumes: VolumeInfo[] = [];
    for (const declared of this.declared) {
      const volume = declared.kind === 'mount' ? await this.mounted(declared, mounts, bootId) : await this.directory(declared, bootId);
      if (volume) volumes.push(volume);
    }
    return volumes;
  }

  private async mounted(declared: DeclaredVolume, mounts: readonly MountEntry[], bootId: string): Promise<VolumeInfo | undefined> {
    const entry = mounts.filter((mount) => mount.mountPoint === declared.path).at(-1);
    if (!entry || !this.environment.linuxPaths) return undefined;
    const cacheKey = `${declared.path}:${entry.mountId}`;
    let volume = this.described.get(cacheKey);
    if (!volume) {
      const found = await describeMount(entry, bootId, this.environment.linuxPaths);
      volume = {
        ...found,
        bus: 'declared',
        label: declared.label ?? found.label,
        volumeSerial: declared.serial ?? found.volumeSerial,
      };
      this.described.set(cacheKey, volume);
    }
    return volume;
  }

  private async directory(declared: DeclaredVolume, bootId: string): Promise<VolumeInfo | undefined> {
    try {
      const stats = await stat(declared.path);
      if (!stats.isDirectory()) return undefined;
      return {
        mountPoint: declared.path,
        label: declared.label,
        volumeSerial: declared.serial,
        bus: 'declared',
        usb: {},
        mountToken: `${bootId}:dir:${stats.ino}`,
      };
    } catch {
      return undefined;
    }
  }
}
