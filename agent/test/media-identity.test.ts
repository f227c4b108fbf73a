import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { isDarwinMountPoint } from '../src/media/device-info.darwin.js';
import { isWin32MountPoint } from '../src/media/device-info.win32.js';
import { DrivelistUnavailableError, DrivelistVolumeSource, loadDrivelist, volumesFromDrives, type DrivelistDrive } from '../src/media/drivelist-volumes.js';
import { CommandError, runCommand, type CommandRunner } from '../src/platform/run-command.js';
import { parseSystemProfilerUsb, DarwinUsbIdentitySource, SYSTEM_PROFILER } from '../src/media/usb-identity.darwin.js';
import { fsTypeName, hexId, mountKey, UsbIdentityError, type MediaIdentity, type UsbIdentitySource } from '../src/media/usb-identity.js';
import { defaultPowerShellPath, parseUsbDeviceId, parseWin32DiskQuery, serialOfStorageId, WIN32_DISK_QUERY, Win32UsbIdentitySource } from '../src/media/usb-identity.win32.js';
import { volumeKey } from '../src/media/volume.js';
import { decideDevice } from '../src/policy/agent-policy.js';

const FIXTURES = new URL('../../test/fixtures/media/', import.meta.url);
const fixture = (name: string) => readFile(new URL(name, FIXTURES), 'utf8');

async function rejectsWith(promise: Promise<unknown>, check: (error: unknown) => boolean): Promise<unknown> {
  let caught: unknown;
  await promise.then(
    () => assert.fail('expected a rejection'),
    (error: unknown) => (caught = error),
  );
  assert.ok(check(caught), `unexpected error: ${String(caught)}`);
  return caught;
}

describe('USB ids, file-system names and mount keys as the platforms spell them', () => {
  test('vendor and product ids become 4 lower-case hex digits', () => {
    assert.equal(hexId('0x0781  (SanDisk Corporation)'), '0781');
    assert.equal(hexId('0x5567'), '5567');
    assert.equal(hexId('VID_05E3'), '05e3');
    assert.equal(hexId('0x1a40  (TERMINUS TECHNOLOGY INC.)'), '1a40');
    assert.equal(hexId(0x4e8), '04e8');
    assert.equal(hexId('apple_vendor_id'), undefined);
    assert.equal(hexId(''), undefined);
    assert.equal(hexId(0x10000), undefined);
    assert.equal(hexId(null), undefined);
  });

  test('file systems are named as Linux names them', () => {
    assert.deepEqual(
      ['FAT32', 'FAT', 'exFAT', 'NTFS', 'MS-DOS FAT32', 'MS-DOS FAT16', 'ExFAT', 'Journaled HFS+', 'APFS', 'ReFS', '', undefined].map(fsTypeName),
      ['vfat', 'vfat', 'exfat', 'ntfs', 'vfat', 'vfat', 'exfat', 'hfsplus', 'apfs', 'refs', undefined, undefined],
    );
  });

  test('mount keys: drive letters without case or backslash, paths without a trailing slash', () => {
    assert.equal(mountKey('e:'), 'E:');
    assert.equal(mountKey('E:\\'), 'E:');
    assert.equal(mountKey('/Volumes/CRUZER/'), '/Volumes/CRUZER');
    assert.equal(mountKey('/'), '/');
  });

  test('Windows device ids: USB ids split, made-up instance ids give no serial, the LUN suffix is dropped', () => {
    assert.deepEqual(parseUsbDeviceId('USB\\VID_0781&PID_5567\\4C530001230505115095'), { vendorId: '0781', productId: '5567', instance: '4C530001230505115095', isInterface: false });
    assert.equal(parseUsbDeviceId('USB\\VID_0BC2&PID_2322&MI_00\\7&3B4C5D6E&0&0000')?.isInterface, true);
    assert.equal(parseUsbDeviceId('PCI\\VEN_144D&DEV_A809\\4&1C2B3A4D&0&0038'), undefined);
    assert.equal(parseUsbDeviceId(null), undefined);
    assert.equal(serialOfStorageId('USBSTOR\\DISK&VEN_GENERIC-&PROD_SD/MMC&REV_1.00\\000000000819&1'), '000000000819');
    assert.equal(serialOfStorageId('USBSTOR\\DISK&VEN_&PROD_USB_DISK_2.0&REV_PMAP\\7&2A5F3B1&0'), undefined);
    assert.equal(serialOfStorageId('SCSI\\DISK&VEN_SAMSUNG&PROD_PORTABLE_SSD_T5\\7&1A2B3C4D&0&000000'), undefined);
  });
});

