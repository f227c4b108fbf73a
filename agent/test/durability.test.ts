import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { X25519Identity } from '@exitseal/core';
import { openFile, sealFile, type FileTarget } from '../src/files/sealed-file-io.js';
import { inTempDir } from './helpers.js';

const zone = X25519Identity.generate();
/** Spans several early-writeback steps (8 MiB), so a durable write flushes on the way as well as at the end. */
const SIZE = 20 * 1024 * 1024 + 3;

/**
 * Counts the flushes (fsync, fdatasync) made through any FileHandle while a test runs. FileHandle's class is
 * not exported, so its prototype is taken from a handle; the originals are put back after each test.
 */
async function fileHandlePrototype(): Promise<FileHandle> {
  const handle = await open(new URL(import.meta.url), 'r');
  await handle.close();
  return Object.getPrototypeOf(handle) as FileHandle;
}

describe('when sealed and opened files are flushed to disk', async () => {
  const prototype = await fileHandlePrototype();
  type Flush = (this: FileHandle) => Promise<void>;
  const sync: Flush = Reflect.get(prototype, 'sync');
  const datasync: Flush = Reflect.get(prototype, 'datasync');
  let flushes = 0;
  beforeEach(() => {
    flushes = 0;
    prototype.sync = function (this: FileHandle) {
      flushes++;
      return sync.call(this);
    };
    prototype.datasync = function (this: FileHandle) {
      flushes++;
      return datasync.call(this);
    };
  });
  afterEach(() => {
    prototype.sync = sync;
    prototype.datasync = datasync;
  });

  const sealAndOpen = (dir: string, sealed: FileTarget, opened: FileTarget) => async () => {
    await sealFile(join(dir, 'in.bin'), sealed, { recipients: [zone.recipient] });
    const afterSeal = flushes;
    await openFile(sealed.outputPath, opened, [zone]);
    return { seal: afterSeal, open: flushes - afterSeal };
  };

  test('a copy beside its original is flushed by default: the library errs on the side of keeping data', async () => {
    await inTempDir(async (dir) => {
      const data = randomBytes(SIZE);
      await writeFile(join(dir, 'in.bin'), data);
      const counts = await sealAndOpen(dir, { outputPath: join(dir, 'in.age') }, { outputPath: join(dir, 'out.bin') })();
      // Early writeback on the way, then the file and its directory before and after the rename.
      assert.ok(counts.seal >= 3, `seal flushed ${counts.seal} times`);
      assert.ok(counts.open >= 3, `open flushed ${counts.open} times`);
      assert.deepEqual(await readFile(join(dir, 'out.bin')), data);
    });
  });

  test('durable: false leaves the flushes out of a copy, and the copy is still whole and atomic', async () => {
    await inTempDir(async (dir) => {
      const data = randomBytes(SIZE);
      await writeFile(join(dir, 'in.bin'), data);
      const counts = await sealAndOpen(dir, { outputPath: join(dir, 'in.age'), durable: false }, { outputPath: join(dir, 'out.bin'), durable: false })();
      assert.deepEqual(counts, { seal: 0, open: 0 });
      assert.deepEqual(await readFile(join(dir, 'out.bin')), data);
      assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith('.es-')), [], 'no temp file left behind');
    });
  });

  test('in place the output replaces the only copy: it is flushed even when the caller asks not to', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'in.bin');
      const data = randomBytes(SIZE);
      await writeFile(file, data);
      await sealFile(file, { outputPath: file, durable: false }, { recipients: [zone.recipient] });
      assert.ok(flushes >= 3, `in-place seal flushed ${flushes} times`);
      flushes = 0;
      await openFile(file, { outputPath: file, durable: false }, [zone]);
      assert.ok(flushes >= 3, `in-place open flushed ${flushes} times`);
      assert.deepEqual(await readFile(file), data);
    });
  });
});
