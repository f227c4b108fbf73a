import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { isExitSealError } from '@exitseal/core';
import { errorFields, type Logger } from '../logging/logger.js';
import { isNonce, newNonce, proofMatches, proofOf } from './handshake.js';
import type { Notice } from '../sealing/notifier.js';
import type { Caller } from '../requests/request-service.js';

/**
 * The tray app's door to the agent (the only agent file that imports node:net): one socket per logged-in
 * person (a Unix domain socket on Linux/macOS, a named pipe on Windows); the agent never takes the caller's
 * word for who they are.
 *  - Linux/macOS: the socket is in a directory only that person (and root) may enter, so whoever reaches it
 *    is that person (Node does not expose SO_PEERCRED).
 *  - Everywhere, and the only check on Windows, where Node cannot put a DACL on a pipe and anyone may connect
 *    to any pipe: before any request the client proves it can read the person's token file (handshake.ts), a
 *    file only that person and the administrators can read (platform/user-secret*.ts). A connection that does
 *    not complete the handshake is answered with an error and closed.
 *
 * Protocol: the handshake, then JSON lines. A request {"id":1,"method":"status","params":{}} gets
 * {"id":1,"result":...} or {"id":1,"error":{"code":"...","message":"..."}}. After "subscribe", notices
 * arrive as {"notice":{...}}.
 */

const MAX_LINE_BYTES = 64 * 1024;
/** A connection must finish the handshake this soon, or it is closed (nobody holds connections open for free). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** What the person listened for must prove: their current token, and how to drop it when the socket closes. */
export interface SocketCredential {
  readonly token: Buffer;
  readonly release?: () => Promise<void>;
}

