import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import { test } from 'node:test';
import { pumpBlocks } from '../src/files/sealed-file-io.js';

const BLOCK = 1024 * 1024;

/**
 * A source whose reads are slow and a sink whose writes fail at once: the failure of the write in flight
 * arrives while the pump is still awaiting the next read (what a pulled stick does). It must come out of
 * pumpBlocks as its rejection, never as an unhandled rejection that kills the agent.
 */
test('a write that fails while the next read is still running rejects the pump, not the process', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const size = 3 * BLOCK;
    const source = {
      stat: () => Promise.resolve({ size }),
      read: (buffer: Buffer, offset: number, length: number, position: number) =>
        new Promise<{ bytesRead: number; buffer: Buffer }>((resolve) => {
          const bytesRead = Math.max(0, Math.min(length, size - position));
          setTimeout(() => resolve({ bytesRead, buffer }), 50);
        }),
    } as unknown as FileHandle;
    const pulled = Object.assign(new Error('ECONNABORTED: software caused connection abort, write'), { code: 'ECONNABORTED' });
    const sink = {
      writev: () => Promise.reject(pulled),
      datasync: () => Promise.resolve(),
    } as unknown as FileHandle;

    await assert.rejects(pumpBlocks(source, 0, sink, (block) => [Buffer.from(block)]), (error: unknown) => error === pulled);
    // Give any stray rejection the turn of the event loop it needs to be reported.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

/** A fake file of `size` bytes and a sink that records how much had been written at each datasync. */
async function flushPoints(size: number, flushFrom: number): Promise<number[]> {
  const source = {
    stat: () => Promise.resolve({ size }),
    read: (buffer: Buffer, _offset: number, length: number, position: number) => Promise.resolve({ bytesRead: Math.max(0, Math.min(length, size - position)), buffer }),
  } as unknown as FileHandle;
  let written = 0;
  const points: number[] = [];
  const sink = {
    writev: (pieces: Buffer[]) => {
      const bytesWritten = pieces.reduce((sum, piece) => sum + piece.length, 0);
      written += bytesWritten;
      return Promise.resolve({ bytesWritten, buffers: pieces });
    },
    datasync: () => {
      points.push(written);
      return Promise.resolve();
    },
  } as unknown as FileHandle;
  assert.equal(await pumpBlocks(source, 0, sink, (block) => [Buffer.from(block)], { flushFrom }), size);
  return points;
}

test('the output is flushed as it goes from the start, past a given size, or never', async () => {
  const MiB = 1024 * 1024;
  const fromStart = await flushPoints(40 * MiB, 0);
  assert.ok(fromStart.length >= 3, `flushed ${fromStart.length} times`);
  assert.ok((fromStart[0] ?? 0) >= 8 * MiB && (fromStart[0] ?? 0) < 10 * MiB, `first flush after ${fromStart[0]} bytes`);

  const pastLimit = await flushPoints(40 * MiB, 24 * MiB);
  assert.ok(pastLimit.length >= 1, 'a large output is flushed once past the limit');
  assert.ok(pastLimit.every((at) => at >= 24 * MiB), `flushed at ${pastLimit.join(', ')}`);

  assert.deepEqual(await flushPoints(20 * MiB, 24 * MiB), [], 'an output that stays under the limit is left to the kernel');
  assert.deepEqual(await flushPoints(40 * MiB, Infinity), []);
});