describe('Windows: the PowerShell/CIM disk query', () => {
  test('drive letters of USB disks get vendor, product, serial, label, file system; internal disks none', async () => {
    const identities = parseWin32DiskQuery(await fixture('win32-disk-query.json'));
    assert.deepEqual([...identities.keys()].sort(), ['E:', 'F:', 'G:', 'H:', 'I:', 'J:', 'K:', 'L:']);
    // A stick whose parent is its USB device: the instance id is the iSerial.
    assert.deepEqual(identities.get('E:'), { usb: { vendorId: '0781', productId: '5567', serial: '4C530001230505115095' }, label: 'CRUZER', fsType: 'vfat', volumeSerial: '1234-ABCD' });
    // Two partitions of one stick, a Japanese label, an empty label, NTFS serial as Windows gives it.
    assert.deepEqual(identities.get('F:'), { usb: { vendorId: '0951', productId: '1666', serial: 'E0D55EA574E8F1A0B9C2D3E4' }, label: 'ＵＳＢメモリ', fsType: 'exfat', volumeSerial: '5E7B-0A12' });
    assert.deepEqual(identities.get('G:'), { usb: { vendorId: '0951', productId: '1666', serial: 'E0D55EA574E8F1A0B9C2D3E4' }, label: undefined, fsType: 'ntfs', volumeSerial: '0C4F8E21' });
    // A card reader: a card in one slot (volumes as a bare object, as PowerShell 5.1 writes one), the other slot empty.
    assert.deepEqual(identities.get('H:'), { usb: { vendorId: '05e3', productId: '0749', serial: '000000000819' }, label: 'CANON_DC', fsType: 'vfat', volumeSerial: 'A1B2-C3D4' });
    // No serial: Windows made the instance ids up.
    assert.deepEqual(identities.get('I:')?.usb, { vendorId: '058f', productId: '6387', serial: undefined });
    // UASP: the disk is a SCSI one, its parent the USB device.
    assert.deepEqual(identities.get('J:')?.usb, { vendorId: '04e8', productId: '61f5', serial: '1234567890AB' });
    // Composite device: the parent is an interface (&MI_00), the serial comes from the USBSTOR id.
    assert.deepEqual(identities.get('K:')?.usb, { vendorId: '0bc2', productId: '2322', serial: 'NAA8LZTB' });
    // No parent (Get-PnpDeviceProperty failed): found among the USB devices by its serial.
    assert.deepEqual(identities.get('L:')?.usb, { vendorId: '18a5', productId: '0302', serial: '07A1B2C3D4E5F6A7' });
    assert.equal(identities.has('C:'), false);
  });

  test('PowerShell 5.1 shapes: BOM and CRLF, one disk as an object, { value, Count } wrapping, no disks', () => {
    const single = '\uFEFF{"disks":{"pnpDeviceId":"USBSTOR\\\\DISK&VEN_SANDISK\\\\AA01&0","parentId":"USB\\\\VID_0781&PID_5583\\\\AA01","volumes":{"value":[{"deviceId":"e:","label":"X","fileSystem":"exFAT","volumeSerial":"0000ABCD"}],"Count":1}},"usbDevices":"USB\\\\VID_0781&PID_5583\\\\AA01"}\r\n';
    assert.deepEqual([...parseWin32DiskQuery(single)], [['E:', { usb: { vendorId: '0781', productId: '5583', serial: 'AA01' }, label: 'X', fsType: 'exfat', volumeSerial: '0000-ABCD' }]]);
    assert.equal(parseWin32DiskQuery('{"disks":[],"usbDevices":[]}').size, 0);
    assert.equal(parseWin32DiskQuery('{"disks":null,"usbDevices":null}').size, 0);
  });

  test('output that is not the query\'s JSON is a typed error', () => {
    for (const output of ['', 'Get-CimInstance : Access denied', '[1,2]', '{"something":"else"}']) {
      assert.throws(() => parseWin32DiskQuery(output), (error: unknown) => error instanceof UsbIdentityError && error.code === 'IDENTITY_OUTPUT_INVALID', output);
    }
  });

  test('the query runs PowerShell by absolute path with the fixed script encoded, and failures are typed', async () => {
    const calls: { file: string; args: readonly string[]; timeoutMs: number }[] = [];
    const answer = await fixture('win32-disk-query.json');
    const run: CommandRunner = (file, args, options) => {
      calls.push({ file, args, timeoutMs: options.timeoutMs });
      return Promise.resolve(answer);
    };
    const source = new Win32UsbIdentitySource(run, defaultPowerShellPath({ SystemRoot: 'D:\\WINDOWS' }));
    assert.equal((await source.identify()).get('E:')?.usb.vendorId, '0781');
    assert.equal(calls[0]?.file, 'D:\\WINDOWS\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
    const args = calls[0]?.args ?? [];
    assert.equal(args.at(-2), '-EncodedCommand');
    assert.equal(Buffer.from(args.at(-1) ?? '', 'base64').toString('utf16le'), WIN32_DISK_QUERY);
    assert.ok(args.includes('-NoProfile') && args.includes('-NonInteractive'));
    assert.ok((calls[0]?.timeoutMs ?? 0) > 0);

    const timedOut = new Win32UsbIdentitySource(() => Promise.reject(new CommandError('COMMAND_TIMED_OUT', 'powershell.exe did not answer')));
    const error = await rejectsWith(timedOut.identify(), (e) => e instanceof UsbIdentityError && e.code === 'IDENTITY_QUERY_FAILED');
    const cause = (error as Error).cause;
    assert.ok(cause instanceof CommandError && cause.code === 'COMMAND_TIMED_OUT');
  });
});

describe('macOS: system_profiler SPUSBDataType -json', () => {
  test('mounted volumes of USB devices through hubs get ids, label and file system; unmounted ones and non-storage devices none', async () => {
    const identities = parseSystemProfilerUsb(await fixture('darwin-spusb.json'));
    assert.deepEqual([...identities.keys()].sort(), ['/Volumes/CRUZER', '/Volumes/EOS_DIGITAL', '/Volumes/Install Disc', '/Volumes/NONAME', '/Volumes/T5 Backup']);
    assert.deepEqual(identities.get('/Volumes/CRUZER'), { usb: { vendorId: '0781', productId: '5567', serial: '4C530001230505115095' }, label: 'CRUZER', fsType: 'vfat' });
    // A card reader behind a hub: the card's volume; the empty slot has none.
    assert.deepEqual(identities.get('/Volumes/EOS_DIGITAL'), { usb: { vendorId: '05e3', productId: '0749', serial: '000000001536' }, label: 'EOS_DIGITAL', fsType: 'exfat' });
    // Two hubs deep, no serial_num at all.
    assert.deepEqual(identities.get('/Volumes/NONAME')?.usb, { vendorId: '058f', productId: '6387', serial: undefined });
    // A USB SSD: the EFI partition is not mounted, the data volume is.
    assert.deepEqual(identities.get('/Volumes/T5 Backup'), { usb: { vendorId: '04e8', productId: '61f5', serial: '1234567890AB' }, label: 'T5 Backup', fsType: 'hfsplus' });
    // Apple's own devices say "apple_vendor_id" instead of a number.
    assert.deepEqual(identities.get('/Volumes/Install Disc')?.usb, { vendorId: '05ac', productId: '1500', serial: 'KZ1234567QA' });
  });

  test('no SPUSBDataType (macOS 26) or no JSON is a typed error; no USB buses is an empty answer', () => {
    for (const output of ['{"SPUSBHostDataType":[]}', 'system_profiler: unknown data type', '']) {
      assert.throws(() => parseSystemProfilerUsb(output), (error: unknown) => error instanceof UsbIdentityError && error.code === 'IDENTITY_OUTPUT_INVALID', output);
    }
    assert.equal(parseSystemProfilerUsb('{"SPUSBDataType":[]}').size, 0);
  });

  test('the query runs /usr/sbin/system_profiler with its arguments; a missing tool is a typed error', async () => {
    const calls: [string, readonly string[]][] = [];
    const source = new DarwinUsbIdentitySource((file, args) => {
      calls.push([file, args]);
      return Promise.resolve('{"SPUSBDataType":[]}');
    });
    assert.equal((await source.identify()).size, 0);
    assert.deepEqual(calls, [[SYSTEM_PROFILER, ['SPUSBDataType', '-json']]]);
    const missing = new DarwinUsbIdentitySource(() => Promise.reject(new CommandError('COMMAND_NOT_FOUND', 'system_profiler was not found')));
    await rejectsWith(missing.identify(), (e) => e instanceof UsbIdentityError && e.code === 'IDENTITY_QUERY_FAILED' && e.cause instanceof CommandError);
  });
});

describe('drivelist drives joined with the USB identity, as the device rules see them', () => {
  const token = (device: string, mount: string) => `${device}|${mount}`;
  const sandiskOnly = { devices: { allow: [{ vendorId: '0781', productId: '5567' }], deny: [] } };
  const denyKingston = { devices: { allow: [], deny: [{ vendorId: '0951', productId: '1666', serial: 'E0D55EA574E8F1A0B9C2D3E4' }] } };

  test('Windows: an allow list admits the SanDisk by vendor and product; a deny rule by serial refuses the Kingston', async () => {
    const drives: DrivelistDrive[] = [
      { device: '\\\\.\\PhysicalDrive0', mountpoints: [{ path: 'C:\\' }], isRemovable: false, isUSB: false, isSystem: true },
      { device: '\\\\.\\PhysicalDrive1', description: 'SanDisk Cruzer Blade USB Device', mountpoints: [{ path: 'E:\\', label: 'CRUZER' }], isRemovable: true, isUSB: true, isSystem: false },
      { device: '\\\\.\\PhysicalDrive2', description: 'Kingston DataTraveler 3.0', mountpoints: [{ path: 'F:\\', label: null }, { path: 'G:\\' }], isRemovable: true, isUSB: true, isSystem: false },
      { device: '\\\\.\\PhysicalDrive5', description: ' USB DISK 2.0 USB Device', mountpoints: [{ path: 'I:\\' }], isRemovable: true, isUSB: true, isSystem: false },
      { device: '\\\\.\\PhysicalDrive6', description: 'Samsung Portable SSD T5', mountpoints: [{ path: 'J:\\' }], isRemovable: false, isUSB: false, isSystem: false, isCard: false },
      { device: '\\\\.\\PhysicalDrive9', description: 'Realtek card reader', mountpoints: [{ path: 'M:\\' }], isRemovable: true, isCard: true, isSystem: false },
    ];
    const volumes = volumesFromDrives(drives, isWin32MountPoint, token, parseWin32DiskQuery(await fixture('win32-disk-query.json')));
    const byMount = new Map(volumes.map((v) => [v.mountPoint, v]));
    assert.deepEqual([...byMount.keys()], ['E:\\', 'F:\\', 'G:\\', 'I:\\', 'J:\\', 'M:\\']);
    // A UASP SSD drivelist calls fixed and not USB: watched all the same, since Windows says it is on USB.
    assert.deepEqual([byMount.get('J:\\')?.bus, byMount.get('J:\\')?.usb.vendorId], ['usb', '04e8']);
    const cruzer = byMount.get('E:\\');
    assert.deepEqual(cruzer && { usb: cruzer.usb, label: cruzer.label, fsType: cruzer.fsType, bus: cruzer.bus }, { usb: { vendorId: '0781', productId: '5567', serial: '4C530001230505115095' }, label: 'CRUZER', fsType: 'vfat', bus: 'usb' });
    assert.equal(cruzer && volumeKey(cruzer), 'usb:0781:5567:4C530001230505115095');
    assert.equal(byMount.get('F:\\')?.label, 'ＵＳＢメモリ'); // drivelist had no label; the query has
    assert.deepEqual(decideDevice(sandiskOnly, cruzer?.usb ?? {}), { allowed: true });
    assert.equal(decideDevice(sandiskOnly, byMount.get('F:\\')?.usb ?? {}).allowed, false);
    assert.equal(decideDevice(denyKingston, byMount.get('F:\\')?.usb ?? {}).allowed, false);
    assert.equal(decideDevice(denyKingston, byMount.get('G:\\')?.usb ?? {}).allowed, false);
    assert.deepEqual(decideDevice(denyKingston, cruzer?.usb ?? {}), { allowed: true });
    // No serial: a rule naming a serial cannot match it; one by vendor and product can.
    const noSerial = byMount.get('I:\\')?.usb ?? {};
    assert.equal(decideDevice({ devices: { allow: [{ vendorId: '058f', productId: '6387', serial: 'X' }], deny: [] } }, noSerial).allowed, false);
    assert.deepEqual(decideDevice({ devices: { allow: [{ vendorId: '058f' }], deny: [] } }, noSerial), { allowed: true });
    // A built-in card reader the query does not know as USB: no ids, so an allow list refuses it.
    assert.deepEqual(byMount.get('M:\\')?.usb, {});
    assert.equal(decideDevice(sandiskOnly, byMount.get('M:\\')?.usb ?? {}).allowed, false);
  });

  test('macOS: /Volumes mounts get the ids of their USB device', async () => {
    const drives: DrivelistDrive[] = [
      { device: '/dev/disk0', mountpoints: [{ path: '/' }], isRemovable: false, isSystem: true },
      { device: '/dev/disk4', mountpoints: [{ path: '/Volumes/CRUZER', label: 'CRUZER' }], isRemovable: true, isUSB: true, isSystem: false },
      { device: '/dev/disk5', mountpoints: [{ path: '/Volumes/EOS_DIGITAL/' }], isRemovable: true, isUSB: true, isCard: true, isSystem: false },
    ];
    const volumes = volumesFromDrives(drives, isDarwinMountPoint, token, parseSystemProfilerUsb(await fixture('darwin-spusb.json')));
    assert.deepEqual(
      volumes.map((v) => [v.mountPoint, v.usb.vendorId, v.usb.productId, v.usb.serial, v.fsType]),
      [
        ['/Volumes/CRUZER', '0781', '5567', '4C530001230505115095', 'vfat'],
        ['/Volumes/EOS_DIGITAL/', '05e3', '0749', '000000001536', 'exfat'],
      ],
    );
    assert.deepEqual(decideDevice(sandiskOnly, volumes[0]?.usb ?? {}), { allowed: true });
    assert.equal(decideDevice(sandiskOnly, volumes[1]?.usb ?? {}).allowed, false);
  });

  test('the volume source asks for identities once per newly seen drive, and reports a drive without ids when the query fails', async () => {
    let drives: DrivelistDrive[] = [{ device: '\\\\.\\PhysicalDrive1', mountpoints: [{ path: 'E:\\' }], isRemovable: true, isUSB: true }];
    const known = new Map<string, MediaIdentity>([
      ['E:', { usb: { vendorId: '0781', productId: '5567', serial: 'S1' } }],
      ['F:', { usb: { vendorId: '0951', productId: '1666', serial: 'S2' } }],
    ]);
    let queries = 0;
    let failing = false;
    const identity: UsbIdentitySource = {
      identify: () => {
        queries += 1;
        return failing ? Promise.reject(new UsbIdentityError('IDENTITY_QUERY_FAILED', 'powershell failed')) : Promise.resolve(known);
      },
    };
    const errors: unknown[] = [];
    const source = new DrivelistVolumeSource(() => Promise.resolve(drives), isWin32MountPoint, identity, (error) => errors.push(error));
    const first = await source.list();
    assert.equal(first[0]?.usb.serial, 'S1');
    await source.list();
    assert.equal(queries, 1, 'a drive already described is not queried again');
    drives = [...drives, { device: '\\\\.\\PhysicalDrive2', mountpoints: [{ path: 'F:\\' }], isRemovable: true, isUSB: true }];
    const second = await source.list();
    assert.equal(queries, 2);
    assert.deepEqual(second.map((v) => v.usb.serial), ['S1', 'S2']);
    assert.equal(second[0]?.mountToken, first[0]?.mountToken);
    failing = true;
    drives = [drives[0] as DrivelistDrive, { device: '\\\\.\\PhysicalDrive3', mountpoints: [{ path: 'G:\\' }], isRemovable: true, isUSB: true }];
    const third = await source.list();
    assert.deepEqual(third[1]?.usb, {});
    assert.equal(third[1]?.mountPoint, 'G:\\');
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof UsbIdentityError);
    // F: went and comes back: a new insertion with a new token.
    failing = false;
    drives = [...drives, { device: '\\\\.\\PhysicalDrive2', mountpoints: [{ path: 'F:\\' }], isRemovable: true, isUSB: true }];
    const fourth = await source.list();
    assert.notEqual(fourth[2]?.mountToken, second[1]?.mountToken);
  });
});

