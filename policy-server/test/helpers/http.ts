// HTTPS clients for the tests: an agent with its mTLS certificate, and a person with a session and CSRF token.
import { Agent, request as httpsRequest } from 'node:https';
import assert from 'node:assert/strict';

export interface Response {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: unknown;
}

export interface RequestOptions {
  readonly method?: string;
  readonly body?: unknown;
  /** Sent as is, for malformed-input tests. */
  readonly rawBody?: string | Buffer;
  readonly headers?: Record<string, string>;
}

export class HttpsClient {
  private readonly agent: Agent;

  constructor(
    readonly baseUrl: string,
    tls: { ca: string; cert?: string; key?: string },
  ) {
    this.agent = new Agent({ ca: tls.ca, cert: tls.cert, key: tls.key, keepAlive: true, maxSockets: 4 });
  }

  call(path: string, options: RequestOptions = {}): Promise<Response> {
    const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const headers: Record<string, string> = { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers };
    return new Promise((resolve, reject) => {
      const req = httpsRequest(new URL(path, this.baseUrl), { method: options.method ?? (payload === undefined ? 'GET' : 'POST'), headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text === '' ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      });
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A logged-in person: the session cookie and CSRF token go on every call. */
export class PersonClient {
  private cookie = '';
  csrfToken = '';

  constructor(readonly http: HttpsClient) {}

  async login(username: string, password: string): Promise<Response> {
    const response = await this.http.call('/api/v1/session', { body: { username, password } });
    if (response.status === 200) {
      const setCookie = response.headers['set-cookie'];
      const first = Array.isArray(setCookie) ? setCookie[0] : setCookie;
      assert.ok(first !== undefined && /Secure/.test(first) && /HttpOnly/.test(first) && /SameSite=Strict/.test(first), `cookie flags: ${first ?? ''}`);
      this.cookie = first.split(';')[0] ?? '';
      this.csrfToken = (response.json as { csrfToken: string }).csrfToken;
    }
    return response;
  }

  call(path: string, options: RequestOptions = {}): Promise<Response> {
    return this.http.call(path, { ...options, headers: { cookie: this.cookie, 'x-csrf-token': this.csrfToken, ...options.headers } });
  }

  /** Asserts the status and returns the JSON body. */
  async expect<T>(status: number, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.call(path, options);
    assert.equal(response.status, status, `${options.method ?? (options.body ? 'POST' : 'GET')} ${path}: ${response.text}`);
    return response.json as T;
  }
}

export async function expectStatus<T>(client: HttpsClient, status: number, path: string, options: RequestOptions = {}): Promise<T> {
  const response = await client.call(path, options);
  assert.equal(response.status, status, `${path}: ${response.text}`);
  return response.json as T;
}

/** A client error must say what is wrong and never carry a stack trace. */
export function assertCleanClientError(response: Response, status: number, code?: string): void {
  assert.equal(response.status, status, response.text);
  const body = response.json as { code?: unknown; message?: unknown };
  assert.equal(typeof body.code, 'string', response.text);
  assert.equal(typeof body.message, 'string', response.text);
  if (code !== undefined) assert.equal(body.code, code, response.text);
  assert.ok(!/\bat .+\.(js|ts):\d+/.test(response.text), `stack trace leaked: ${response.text}`);
}
