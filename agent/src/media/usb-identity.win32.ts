import { win32 } from 'node:path';
import { runCommand, type CommandRunner } from '../platform/run-command.js';
import { fsTypeName, mountKey, usableSerial, UsbIdentityError, type MediaIdentity, type UsbIdentitySource } from './usb-identity.js';

/**
 * Windows: one PowerShell run asks CIM for every disk drive with its drive letters (Win32_DiskDrive ->
 * Win32_DiskDriveToDiskPartition -> Win32_LogicalDiskToPartition -> Win32_LogicalDisk) and the disk's parent
 * device (DEVPKEY_Device_Parent: "USB\VID_0781&PID_5567\4C530001230505115095" for a stick, its UASP
 * controller for a UASP disk, an "&MI_xx" interface for a composite device), plus the ids of all present USB
 * devices (Win32_PnPEntity) for when the parent cannot be read. parseWin32DiskQuery turns that into
 * drive letter -> identity.
 *
 * The serial is the USB device's iSerial as Windows uses it in the instance id. A device without a usable
 * serial gets an instance id Windows made up ("6&2b5d1f2a&0&1", always with '&'): that gives no serial.
 * Win32_DiskDrive.SerialNumber is not used: it is the SCSI unit serial, which for many sticks differs from
 * the USB serial (hex-encoded, byte-swapped or empty) and would never match a rule written from Linux.
 */

/** Fixed script text, passed base64-encoded (-EncodedCommand): no quoting, nothing from outside is spliced in. */
export const WIN32_DISK_QUERY = `
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
$disks = @(foreach ($disk in @(Get-CimInstance -ClassName Win32_DiskDrive)) {
  $parent = $null
  try { $parent = (Get-PnpDeviceProperty -InstanceId $disk.PNPDeviceID -KeyName 'DEVPKEY_Device_Parent' -ErrorAction Stop).Data } catch { $parent = $null }
  $volumes = @(foreach ($partition in @(Get-CimAssociatedInstance -InputObject $disk -ResultClassName Win32_DiskPartition)) {
    foreach ($logical in @(Get-CimAssociatedInstance -InputObject $partition -ResultClassName Win32_LogicalDisk)) {
      [pscustomobject]@{ deviceId = $logical.DeviceID; label = $logical.VolumeName; fileSystem = $logical.FileSystem; volumeSerial = $logical.VolumeSerialNumber; driveType = $logical.DriveType }
    }
  })
  [pscustomobject]@{ pnpDeviceId = $disk.PNPDeviceID; interfaceType = $disk.InterfaceType; model = $disk.Model; parentId = $parent; volumes = $volumes }
})
$usb = @(Get-CimInstance -ClassName Win32_PnPEntity -Filter "DeviceID LIKE 'USB\\\\VID[_]%'" | ForEach-Object { $_.DeviceID })
ConvertTo-Json -InputObject ([pscustomobject]@{ disks = $disks; usbDevices = $usb }) -Depth 5 -Compress
`;