const Path = Type.String({ minLength: 1, maxLength: 4096 });
const Reason = Type.String({ minLength: 1, maxLength: 2048 });
export const LocalRequestSchemas = {
  status: Type.Object({}, { additionalProperties: false }),
  recentEvents: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }, { additionalProperties: false }),
  myRequests: Type.Object({}, { additionalProperties: false }),
  lockedFiles: Type.Object({}, { additionalProperties: false }),
  submitDecrypt: Type.Object({ path: Path, reason: Reason, purpose: Type.Union([Type.Literal('this-pc'), Type.Literal('outside-recipient')]) }, { additionalProperties: false }),
  submitRelease: Type.Object({ path: Path, reason: Reason, destination: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
  subscribe: Type.Object({}, { additionalProperties: false }),
} satisfies Record<string, TSchema>;
type Schemas = typeof LocalRequestSchemas;
export type LocalMethod = keyof Schemas;

const Envelope = Type.Object(
  { id: Type.Union([Type.Integer(), Type.String({ maxLength: 64 })]), method: Type.String({ maxLength: 64 }), params: Type.Optional(Type.Unknown()) },
  { additionalProperties: false },
);

export interface LocalApiHandlers {
  status(caller: Caller): unknown;
  recentEvents(caller: Caller, params: Static<Schemas['recentEvents']>): unknown;
  myRequests(caller: Caller): unknown;
  lockedFiles(caller: Caller): unknown;
  submitDecrypt(caller: Caller, params: Static<Schemas['submitDecrypt']>): Promise<unknown>;
  submitRelease(caller: Caller, params: Static<Schemas['submitRelease']>): Promise<unknown>;
  subscribe(caller: Caller, send: (notice: Notice) => void): () => void;
}

/** Where a person's socket lives, by platform (a named pipe on Windows). */
export function socketPathFor(platform: NodeJS.Platform, socketDir: string, caller: Caller): string {
  if (platform === 'win32') return `\\\\.\\pipe\\exitseal-agent-${caller.osUser.replace(/[^A-Za-z0-9._-]/g, '_')}`;
  return `${socketDir}/${caller.uid ?? caller.osUser}/agent.sock`;
}

function isMethod(name: string): name is LocalMethod {
  return Object.prototype.hasOwnProperty.call(LocalRequestSchemas, name);
}

export class LocalApiServer {
  private readonly servers = new Map<string, Server>();
  private readonly credentials = new Map<string, SocketCredential>();
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly handlers: LocalApiHandlers,
    private readonly logger: Logger,
  ) {}

  /** The sockets are open for these people (keyed by socket path). */
  listening(): string[] {
    return [...this.servers.keys()];
  }

  isListening(socketPath: string): boolean {
    return this.servers.has(socketPath);
  }

  /**
   * Opens `socketPath` for one person: its directory is made 0700 and given to them (when the agent runs as
   * root), so nobody else can reach the socket. A stale socket from a previous run is replaced. Every
   * connection must first prove it holds `credential.token`.
   */
  async listenFor(caller: Caller, socketPath: string, credential: SocketCredential): Promise<void> {
    if (this.servers.has(socketPath)) return;
    const isPipe = socketPath.startsWith('\\\\.\\pipe\\');
    if (!isPipe) {
      const dir = dirname(socketPath);
      await mkdir(dirname(dir), { recursive: true, mode: 0o755 });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
      if (caller.uid !== undefined && process.getuid?.() === 0) await chown(dir, caller.uid, -1);
      await rm(socketPath, { force: true });
    }
    const server = createServer((socket) => this.serve(socket, caller, credential.token));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.logger.warn('local API socket error', { socket: socketPath, ...errorFields(error) }));
    if (!isPipe) await chmod(socketPath, 0o600);
    if (!isPipe && caller.uid !== undefined && process.getuid?.() === 0) await chown(socketPath, caller.uid, -1);
    this.servers.set(socketPath, server);
    this.credentials.set(socketPath, credential);
    this.logger.info('local API listening', { socket: socketPath, osUser: caller.osUser });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const servers = [...this.servers.entries()];
    const credentials = [...this.credentials.values()];
    this.servers.clear();
    this.credentials.clear();
    await Promise.all(servers.map(([path, server]) => new Promise<void>((resolve) => server.close(() => void rm(path, { force: true }).catch(() => undefined).finally(resolve)))));
    await Promise.all(credentials.map((credential) => (credential.release ? credential.release().catch(() => undefined) : Promise.resolve())));
  }

  private serve(socket: Socket, caller: Caller, token: Buffer): void {
    this.sockets.add(socket);
    let buffered = '';
    let unsubscribe: (() => void) | undefined;
    const send = (message: unknown) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
    };
    let refused = false;
    const refuse = (code: string, message: string) => {
      refused = true;
      if (socket.destroyed) return;
      socket.end(`${JSON.stringify({ id: null, error: { code, message } })}\n`, () => socket.destroy());
    };
    const handshake = new Handshake(token);
    const deadline = setTimeout(() => refuse('AUTH_TIMEOUT', 'no handshake within the time limit'), HANDSHAKE_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (refused) return;
      buffered += chunk;
      if (buffered.length > MAX_LINE_BYTES && !buffered.includes('\n')) {
        send({ id: null, error: { code: 'LINE_TOO_LONG', message: `a request line may be at most ${MAX_LINE_BYTES} bytes` } });
        socket.destroy();
        return;
      }
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() === '') continue;
        if (!handshake.done) {
          const step = handshake.step(line, caller);
          if ('refuse' in step) {
            clearTimeout(deadline);
            this.logger.warn('local API handshake refused', { osUser: caller.osUser, code: step.refuse.code });
            refuse(step.refuse.code, step.refuse.message);
            return;
          }
          send(step.reply);
          if (handshake.done) clearTimeout(deadline);
          continue;
        }
        void this.answer(line, caller, send, () => {
          unsubscribe ??= this.handlers.subscribe(caller, (notice) => send({ notice }));
        });
      }
    });
    const cleanup = () => {
      clearTimeout(deadline);
      unsubscribe?.();
      this.sockets.delete(socket);
    };
    socket.on('close', cleanup);
    socket.on('error', () => socket.destroy());
  }

  private async answer(line: string, caller: Caller, send: (message: unknown) => void, subscribe: () => void): Promise<void> {
    let envelope: unknown;
    try {
      envelope = JSON.parse(line);
    } catch {
      send({ id: null, error: { code: 'MALFORMED_JSON', message: 'each line must be one JSON object' } });
      return;
    }
    if (!Value.Check(Envelope, envelope)) {
      send({ id: null, error: { code: 'REQUEST_INVALID', message: 'expected {"id", "method", "params"}' } });
      return;
    }
    const { id, method } = envelope;
    const params = envelope.params ?? {};
    if (!isMethod(method)) {
      send({ id, error: { code: 'UNKNOWN_METHOD', message: `no method "${method}"; known: ${Object.keys(LocalRequestSchemas).join(', ')}` } });
      return;
    }
    const schema: TSchema = LocalRequestSchemas[method];
    if (!Value.Check(schema, params)) {
      const problems = [...Value.Errors(schema, params)].map((error) => `${error.path || '/'}: ${error.message}`);
      send({ id, error: { code: 'PARAMS_INVALID', message: problems.join('; ') } });
      return;
    }
    try {
      send({ id, result: await this.dispatch(method, params, caller, subscribe) });
    } catch (error) {
      if (isExitSealError(error) && error.kind === 'client') {
        send({ id, error: { code: error.code, message: error.message } });
        return;
      }
      const code = isExitSealError(error) ? error.code : 'AGENT_FAULT';
      this.logger.error('local API call failed', { method, osUser: caller.osUser, ...errorFields(error) });
      send({ id, error: { code, message: isExitSealError(error) ? error.message : 'the agent failed; the fault is logged' } });
    }
  }

  private async dispatch(method: LocalMethod, params: unknown, caller: Caller, subscribe: () => void): Promise<unknown> {
    switch (method) {
      case 'status':
        return this.handlers.status(caller);
      case 'recentEvents':
        return this.handlers.recentEvents(caller, params as Static<Schemas['recentEvents']>);
      case 'myRequests':
        return this.handlers.myRequests(caller);
      case 'lockedFiles':
        return this.handlers.lockedFiles(caller);
      case 'submitDecrypt':
        return this.handlers.submitDecrypt(caller, params as Static<Schemas['submitDecrypt']>);
      case 'submitRelease':
        return this.handlers.submitRelease(caller, params as Static<Schemas['submitRelease']>);
      case 'subscribe':
        subscribe();
        return { subscribed: true };
    }
  }
}

