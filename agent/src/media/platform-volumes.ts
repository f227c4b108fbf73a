import type { DeclaredVolume } from '../config/agent-config.js';
import { DeclaredVolumeSource } from './declared-volumes.js';
import { LINUX_PATHS, LinuxVolumeSource, readBootId } from './device-info.linux.js';
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

