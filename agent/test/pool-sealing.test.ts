// Sealing whole file blocks in the thread pool (native/src/seal_block.c, sealBlocksInPool in sealed-file-io.ts):
// the same bytes as the chunk cipher, files that open everywhere, and every failure settled before the files
// close.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { truncateSync } from 'node:fs';
import { open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CHUNK_SIZE, nodeChunkCipher, sealedRunLength, X25519Identity } from '@exitseal/core';
import { FileOperationError } from '../src/files/errors.js';
import { openFile, sealFile } from '../src/files/sealed-file-io.js';
import { selectStreamCipher, type FileBlockSealer, type StreamCipher } from '../src/files/stream-cipher.js';
import { hasCommand } from './cli-harness.js';
import { inTempDir } from './helpers.js';

const MiB = 1024 * 1024;
const native: StreamCipher | null = (() => {
  try {
    return selectStreamCipher('native');
  } catch {
    return null;
  }
})();
const skip = native?.sealFileBlock ? false : native ? 'the addon has no sealFileBlock on this platform (POSIX only)' : 'the native addon is not built here';

/** The native cipher and its block sealer; only called in tests that are not skipped. */
function pool(): { native: StreamCipher; sealFileBlock: FileBlockSealer } {
  if (!native?.sealFileBlock) throw new Error('no native block sealer');
  return { native, sealFileBlock: native.sealFileBlock };
}
const haveAge = hasCommand('age');

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('sealFileBlock (the addon)', { skip }, () => {
  test('reads, seals and writes a block to the same bytes as sealChunks, at any position and counter', async () => {
    const { native, sealFileBlock } = pool();
    await inTempDir(async (dir) => {
      const plaintext = randomBytes(3 * CHUNK_SIZE + 17);
      await writeFile(join(dir, 'in'), Buffer.concat([randomBytes(100), plaintext]));
      const source = await open(join(dir, 'in'), 'r');
      const sink = await open(join(dir, 'out'), 'w+');
      try {
        const key = randomBytes(32);
        const cases = [
          { length: 0, final: true, counter: 0 },
          { length: 1, final: true, counter: 5 },
          { length: CHUNK_SIZE, final: false, counter: 2 ** 53 - 2 },
          { length: 3 * CHUNK_SIZE, final: false, counter: 7 },
          { length: 3 * CHUNK_SIZE + 17, final: true, counter: 2 ** 32 - 1 },
        ];
        for (const { length, final, counter } of cases) {
          const input = Buffer.alloc(plaintext.length);
          const output = Buffer.alloc(sealedRunLength(plaintext.length, true));
          const written = await sealFileBlock(key, counter, input, final, output, length, source.fd, 100, sink.fd, 4096);
          const expected = Buffer.concat(native.sealChunks(key, counter, plaintext.subarray(0, length), final));
          assert.equal(written, expected.length, `length ${length}`);
          const onDisk = Buffer.alloc(written);
          await sink.read(onDisk, 0, written, 4096);
          assert.deepEqual(onDisk, expected, `length ${length}`);
          assert.deepEqual(input.subarray(0, length), plaintext.subarray(0, length), 'the plaintext stays in input for the caller');
        }
      } finally {
        await source.close();
        await sink.close();
      }
    });
  });

  test('checks every argument before it starts', () => {
    const { sealFileBlock } = pool();
    const key = Buffer.alloc(32);
    const input = Buffer.alloc(CHUNK_SIZE);
    const output = Buffer.alloc(CHUNK_SIZE + 16);
    const call = (...args: unknown[]) => (sealFileBlock as unknown as (...a: unknown[]) => unknown)(...args);
    const invalid: [unknown[], string][] = [
      [[key, 0, input, true, output, 1, 3, 0, 4], 'ERR_INVALID_ARG_COUNT'],
      [[Buffer.alloc(16), 0, input, true, output, 1, 3, 0, 4, 0], 'ERR_INVALID_ARG_VALUE'],
      [[key, 0, input, true, output, CHUNK_SIZE + 1, 3, 0, 4, 0], 'ERR_INVALID_ARG_VALUE'],
      [[key, 0, input, false, output, 5, 3, 0, 4, 0], 'ERR_INVALID_ARG_VALUE'],
      [[key, 0, input, true, Buffer.alloc(CHUNK_SIZE), CHUNK_SIZE, 3, 0, 4, 0], 'ERR_BUFFER_TOO_SMALL'],
      [[key, 0, output, true, output, CHUNK_SIZE, 3, 0, 4, 0], 'ERR_INVALID_ARG_VALUE'],
      [[key, 0, input, true, output, 1, -1, 0, 4, 0], 'ERR_INVALID_ARG_VALUE'],
      [[key, 0, input, true, output, 1, 3, 0.5, 4, 0], 'ERR_INVALID_ARG_VALUE'],
      [[key, 0, input, true, output, 1, 3, 0, '4', 0], 'ERR_INVALID_ARG_TYPE'],
      [[key, 0, input, true, output, 1, 3, 0, 4, 2 ** 53], 'ERR_INVALID_ARG_VALUE'],
    ];
    for (const [args, code] of invalid) assert.throws(() => call(...args), { code }, JSON.stringify(args.map((a) => (Buffer.isBuffer(a) ? `<${a.length} bytes>` : a))));
  });

  test('reports a short read as ERR_INPUT_SHRANK and writes nothing; a bad file as EBADF', async () => {
    const { sealFileBlock } = pool();
    await inTempDir(async (dir) => {
      await writeFile(join(dir, 'in'), randomBytes(1000));
      const source = await open(join(dir, 'in'), 'r');
      const sink = await open(join(dir, 'out'), 'w');
      const key = randomBytes(32);
      const input = Buffer.alloc(2 * CHUNK_SIZE);
      const output = Buffer.alloc(2 * CHUNK_SIZE + 32);
      try {
        await assert.rejects(sealFileBlock(key, 0, input, true, output, 2000, source.fd, 0, sink.fd, 0), { code: 'ERR_INPUT_SHRANK' });
        assert.equal((await sink.stat()).size, 0);
        await assert.rejects(sealFileBlock(key, 0, input, true, output, 10, source.fd, 0, source.fd, 0), { code: 'EBADF' }, 'writing to a file opened for reading');
      } finally {
        await source.close();
        await sink.close();
      }
    });
  });
});