export function encodedCommand(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

export function defaultPowerShellPath(env: NodeJS.ProcessEnv = process.env): string {
  return win32.join(env.SystemRoot ?? env.windir ?? 'C:\\Windows', 'System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe');
}

/** ConvertTo-Json of Windows PowerShell 5.1 writes a one-element array as the element, null for none, and
 *  sometimes wraps arrays as { value: [...], Count: n }: all of these read as a list here. */
function asList(value: unknown): unknown[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value as unknown[];
  if (typeof value === 'object' && 'value' in value && Array.isArray(value.value)) return value.value as unknown[];
  return [value];
}

function field(record: unknown, name: string): unknown {
  return typeof record === 'object' && record !== null ? (record as Record<string, unknown>)[name] : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

interface UsbDeviceId {
  readonly vendorId: string;
  readonly productId: string;
  /** The instance part; a serial unless Windows made it up (it then contains '&'). */
  readonly instance: string;
  /** "&MI_xx": an interface of a composite device, whose instance is never the serial. */
  readonly isInterface: boolean;
}

/** "USB\VID_0781&PID_5567\4C530001230505115095" -> its parts; anything that is not a USB device id -> undefined. */
export function parseUsbDeviceId(id: unknown): UsbDeviceId | undefined {
  if (typeof id !== 'string') return undefined;
  const match = /^USB\\VID_([0-9A-F]{4})&PID_([0-9A-F]{4})(&MI_[0-9A-F]{2})?\\(.+)$/i.exec(id.trim());
  if (!match?.[1] || !match[2] || !match[4]) return undefined;
  return { vendorId: match[1].toLowerCase(), productId: match[2].toLowerCase(), instance: match[4], isInterface: match[3] !== undefined };
}

function serialOfInstance(instance: string): string | undefined {
  return instance.includes('&') ? undefined : usableSerial(instance);
}

/**
 * The serial in a USB mass-storage disk id: "USBSTOR\DISK&VEN_SANDISK&PROD_CRUZER&REV_1.00\4C530001230505115095&0"
 * (the "&0" is the LUN, added by Windows). UASP disks ("SCSI\DISK&VEN_...\7&1a2b&0&000000") carry no serial.
 */
export function serialOfStorageId(id: unknown): string | undefined {
  if (typeof id !== 'string' || !/^USBSTOR\\/i.test(id)) return undefined;
  const instance = id.slice(id.lastIndexOf('\\') + 1).replace(/&\d+$/, '');
  return serialOfInstance(instance);
}

/** FAT and exFAT serials are written like Linux's blkid writes them (1234-ABCD); NTFS ones as Windows gives them. */
function volumeSerialOf(value: unknown, fsType: string | undefined): string | undefined {
  const serial = text(value)?.toUpperCase();
  if (serial && /^[0-9A-F]{8}$/.test(serial) && (fsType === 'vfat' || fsType === 'exfat')) return `${serial.slice(0, 4)}-${serial.slice(4)}`;
  return serial;
}

/**
 * Parses the output of WIN32_DISK_QUERY into drive letter ("E:") -> identity, for disks on USB only: those
 * whose parent is a USB device, or whose own id is a USBSTOR one. Throws IDENTITY_OUTPUT_INVALID for output
 * that is not the expected JSON.
 */
export function parseWin32DiskQuery(output: string): Map<string, MediaIdentity> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(output.replace(/^\uFEFF/, '').trim() || 'null');
  } catch (error) {
    throw new UsbIdentityError('IDENTITY_OUTPUT_INVALID', 'the Windows disk query did not print JSON', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !('disks' in parsed)) {
    throw new UsbIdentityError('IDENTITY_OUTPUT_INVALID', 'the Windows disk query printed JSON without a "disks" list');
  }
  const usbDevices = asList(field(parsed, 'usbDevices')).map(parseUsbDeviceId).filter((id) => id !== undefined);
  const identities = new Map<string, MediaIdentity>();
  for (const disk of asList(field(parsed, 'disks'))) {
    const pnpDeviceId = text(field(disk, 'pnpDeviceId'));
    const parent = parseUsbDeviceId(field(disk, 'parentId'));
    const storageSerial = serialOfStorageId(pnpDeviceId);
    let device = parent;
    // No parent (Get-PnpDeviceProperty missing or refused): the USB device is the one whose instance is the disk's serial.
    if (!device && storageSerial) device = usbDevices.find((id) => !id.isInterface && id.instance.toUpperCase() === storageSerial.toUpperCase());
    if (!device && !storageSerial) continue; // not on USB as far as Windows says
    const serial = (device && !device.isInterface ? serialOfInstance(device.instance) : undefined) ?? storageSerial;
    const usb = { vendorId: device?.vendorId, productId: device?.productId, serial };
    for (const volume of asList(field(disk, 'volumes'))) {
      const letter = text(field(volume, 'deviceId'));
      if (!letter || !/^[A-Za-z]:$/.test(letter)) continue;
      const fsType = fsTypeName(field(volume, 'fileSystem'));
      identities.set(mountKey(letter), {
        usb,
        label: text(field(volume, 'label')),
        fsType,
        volumeSerial: volumeSerialOf(field(volume, 'volumeSerial'), fsType),
      });
    }
  }
  return identities;
}

export class Win32UsbIdentitySource implements UsbIdentitySource {
  constructor(
    private readonly run: CommandRunner = runCommand,
    private readonly powershell: string = defaultPowerShellPath(),
    private readonly timeoutMs = 20_000,
  ) {}

  async identify(): Promise<ReadonlyMap<string, MediaIdentity>> {
    let output: string;
    try {
      output = await this.run(this.powershell, ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encodedCommand(WIN32_DISK_QUERY)], {
        timeoutMs: this.timeoutMs,
        maxOutputBytes: 4 * 1024 * 1024,
      });
    } catch (error) {
      throw new UsbIdentityError('IDENTITY_QUERY_FAILED', 'the Windows disk query (PowerShell, CIM) failed', { cause: error });
    }
    return parseWin32DiskQuery(output);
  }
}
