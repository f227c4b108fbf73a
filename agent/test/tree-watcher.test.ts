import assert from 'node:assert/strict';
import type { Stats } from 'node:fs';
import { cp, mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { watchTree, type TreeWatch } from '../src/sealing/tree-watcher.js';
import { inTempDir, waitFor } from './helpers.js';

/** Records what the watcher reports, in order. */
class Recorder {
  readonly existing = new Map<string, Stats | undefined>();
  readonly written = new Set<string>();
  readonly removed = new Set<string>();
  readonly errors: unknown[] = [];
  ready = false;
  writtenBeforeReady = 0;

  watch(root: string): TreeWatch {
    return watchTree(root, {
      existing: (relPath, stats) => this.existing.set(relPath, stats),
      ready: () => {
        this.ready = true;
      },
      written: (relPath) => {
        if (!this.ready) this.writtenBeforeReady++;
        this.written.add(relPath);
      },
      removed: (relPath) => this.removed.add(relPath),
      error: (error) => this.errors.push(error),
    });
  }

  async untilReady(): Promise<void> {
    await waitFor('the initial scan', () => (this.ready || this.errors.length > 0 ? true : undefined));
    assert.deepEqual(this.errors, []);
  }
}

describe('tree watcher (one watch per directory)', () => {
  test('files present at the start are reported as existing with their stats, in every subdirectory, before ready', async () => {
    await inTempDir(async (dir) => {
      await mkdir(join(dir, 'a', 'b'), { recursive: true });
      await writeFile(join(dir, 'top.txt'), 'top');
      await writeFile(join(dir, 'a', 'b', 'deep.bin'), Buffer.alloc(1234));
      const recorder = new Recorder();
      const watch = recorder.watch(dir);
      try {
        await recorder.untilReady();
        assert.deepEqual([...recorder.existing.keys()].sort(), ['a/b/deep.bin', 'top.txt']);
        assert.equal(recorder.existing.get('a/b/deep.bin')?.size, 1234);
        assert.equal(recorder.writtenBeforeReady, 0);
      } finally {
        await watch.close();
      }
    });
  });

  test('after ready: new files, writes to old files, whole folders copied at once and renames into the tree are written; deletions are removed', async () => {
    await inTempDir(async (dir) => {
      const root = join(dir, 'root');
      await mkdir(root);
      await writeFile(join(root, 'old.txt'), 'old');
      const recorder = new Recorder();
      const watch = recorder.watch(root);
      try {
        await recorder.untilReady();
        await writeFile(join(root, 'new.txt'), 'new');
        await writeFile(join(root, 'old.txt'), 'changed');
        const folder = join(dir, 'folder');
        await mkdir(join(folder, 'inner'), { recursive: true });
        for (let i = 0; i < 200; i++) await writeFile(join(folder, 'inner', `f${i}.txt`), String(i));
        await cp(folder, join(root, 'folder'), { recursive: true });
        await writeFile(join(dir, 'moved-in.txt'), 'moved');
        await rename(join(dir, 'moved-in.txt'), join(root, 'folder', 'moved-in.txt'));
        const expected = ['new.txt', 'old.txt', 'folder/moved-in.txt', ...Array.from({ length: 200 }, (_, i) => `folder/inner/f${i}.txt`)];
        await waitFor('every write', () => (expected.every((path) => recorder.written.has(path)) ? true : undefined));

        // A file written into a directory created after the start is seen through that directory's own watch.
        await writeFile(join(root, 'folder', 'inner', 'later.txt'), 'later');
        await waitFor('the later write', () => (recorder.written.has('folder/inner/later.txt') ? true : undefined));

        await unlink(join(root, 'new.txt'));
        await rm(join(root, 'folder'), { recursive: true });
        await waitFor('the removals', () => (recorder.removed.has('new.txt') && recorder.removed.has('folder/inner/f199.txt') && recorder.removed.has('folder/moved-in.txt') ? true : undefined));
        assert.equal(recorder.removed.has('old.txt'), false);
        assert.deepEqual(recorder.errors, []);
      } finally {
        await watch.close();
      }
    });
  });

  test('nothing is reported after close, and a directory that does not exist is an error, not a silent empty tree', async () => {
    await inTempDir(async (dir) => {
      const recorder = new Recorder();
      const watch = recorder.watch(dir);
      await recorder.untilReady();
      await watch.close();
      await writeFile(join(dir, 'after-close.txt'), 'x');
      // A second watch sees the file, proving the write happened; the closed one never reports it.
      const witness = new Recorder();
      const second = witness.watch(dir);
      await witness.untilReady();
      await second.close();
      assert.ok(witness.existing.has('after-close.txt'));
      assert.equal(recorder.written.size, 0);

      const missing = new Recorder();
      const failed = missing.watch(join(dir, 'no-such-dir'));
      try {
        await waitFor('the error', () => (missing.errors.length > 0 ? true : undefined));
        assert.equal((missing.errors[0] as NodeJS.ErrnoException).code, 'ENOENT');
        assert.equal(missing.ready, false);
      } finally {
        await failed.close();
      }
    });
  });
});