describe('loading drivelist', () => {
  test('the installed drivelist (an optional dependency, built by npm ci) loads; a missing one is a typed error', async () => {
    assert.equal(typeof (await loadDrivelist()), 'function');
    await rejectsWith(loadDrivelist('drivelist-that-is-not-installed'), (e) => e instanceof DrivelistUnavailableError && e.code === 'DRIVELIST_UNAVAILABLE' && e.cause instanceof Error);
  });
});

describe('running OS tools (execFile, no shell)', () => {
  test('standard output comes back; a missing tool, a failure, a timeout and too much output are typed errors', async () => {
    assert.equal(await runCommand(process.execPath, ['-e', 'process.stdout.write("ok; $(not run by a shell)")'], { timeoutMs: 30_000, maxOutputBytes: 1024 }), 'ok; $(not run by a shell)');
    await rejectsWith(runCommand('/nonexistent/tool', [], { timeoutMs: 30_000, maxOutputBytes: 1024 }), (e) => e instanceof CommandError && e.code === 'COMMAND_NOT_FOUND');
    const failed = await rejectsWith(runCommand(process.execPath, ['-e', 'console.error("Access denied"); process.exit(3)'], { timeoutMs: 30_000, maxOutputBytes: 1024 }), (e) => e instanceof CommandError && e.code === 'COMMAND_FAILED');
    assert.match((failed as Error).message, /Access denied/);
    await rejectsWith(runCommand(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 300, maxOutputBytes: 1024 }), (e) => e instanceof CommandError && e.code === 'COMMAND_TIMED_OUT');
    await rejectsWith(runCommand(process.execPath, ['-e', 'process.stdout.write("x".repeat(5000))'], { timeoutMs: 30_000, maxOutputBytes: 1024 }), (e) => e instanceof CommandError && e.code === 'OUTPUT_TOO_LARGE');
  });
});
