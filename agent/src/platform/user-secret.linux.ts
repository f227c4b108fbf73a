import { chmod, chown, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { encodeToken, newToken } from '../local-api/handshake.js';
import { TOKEN_FILE, UserSecretError, type ApiUser, type UserSecrets } from './user-secret.js';

/**
 * Linux/macOS: the token lives beside the person's socket, in `<dir>/<uid>/` (0700, owned by them when the
 * agent runs as root), mode 0600. The directory permission already keeps others off the socket; the token
 * gives the tray app one protocol on every OS.
 */
export class LinuxUserSecrets implements UserSecrets {
  constructor(private readonly dir: string) {}

  userDir(user: ApiUser): string {
    return join(this.dir, String(user.uid ?? user.osUser));
  }

  tokenPath(user: ApiUser): string {
    return join(this.userDir(user), TOKEN_FILE);
  }

  async issue(user: ApiUser): Promise<Buffer> {
    const userDir = this.userDir(user);
    const asRoot = process.getuid?.() === 0 && user.uid !== undefined;
    const token = newToken();
    const staging = join(userDir, `.${TOKEN_FILE}.new`);
    try {
      await mkdir(dirname(userDir), { recursive: true, mode: 0o755 });
      await mkdir(userDir, { recursive: true, mode: 0o700 });
      await chmod(userDir, 0o700);
      if (asRoot) await chown(userDir, user.uid ?? -1, -1);
      await rm(staging, { force: true });
      // O_EXCL (never through a link the person placed there) and fchown on the open file, not on a path.
      const handle = await open(staging, 'wx', 0o600);
      try {
        if (asRoot) await handle.chown(user.uid ?? -1, -1);
        await handle.writeFile(encodeToken(token));
      } finally {
        await handle.close();
      }
      await rename(staging, this.tokenPath(user));
    } catch (error) {
      throw new UserSecretError(`could not write the local API token of ${user.osUser} in ${userDir}`, error);
    }
    return token;
  }

  async revoke(user: ApiUser): Promise<void> {
    await rm(this.tokenPath(user), { force: true });
  }
}
