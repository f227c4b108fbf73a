import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { forbidden, unauthenticated } from '../errors.js';
import type { EnrolmentService } from '../services/enrolment.js';
import { requireRole, type AuthenticatedUser, type UserService } from '../services/users.js';
import type { AgentRecord, Role } from '../storage/store.js';

export const SESSION_COOKIE = 'exitseal_session';
export const CSRF_HEADER = 'x-csrf-token';

function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return null;
}

export function sessionCookie(sessionId: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${sessionId}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Who is calling: an agent (by its verified client certificate) or a person (by session cookie + CSRF token). */
export class RequestAuthenticator {
  constructor(
    private readonly enrolment: EnrolmentService,
    private readonly users: UserService,
  ) {}

  /**
   * Client-certificate fingerprints by connection. Reading the certificate costs more than the rest of an
   * idle poll, and a connection's certificate cannot change (the server refuses renegotiation), so it is
   * read once per connection. Whether the agent is enrolled and unrevoked is still checked on every call.
   */
  private readonly fingerprints = new WeakMap<TLSSocket, string>();

  async agent(request: FastifyRequest): Promise<AgentRecord> {
    const socket = request.raw.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) {
      throw unauthenticated('this route needs the agent client certificate issued at enrolment (mutual TLS)');
    }
    let fingerprint = this.fingerprints.get(socket);
    if (fingerprint === undefined) {
      fingerprint = socket.getPeerCertificate().fingerprint256.replace(/:/g, '').toLowerCase();
      this.fingerprints.set(socket, fingerprint);
    }
    return this.enrolment.authenticate(fingerprint);
  }

  /** State-changing calls must echo the session's CSRF token in a header a cross-site form cannot set. */
  async person(request: FastifyRequest, roles: readonly Role[]): Promise<AuthenticatedUser> {
    const sessionId = cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (sessionId === null || sessionId === '') throw unauthenticated('log in first (POST /api/v1/session)');
    const user = await this.users.session(sessionId);
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER];
      const expected = Buffer.from(user.csrfToken);
      if (typeof sent !== 'string' || sent.length !== user.csrfToken.length || !timingSafeEqual(Buffer.from(sent), expected)) {
        throw forbidden('CSRF_TOKEN_INVALID', `missing or wrong ${CSRF_HEADER} header`);
      }
    }
    requireRole(user, roles);
    return user;
  }
}

export function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store');
}
