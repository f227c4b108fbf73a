/** A refusal or failure from the policy server, with its stable code and any field problems. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Role = 'staff' | 'approver' | 'admin' | 'auditor';

export interface Session {
  readonly username: string;
  readonly role: Role;
  readonly csrfToken: string;
}

export type Query = Record<string, string | undefined>;

export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, value);
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * Talks to the policy server's /api/v1. The session is an HttpOnly cookie the browser sends by itself;
 * every state-changing call also carries the session's CSRF token in a header (kept only in memory).
 */
export class ApiClient {
  private csrfToken = '';

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') headers['x-csrf-token'] = this.csrfToken;
    let response: Response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
    } catch (cause) {
      throw new ApiError(0, 'NETWORK', cause instanceof Error ? cause.message : 'network error');
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const error = (json ?? {}) as { code?: string; message?: string; problems?: { path: string; message: string }[] };
      throw new ApiError(response.status, error.code ?? `HTTP_${response.status}`, error.message ?? response.statusText, error.problems ?? []);
    }
    return json as T;
  }

  get<T>(path: string, query: Query = {}): Promise<T> {
    return this.call<T>('GET', `${path}${queryString(query)}`);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body ?? {});
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PUT', path, body);
  }

  async signIn(username: string, password: string): Promise<Session> {
    const session = await this.call<Session>('POST', '/api/v1/session', { username, password });
    this.csrfToken = session.csrfToken;
    return session;
  }

  /** The current session, or null when not signed in (or it expired). */
  async currentSession(): Promise<Session | null> {
    try {
      const session = await this.call<Session>('GET', '/api/v1/session');
      this.csrfToken = session.csrfToken;
      return session;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }
  }

  async signOut(): Promise<void> {
    await this.call<void>('DELETE', '/api/v1/session');
    this.csrfToken = '';
  }
}
