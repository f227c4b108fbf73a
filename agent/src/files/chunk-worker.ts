// Worker-thread entry: encrypts runs of STREAM chunks for parallel-seal.ts. Receives the plaintext's
// ArrayBuffer by transfer and transfers the ciphertext back, so nothing is copied between threads.
import { parentPort } from 'node:worker_threads';
import { encryptChunkRun } from '@exitseal/core';

export interface ChunkRunRequest {
  readonly id: number;
  readonly key: Uint8Array;
  readonly firstChunk: number;
  readonly plaintext: ArrayBuffer;
  readonly length: number;
  readonly endsPayload: boolean;
}

export type ChunkRunReply = { readonly id: number; readonly ciphertext: ArrayBuffer } | { readonly id: number; readonly error: string };

const port = parentPort;
if (port === null) throw new Error('chunk-worker.js must run as a worker thread');
port.on('message', (request: ChunkRunRequest) => {
  try {
    const out = encryptChunkRun(request.key, request.firstChunk, new Uint8Array(request.plaintext, 0, request.length), request.endsPayload);
    // encryptChunkRun allocates outside Node's pool, so this buffer owns its whole ArrayBuffer.
    const ciphertext = out.buffer as ArrayBuffer;
    port.postMessage({ id: request.id, ciphertext } satisfies ChunkRunReply, [ciphertext]);
  } catch (error) {
    port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies ChunkRunReply);
  }
});
