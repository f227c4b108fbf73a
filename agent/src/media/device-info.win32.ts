import { DrivelistVolumeSource, loadDrivelist } from './drivelist-volumes.js';
import { Win32UsbIdentitySource } from './usb-identity.win32.js';
import type { VolumeSource } from './volume.js';

/** Windows: a drive letter root ("E:\") is a user-visible mount; volume GUID paths are not watched. */
export function isWin32MountPoint(path: string): boolean {
  return /^[A-Za-z]:\\?$/.test(path);
}

/** Drive letters from drivelist, each new one identified (USB ids, label, file system) by one PowerShell/CIM query. */
export async function createWin32VolumeSource(onIdentityError: (error: unknown) => void): Promise<VolumeSource> {
  return new DrivelistVolumeSource(await loadDrivelist(), isWin32MountPoint, new Win32UsbIdentitySource(), onIdentityError);
}
