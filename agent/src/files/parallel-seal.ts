import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FileHandle } from 'node:fs/promises';
import type { Hash } from 'node:crypto';
import type { ChunkRunReply, ChunkRunRequest } from './chunk-worker.js';
import { CHUNK_SIZE } from '@exitseal/core';
import { writeAll } from './atomic-write.js';
import { FileOperationError } from './errors.js';

/**
 * Encrypting is the bottleneck of a large seal (ChaCha20-Poly1305 runs at about 1.6 GB/s on one core here),
 * and STREAM chunks are independent once the plaintext length is known: runs of chunks are encrypted on
 * worker threads while this thread reads and writes. Below this size the workers' start-up costs more than
 * it saves.
 */
export const PARALLEL_SEAL_MIN_BYTES = 16 * 1024 * 1024;
/** 64 chunks: a run is one 4 MiB block. */
const RUN_BYTES = 4 * 1024 * 1024;

class ChunkWorkers {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: Error | null = null;

  constructor(count: number) {
    this.workers = Array.from({ length: count }, () => {
      const worker = new Worker(new URL('./chunk-worker.js', import.meta.url));
      worker.on('message', (reply: ChunkRunReply) => this.settle(reply));
      worker.on('error', (error) => this.failAll(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.failAll(new Error(`chunk worker exited with ${code}`));
      });
      return worker;
    });
  }

  encrypt(key: Buffer, firstChunk: number, plaintext: Buffer, endsPayload: boolean): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const worker = this.workers[id % this.workers.length];
    if (worker === undefined) return Promise.reject(new Error('no chunk worker'));
    // The plaintext buffer was allocated for this run alone, so its whole ArrayBuffer can be handed over.
    const arrayBuffer = plaintext.buffer as ArrayBuffer;
    const request: ChunkRunRequest = { id, key, firstChunk, plaintext: arrayBuffer, length: plaintext.length, endsPayload };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage(request, [arrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private settle(reply: ChunkRunReply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if ('error' in reply) waiter.reject(new Error(reply.error));
    else waiter.resolve(Buffer.from(reply.ciphertext));
  }

  private failAll(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}

/**
 * Writes the STREAM chunks of the `size` bytes of `source` to `sink` (after the header and nonce, which the
 * caller wrote), encrypting runs in parallel and writing them in order. At most `maxInFlight` runs are held
 * at once, so memory stays at a few blocks whatever the size. A file that turns out shorter than `size` is a
 * SOURCE_CHANGED error (one that grew is caught by the caller's unchanged-check before commit).
 */
export async function sealChunksInParallel(
  source: FileHandle,
  size: number,
  sink: FileHandle,
  payloadKey: Buffer,
  hash: Hash | null,
  path: string,
): Promise<number> {
  const workers = new ChunkWorkers(Math.max(1, Math.min(2, availableParallelism())));
  const maxInFlight = 4;
  const window: Promise<number>[] = [];
  let writeChain: Promise<number> = Promise.resolve(0);
  let written = 0;
  try {
    const runs = Math.max(1, Math.ceil(size / RUN_BYTES));
    for (let run = 0; run < runs; run++) {
      if (window.length >= maxInFlight) written += (await window.shift()) ?? 0;
      const offset = run * RUN_BYTES;
      const length = Math.min(RUN_BYTES, size - offset);
      const plaintext = Buffer.allocUnsafeSlow(length);
      const { bytesRead } = await source.read(plaintext, 0, length, offset);
      if (bytesRead !== length) throw new FileOperationError('SOURCE_CHANGED', `${path} became shorter while it was being sealed`, { kind: 'client' });
      hash?.update(plaintext);
      const encrypted = workers.encrypt(payloadKey, run * (RUN_BYTES / CHUNK_SIZE), plaintext, run === runs - 1);
      // If an earlier write failed, this result is never awaited: do not let its failure go unhandled.
      encrypted.catch(() => undefined);
      writeChain = writeChain.then(async () => writeAll(sink, [await encrypted]));
      // Keep the chain's failure observable here; window entries are awaited in order.
      window.push(writeChain);
    }
    for (const pending of window.splice(0)) written += await pending;
    return written;
  } catch (error) {
    await Promise.allSettled(window);
    throw error;
  } finally {
    await workers.close();
  }
}
