import type { UsbIdentity } from '../policy/agent-policy.js';

/** How the volume is attached, as far as the platform tells. "declared" = named in the configuration. */
export type VolumeBus = 'usb' | 'sd' | 'other' | 'declared';

/** A mounted volume the agent may have to watch, with everything that identifies it. */
export interface VolumeInfo {
  readonly mountPoint: string;
  /** The block device or drive, e.g. /dev/sdb1, \\.\PhysicalDrive1. */
  readonly devicePath?: string;
  /** File system type as read from the volume (exfat, vfat, ntfs...), not the FUSE wrapper's name. */
  readonly fsType?: string;
  readonly label?: string;
  /** File-system serial (FAT/exFAT volume id, NTFS serial): stable across insertions of the same stick. */
  readonly volumeSerial?: string;
  readonly bus: VolumeBus;
  readonly usb: UsbIdentity;
  /** Differs for each mount of the same volume: tells "agent restarted" from "stick inserted again". */
  readonly mountToken: string;
  /**
   * When this process first saw the drive (ms since the epoch), stamped before any slow look-up about it
   * (Windows/macOS: the OS's USB identity query; Linux: sysfs and the boot sector): the start of the scan
   * that found it. The sealing engine watches the drive only after that look-up, so a file whose creation
   * time on the volume is after this moment was copied here, not brought in (see AreaSession). Absent where
   * nothing marks an arrival (a declared plain directory): files there when watching starts are all baseline.
   */
  readonly firstSeenAt?: number;
}

/** Contract of every platform's (and the tests') way to list what is mounted and removable right now. */
export interface VolumeSource {
  list(): Promise<VolumeInfo[]>;
}

/**
 * The durable name of a volume, used by the journal to finish a job when "the same stick" comes back:
 * the USB serial when there is one, else the file-system serial, else the mount point.
 */
export function volumeKey(volume: VolumeInfo): string {
  const { vendorId, productId, serial } = volume.usb;
  if (serial) return `usb:${vendorId ?? '-'}:${productId ?? '-'}:${serial}`;
  if (volume.volumeSerial) return `fs:${volume.fsType ?? '-'}:${volume.volumeSerial}`;
  return `path:${volume.mountPoint}`;
}
