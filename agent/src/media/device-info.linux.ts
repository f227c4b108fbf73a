import { open, readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { UsbIdentity } from '../policy/agent-policy.js';
import { exfatRootDirectoryOffset, probeBootSector, type FilesystemIdentity } from './filesystem-probe.js';
import type { VolumeBus, VolumeInfo, VolumeSource } from './volume.js';

/**
 * Linux: the mount table (/proc/self/mountinfo) says what is mounted where; sysfs says whether the disk
 * behind it is removable or on USB and, for USB, its vendor id, product id and serial; the boot sector
 * gives the label and file-system serial (FUSE mounts such as exfat-fuse only say "fuseblk").
 */

export interface MountEntry {
  readonly mountId: number;
  /** "major:minor" of the device. */
  readonly device: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
  readonly readOnly: boolean;
}

/** mountinfo escapes space, tab, newline and backslash as \040, \011, \012, \134. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Parses /proc/self/mountinfo (see proc(5)); lines it cannot read are skipped. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const before = line.slice(0, separator).split(' ');
    const after = line.slice(separator + 3).split(' ');
    const [mountIdText, , device, , mountPoint, options] = before;
    const [fsType, source] = after;
    if (mountIdText === undefined || device === undefined || mountPoint === undefined || options === undefined || fsType === undefined || source === undefined) continue;
    entries.push({
      mountId: Number(mountIdText),
      device,
      mountPoint: unescapeMountField(mountPoint),
      fsType,
      source: unescapeMountField(source),
      readOnly: options.split(',').includes('ro'),
    });
  }
  return entries;
}

/** Where the Linux facts live; tests point these at a fixture tree. */
export interface LinuxPaths {
  readonly mountInfo: string;
  readonly sysRoot: string;
  readonly bootId: string;
  /** /dev/disk/by-label, when udev maintains it. */
  readonly byLabel: string;
}

export const LINUX_PATHS: LinuxPaths = {
  mountInfo: '/proc/self/mountinfo',
  sysRoot: '/sys',
  bootId: '/proc/sys/kernel/random/boot_id',
  byLabel: '/dev/disk/by-label',
};

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

export interface BlockDeviceFacts {
  readonly removable: boolean;
  readonly bus: VolumeBus;
  readonly usb: UsbIdentity;
}

/**
 * Looks the device up in sysfs: /sys/dev/block/MAJ:MIN resolves into the device tree; a partition's disk is
 * its parent directory; a USB disk has an ancestor directory holding idVendor/idProduct/serial.
 */
export async function blockDeviceFacts(device: string, sysRoot: string): Promise<BlockDeviceFacts | undefined> {
  let devicePath: string;
  try {
    const link = join(sysRoot, 'dev', 'block', device);
    devicePath = resolve(dirname(link), await readlink(link));
  } catch {
    return undefined;
  }
  const isPartition = (await readTrimmed(join(devicePath, 'partition'))) !== undefined;
  const diskPath = isPartition ? dirname(devicePath) : devicePath;
  const removable = (await readTrimmed(join(diskPath, 'removable'))) === '1';
  let usb: UsbIdentity = {};
  let bus: VolumeBus = 'other';
  for (let dir = diskPath; dir.startsWith(sysRoot) && dir !== sysRoot; dir = dirname(dir)) {
    const vendorId = await readTrimmed(join(dir, 'idVendor'));
    if (vendorId !== undefined) {
      bus = 'usb';
      usb = { vendorId: vendorId.toLowerCase(), productId: (await readTrimmed(join(dir, 'idProduct')))?.toLowerCase(), serial: await readTrimmed(join(dir, 'serial')) };
      break;
    }
    if (basename(dir).startsWith('mmc')) bus = 'sd';
  }
  return { removable, bus, usb };
}

/** Reads the boot sector (and, for exFAT, the start of the root directory) of a block device. Needs root. */
export async function probeDevice(devicePath: string): Promise<FilesystemIdentity | undefined> {
  let handle;
  try {
    handle = await open(devicePath, 'r');
  } catch {
    return undefined;
  }
  try {
    const boot = Buffer.alloc(512);
    await handle.read(boot, 0, 512, 0);
    const rootOffset = exfatRootDirectoryOffset(boot);
    let rootDirectory: Buffer | undefined;
    if (rootOffset !== undefined) {
      rootDirectory = Buffer.alloc(4096);
      const { bytesRead } = await handle.read(rootDirectory, 0, rootDirectory.length, rootOffset);
      rootDirectory = rootDirectory.subarray(0, bytesRead);
    }
    return probeBootSector(boot, rootDirectory);
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** The label udev gives the device, if /dev/disk/by-label exists (labels there are \x20-escaped). */
async function labelFromByLabel(devicePath: string, byLabel: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await readdir(byLabel);
  } catch {
    return undefined;
  }
  const target = await realpath(devicePath).catch(() => devicePath);
  for (const name of names) {
    const resolved = await realpath(join(byLabel, name)).catch(() => undefined);
    if (resolved === target) return name.replace(/\\x([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return undefined;
}

export async function readBootId(paths: LinuxPaths): Promise<string> {
  return (await readTrimmed(paths.bootId)) ?? 'unknown-boot';
}

/**
 * Everything known about the file system mounted by `entry` (a block device), from sysfs and its boot sector.
 * `firstSeenAt`: when the mount was first seen in the mount table (the kernel keeps no mount time there);
 * by default, now, before the boot sector is read.
 */
export async function describeMount(entry: MountEntry, bootId: string, paths: LinuxPaths, facts?: BlockDeviceFacts, firstSeenAt = Date.now()): Promise<VolumeInfo> {
  const identity = await probeDevice(entry.source);
  const label = identity?.label ?? (await labelFromByLabel(entry.source, paths.byLabel));
  return {
    mountPoint: entry.mountPoint,
    devicePath: entry.source,
    fsType: identity?.fsType ?? (entry.fsType === 'fuseblk' ? undefined : entry.fsType),
    label,
    volumeSerial: identity?.volumeSerial,
    bus: facts?.bus ?? 'other',
    usb: facts?.usb ?? {},
    mountToken: `${bootId}:${entry.mountId}`,
    firstSeenAt,
  };
}

/**
 * Lists mounted removable volumes: block-device mounts whose disk is removable or on USB or an SD slot.
 * A device is described once per mount (mount id) and remembered, so polling every few hundred
 * milliseconds only costs a read of the mount table.
 */
export class LinuxVolumeSource implements VolumeSource {
  private readonly described = new Map<string, VolumeInfo | null>();
  private bootId: string | undefined;

  constructor(private readonly paths: LinuxPaths = LINUX_PATHS) {}

  async mountTable(): Promise<MountEntry[]> {
    return parseMountInfo(await readFile(this.paths.mountInfo, 'utf8'));
  }

  async list(): Promise<VolumeInfo[]> {
    this.bootId ??= await readBootId(this.paths);
    // Read before the mount table: a mount new in it appeared at most one poll before this moment.
    const scanStartedAt = Date.now();
    const entries = await this.mountTable();
    const seen = new Set<string>();
    const volumes: VolumeInfo[] = [];
    for (const entry of entries) {
      if (!entry.source.startsWith('/dev/')) continue;
      const cacheKey = `${entry.mountId}:${entry.device}`;
      seen.add(cacheKey);
      let volume = this.described.get(cacheKey);
      if (volume === undefined) {
        const facts = await blockDeviceFacts(entry.device, this.paths.sysRoot);
        const removable = facts !== undefined && (facts.removable || facts.bus === 'usb' || facts.bus === 'sd');
        volume = removable ? await describeMount(entry, this.bootId, this.paths, facts, scanStartedAt) : null;
        this.described.set(cacheKey, volume);
      }
      if (volume) volumes.push(volume);
    }
    for (const key of this.described.keys()) if (!seen.has(key)) this.described.delete(key);
    return volumes;
  }
}