type HandshakeStep = { reply: unknown } | { refuse: { code: string; message: string } };

/** The agent's side of the handshake (handshake.ts) on one connection. */
class Handshake {
  private clientNonce: string | undefined;
  private serverNonce: string | undefined;
  done = false;

  constructor(private readonly token: Buffer) {}

  step(line: string, caller: Caller): HandshakeStep {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      return { refuse: { code: 'AUTH_REQUIRED', message: 'the first line must be {"hello":{"nonce":"<64 hex>"}}' } };
    }
    const fields = typeof message === 'object' && message !== null ? (message as Record<string, unknown>) : {};
    if (this.clientNonce === undefined || this.serverNonce === undefined) {
      const hello = fields.hello;
      const nonce = typeof hello === 'object' && hello !== null ? (hello as Record<string, unknown>).nonce : undefined;
      if (!isNonce(nonce)) return { refuse: { code: 'AUTH_REQUIRED', message: 'the first line must be {"hello":{"nonce":"<64 hex>"}}' } };
      this.clientNonce = nonce;
      this.serverNonce = newNonce();
      return { reply: { hello: { nonce: this.serverNonce, proof: proofOf(this.token, 'server', this.clientNonce, this.serverNonce) } } };
    }
    if (!proofMatches(proofOf(this.token, 'client', this.clientNonce, this.serverNonce), fields.proof)) {
      return { refuse: { code: 'AUTH_FAILED', message: "the proof does not match this person's token" } };
    }
    this.done = true;
    return { reply: { ready: { osUser: caller.osUser } } };
  }
}
