import { userInfo } from 'node:os';
import { errorFields, type Logger } from '../logging/logger.js';
import type { OsUsers } from '../platform/os-users.js';
import type { ApiUser, UserSecrets } from '../platform/user-secret.js';
import { userSecretsFor } from '../platform/user-secret-for-os.js';
import { socketPathFor, type LocalApiServer } from './local-api-server.js';

/**
 * Which people get a socket: the account the agent runs as, and, when it runs as root on Linux, everyone
 * with a session (/run/user/<uid>), checked again every few seconds so a person who logs in later gets one;
 * on Windows (as SYSTEM) everyone with a user profile, checked again every minute. Each socket gets a fresh
 * token for its person (platform/user-secret*.ts), written before the socket opens.
 */
export class UserSockets {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly api: LocalApiServer,
    private readonly users: OsUsers,
    private readonly socketDir: string,
    private readonly logger: Logger,
    private readonly refreshMs = process.platform === 'win32' ? 60_000 : 5000,
    private readonly secrets: UserSecrets = userSecretsFor(process.platform, socketDir),
  ) {}

  async start(): Promise<void> {
    const self = userInfo();
    await this.open({ uid: self.uid >= 0 ? self.uid : undefined, osUser: self.username });
    const everyone = process.platform === 'win32' ? this.users.isWindowsServiceAccount() : process.platform === 'linux' && process.getuid?.() === 0;
    if (everyone) {
      await this.refresh();
      this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    try {
      for (const person of await this.users.loggedIn()) await this.open(person);
    } catch (error) {
      this.logger.warn('could not list the people on this PC for their local API sockets', errorFields(error));
    }
  }

  private async open(person: ApiUser): Promise<void> {
    const socketPath = socketPathFor(process.platform, this.socketDir, person);
    if (this.api.isListening(socketPath)) return;
    try {
      const token = await this.secrets.issue(person);
      await this.api.listenFor(person, socketPath, { token, release: () => this.secrets.revoke(person) });
    } catch (error) {
      this.logger.warn('could not open the local API socket', { osUser: person.osUser, ...errorFields(error) });
    }
  }
}
