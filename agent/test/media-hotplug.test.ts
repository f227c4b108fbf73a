import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MountWatcher, type MountListener } from '../src/media/mount-watcher.js';
import { createHotplugSource } from '../src/media/platform-volumes.js';
import { HotplugError, UsbHotplugSource, type HotplugKind, type HotplugSource } from '../src/media/usb-hotplug.js';
import type { VolumeInfo, VolumeSource } from '../src/media/volume.js';
import { waitFor } from './helpers.js';

/** A poll interval no test lives to see: whatever the watcher reports, a hot-plug event made it happen. */
const NEVER = 3_600_000;

/** Hot-plug events on demand, with a count of live subscriptions. */
class FakeHotplug implements HotplugSource {
  private listener: ((kind: HotplugKind) => void) | undefined;
  subscriptions = 0;
  unsubscriptions = 0;

  subscribe(listener: (kind: HotplugKind) => void): Promise<() => Promise<void>> {
    this.listener = listener;
    this.subscriptions += 1;
    return Promise.resolve(() => {
      this.listener = undefined;
      this.unsubscriptions += 1;
      return Promise.resolve();
    });
  }

  fire(kind: HotplugKind): void {
    this.listener?.(kind);
  }
}

/** A volume source whose answer the test sets, counting scans and how many run at once. */
class FakeVolumes implements VolumeSource {
  volumes: VolumeInfo[] = [];
  scans = 0;
  running = 0;
  maxRunning = 0;
  gate: Promise<void> | undefined;

  async list(): Promise<VolumeInfo[]> {
    this.scans += 1;
    this.running += 1;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (this.gate) await this.gate;
      return [...this.volumes];
    } finally {
      this.running -= 1;
    }
  }
}

function recorder(): MountListener & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    mounted: (volume) => Promise.resolve(void log.push(`mounted ${volume.mountPoint}`)),
    unmounted: (volume) => Promise.resolve(void log.push(`unmounted ${volume.mountPoint}`)),
  };
}

const stick: VolumeInfo = { mountPoint: 'E:\\', bus: 'usb', usb: { vendorId: '0781', productId: '5567', serial: 'S1' }, mountToken: 't1' };

describe('mount watcher and USB hot-plug events', () => {
  test('an attach makes the watcher rescan and report the new drive without waiting for the poll; a detach, the unmount', async () => {
    const volumes = new FakeVolumes();
    const hotplug = new FakeHotplug();
    const listener = recorder();
    const unavailable: unknown[] = [];
    const watcher = new MountWatcher([volumes], listener, NEVER, (error) => assert.fail(String(error)), { source: hotplug, settleDelaysMs: [0, 20], unavailable: (e) => unavailable.push(e) });
    await watcher.start();
    assert.equal(hotplug.subscriptions, 1);
    assert.equal(volumes.scans, 1);
    volumes.volumes = [stick];
    hotplug.fire('attach');
    await waitFor('the mount after an attach', () => (listener.log.length === 1 ? true : undefined));
    assert.deepEqual(listener.log, ['mounted E:\\']);
    // The drive letter may come later than the device: every settle delay rescans.
    await waitFor('both settle rescans', () => (volumes.scans === 3 ? true : undefined));
    volumes.volumes = [];
    hotplug.fire('detach');
    await waitFor('the unmount after a detach', () => (listener.log.length === 2 ? true : undefined));
    await watcher.stop();
    assert.deepEqual(listener.log, ['mounted E:\\', 'unmounted E:\\']);
    assert.equal(hotplug.unsubscriptions, 1);
    assert.deepEqual(unavailable, []);
    const scansAtStop = volumes.scans;
    hotplug.fire('attach');
    assert.equal(volumes.scans, scansAtStop, 'no rescans after stop');
  });

  test('a drive letter that appears only some time after the attach is still found by a later settle rescan', async () => {
    const volumes = new FakeVolumes();
    const hotplug = new FakeHotplug();
    const listener = recorder();
    const watcher = new MountWatcher([volumes], listener, NEVER, (error) => assert.fail(String(error)), { source: hotplug, settleDelaysMs: [0, 10, 30], unavailable: () => assert.fail('unavailable') });
    await watcher.start();
    hotplug.fire('attach');
    await waitFor('the first settle rescan', () => (volumes.scans >= 2 ? true : undefined));
    assert.deepEqual(listener.log, []);
    volumes.volumes = [stick]; // Windows assigns the letter now
    await waitFor('a later settle rescan', () => (listener.log.length === 1 ? true : undefined));
    await watcher.stop();
    assert.deepEqual(listener.log, ['mounted E:\\']);
  });

  test('rescans from events never run beside a poll scan or each other', async () => {
    const volumes = new FakeVolumes();
    const hotplug = new FakeHotplug();
    const watcher = new MountWatcher([volumes], recorder(), NEVER, (error) => assert.fail(String(error)), { source: hotplug, settleDelaysMs: [0, 1, 2], unavailable: () => assert.fail('unavailable') });
    await watcher.start();
    let open: () => void = () => undefined;
    volumes.gate = new Promise((resolve) => (open = resolve));
    hotplug.fire('attach');
    hotplug.fire('detach');
    hotplug.fire('attach');
    await waitFor('a scan held at the gate', () => (volumes.running === 1 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 50)); // give the other settle timers every chance to start a scan
    open();
    volumes.gate = undefined;
    await waitFor('the queued rescans', () => (volumes.scans === 4 ? true : undefined));
    await watcher.stop();
    assert.equal(volumes.maxRunning, 1);
    // Three events in a row restart the settle delays: one burst of three rescans, not nine.
    assert.equal(volumes.scans, 4);
  });

  test('without hot-plug events (usb does not load) it says so once and finds drives by polling', async () => {
    const volumes = new FakeVolumes();
    const listener = recorder();
    const unavailable: unknown[] = [];
    const broken: HotplugSource = { subscribe: () => Promise.reject(new HotplugError('USB_MODULE_UNAVAILABLE', 'no usb module')) };
    const watcher = new MountWatcher([volumes], listener, 10, (error) => assert.fail(String(error)), { source: broken, settleDelaysMs: [0], unavailable: (e) => unavailable.push(e) });
    await watcher.start();
    volumes.volumes = [stick];
    await waitFor('the mount found by polling', () => (listener.log.length === 1 ? true : undefined));
    await waitFor('more polls', () => (volumes.scans > 3 ? true : undefined));
    await watcher.stop();
    assert.equal(unavailable.length, 1);
    assert.ok(unavailable[0] instanceof HotplugError && unavailable[0].code === 'USB_MODULE_UNAVAILABLE');
  });
});

