import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeToken, newToken } from '../local-api/handshake.js';
import { TOKEN_FILE, UserSecretError, type ApiUser, type UserSecrets } from './user-secret.js';
import { runCommand } from './run-command.js';

const SYSTEM = '*S-1-5-18';
const ADMINISTRATORS = '*S-1-5-32-544';

/** An account as icacls takes it: `*SID` when the SID is known, else the name (icacls looks its SID up). */
function principal(user: ApiUser): string {
  return user.sid !== undefined && /^S-1-[0-9-]+$/.test(user.sid) ? `*${user.sid}` : user.osUser;
}

/** The directory name for a person: their name with anything unusual replaced (also the pipe name's rule). */
export function windowsUserDirName(osUser: string): string {
  return osUser.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * The exact icacls calls, in order. The root: owned by SYSTEM, any explicit entry someone placed there
 * removed (/reset), then nothing inherited and only SYSTEM and Administrators (people need no right on it:
 * Windows lets everyone traverse by default). A person's directory (made fresh by the agent inside that root):
 * nothing inherited, SYSTEM and Administrators full control, the person read; the token file inherits that.
 */
export function icaclsCommands(rootDir: string, userDir: string, user: ApiUser): { root: string[][]; user: string[][] } {
  return {
    root: [
      [rootDir, '/setowner', SYSTEM, '/Q'],
      [rootDir, '/reset', '/Q'],
      [rootDir, '/inheritance:r', '/grant:r', `${SYSTEM}:(OI)(CI)F`, `${ADMINISTRATORS}:(OI)(CI)F`, '/Q'],
    ],
    user: [[userDir, '/inheritance:r', '/grant:r', `${SYSTEM}:(OI)(CI)F`, `${ADMINISTRATORS}:(OI)(CI)F`, `${principal(user)}:(OI)(CI)R`, '/Q']],
  };
}

export type IcaclsRunner = (args: readonly string[]) => Promise<void>;

/** icacls.exe by absolute path, no shell, with a timeout. */
export const runIcacls: IcaclsRunner = async (args) => {
  const icacls = join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', 'icacls.exe');
  try {
    await runCommand(icacls, args, { timeoutMs: 30_000, maxOutputBytes: 1024 * 1024 });
  } catch (error) {
    throw new UserSecretError(`icacls ${args.join(' ')} failed: ${error instanceof Error ? error.message : String(error)}`, error);
  }
};

/**
 * Windows: `<dir>\<user>\agent.token` under the ACLs above. The person's directory is removed and made again
 * each time, so nothing left there (by anyone) survives into the new token's directory.
 */
export class WindowsUserSecrets implements UserSecrets {
  private rootLocked: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly icacls: IcaclsRunner = runIcacls,
  ) {}

  userDir(user: ApiUser): string {
    return join(this.dir, windowsUserDirName(user.osUser));
  }

  tokenPath(user: ApiUser): string {
    return join(this.userDir(user), TOKEN_FILE);
  }

  async issue(user: ApiUser): Promise<Buffer> {
    const userDir = this.userDir(user);
    const commands = icaclsCommands(this.dir, userDir, user);
    const token = newToken();
    try {
      this.rootLocked ??= this.lockRoot(commands.root);
      await this.rootLocked;
      await rm(userDir, { recursive: true, force: true });
      await mkdir(userDir);
      for (const args of commands.user) await this.icacls(args);
      const handle = await open(this.tokenPath(user), 'wx');
      try {
        await handle.writeFile(encodeToken(token));
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (error instanceof UserSecretError) throw error;
      throw new UserSecretError(`could not write the local API token of ${user.osUser} in ${userDir}`, error);
    }
    return token;
  }

  async revoke(user: ApiUser): Promise<void> {
    await rm(this.tokenPath(user), { force: true });
  }

  private async lockRoot(commands: string[][]): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
      for (const args of commands) await this.icacls(args);
    } catch (error) {
      this.rootLocked = undefined;
      throw error;
    }
  }
}
