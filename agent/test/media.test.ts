import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { DeclaredVolumeSource } from '../src/media/declared-volumes.js';
import { isDarwinMountPoint } from '../src/media/device-info.darwin.js';
import { blockDeviceFacts, LinuxVolumeSource, parseMountInfo, probeDevice } from '../src/media/device-info.linux.js';
import { isWin32MountPoint } from '../src/media/device-info.win32.js';
import { volumesFromDrives, type DrivelistDrive } from '../src/media/drivelist-volumes.js';
import { exfatLabel, probeBootSector } from '../src/media/filesystem-probe.js';
import { MountWatcher } from '../src/media/mount-watcher.js';
import { volumeKey, type VolumeInfo } from '../src/media/volume.js';
import { inTempDir, waitFor } from './helpers.js';

const MOUNTINFO = [
  '22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw',
  '42 27 7:0 / /tmp/mnt\\040stick rw,nosuid,nodev,relatime - fuseblk /dev/loop0 rw,user_id=0,allow_other,blksize=4096',
  '43 22 8:17 / /media/hanako/KINGSTON ro,nosuid shared:2 - exfat /dev/sdb1 ro,fmask=0022',
  '44 22 0:45 / /proc rw - proc proc rw',
  'garbage line without separator',
].join('\n');

/** A sysfs-shaped fixture: a USB stick (sdb, partition sdb1), a SATA disk (sda1) and an SD card (mmcblk0p1). */
async function makeSysfs(root: string): Promise<void> {
  const usbDevice = join(root, 'devices/pci0000:00/0000:00:14.0/usb2/2-1');
  const sdb = join(usbDevice, '2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb');
  const sda = join(root, 'devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda');
  const mmc = join(root, 'devices/platform/mmc_host/mmc0/mmc0:0001/block/mmcblk0');
  for (const dir of [join(sdb, 'sdb1'), join(sda, 'sda1'), join(mmc, 'mmcblk0p1'), join(root, 'dev/block')]) await mkdir(dir, { recursive: true });
  await writeFile(join(usbDevice, 'idVendor'), '0951\n');
  await writeFile(join(usbDevice, 'idProduct'), '1666\n');
  await writeFile(join(usbDevice, 'serial'), 'E0D55EA574E8\n');
  await writeFile(join(sdb, 'removable'), '1\n');
  await writeFile(join(sdb, 'sdb1/partition'), '1\n');
  await writeFile(join(sda, 'removable'), '0\n');
  await writeFile(join(sda, 'sda1/partition'), '1\n');
  await writeFile(join(mmc, 'removable'), '0\n');
  await writeFile(join(mmc, 'mmcblk0p1/partition'), '1\n');
  const link = async (device: string, target: string) => symlink(relative(join(root, 'dev/block'), target), join(root, 'dev/block', device));
  await link('8:17', join(sdb, 'sdb1'));
  await link('8:1', join(sda, 'sda1'));
  await link('179:1', join(mmc, 'mmcblk0p1'));
}

function bootSector(fill: (sector: Buffer) => void): Buffer {
  const sector = Buffer.alloc(512);
  fill(sector);
  sector.writeUInt16LE(0xaa55, 510);
  return sector;
}

/** A Linux volume source over a fake sysfs and mount table (MOUNTINFO) in `dir`, booted as "boot-1". */
async function fakeLinuxVolumes(dir: string): Promise<{ source: LinuxVolumeSource; mountInfo: string }> {
  const sys = join(dir, 'sys');
  await makeSysfs(sys);
  const mountInfo = join(dir, 'mountinfo');
  await writeFile(mountInfo, MOUNTINFO);
  await writeFile(join(dir, 'boot_id'), 'boot-1\n');
  return { source: new LinuxVolumeSource({ mountInfo, sysRoot: sys, bootId: join(dir, 'boot_id'), byLabel: join(dir, 'by-label') }), mountInfo };
}

