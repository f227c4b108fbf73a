// Output files get their space reserved before they are written (space-reservation.ts, native/src/reserve_space.c):
// a volume too small fails before a byte is written, and nothing reserved is left behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, open, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { X25519Identity } from '@exitseal/core';
import { writeFileAtomically } from '../src/files/atomic-write.js';
import { FileOperationError } from '../src/files/errors.js';
import { installedNativeAddon } from '../src/files/native-addon.js';
import { openFile, sealFile } from '../src/files/sealed-file-io.js';
import { releaseUnusedSpace, reserveSpace } from '../src/files/space-reservation.js';
import { inTempDir } from './helpers.js';

const MiB = 1024 * 1024;
const binding = installedNativeAddon.binding;
const skipNative = binding ? false : `the native addon is not built here (${installedNativeAddon.loadError ?? 'unknown'})`;
// Only Linux preallocates so far (fallocate); elsewhere reserveSpace resolves false and writing allocates as before.
const skipPreallocation = skipNative || (process.platform === 'linux' ? false : 'preallocation is implemented for Linux only');

/** Bytes the file system has allocated to a file (what `du` shows), as against its size. */
async function allocatedBytes(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

describe('reserveSpace', () => {
  test('without the addon it reserves nothing and says so, and writing works as before', async () => {
    await inTempDir(async (dir) => {
      const handle = await open(join(dir, 'out'), 'w');
      try {
        assert.equal(await reserveSpace(handle, MiB, { binding: null, loadError: 'not built' }), false);
        assert.equal(await reserveSpace(handle, 0), false, 'nothing to reserve for an empty output');
      } finally {
        await handle.close();
      }
    });
  });

  test('reserves space without changing the size; the unused rest is given back', { skip: skipPreallocation }, async () => {
    await inTempDir(async (dir) => {
      const path = join(dir, 'out');
      const handle = await open(path, 'w');
      try {
        assert.equal(await reserveSpace(handle, 8 * MiB), true, 'ext4 and tmpfs preallocate');
        assert.equal((await handle.stat()).size, 0, 'the size stays as written');
        assert.ok((await allocatedBytes(path)) >= 8 * MiB);
        await handle.write(Buffer.alloc(MiB, 1));
        await releaseUnusedSpace(handle, 8 * MiB);
        assert.equal((await handle.stat()).size, MiB);
        assert.ok((await allocatedBytes(path)) < 2 * MiB, 'what was reserved past the end is released');
      } finally {
        await handle.close();
      }
    });
  });

  test('the addon checks its arguments and reports system errors by name', { skip: skipNative }, async () => {
    assert.ok(binding);
    const invalid: [unknown[], string][] = [
      [[-1, 1], 'ERR_INVALID_ARG_VALUE'],
      [[1.5, 1], 'ERR_INVALID_ARG_VALUE'],
      [['3', 1], 'ERR_INVALID_ARG_TYPE'],
      [[3, 0], 'ERR_INVALID_ARG_VALUE'],
      [[3, 2 ** 53], 'ERR_INVALID_ARG_VALUE'],
      [[3], 'ERR_INVALID_ARG_COUNT'],
    ];
    for (const [args, code] of invalid) {
      assert.throws(() => (binding.reserveSpace as (...a: unknown[]) => unknown)(...args), { code }, JSON.stringify(args));
    }
    await inTempDir(async (dir) => {
      const handle = await open(join(dir, 'out'), 'w');
      const fd = handle.fd;
      try {
        if (process.platform === 'linux') {
          // 1 PiB: past ext4's largest file (EFBIG) or past any free space (ENOSPC); nothing stays reserved.
          await assert.rejects(binding.reserveSpace(fd, 2 ** 50), (error: NodeJS.ErrnoException) => ['EFBIG', 'ENOSPC'].includes(error.code ?? '') && error.syscall === 'fallocate');
          assert.ok((await allocatedBytes(join(dir, 'out'))) < MiB);
        }
      } finally {
        await handle.close();
      }
      if (process.platform === 'linux') await assert.rejects(binding.reserveSpace(fd, 1), { code: 'EBADF' });
    });
  });

  test('sealing and opening leave no reserved space behind: allocated space matches the size', { skip: skipPreallocation }, async () => {
    await inTempDir(async (dir) => {
      const identity = X25519Identity.generate();
      const input = join(dir, 'in.bin');
      for (const size of [1, 65_536, 65_537, 3 * MiB + 5]) {
        await writeFile(input, Buffer.alloc(size, 7));
        const sealed = join(dir, `sealed-${size}.age`);
        const opened = join(dir, `opened-${size}.bin`);
        const result = await sealFile(input, { outputPath: sealed, durable: false }, { recipients: [identity.recipient] });
        await openFile(sealed, { outputPath: opened, durable: false }, [identity]);
        assert.equal((await stat(sealed)).size, result.sealedBytes);
        assert.deepEqual(await readFile(opened), await readFile(input));
        for (const path of [sealed, opened]) {
          const { size: bytes } = await stat(path);
          assert.ok((await allocatedBytes(path)) <= Math.ceil(bytes / 4096) * 4096 + 4096, `${path}: nothing allocated past its end`);
        }
      }
    });
  });
});

/** Why a small tmpfs cannot be mounted here, or false when it can. Said loudly: these tests need root. */
function missingMountFacilities(): string | false {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux');
  if (process.getuid?.() !== 0) missing.push('root');
  if (missing.length === 0) return skipPreallocation;
  const reason = `FULL-VOLUME TESTS SKIPPED: need ${missing.join(' and ')} to mount a small tmpfs`;
  console.error(`\n*** ${reason} ***\n`);
  return reason;
}

/** Runs `fn` with a 4 MiB tmpfs mounted in a temp directory: a volume that fills up in a moment. */
async function withSmallVolume(fn: (mountPoint: string, dir: string) => Promise<void>): Promise<void> {
  await inTempDir(async (dir) => {
    const mountPoint = join(dir, 'volume');
    await mkdir(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
    try {
      await fn(mountPoint, dir);
    } finally {
      execFileSync('umount', [mountPoint]);
      await rmdir(mountPoint);
    }
  });
}

describe('a volume too small for the output', { skip: missingMountFacilities() }, () => {
  test('fails with NO_SPACE before anything is written, and leaves no temp file', async () => {
    await withSmallVolume(async (mountPoint) => {
      let produced = false;
      await assert.rejects(
        writeFileAtomically(
          join(mountPoint, 'big.bin'),
          () => {
            produced = true;
            return Promise.resolve();
          },
          { expectedBytes: 8 * MiB, durable: false },
        ),
        (error: unknown) => error instanceof FileOperationError && error.code === 'NO_SPACE',
      );
      assert.equal(produced, false, 'the content was never started');
      assert.deepEqual(await readdir(mountPoint), []);
    });
  });

  test('sealing in place a file that no longer fits keeps the original as it was', async () => {
    await withSmallVolume(async (mountPoint) => {
      const identity = X25519Identity.generate();
      const path = join(mountPoint, 'report.bin');
      // 3 MiB of plaintext on a 4 MiB volume: the sealed copy beside it cannot fit.
      const original = Buffer.alloc(3 * MiB, 3);
      await writeFile(path, original);
      await assert.rejects(sealFile(path, { outputPath: path }, { recipients: [identity.recipient] }), (error: unknown) => error instanceof FileOperationError && error.code === 'NO_SPACE');
      assert.deepEqual(await readdir(mountPoint), ['report.bin']);
      assert.deepEqual(await readFile(path), original);
    });
  });

  test('what fits is sealed there as before', async () => {
    await withSmallVolume(async (mountPoint, dir) => {
      const identity = X25519Identity.generate();
      const input = join(dir, 'in.bin');
      await writeFile(input, Buffer.alloc(MiB, 5));
      const result = await sealFile(input, { outputPath: join(mountPoint, 'in.bin.age') }, { recipients: [identity.recipient] });
      assert.equal((await stat(join(mountPoint, 'in.bin.age'))).size, result.sealedBytes);
    });
  });
});
