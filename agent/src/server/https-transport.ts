import { X509Certificate } from 'node:crypto';
import { Agent, request as httpsRequest } from 'node:https';
import { connect, type PeerCertificate } from 'node:tls';
import { ExitSealError } from '@exitseal/core';

/**
 * The only agent file that opens network connections (node:https, node:tls). Every call to the policy
 * server goes through one HttpsTransport: the server is verified against the CA pinned at enrolment, and
 * once enrolled the agent presents its client certificate (mutual TLS).
 */

/** The server could not be reached (refused, reset, DNS, timeout): worth retrying later. */
export class ServerUnreachableError extends ExitSealError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SERVER_UNREACHABLE', message, { kind: 'fault', ...options });
    this.name = 'ServerUnreachableError';
  }
}

/** The server's certificate is not the one the agent was told to trust. Never retried. */
export class ServerNotTrustedError extends ExitSealError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SERVER_NOT_TRUSTED', message, { kind: 'client', ...options });
    this.name = 'ServerNotTrustedError';
  }
}

export interface HttpResponse {
  readonly status: number;
  readonly etag: string | undefined;
  /** The parsed JSON body; undefined when empty or not JSON. */
  readonly json: unknown;
}

export interface TransportOptions {
  readonly baseUrl: string;
  /** PEM of the CA that must have issued the server's certificate. */
  readonly caPem: string;
  /** The agent's client certificate and key, once enrolled. */
  readonly clientCertificatePem?: string;
  readonly clientKeyPem?: string;
  readonly timeoutMs?: number;
  /** Largest response body accepted. */
  readonly maxResponseBytes?: number;
}

const TLS_TRUST_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

export class HttpsTransport {
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;

  constructor(private readonly options: TransportOptions) {
    this.agent = new Agent({ ca: options.caPem, cert: options.clientCertificatePem, key: options.clientKeyPem, keepAlive: true, maxSockets: 4 });
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxResponseBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
  }

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  request(method: 'GET' | 'POST', path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<HttpResponse> {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body), 'utf8');
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const url = new URL(path, this.options.baseUrl);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { method, headers, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > this.maxResponseBytes) {
            req.destroy(new ServerUnreachableError(`the response from ${url.pathname} is larger than ${this.maxResponseBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error) => reject(new ServerUnreachableError(`reading the response from ${url.pathname} failed`, { cause: error })));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text === '' ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          const etag = res.headers.etag;
          resolve({ status: res.statusCode ?? 0, etag: typeof etag === 'string' ? etag : undefined, json });
        });
      });
      req.on('timeout', () => req.destroy(new ServerUnreachableError(`no answer from ${url.origin} within ${this.timeoutMs} ms`)));
      req.on('error', (error) => {
        if (error instanceof ExitSealError) reject(error);
        else if (TLS_TRUST_ERRORS.has(errorCode(error) ?? '')) reject(new ServerNotTrustedError(`the server at ${url.origin} presented a certificate the agent does not trust (${errorCode(error)})`, { cause: error }));
        else reject(new ServerUnreachableError(`cannot reach ${url.origin} (${errorCode(error) ?? error.message})`, { cause: error }));
      });
      if (payload) req.write(payload);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function fingerprintOf(certificate: PeerCertificate): string {
  return certificate.fingerprint256.replace(/:/g, '').toLowerCase();
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/**
 * Before anything secret is sent at enrolment: connects to the server, finds in the chain it presents the CA
 * certificate whose SHA-256 fingerprint the administrator gave, checks that this CA signed the server's
 * certificate, and returns the CA (PEM) to trust from then on. The policy server sends its CA in the chain.
 */
export function fetchPinnedCertificateAuthority(baseUrl: string, fingerprintHex: string, timeoutMs = 15_000): Promise<string> {
  const wanted = fingerprintHex.replace(/[:\s]/g, '').toLowerCase();
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 443), servername: /^[0-9.]+$|:/.test(url.hostname) ? undefined : url.hostname, rejectUnauthorized: false, timeout: timeoutMs }, () => {
      try {
        const leaf = socket.getPeerCertificate(true);
        const chain: PeerCertificate[] = [];
        let current: PeerCertificate | undefined = leaf;
        while (current && Object.keys(current).length > 0 && !chain.includes(current)) {
          chain.push(current);
          const issuer: PeerCertificate | undefined = (current as PeerCertificate & { issuerCertificate?: PeerCertificate }).issuerCertificate;
          current = issuer === current ? undefined : issuer;
        }
        const pinned = chain.find((certificate) => fingerprintOf(certificate) === wanted);
        if (!pinned) throw new ServerNotTrustedError(`no certificate in the chain of ${url.origin} has the fingerprint ${wanted}`);
        const caPem = toPem(pinned.raw);
        const ca = new X509Certificate(caPem);
        const server = new X509Certificate(toPem(leaf.raw));
        if (!ca.ca || !server.checkIssued(ca) || !server.verify(ca.publicKey)) {
          throw new ServerNotTrustedError(`the pinned certificate is not the CA that issued the certificate of ${url.origin}`);
        }
        resolve(caPem);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      } finally {
        socket.end();
      }
    });
    socket.on('timeout', () => socket.destroy(new ServerUnreachableError(`no TLS answer from ${url.origin} within ${timeoutMs} ms`)));
    socket.on('error', (error: Error) => reject(error instanceof ExitSealError ? error : new ServerUnreachableError(`cannot reach ${url.origin} (${errorCode(error) ?? error.message})`, { cause: error })));
  });
}