describe('sealFile through the thread pool', { skip }, () => {
  test('files of every size across block edges open to the input, with the plaintext hash of the export log', async () => {
    const { native } = pool();
    await inTempDir(async (dir) => {
      const identity = X25519Identity.generate();
      for (const size of [0, 1, CHUNK_SIZE, MiB - 1, MiB, MiB + 1, 3 * MiB + 5, 5 * MiB]) {
        const plaintext = randomBytes(size);
        const input = join(dir, `in-${size}`);
        await writeFile(input, plaintext);
        const pooled = await sealFile(input, { outputPath: `${input}.pool.age` }, { recipients: [identity.recipient] }, { cipher: native });
        const chunked = await sealFile(input, { outputPath: `${input}.node.age` }, { recipients: [identity.recipient] }, { cipher: nodeChunkCipher });
        assert.equal(pooled.sha256, sha256(plaintext), `size ${size}`);
        assert.equal(pooled.plaintextBytes, size);
        assert.equal(pooled.sealedBytes, chunked.sealedBytes, `size ${size}: the same layout as the chunk path`);
        assert.equal((await stat(`${input}.pool.age`)).size, pooled.sealedBytes);
        const opened = await openFile(`${input}.pool.age`, { outputPath: `${input}.out` }, [identity], { cipher: nodeChunkCipher });
        assert.equal(opened.sha256, sha256(plaintext), `size ${size}: opens with the node:crypto reference`);
        if (haveAge) {
          await writeFile(join(dir, 'zone.key'), `${identity.toSecretString()}\n`);
          const age = spawnSync('age', ['-d', '-i', join(dir, 'zone.key'), `${input}.pool.age`], { maxBuffer: 16 * MiB });
          assert.equal(age.status, 0, `size ${size}: ${age.stderr.toString()}`);
          assert.equal(sha256(age.stdout), sha256(plaintext), `size ${size}: the age CLI opens it`);
        }
      }
    });
  });

  test('a file that gets shorter while it is sealed: SOURCE_CHANGED, and no output or temp file', async () => {
    const { native, sealFileBlock } = pool();
    await inTempDir(async (dir) => {
      const input = join(dir, 'report.bin');
      await writeFile(input, randomBytes(6 * MiB));
      let truncated = false;
      const shrinking: StreamCipher = {
        ...native,
        sealFileBlock: (...args: Parameters<FileBlockSealer>) => {
          if (!truncated) {
            truncated = true;
            truncateSync(input, 2 * MiB + 3);
          }
          return sealFileBlock(...args);
        },
      };
      const identity = X25519Identity.generate();
      await assert.rejects(sealFile(input, { outputPath: join(dir, 'report.age') }, { recipients: [identity.recipient] }, { cipher: shrinking }), (error: unknown) => error instanceof FileOperationError && error.code === 'SOURCE_CHANGED');
      assert.deepEqual(await readdir(dir), ['report.bin']);
    });
  });

  test('when one block fails, every job has settled before the files are closed, and nothing is committed', async () => {
    const { native, sealFileBlock } = pool();
    await inTempDir(async (dir) => {
      const input = join(dir, 'big.bin');
      await writeFile(input, randomBytes(8 * MiB));
      let running = 0;
      let runningAtFailure = -1;
      const failing: StreamCipher = {
        ...native,
        sealFileBlock: async (...args: Parameters<FileBlockSealer>) => {
          running++;
          try {
            if (args[1] === 2 * (MiB / CHUNK_SIZE)) throw Object.assign(new Error('simulated pulled stick'), { code: 'ENOTCONN' });
            return await sealFileBlock(...args);
          } finally {
            running--;
          }
        },
      };
      const identity = X25519Identity.generate();
      await assert.rejects(
        sealFile(input, { outputPath: join(dir, 'big.age') }, { recipients: [identity.recipient] }, { cipher: failing }).finally(() => {
          runningAtFailure = running;
        }),
        (error: unknown) => error instanceof FileOperationError && error.code === 'MEDIA_GONE',
      );
      assert.equal(runningAtFailure, 0, 'no job was still running when sealFile gave up');
      assert.deepEqual(await readdir(dir), ['big.bin']);
      assert.equal((await readFile(input)).length, 8 * MiB, 'the input is untouched');
    });
  });
});
