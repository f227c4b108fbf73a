import { readdir, readFile, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, win32 } from 'node:path';
import { ExitSealError } from '@exitseal/core';
import { runCommand } from './run-command.js';

/** Account SIDs of people (local and domain accounts S-1-5-21-..., Microsoft Entra ID accounts S-1-12-1-...). */
const PERSON_SID = /^S-1-(5-21|12-1)-[0-9-]+$/;

/**
 * Parses `reg query "HKLM\...\ProfileList" /s /v ProfileImagePath`: the people with a profile on this PC,
 * their SID and (as their name) the last part of the profile path.
 */
export function parseProfileList(text: string): { osUser: string; sid: string }[] {
  const people: { osUser: string; sid: string }[] = [];
  let sid: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const key = /\\ProfileList\\(S-[0-9-]+)\s*$/i.exec(line);
    if (key) {
      sid = key[1];
      continue;
    }
    const value = /^\s+ProfileImagePath\s+REG_(?:EXPAND_)?SZ\s+(.+?)\s*$/i.exec(line);
    if (value?.[1] && sid !== undefined && PERSON_SID.test(sid)) {
      const osUser = win32.basename(value[1]);
      if (osUser !== '') people.push({ osUser, sid });
      sid = undefined;
    }
  }
  return people;
}

/** reg.exe by absolute path, no shell. */
async function readProfileList(): Promise<string> {
  const reg = join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', 'reg.exe');
  const key = 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList';
  try {
    return await runCommand(reg, ['query', key, '/s', '/v', 'ProfileImagePath'], { timeoutMs: 30_000, maxOutputBytes: 1024 * 1024 });
  } catch (error) {
    throw new ExitSealError('PROFILE_LIST_FAILED', `reg query ${key} failed: ${error instanceof Error ? error.message : String(error)}`, { kind: 'fault', cause: error });
  }
}

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
    private readonly windows = { platform: process.platform, profileList: readProfileList },
  ) {}

  /** True when the agent runs as Windows' LocalSystem (a service), so it opens a pipe for every person. */
  isWindowsServiceAccount(): boolean {
    if (this.windows.platform !== 'win32') return false;
    const name = this.fallback();
    return name.toUpperCase() === 'SYSTEM' || name.endsWith('$');
  }

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

  /**
   * The people with a session on this PC now (systemd's /run/user/<uid>), for their local API sockets; on
   * Windows, everyone with a user profile (with their SID, which their token file's ACL names).
   */
  async loggedIn(): Promise<{ uid?: number; sid?: string; osUser: string }[]> {
    if (this.windows.platform === 'win32') return parseProfileList(await this.windows.profileList());
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
