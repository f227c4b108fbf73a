import { createHash, randomBytes, randomUUID, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { badRequest, conflict, forbidden, ServerError, unauthenticated } from '../errors.js';
import { ROLES, type Role, type Store, type UserRecord } from '../storage/store.js';
import type { AuditService } from './audit.js';
import type { Clock } from './clock.js';

const SCRYPT = { logN: 15, r: 8, p: 1, keyLength: 32 };

function scryptAsync(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r };
  return new Promise((resolve, reject) => scrypt(password, salt, SCRYPT.keyLength, options, (error, key) => (error ? reject(error) : resolve(key))));
}

async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.logN, SCRYPT.r, SCRYPT.p);
  return ['scrypt', SCRYPT.logN, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

async function checkPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, logN, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || logN === undefined || r === undefined || p === undefined || salt === undefined || key === undefined) return false;
  const derived = await scryptAsync(password, Buffer.from(salt, 'base64'), Number(logN), Number(r), Number(p));
  const expected = Buffer.from(key, 'base64');
  return derived.length === expected.length && timingSafeEqual(derived, expected);
}

// Compared against when the user does not exist, so a login takes as long for an unknown name.
const DUMMY_HASH = `scrypt$${SCRYPT.logN}$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;

export const MIN_PASSWORD_LENGTH = 12;

/** The password policy for new passwords: long enough, and not the user name (in any letter case). */
function checkNewPassword(username: string, password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw badRequest('PASSWORD_TOO_SHORT', `password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.toLowerCase() === username.toLowerCase()) throw badRequest('PASSWORD_IS_USERNAME', 'the password must not be the user name');
}

export interface AuthenticatedUser {
  readonly id: string;
  readonly username: string;
  readonly role: Role;
  readonly csrfToken: string;
  readonly sessionHash: string;
}

