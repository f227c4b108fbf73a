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
