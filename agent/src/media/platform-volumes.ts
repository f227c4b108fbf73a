import type { DeclaredVolume } from '../config/agent-config.js';
import { DeclaredVolumeSource } from './declared-volumes.js';
import { createDarwinVolumeSource } from './device-info.darwin.js';
import { LINUX_PATHS, LinuxVolumeSource, readBootId } from './device-info.linux.js';
import { createWin32VolumeSource } from './device-info.win32.js';
import type { VolumeSource } from './volume.js';

/** The volume sources for this platform: declared volumes first (they win), then the platform's detection. */
export async function createVolumeSources(platform: NodeJS.Platform, declared: readonly DeclaredVolume[]): Promise<VolumeSource[]> {
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
  if (platform === 'win32') return [declaredSource, await createWin32VolumeSource()];
  if (platform === 'darwin') return [declaredSource, await createDarwinVolumeSource()];
  return [declaredSource];
}
