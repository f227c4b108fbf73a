import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';

/** HMAC-SHA256 of both nonces under the token, as agent/src/local-api/handshake.ts defines it. */
function proof(token: Buffer, role: 'server' | 'client', clientNonce: string, serverNonce: string): Buffer {
  return createHmac('sha256', token).update(`exitseal-agent ${role}\n${clientNonce}\n${serverNonce}`).digest();
}

/**
 * What the tray app does: proves it can read the person's token file (the handshake), checks the agent proved
 * the same, then JSON lines over the agent's per-user socket.
 */
export class LocalApiClient {
  private nextId = 1;
  private buffered = '';
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  readonly notices: { kind: string; message: string; paths: string[] }[] = [];

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let newline: number;
      while ((newline = this.buffered.indexOf('\n')) >= 0) {
        const message = JSON.parse(this.buffered.slice(0, newline)) as { id?: number; result?: unknown; error?: { code: string; message: string }; notice?: { kind: string; message: string; paths: string[] } };
        this.buffered = this.buffered.slice(newline + 1);
        if (message.notice) this.notices.push(message.notice);
        const pending = message.id === undefined ? undefined : this.waiting.get(message.id);
        if (!pending || message.id === undefined) continue;
        this.waiting.delete(message.id);
        if (message.error) pending.reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
        else pending.resolve(message.result);
      }
    });
  }

  /** Connects to the socket at `path`; the token file is beside it (Linux) unless given (Windows). */
  static async connect(path: string, tokenFile = join(dirname(path), 'agent.token')): Promise<LocalApiClient> {
    const token = Buffer.from((await readFile(tokenFile, 'utf8')).trim(), 'hex');
    const socket = await new Promise<Socket>((resolve, reject) => {
      const opened = connect(path, () => resolve(opened));
      opened.once('error', reject);
    });
    try {
      await LocalApiClient.handshake(socket, token);
    } catch (error) {
      socket.destroy();
      throw error;
    }
    return new LocalApiClient(socket);
  }

  private static async handshake(socket: Socket, token: Buffer): Promise<void> {
    const lines: Record<string, unknown>[] = [];
    let buffered = '';
    let wake: (() => void) | undefined;
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>);
        buffered = buffered.slice(newline + 1);
      }
      wake?.();
    };
    const next = async (): Promise<Record<string, unknown>> => {
      while (lines.length === 0) {
        if (socket.destroyed || socket.readableEnded) throw new Error('the agent closed the connection during the handshake');
        await new Promise<void>((resolve) => {
          wake = resolve;
          socket.once('close', resolve);
        });
      }
      return lines.shift() ?? {};
    };
    socket.on('data', onData);
    try {
      const clientNonce = randomBytes(32).toString('hex');
      socket.write(`${JSON.stringify({ hello: { nonce: clientNonce } })}\n`);
      const hello = (await next()).hello as { nonce?: string; proof?: string } | undefined;
      const serverNonce = hello?.nonce ?? '';
      const expected = proof(token, 'server', clientNonce, serverNonce);
      const received = Buffer.from(hello?.proof ?? '', 'hex');
      if (received.length !== expected.length || !timingSafeEqual(received, expected)) throw new Error('the other end of the socket did not prove it is the agent');
      socket.write(`${JSON.stringify({ proof: proof(token, 'client', clientNonce, serverNonce).toString('hex') })}\n`);
      const answer = await next();
      if (!answer.ready) throw Object.assign(new Error(`the agent refused the handshake: ${JSON.stringify(answer)}`), { code: (answer.error as { code?: string } | undefined)?.code });
    } finally {
      socket.off('data', onData);
    }
    if (buffered !== '' || lines.length > 0) throw new Error('the agent sent more than the handshake before any request');
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: (value) => resolve(value as T), reject });
      this.socket.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  close(): void {
    this.socket.end();
  }
}
