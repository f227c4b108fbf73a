import { DrivelistVolumeSource, loadDrivelist } from './drivelist-volumes.js';
import { DarwinUsbIdentitySource } from './usb-identity.darwin.js';
import type { VolumeSource } from './volume.js';

/** macOS: removable volumes appear under /Volumes; anything else (a disk image, the recovery partition) is not watched. */
export function isDarwinMountPoint(path: string): boolean {
  return /^\/Volumes\/[^/]+\/?$/.test(path);
}

/** /Volumes mounts from drivelist, each new one identified (USB ids, label, file system) by system_profiler. */
export async function createDarwinVolumeSource(onIdentityError: (error: unknown) => void): Promise<VolumeSource> {
  return new DrivelistVolumeSource(await loadDrivelist(), isDarwinMountPoint, new DarwinUsbIdentitySource(), onIdentityError);
}