describe('Linux mount table and sysfs', () => {
  test('mountinfo: escaped mount points, FUSE types, read-only flags; unreadable lines skipped', () => {
    const entries = parseMountInfo(MOUNTINFO);
    assert.equal(entries.length, 4);
    assert.deepEqual(entries[1], { mountId: 42, device: '7:0', mountPoint: '/tmp/mnt stick', fsType: 'fuseblk', source: '/dev/loop0', readOnly: false });
    assert.equal(entries[2]?.readOnly, true);
  });

  test('sysfs: a USB stick is removable with vendor, product and serial; a SATA disk is not; an SD card is', async () => {
    await inTempDir(async (dir) => {
      const sys = join(dir, 'sys');
      await makeSysfs(sys);
      assert.deepEqual(await blockDeviceFacts('8:17', sys), { removable: true, bus: 'usb', usb: { vendorId: '0951', productId: '1666', serial: 'E0D55EA574E8' } });
      assert.deepEqual(await blockDeviceFacts('8:1', sys), { removable: false, bus: 'other', usb: {} });
      assert.deepEqual(await blockDeviceFacts('179:1', sys), { removable: false, bus: 'sd', usb: {} });
      assert.equal(await blockDeviceFacts('9:9', sys), undefined);
    });
  });

  test('the volume source lists only removable block devices, described once per mount', async () => {
    await inTempDir(async (dir) => {
      const { source, mountInfo } = await fakeLinuxVolumes(dir);
      const volumes = await source.list();
      assert.equal(volumes.length, 1);
      const stick = volumes[0];
      assert.equal(stick?.mountPoint, '/media/hanako/KINGSTON');
      assert.equal(stick?.fsType, 'exfat');
      assert.equal(stick?.mountToken, 'boot-1:43');
      assert.equal(stick && volumeKey(stick), 'usb:0951:1666:E0D55EA574E8');
      await writeFile(mountInfo, MOUNTINFO.split('\n').filter((line) => !line.startsWith('43 ')).join('\n'));
      assert.deepEqual(await source.list(), []);
    });
  });

  test('a mount is stamped with when it was first seen in the mount table, and keeps that time while it stays', async () => {
    await inTempDir(async (dir) => {
      const { source } = await fakeLinuxVolumes(dir);
      const before = Date.now();
      const [stick] = await source.list();
      const after = Date.now();
      assert.ok(stick?.firstSeenAt !== undefined && stick.firstSeenAt >= before && stick.firstSeenAt <= after, 'stamped during the scan that found it');
      await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal((await source.list())[0]?.firstSeenAt, stick.firstSeenAt, 'the same mount keeps its time');
    });
  });
});

