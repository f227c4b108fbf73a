import { DrivelistVolumeSource, loadDrivelist } from './drivelist-volumes.js';
import type { VolumeSource } from './volume.js';

/** Windows: a drive letter root ("E:\") is a user-visible mount; volume GUID paths are not watched. */
export function isWin32MountPoint(path: string): boolean {
  return /^[A-Za-z]:\\?$/.test(path);
}

export async function createWin32VolumeSource(): Promise<VolumeSource> {
  return new DrivelistVolumeSource(await loadDrivelist(), isWin32MountPoint);
}
