import { connect, type Socket } from 'node:net';

/** What the tray app does: JSON lines over the agent's per-user socket. */
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

  static connect(path: string): Promise<LocalApiClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path, () => resolve(new LocalApiClient(socket)));
      socket.once('error', reject);
    });
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