/**
 * Counts failed logins per user name and per client address in a sliding window; held by the service
 * instance (one per server), so it resets on restart, which is acceptable for throttling guesses.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
  ) {}

  private recent(key: string, now: number): number[] {
    const kept = (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (kept.length === 0) this.failures.delete(key);
    else this.failures.set(key, kept);
    return kept;
  }

  isBlocked(keys: readonly string[], now: number): boolean {
    return keys.some((key) => this.recent(key, now).length >= this.maxFailures);
  }

  fail(keys: readonly string[], now: number): void {
    for (const key of keys) this.failures.set(key, [...this.recent(key, now), now]);
  }

  succeed(keys: readonly string[]): void {
    for (const key of keys) this.failures.delete(key);
  }
}

function hashSessionId(sessionId: string): string {
  return createHash('sha256').update(sessionId, 'utf8').digest('hex');
}

/** People: accounts with roles, password login, sessions with a CSRF token each. */
export class UserService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly throttle: LoginThrottle,
    private readonly sessionTtlMinutes: number,
  ) {}

  async create(actor: string, input: { username: string; role: string; password: string }): Promise<UserRecord> {
    if (!/^[a-zA-Z0-9._@-]{1,64}$/.test(input.username)) throw badRequest('USERNAME_INVALID', 'username must be 1-64 letters, digits, ".", "_", "@" or "-"');
    if (!(ROLES as readonly string[]).includes(input.role)) throw badRequest('ROLE_INVALID', `role must be one of ${ROLES.join(', ')}`);
    checkNewPassword(input.username, input.password);
    const user: UserRecord = { id: randomUUID(), username: input.username, role: input.role as Role, passwordHash: await hashPassword(input.password), createdAt: this.clock.now().toISOString() };
    if (!(await this.store.users.create(user))) throw conflict('USERNAME_TAKEN', `user "${input.username}" already exists`);
    await this.audit.record(actor, 'user.create', user.username, { role: user.role });
    return user;
  }

  list(): Promise<UserRecord[]> {
    return this.store.users.list();
  }

  /** Returns the new session id (for the cookie) and its CSRF token. */
  async login(username: string, password: string, clientAddress: string): Promise<{ sessionId: string; user: AuthenticatedUser }> {
    const now = this.clock.now();
    const keys = [`user:${username}`, `ip:${clientAddress}`];
    if (this.throttle.isBlocked(keys, now.getTime())) throw new ServerError(429, 'LOGIN_RATE_LIMITED', 'too many failed logins: wait and try again');
    const user = await this.store.users.findByUsername(username);
    const ok = await checkPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (user === null || !ok) {
      this.throttle.fail(keys, now.getTime());
      await this.audit.record(`anonymous@${clientAddress}`, 'login.fail', username);
      throw unauthenticated('wrong user name or password');
    }
    this.throttle.succeed(keys);
    const sessionId = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const sessionHash = hashSessionId(sessionId);
    await this.store.sessions.create({
      idHash: sessionHash,
      userId: user.id,
      csrfToken,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.sessionTtlMinutes * 60_000).toISOString(),
    });
    await this.audit.record(user.username, 'login', user.username);
    return { sessionId, user: { id: user.id, username: user.username, role: user.role, csrfToken, sessionHash } };
  }

  async session(sessionId: string): Promise<AuthenticatedUser> {
    const sessionHash = hashSessionId(sessionId);
    const session = await this.store.sessions.find(sessionHash, this.clock.now().toISOString());
    if (session === null) throw unauthenticated('not logged in, or the session expired');
    const user = await this.store.users.get(session.userId);
    if (user === null) throw unauthenticated('the session user no longer exists');
    return { id: user.id, username: user.username, role: user.role, csrfToken: session.csrfToken, sessionHash };
  }

  /**
   * Changes the signed-in user's own password. The current password is required (a session left open on a
   * shared PC must not be enough) and counts against the login throttle like a failed login. Every other
   * session of the user is ended in the same write, so whoever holds an old session is signed out.
   */
  async changePassword(user: AuthenticatedUser, currentPassword: string, newPassword: string, clientAddress: string): Promise<void> {
    const now = this.clock.now().getTime();
    const keys = [`user:${user.username}`, `ip:${clientAddress}`];
    if (this.throttle.isBlocked(keys, now)) throw new ServerError(429, 'LOGIN_RATE_LIMITED', 'too many wrong passwords: wait and try again');
    const stored = await this.store.users.get(user.id);
    if (stored === null) throw unauthenticated('the session user no longer exists');
    if (!(await checkPassword(currentPassword, stored.passwordHash))) {
      this.throttle.fail(keys, now);
      await this.audit.record(user.username, 'password.change.fail', user.username);
      throw forbidden('CURRENT_PASSWORD_WRONG', 'the current password is wrong');
    }
    checkNewPassword(user.username, newPassword);
    if (await checkPassword(newPassword, stored.passwordHash)) throw badRequest('PASSWORD_UNCHANGED', 'the new password must differ from the current one');
    this.throttle.succeed(keys);
    if (!(await this.store.users.changePassword(user.id, await hashPassword(newPassword), user.sessionHash))) throw unauthenticated('the session user no longer exists');
    await this.audit.record(user.username, 'password.change', user.username, { otherSessionsEnded: true });
  }

  async logout(user: AuthenticatedUser): Promise<void> {
    await this.store.sessions.delete(user.sessionHash);
  }

  /** Deletes sessions past their expiry (they are refused anyway; this keeps the table from growing). Returns how many. */
  purgeExpiredSessions(): Promise<number> {
    return this.store.sessions.deleteExpired(this.clock.now().toISOString());
  }
}

export function requireRole(user: AuthenticatedUser, roles: readonly Role[]): void {
  if (!roles.includes(user.role)) throw forbidden('ROLE_FORBIDDEN', `this needs the role ${roles.join(' or ')}; you are ${user.role}`);
}
