import { readdir, readFile, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';

/**
 * Whom an export is attributed to. A file's owner when the file system keeps owners (ext4, a network share);
 * on FAT/exFAT sticks every file belongs to the mounting user (often root), so then the one person logged in
 * on the PC (systemd's /run/user/<uid>); else the account the agent runs as.
 */
export class OsUsers {
  private names: Map<number, string> | undefined;

  constructor(
    private readonly paths = { passwd: '/etc/passwd', runUser: '/run/user' },
    private readonly fallback = () => userInfo().username,
  ) {}

  async ownerOf(path: string): Promise<string> {
    if (process.platform !== 'linux') return this.fallback();
    const names = await this.userNames();
    const uid = (await stat(path)).uid;
    if (uid !== 0 && names.has(uid)) return names.get(uid) ?? this.fallback();
    const sessions = (await readdir(this.paths.runUser).catch(() => [] as string[])).map(Number).filter((id) => Number.isInteger(id) && id >= 1000);
    const [only] = sessions;
    if (sessions.length === 1 && only !== undefined && names.has(only)) return names.get(only) ?? this.fallback();
    return this.fallback();
  }

  /** The people with a session on this PC now (systemd's /run/user/<uid>), for their local API sockets. */
  async loggedIn(): Promise<{ uid: number; osUser: string }[]> {
    const names = await this.userNames();
    const uids = (await readdir(this.paths.runUser).catch(() => [] as string[])).map(Number).filter((id) => Number.isInteger(id) && id >= 1000);
    return uids.flatMap((uid) => {
      const osUser = names.get(uid);
      return osUser === undefined ? [] : [{ uid, osUser }];
    });
  }

  private async userNames(): Promise<Map<number, string>> {
    if (this.names) return this.names;
    const names = new Map<number, string>();
    const text = await readFile(this.paths.passwd, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid && /^\d+$/.test(uid)) names.set(Number(uid), name);
    }
    this.names = names;
    return names;
  }
}
