import { ExitSealError } from '@exitseal/core';
import { mountKey, type MediaIdentity, type UsbIdentitySource } from './usb-identity.js';
import type { VolumeBus, VolumeInfo, VolumeSource } from './volume.js';

/**
 * Windows and macOS list drives through drivelist (a native module, an optional dependency of the agent).
 * It is loaded lazily, only on those platforms, so Linux never loads it. drivelist reports no USB
 * vendor/product/serial: a UsbIdentitySource (one OS query per newly seen drive) supplies them, joined by
 * mount point, so the device allow/deny lists match there as they do on Linux.
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

/** A volume with what the OS said about its USB device: ids, and label and file system where drivelist has none. */
export function withIdentity(volume: VolumeInfo, identity: MediaIdentity | undefined): VolumeInfo {
  if (!identity) return volume;
  return {
    ...volume,
    usb: identity.usb,
    label: identity.label ?? volume.label,
    fsType: identity.fsType ?? volume.fsType,
    volumeSerial: identity.volumeSerial ?? volume.volumeSerial,
    bus: volume.bus === 'other' ? 'usb' : volume.bus,
  };
}

interface DriveMount {
  readonly drive: DrivelistDrive;
  readonly path: string;
  readonly label?: string | null;
}

/** Every user-visible mount of a drive that is not the system disk or a virtual one (a disk image). */
function driveMounts(drives: readonly DrivelistDrive[], isMountPoint: (path: string) => boolean): DriveMount[] {
  const mounts: DriveMount[] = [];
  for (const drive of drives) {
    if (drive.isSystem === true || drive.isVirtual === true) continue;
    for (const mount of drive.mountpoints) if (isMountPoint(mount.path)) mounts.push({ drive, path: mount.path, label: mount.label });
  }
  return mounts;
}

/**
 * The volume of one mount, if it is to be watched: drivelist says the drive is removable, USB or a card, or
 * the OS's USB identity query knows it (a USB SSD or a UASP disk often looks like a fixed, non-USB disk to
 * drivelist, but leaves the PC all the same).
 */
function volumeOf(mount: DriveMount, mountToken: string, identity: MediaIdentity | undefined, firstSeenAt: number | undefined): VolumeInfo | undefined {
  const { drive } = mount;
  if (drive.isRemovable !== true && drive.isUSB !== true && drive.isCard !== true && !identity) return undefined;
  const volume: VolumeInfo = {
    mountPoint: mount.path,
    devicePath: drive.device,
    label: mount.label ?? undefined,
    bus: busOf(drive),
    usb: {},
    mountToken,
    ...(firstSeenAt === undefined ? {} : { firstSeenAt }),
  };
  return withIdentity(volume, identity);
}

/**
 * Turns drivelist's answer into volumes, one per mount point, each joined to its USB identity when
 * `identities` (by mountKey) has one: see volumeOf for which are watched. `isMountPoint` applies the
 * platform's rule of what a user-visible mount looks like.
 */
export function volumesFromDrives(
  drives: readonly DrivelistDrive[],
  isMountPoint: (path: string) => boolean,
  mountToken: (device: string, mountPoint: string) => string,
  identities: ReadonlyMap<string, MediaIdentity> = new Map(),
  firstSeenAt?: number,
): VolumeInfo[] {
  return driveMounts(drives, isMountPoint)
    .map((mount) => volumeOf(mount, mountToken(mount.drive.device, mount.path), identities.get(mountKey(mount.path)), firstSeenAt))
    .filter((volume) => volume !== undefined);
}

/**
 * drivelist has no mount ids: a volume gets a new token each time it appears in this process, so a
 * restart of the agent counts as a new insertion (a fresh baseline) on these platforms. A mount is
 * described once, when it appears: only then is the (slow: an OS tool run) identity query made, once for
 * all the mounts new in that scan. If it fails, a removable drive is still reported, without USB ids (an
 * allow list then refuses it), and the failure goes to `onIdentityError`. Each volume's `firstSeenAt` is the
 * start of the scan that found it, read before drivelist and that query run (together about a second on
 * Windows): files copied to the drive meanwhile are recognised as new, not taken for the stick's baseline.
 */
export class DrivelistVolumeSource implements VolumeSource {
  /** By device and mount point: the volume, or null for a mount that is not watched (a fixed internal disk). */
  private readonly described = new Map<string, VolumeInfo | null>();
  private appearances = 0;
  private readonly started = Date.now();

  constructor(
    private readonly listDrives: () => Promise<DrivelistDrive[]>,
    private readonly isMountPoint: (path: string) => boolean,
    private readonly identity?: UsbIdentitySource,
    private readonly onIdentityError: (error: unknown) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async list(): Promise<VolumeInfo[]> {
    const scanStartedAt = this.now();
    const seen = new Set<string>();
    const volumes: VolumeInfo[] = [];
    let identities: ReadonlyMap<string, MediaIdentity> | undefined;
    for (const mount of driveMounts(await this.listDrives(), this.isMountPoint)) {
      const key = `${mount.drive.device}|${mountKey(mount.path)}`;
      seen.add(key);
      let volume = this.described.get(key);
      if (volume === undefined) {
        identities ??= await this.identities();
        volume = volumeOf(mount, `${this.started}:${this.appearances + 1}`, identities.get(mountKey(mount.path)), scanStartedAt) ?? null;
        if (volume) this.appearances += 1;
        this.described.set(key, volume);
      }
      if (volume) volumes.push(volume);
    }
    for (const key of this.described.keys()) if (!seen.has(key)) this.described.delete(key);
    return volumes;
  }

  private async identities(): Promise<ReadonlyMap<string, MediaIdentity>> {
    if (!this.identity) return new Map();
    try {
      return await this.identity.identify();
    } catch (error) {
      this.onIdentityError(error);
      return new Map();
    }
  }
}

export class DrivelistUnavailableError extends ExitSealError {
  declare readonly code: 'DRIVELIST_UNAVAILABLE';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super('DRIVELIST_UNAVAILABLE', message, { kind: 'fault', cause: options.cause });
    this.name = 'DrivelistUnavailableError';
  }
}

/**
 * The one place drivelist is loaded. Its absence is reported, not hidden: detection cannot work without it.
 * It is an optional dependency (a failed native build must not fail `npm ci`), so this is where such a
 * failure shows.
 */
export async function loadDrivelist(moduleName = 'drivelist'): Promise<() => Promise<DrivelistDrive[]>> {
  let loaded: unknown;
  try {
    loaded = await import(moduleName);
  } catch (error) {
    throw new DrivelistUnavailableError('removable-media detection on this platform needs the drivelist module, an optional dependency whose install failed or was skipped (npm install drivelist)', { cause: error });
  }
  const list = (loaded as { list?: unknown; default?: { list?: unknown } }).list ?? (loaded as { default?: { list?: unknown } }).default?.list;
  if (typeof list !== 'function') throw new DrivelistUnavailableError('the installed drivelist module has no list() function (drivelist 12 expected)');
  return () => (list as () => Promise<DrivelistDrive[]>)();
}
