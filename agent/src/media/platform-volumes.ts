import type { DeclaredVolume } from '../config/agent-config.js';
import { DeclaredVolumeSource } from './declared-volumes.js';
import { LINUX_PATHS, LinuxVolumeSource, readBootId } from './device-info.linux.js';
import { UsbHotplugSource, type HotplugSource } from './usb-hotplug.js';
import type { VolumeSource } from './volume.js';

/**
 * The volume sources for this platform: declared volumes first (they win), then the platform's detection.
 * The Windows and macOS modules (drivelist, PowerShell, system_profiler) are imported only on those platforms.
 * `onIdentityError` hears of a failed USB identity query there (the volume is then watched without USB ids).
 */
export async function createVolumeSources(platform: NodeJS.Platform, declared: readonly DeclaredVolume[], onIdentityError: (error: unknown) => void = () => undefined): Promise<VolumeSource[]> {
  if (platform === 'linux') {
    const linux = new LinuxVolumeSource(LINUX_PATHS);
    const declaredSource = new DeclaredVolumeSource(declared, {
      mountTable: () => linux.mountTable(),
      bootId: () => readBootId(LINUX_PATHS),
      linuxPaths: LINUX_PATHS,
    });
    return [declaredSource, linux];
  }
  const processStart = String(Date.now());
  const declaredSource = new DeclaredVolumeSource(declared, { bootId: () => Promise.resolve(processStart) });
  if (platform === 'win32') {
    const { createWin32VolumeSource } = await import('./device-info.win32.js');
    return [declaredSource, await createWin32VolumeSource(onIdentityError)];
  }
  if (platform === 'darwin') {
    const { createDarwinVolumeSource } = await import('./device-info.darwin.js');
    return [declaredSource, await createDarwinVolumeSource(onIdentityError)];
  }
  return [declaredSource];
}

/**
 * USB hot-plug events where they make a drive show up sooner: Windows and macOS, whose drive lists are polled.
 * Not on Linux: the mount table is read every poll for a few microseconds, and loading `usb` with its event
 * thread there costs about 10 MB of resident memory for at most one poll interval sooner.
 */
export function createHotplugSource(platform: NodeJS.Platform): HotplugSource | undefined {
  return platform === 'win32' || platform === 'darwin' ? new UsbHotplugSource() : undefined;
}
