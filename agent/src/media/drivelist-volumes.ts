import type { VolumeBus, VolumeInfo, VolumeSource } from './volume.js';

/**
 * Windows and macOS list drives through drivelist (a native module). It is loaded lazily, only on those
 * platforms, so Linux installs need neither it nor a compiler. drivelist reports no USB vendor/product/serial:
 * on these platforms the allow/deny lists only match once the `usb` module supplies them.
 */

/** The part of drivelist's Drive object we use (drivelist 12). */
export interface DrivelistDrive {
  readonly device: string;
  readonly description?: string | null;
  readonly mountpoints: readonly { readonly path: string; readonly label?: string | null }[];
  readonly isRemovable?: boolean | null;
  readonly isUSB?: boolean | null;
  readonly isCard?: boolean | null;
  readonly isSystem?: boolean | null;
  readonly isVirtual?: boolean | null;
}

export type DrivelistPlatform = 'win32' | 'darwin';

function busOf(drive: DrivelistDrive): VolumeBus {
  if (drive.isUSB === true) return 'usb';
  if (drive.isCard === true) return 'sd';
  return 'other';
}

/**
 * Turns drivelist's answer into volumes: removable, USB or card drives that are not the system disk, one
 * volume per mount point. `isMountPoint` applies the platform's rule of what a user-visible mount looks like.
 */
export function volumesFromDrives(
  drives: readonly DrivelistDrive[],
  isMountPoint: (path: string) => boolean,
  mountToken: (device: string, mountPoint: string) => string,
): VolumeInfo[] {
  const volumes: VolumeInfo[] = [];
  for (const drive of drives) {
    if (drive.isSystem === true || drive.isVirtual === true) continue;
    if (drive.isRemovable !== true && drive.isUSB !== true && drive.isCard !== true) continue;
    for (const mount of drive.mountpoints) {
      if (!isMountPoint(mount.path)) continue;
      volumes.push({
        mountPoint: mount.path,
        devicePath: drive.device,
        label: mount.label ?? undefined,
        bus: busOf(drive),
        usb: {},
        mountToken: mountToken(drive.device, mount.path),
      });
    }
  }
  return volumes;
}

/**
 * drivelist has no mount ids: a volume gets a new token each time it appears in this process, so a
 * restart of the agent counts as a new insertion (a fresh baseline) on these platforms.
 */
export class DrivelistVolumeSource implements VolumeSource {
  private readonly tokens = new Map<string, string>();
  private appearances = 0;
  private readonly started = Date.now();

  constructor(
    private readonly listDrives: () => Promise<DrivelistDrive[]>,
    private readonly isMountPoint: (path: string) => boolean,
  ) {}

  async list(): Promise<VolumeInfo[]> {
    const current = new Set<string>();
    const volumes = volumesFromDrives(await this.listDrives(), this.isMountPoint, (device, mountPoint) => {
      const key = `${device}|${mountPoint}`;
      current.add(key);
      let token = this.tokens.get(key);
      if (!token) {
        token = `${this.started}:${++this.appearances}`;
        this.tokens.set(key, token);
      }
      return token;
    });
    for (const key of this.tokens.keys()) if (!current.has(key)) this.tokens.delete(key);
    return volumes;
  }
}

/** The one place drivelist is loaded. Its absence is reported, not hidden: detection cannot work without it. */
export async function loadDrivelist(): Promise<() => Promise<DrivelistDrive[]>> {
  const moduleName = 'drivelist';
  let loaded: unknown;
  try {
    loaded = await import(moduleName);
  } catch (error) {
    throw new Error('removable-media detection on this platform needs the drivelist module (npm install drivelist)', { cause: error });
  }
  const list = (loaded as { list?: unknown; default?: { list?: unknown } }).list ?? (loaded as { default?: { list?: unknown } }).default?.list;
  if (typeof list !== 'function') throw new Error('the installed drivelist module has no list() function');
  return () => (list as () => Promise<DrivelistDrive[]>)();
}
