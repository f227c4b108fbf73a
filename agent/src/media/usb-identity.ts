import { ExitSealError } from '@exitseal/core';
import type { UsbIdentity } from '../policy/agent-policy.js';

/**
 * What the OS says about the USB device behind a mounted volume, on the platforms where drivelist lists the
 * drives (Windows, macOS) but cannot say which USB device a drive is. Each platform answers with one query
 * (usb-identity.win32.ts: PowerShell/CIM; usb-identity.darwin.ts: system_profiler) parsed by a pure
 * function, and the answer is joined to drivelist's drives by mount point. Linux reads the same facts from
 * sysfs (device-info.linux.ts) and does not use this.
 */

export interface MediaIdentity {
  /** Vendor and product id as 4 lower-case hex digits, serial as the device reports it: what device rules match. */
  readonly usb: UsbIdentity;
  readonly label?: string;
  /** Named like Linux names them, so events read the same from every platform: exfat, vfat, ntfs, hfsplus, apfs... */
  readonly fsType?: string;
  readonly volumeSerial?: string;
}

/** Contract of each platform's lookup: mount point (as drivelist spells it) -> identity, for every USB-backed volume mounted now. */
export interface UsbIdentitySource {
  identify(): Promise<ReadonlyMap<string, MediaIdentity>>;
}

export type UsbIdentityErrorCode =
  | 'IDENTITY_QUERY_FAILED' // the OS tool could not be run or failed (cause: a CommandError)
  | 'IDENTITY_OUTPUT_INVALID'; // it ran, but its output is not what the parser knows

export class UsbIdentityError extends ExitSealError {
  declare readonly code: UsbIdentityErrorCode;

  constructor(code: UsbIdentityErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { kind: 'fault', cause: options.cause });
    this.name = 'UsbIdentityError';
  }
}

/**
 * A USB id as 4 lower-case hex digits, from the spellings the platforms use: "0781", "0x0781",
 * "0x0781  (SanDisk Corporation)", "VID_0781", a number. Anything else gives undefined.
 */
export function hexId(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 0xffff ? value.toString(16).padStart(4, '0') : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(?:0x|(?:VID|PID)_)?([0-9a-f]{1,4})\b/i.exec(value);
  return match?.[1] ? match[1].toLowerCase().padStart(4, '0') : undefined;
}

/** A serial as Linux's sysfs gives it (trimmed); empty or with control characters counts as none. */
export function usableSerial(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const serial = value.trim();
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (serial === '' || /[\u0000-\u001f\u007f]/.test(serial)) return undefined;
  return serial;
}

/** File-system names of Windows (FileSystem) and macOS (system_profiler's file_system) in Linux's words. */
export function fsTypeName(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const name = value.trim().toLowerCase();
  if (name.includes('exfat')) return 'exfat';
  if (name.includes('fat')) return 'vfat';
  if (name.includes('ntfs')) return 'ntfs';
  if (name.includes('apfs')) return 'apfs';
  if (name.includes('hfs')) return 'hfsplus';
  if (name === 'refs') return 'refs';
  if (name === 'udf') return 'udf';
  return name;
}

/** Mount points compare without a trailing separator and, for drive letters, without case: "e:" = "E:\". */
export function mountKey(path: string): string {
  const drive = /^([A-Za-z]):\\?$/.exec(path);
  if (drive?.[1]) return `${drive[1].toUpperCase()}:`;
  return path.length > 1 ? path.replace(/[\\/]+$/, '') : path;
}
