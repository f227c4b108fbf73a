import { userInfo } from 'node:os';
import { errorFields, type Logger } from '../logging/logger.js';
import type { OsUsers } from '../platform/os-users.js';
import { socketPathFor, type LocalApiServer } from './local-api-server.js';

/**
 * Which people get a socket: the account the agent runs as, and, when it runs as root on Linux, everyone
 * with a session (/run/user/<uid>), checked again every few seconds so a person who logs in later gets one.
 */
export class UserSockets {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly api: LocalApiServer,
    private readonly users: OsUsers,
    private readonly socketDir: string,
    private readonly logger: Logger,
    private readonly refreshMs = 5000,
  ) {}

  async start(): Promise<void> {
    const self = userInfo();
    await this.open({ uid: self.uid >= 0 ? self.uid : undefined, osUser: self.username });
    if (process.platform === 'linux' && process.getuid?.() === 0) {
      await this.refresh();
      this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    for (const person of await this.users.loggedIn()) await this.open(person);
  }

  private async open(caller: { uid?: number; osUser: string }): Promise<void> {
    try {
      await this.api.listenFor(caller, socketPathFor(process.platform, this.socketDir, caller));
    } catch (error) {
      this.logger.warn('could not open the local API socket', { osUser: caller.osUser, ...errorFields(error) });
    }
  }
}