/** Stands in for usb 3.x's native Emitter: records calls, fires on demand. */
function fakeEmitterClass(options: { failAttach?: boolean } = {}) {
  const state = { instances: 0, attachAdds: 0, removals: 0, attach: undefined as ((device: unknown) => void) | undefined, detach: undefined as ((handle: unknown) => void) | undefined };
  class Emitter {
    constructor() {
      state.instances += 1;
    }
    addAttach(callback: (device: unknown) => void): Promise<void> {
      state.attachAdds += 1;
      if (options.failAttach) return Promise.reject(new Error('netlink socket: permission denied'));
      state.attach = callback;
      return Promise.resolve();
    }
    addDetach(callback: (handle: unknown) => void): Promise<void> {
      state.detach = callback;
      return Promise.resolve();
    }
    removeAttach(): Promise<void> {
      state.removals += 1;
      state.attach = undefined;
      return Promise.resolve();
    }
    removeDetach(): Promise<void> {
      state.detach = undefined;
      return Promise.resolve();
    }
  }
  return { Emitter, state };
}

describe('the usb hot-plug wrapper', () => {
  test('one native subscription for all listeners, each told of every event, removed with the last listener', async () => {
    const { Emitter, state } = fakeEmitterClass();
    const source = new UsbHotplugSource(() => Promise.resolve(Emitter));
    const first: HotplugKind[] = [];
    const second: HotplugKind[] = [];
    const stopThrowing = await source.subscribe(() => {
      throw new Error('a listener that fails');
    });
    const stopFirst = await source.subscribe((kind) => first.push(kind));
    const stopSecond = await source.subscribe((kind) => second.push(kind));
    assert.deepEqual([state.instances, state.attachAdds], [1, 1]);
    state.attach?.({ vendorId: 0x0781 });
    state.detach?.('handle-1');
    assert.deepEqual(first, ['attach', 'detach']);
    assert.deepEqual(second, ['attach', 'detach']);
    await stopThrowing();
    await stopFirst();
    assert.equal(state.removals, 0);
    await stopSecond();
    assert.equal(state.removals, 1);
    assert.equal(state.attach, undefined);
  });

  test('a refused subscription and a module that does not load are HotplugErrors', async () => {
    const { Emitter } = fakeEmitterClass({ failAttach: true });
    await assert.rejects(new UsbHotplugSource(() => Promise.resolve(Emitter)).subscribe(() => undefined), (error: unknown) => error instanceof HotplugError && error.code === 'HOTPLUG_FAILED');
    const missing = new UsbHotplugSource(() => Promise.reject(new HotplugError('USB_MODULE_UNAVAILABLE', 'cannot find @node-usb/usb-linux-riscv64-gnu')));
    await assert.rejects(missing.subscribe(() => undefined), (error: unknown) => error instanceof HotplugError && error.code === 'USB_MODULE_UNAVAILABLE');
  });

  test('hot-plug events are used where drives are polled through drivelist, not on Linux', () => {
    assert.ok(createHotplugSource('win32') instanceof UsbHotplugSource);
    assert.ok(createHotplugSource('darwin') instanceof UsbHotplugSource);
    assert.equal(createHotplugSource('linux'), undefined);
  });

  test('the real usb module either subscribes and unsubscribes or fails with a HotplugError, even where there is no USB bus', async () => {
    const source = new UsbHotplugSource();
    let outcome: string;
    try {
      const unsubscribe = await source.subscribe(() => undefined);
      await unsubscribe();
      outcome = 'subscribed';
    } catch (error) {
      assert.ok(error instanceof HotplugError, `not a HotplugError: ${String(error)}`);
      outcome = error.code;
    }
    assert.ok(['subscribed', 'USB_MODULE_UNAVAILABLE', 'HOTPLUG_FAILED'].includes(outcome));
    // This test file ending at all shows no native subscription was left holding the process open.
  });
});
