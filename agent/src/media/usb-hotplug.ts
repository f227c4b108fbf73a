import { ExitSealError } from '@exitseal/core';

/**
 * USB hot-plug events, so the mount watcher looks for a new drive the moment a device arrives instead of at
 * its next poll. This is the only file that loads the `usb` package (3.x: nusb through napi-rs, prebuilt per
 * platform in @node-usb/usb-*; no install script, no compiler). It is loaded lazily, on first subscribe.
 *
 * It uses the package's native Emitter, not its WebUSB `usb.addEventListener`: that one also lists the
 * devices in a promise nobody catches, which kills the process with an unhandled rejection where there is
 * no USB bus (containers, CI: "getDevices error: /sys/bus/usb/devices/ not found"). Here every failure is a
 * HotplugError the caller logs once before it carries on polling.
 */

export type HotplugKind = 'attach' | 'detach';

export interface HotplugSource {
  /** Starts delivering events; resolves with the function that stops them. Rejects with a HotplugError. */
  subscribe(listener: (kind: HotplugKind) => void): Promise<() => Promise<void>>;
}

export type HotplugErrorCode =
  | 'USB_MODULE_UNAVAILABLE' // the usb package or its prebuilt binary for this platform is missing or does not load
  | 'HOTPLUG_FAILED'; // it loaded, but the OS refused the event subscription

export class HotplugError extends ExitSealError {
  declare readonly code: HotplugErrorCode;

  constructor(code: HotplugErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { kind: 'fault', cause: options.cause });
    this.name = 'HotplugError';
  }
}

/** The part of usb 3.x's native Emitter used here (see node_modules/usb/index.d.ts). */
interface NativeEmitter {
  addAttach(callback: (device: unknown) => void): Promise<void>;
  removeAttach(): Promise<void>;
  addDetach(callback: (handle: unknown) => void): Promise<void>;
  removeDetach(): Promise<void>;
}

type EmitterConstructor = new () => NativeEmitter;

/** The one place `usb` is loaded. Its native part is the package's index.js; dist/ is the WebUSB layer on top. */
async function loadEmitter(): Promise<EmitterConstructor> {
  const moduleName = 'usb/index.js';
  let loaded: unknown;
  try {
    loaded = await import(moduleName);
  } catch (error) {
    throw new HotplugError('USB_MODULE_UNAVAILABLE', 'the usb module (USB hot-plug events) does not load on this platform', { cause: error });
  }
  const exports = loaded as { Emitter?: unknown; default?: { Emitter?: unknown } };
  const Emitter = exports.Emitter ?? exports.default?.Emitter;
  if (typeof Emitter !== 'function') throw new HotplugError('USB_MODULE_UNAVAILABLE', 'the installed usb module has no native Emitter (usb 3.x expected)');
  return Emitter as EmitterConstructor;
}

/**
 * Hot-plug events from the `usb` package. One native subscription serves every listener; it is removed
 * when the last listener unsubscribes (a live subscription keeps the process from exiting).
 */
export class UsbHotplugSource implements HotplugSource {
  private readonly listeners = new Set<(kind: HotplugKind) => void>();
  private emitter: NativeEmitter | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly load: () => Promise<EmitterConstructor> = loadEmitter) {}

  async subscribe(listener: (kind: HotplugKind) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    try {
      this.starting ??= this.start();
      await this.starting;
    } catch (error) {
      this.listeners.delete(listener);
      this.starting = undefined;
      throw error;
    }
    return async () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0) return;
      const emitter = this.emitter;
      this.emitter = undefined;
      this.starting = undefined;
      if (emitter) await Promise.allSettled([emitter.removeAttach(), emitter.removeDetach()]);
    };
  }

  private async start(): Promise<void> {
    const Emitter = await this.load();
    const emitter = new Emitter();
    try {
      await emitter.addAttach(() => this.emit('attach'));
      await emitter.addDetach(() => this.emit('detach'));
    } catch (error) {
      await Promise.allSettled([emitter.removeAttach(), emitter.removeDetach()]);
      throw new HotplugError('HOTPLUG_FAILED', 'USB hot-plug events could not be subscribed to', { cause: error });
    }
    this.emitter = emitter;
  }

  private emit(kind: HotplugKind): void {
    for (const listener of this.listeners) {
      try {
        listener(kind);
      } catch {
        // A listener's failure is its own; the native callback must never throw into the usb module.
      }
    }
  }
}