describe('file-system identity from the boot sector', () => {
  test('FAT32, FAT16 and NTFS boot sectors give type, serial and label; anything else gives nothing', () => {
    const fat32 = bootSector((s) => {
      s.write('MSDOS5.0', 3, 'latin1');
      s.writeUInt32LE(0x1234abcd, 0x43);
      s.write('MY STICK   ', 0x47, 'latin1');
      s.write('FAT32   ', 0x52, 'latin1');
    });
    assert.deepEqual(probeBootSector(fat32), { fsType: 'vfat', volumeSerial: '1234-ABCD', label: 'MY STICK' });
    const fat16 = bootSector((s) => {
      s.writeUInt32LE(0x00c0ffee, 0x27);
      s.write('NO NAME    ', 0x2b, 'latin1');
      s.write('FAT16   ', 0x36, 'latin1');
    });
    assert.deepEqual(probeBootSector(fat16), { fsType: 'vfat', volumeSerial: '00C0-FFEE', label: undefined });
    const ntfs = bootSector((s) => {
      s.write('NTFS    ', 3, 'latin1');
      Buffer.from('0123456789abcdef', 'hex').copy(s, 0x48);
    });
    assert.deepEqual(probeBootSector(ntfs), { fsType: 'ntfs', volumeSerial: 'EFCDAB8967452301' });
    assert.equal(probeBootSector(Buffer.alloc(512)), undefined);
    assert.equal(probeBootSector(Buffer.alloc(100)), undefined);
  });

  test('an exFAT label entry is found in the root directory', () => {
    const root = Buffer.alloc(128);
    root.writeUInt8(0x81, 0); // allocation bitmap entry comes first
    root.writeUInt8(0x83, 32);
    root.writeUInt8(4, 33);
    root.write('USB1', 34, 'utf16le');
    assert.equal(exfatLabel(root), 'USB1');
    assert.equal(exfatLabel(Buffer.alloc(64)), undefined);
  });

  const haveMkfsExfat = spawnSync('sh', ['-c', 'command -v mkfs.exfat'], { stdio: 'ignore' }).status === 0;
  test('a real exFAT image made by mkfs.exfat reads like blkid reads it', { skip: haveMkfsExfat ? false : 'mkfs.exfat (Debian exfatprogs) is not installed' }, async () => {
    await inTempDir(async (dir) => {
      const image = join(dir, 'stick.img');
      await writeFile(image, Buffer.alloc(0));
      spawnSync('truncate', ['-s', '8M', image]);
      const made = spawnSync('mkfs.exfat', ['-L', 'EXITSEAL', image], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      const identity = await probeDevice(image);
      assert.equal(identity?.fsType, 'exfat');
      assert.equal(identity?.label, 'EXITSEAL');
      const blkid = spawnSync('blkid', ['-o', 'value', '-s', 'UUID', image], { encoding: 'utf8' });
      if (blkid.status === 0) assert.equal(identity?.volumeSerial, blkid.stdout.trim());
      else assert.match(identity?.volumeSerial ?? '', /^[0-9A-F]{4}-[0-9A-F]{4}$/);
    });
  });
});

describe('Windows and macOS drive lists (drivelist output)', () => {
  const windowsDrives: DrivelistDrive[] = [
    { device: '\\\\.\\PhysicalDrive0', description: 'Samsung SSD', mountpoints: [{ path: 'C:\\' }], isRemovable: false, isUSB: false, isSystem: true },
    { device: '\\\\.\\PhysicalDrive1', description: 'SanDisk Cruzer', mountpoints: [{ path: 'E:\\', label: 'CRUZER' }], isRemovable: true, isUSB: true, isSystem: false },
    { device: '\\\\.\\PhysicalDrive2', description: 'SD reader', mountpoints: [{ path: 'F:\\', label: null }, { path: '\\\\?\\Volume{1234}\\' }], isRemovable: true, isCard: true, isSystem: false },
  ];
  const macDrives: DrivelistDrive[] = [
    { device: '/dev/disk0', mountpoints: [{ path: '/' }], isRemovable: false, isSystem: true },
    { device: '/dev/disk4', mountpoints: [{ path: '/Volumes/KINGSTON', label: 'KINGSTON' }, { path: '/private/var/vm' }], isRemovable: true, isUSB: true, isSystem: false },
    { device: '/dev/disk5', mountpoints: [{ path: '/Volumes/Image' }], isRemovable: true, isVirtual: true, isSystem: false },
  ];
  const token = (device: string, mount: string) => `${device}|${mount}`;

  test('win32: removable drive letters only, never the system disk', () => {
    const volumes = volumesFromDrives(windowsDrives, isWin32MountPoint, token);
    assert.deepEqual(volumes.map((v) => [v.mountPoint, v.label, v.bus]), [['E:\\', 'CRUZER', 'usb'], ['F:\\', undefined, 'sd']]);
  });

  test('darwin: /Volumes mounts of removable, non-virtual disks only', () => {
    const volumes = volumesFromDrives(macDrives, isDarwinMountPoint, token);
    assert.deepEqual(volumes.map((v) => [v.mountPoint, v.devicePath, v.bus]), [['/Volumes/KINGSTON', '/dev/disk4', 'usb']]);
  });
});

describe('mount watcher over declared directories', () => {
  test('a declared directory mounts when it appears and unmounts when it goes; a new directory is a new mount', async () => {
    await inTempDir(async (dir) => {
      const stickPath = join(dir, 'stick');
      const source = new DeclaredVolumeSource([{ path: stickPath, kind: 'directory', label: 'TEST', serial: 'DECLARED-1' }], { bootId: () => Promise.resolve('boot') });
      const log: string[] = [];
      const tokens: string[] = [];
      const watcher = new MountWatcher(
        [source],
        {
          mounted: (volume: VolumeInfo) => {
            log.push(`mounted ${volume.mountPoint} ${volumeKey(volume)}`);
            tokens.push(volume.mountToken);
            return Promise.resolve();
          },
          unmounted: (volume: VolumeInfo) => {
            log.push(`unmounted ${volume.mountPoint}`);
            return Promise.resolve();
          },
        },
        20,
        (error) => log.push(`error ${String(error)}`),
      );
      await watcher.start();
      assert.deepEqual(log, []);
      await mkdir(stickPath);
      await waitFor('mount', () => (log.length === 1 ? true : undefined));
      assert.equal(log[0], `mounted ${stickPath} fs:-:DECLARED-1`);
      await rename(stickPath, `${stickPath}.gone`);
      await waitFor('unmount', () => (log.length === 2 ? true : undefined));
      await mkdir(stickPath);
      await waitFor('second mount', () => (log.length === 3 ? true : undefined));
      await watcher.stop();
      assert.deepEqual(log.slice(1), [`unmounted ${stickPath}`, `mounted ${stickPath} fs:-:DECLARED-1`]);
      assert.notEqual(tokens[0], tokens[1]);
    });
  });

  test('a failing source keeps what was known instead of reporting everything unmounted', async () => {
    let fail = false;
    const volume: VolumeInfo = { mountPoint: '/media/x', bus: 'usb', usb: { serial: 'S' }, mountToken: 't' };
    const events: string[] = [];
    const errors: unknown[] = [];
    const watcher = new MountWatcher(
      [{ list: () => (fail ? Promise.reject(new Error('mountinfo unreadable')) : Promise.resolve([volume])) }],
      { mounted: () => Promise.resolve(void events.push('mounted')), unmounted: () => Promise.resolve(void events.push('unmounted')) },
      10,
      (error) => errors.push(error),
    );
    await watcher.start();
    fail = true;
    await waitFor('an error', () => (errors.length > 0 ? true : undefined));
    await watcher.stop();
    assert.deepEqual(events, ['mounted']);
    assert.equal(watcher.current().length, 1);
  });
});
