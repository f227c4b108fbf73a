import type { UserSecrets } from './user-secret.js';
import { LinuxUserSecrets } from './user-secret.linux.js';
import { WindowsUserSecrets } from './user-secret.win32.js';

/** The local API token files of this OS (see user-secret.ts). */
export function userSecretsFor(platform: NodeJS.Platform, dir: string): UserSecrets {
  return platform === 'win32' ? new WindowsUserSecrets(dir) : new LinuxUserSecrets(dir);
}
