// When a drive is first seen (stamped before the slow look-ups about it), and how often drives are polled
// on Windows and macOS while USB hot-plug events work.
import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { isWin32MountPoint } from '../src/media/device-info.win32.js';
import { DrivelistVolumeSource, volumesFromDrives, type DrivelistDrive } from '../src/media/drivelist-volumes.js';
import { HOTPLUG_POLL_INTERVAL_MS, MountWatcher, type MountListener } from '../src/media/mount-watcher.js';
import { HotplugError, type HotplugKind, type HotplugSource } from '../src/media/usb-hotplug.js';
import type { MediaIdentity, UsbIdentitySource } from '../src/media/usb-identity.js';
import type { VolumeInfo, VolumeSource } from '../src/media/volume.js';

const stickE: DrivelistDrive = { device: '\\\\.\\PhysicalDrive1', mountpoints: [{ path: 'E:\\' }], isRemovable: true, isUSB: true };
const stickF: DrivelistDrive = { device: '\\\\.\\PhysicalDrive2', mountpoints: [{ path: 'F:\\' }], isRemovable: true, isUSB: true };

describe('when a drive was first seen (Windows and macOS, drivelist)', () => {
  test('stamped at the start of the scan that found it, before the identity query (about a second), and kept while it stays', async () => {
    let clock = 1_000_000;
    let drives: DrivelistDrive[] = [stickE];
    const identity: UsbIdentitySource = {
      identify: () => {
        clock += 1_200; // PowerShell/CIM takes its time
        return Promise.resolve(new Map<string, MediaIdentity>([['E:', { usb: { vendorId: '0781', productId: '5567', serial: 'S1' } }]]));
      },
    };
    const source = new DrivelistVolumeSource(() => Promise.resolve(drives), isWin32MountPoint, identity, () => assert.fail('no identity error'), () => clock);
    const first = await source.list();
    assert.equal(first[0]?.usb.serial, 'S1', 'described by the query');
    assert.equal(first[0]?.firstSeenAt, 1_000_000, 'the time before the query, not after it');

    clock = 2_000_000;
    drives = [stickE, stickF];
    const second = await source.list();
    assert.deepEqual(
      second.map((volume) => [volume.mountPoint, volume.firstSeenAt]),
      [
        ['E:\\', 1_000_000],
        ['F:\\', 2_000_000],
      ],
      'a drive already described keeps its time; a new one gets the time of its own scan',
    );

    clock = 3_000_000;
    drives = [stickF];
    await source.list();
    clock = 4_000_000;
    drives = [stickF, stickE];
    const back = await source.list();
    assert.equal(back.find((volume) => volume.mountPoint === 'E:\\')?.firstSeenAt, 4_000_000, 'E: reinserted: a new arrival');
  });

  test('the pure join stamps the time it is given, and nothing when given none', () => {
    const token = (device: string) => `t-${device}`;
    assert.deepEqual(
      volumesFromDrives([stickE], isWin32MountPoint, token, new Map(), 42).map((volume) => volume.firstSeenAt),
      [42],
    );
    assert.equal(volumesFromDrives([stickE], isWin32MountPoint, token)[0]?.firstSeenAt, undefined);
  });
});

class CountingVolumes implements VolumeSource {
  scans = 0;
  list(): Promise<VolumeInfo[]> {
    this.scans += 1;
    return Promise.resolve([]);
  }
}

const silent: MountListener = { mounted: () => Promise.resolve(), unmounted: () => Promise.resolve() };
const working: HotplugSource = { subscribe: (_listener: (kind: HotplugKind) => void) => Promise.resolve(() => Promise.resolve()) };
const broken: HotplugSource = { subscribe: () => Promise.reject(new HotplugError('USB_MODULE_UNAVAILABLE', 'no usb module')) };

/** Lets the scan a fired timer started run to its end (and the next poll be scheduled). */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('poll interval while USB hot-plug events work', () => {
  test('with events: polled every 2 s instead of 250 ms (events rescan at once); without them: 250 ms', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const withEvents = new CountingVolumes();
      const eventWatcher = new MountWatcher([withEvents], silent, 250, (error) => assert.fail(String(error)), { source: working, settleDelaysMs: [0], unavailable: () => assert.fail('unavailable') });
      await eventWatcher.start();
      assert.equal(eventWatcher.pollIntervalMs(), HOTPLUG_POLL_INTERVAL_MS);
      assert.equal(HOTPLUG_POLL_INTERVAL_MS, 2_000);
      assert.equal(withEvents.scans, 1, 'the first scan at start');
      mock.timers.tick(250);
      await flush();
      assert.equal(withEvents.scans, 1, 'no poll after 250 ms');
      mock.timers.tick(1_750);
      await flush();
      assert.equal(withEvents.scans, 2, 'a poll after 2 s');
      mock.timers.tick(2_000);
      await flush();
      assert.equal(withEvents.scans, 3, 'and every 2 s after');
      await eventWatcher.stop();

      const withoutEvents = new CountingVolumes();
      const unavailable: unknown[] = [];
      const pollWatcher = new MountWatcher([withoutEvents], silent, 250, (error) => assert.fail(String(error)), { source: broken, settleDelaysMs: [0], unavailable: (error) => unavailable.push(error) });
      await pollWatcher.start();
      assert.equal(unavailable.length, 1);
      assert.equal(pollWatcher.pollIntervalMs(), 250);
      mock.timers.tick(250);
      await flush();
      mock.timers.tick(250);
      await flush();
      assert.equal(withoutEvents.scans, 3, 'polled every 250 ms');
      await pollWatcher.stop();
    } finally {
      mock.timers.reset();
    }
  });

  test('no hot-plug source (Linux) keeps the configured interval; a configured interval above 2 s is never shortened; the slower interval can be set', async () => {
    const linux = new MountWatcher([new CountingVolumes()], silent, 250, (error) => assert.fail(String(error)));
    await linux.start();
    assert.equal(linux.pollIntervalMs(), 250);
    await linux.stop();

    const slowConfigured = new MountWatcher([new CountingVolumes()], silent, 5_000, (error) => assert.fail(String(error)), { source: working, settleDelaysMs: [0], unavailable: () => assert.fail('unavailable') });
    await slowConfigured.start();
    assert.equal(slowConfigured.pollIntervalMs(), 5_000);
    await slowConfigured.stop();

    const custom = new MountWatcher([new CountingVolumes()], silent, 250, (error) => assert.fail(String(error)), { source: working, settleDelaysMs: [0], pollIntervalMs: 1_000, unavailable: () => assert.fail('unavailable') });
    await custom.start();
    assert.equal(custom.pollIntervalMs(), 1_000);
    await custom.stop();
    assert.equal(custom.pollIntervalMs(), 250, 'unsubscribed: back to the configured interval');
  });
});
