import { DrivelistVolumeSource, loadDrivelist } from './drivelist-volumes.js';
import type { VolumeSource } from './volume.js';

/** macOS: removable volumes appear under /Volumes; anything else (a disk image, the recovery partition) is not watched. */
export function isDarwinMountPoint(path: string): boolean {
  return /^\/Volumes\/[^/]+\/?$/.test(path);
}

export async function createDarwinVolumeSource(): Promise<VolumeSource> {
  return new DrivelistVolumeSource(await loadDrivelist(), isDarwinMountPoint);
}
