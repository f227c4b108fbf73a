import { runCommand, type CommandRunner } from '../platform/run-command.js';
import { fsTypeName, hexId, mountKey, usableSerial, UsbIdentityError, type MediaIdentity, type UsbIdentitySource } from './usb-identity.js';

/**
 * macOS: `system_profiler SPUSBDataType -json` lists the USB tree (buses -> hubs -> devices, nested in
 * "_items") with vendor_id ("0x0781  (SanDisk Corporation)", or "apple_vendor_id"), product_id, serial_num and,
 * for storage, "Media" -> "volumes" with mount_point, file_system and bsd_name. parseSystemProfilerUsb turns
 * that into mount point -> identity. macOS 26 dropped SPUSBDataType (its SPUSBHostDataType has other fields):
 * there the query answers without the data type and the error says so.
 */

export const SYSTEM_PROFILER = '/usr/sbin/system_profiler';

const APPLE_VENDOR_ID = '05ac';

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

function field(record: unknown, name: string): unknown {
  return typeof record === 'object' && record !== null ? (record as Record<string, unknown>)[name] : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function vendorOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() === 'apple_vendor_id') return APPLE_VENDOR_ID;
  return hexId(value);
}

/** The volumes of one USB device: its Media entries' volumes (a card reader has one medium per slot). */
function addVolumes(device: unknown, identities: Map<string, MediaIdentity>): void {
  const media = list(field(device, 'Media'));
  if (media.length === 0) return;
  const usb = { vendorId: vendorOf(field(device, 'vendor_id')), productId: hexId(field(device, 'product_id')), serial: usableSerial(field(device, 'serial_num')) };
  for (const medium of media) {
    for (const volume of list(field(medium, 'volumes'))) {
      const mountPoint = text(field(volume, 'mount_point'));
      if (!mountPoint) continue; // not mounted (or hidden, like an EFI partition)
      identities.set(mountKey(mountPoint), { usb, label: text(field(volume, '_name')), fsType: fsTypeName(field(volume, 'file_system')) });
    }
  }
}

function walk(items: unknown, identities: Map<string, MediaIdentity>, depth: number): void {
  if (depth > 16) return; // USB allows 7 tiers; deeper is malformed
  for (const item of list(items)) {
    addVolumes(item, identities);
    walk(field(item, '_items'), identities, depth + 1);
  }
}

/**
 * Parses `system_profiler SPUSBDataType -json` into mount point -> identity for every mounted volume on a
 * USB device (through any depth of hubs). Throws IDENTITY_OUTPUT_INVALID when the output is not JSON or has
 * no SPUSBDataType list.
 */
export function parseSystemProfilerUsb(output: string): Map<string, MediaIdentity> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(output);
  } catch (error) {
    throw new UsbIdentityError('IDENTITY_OUTPUT_INVALID', 'system_profiler did not print JSON', { cause: error });
  }
  const buses = field(parsed, 'SPUSBDataType');
  if (!Array.isArray(buses)) {
    throw new UsbIdentityError('IDENTITY_OUTPUT_INVALID', 'system_profiler has no SPUSBDataType on this macOS (dropped in macOS 26): USB ids of sticks are unknown');
  }
  const identities = new Map<string, MediaIdentity>();
  walk(buses, identities, 0);
  return identities;
}

export class DarwinUsbIdentitySource implements UsbIdentitySource {
  constructor(
    private readonly run: CommandRunner = runCommand,
    private readonly timeoutMs = 20_000,
  ) {}

  async identify(): Promise<ReadonlyMap<string, MediaIdentity>> {
    let output: string;
    try {
      output = await this.run(SYSTEM_PROFILER, ['SPUSBDataType', '-json'], { timeoutMs: this.timeoutMs, maxOutputBytes: 8 * 1024 * 1024 });
    } catch (error) {
      throw new UsbIdentityError('IDENTITY_QUERY_FAILED', 'system_profiler SPUSBDataType failed', { cause: error });
    }
    return parseSystemProfilerUsb(output);
  }
}
