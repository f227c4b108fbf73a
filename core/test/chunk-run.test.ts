import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { CHUNK_SIZE, PayloadDecryptor, PayloadEncryptor, encryptChunkRun } from '../src/index.js';

describe('encryptChunkRun', () => {
  test('runs encrypted independently equal the streaming encryptor, byte for byte', () => {
    const fileKey = randomBytes(16);
    for (const size of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 5 * CHUNK_SIZE, 7 * CHUNK_SIZE + 123]) {
      const plaintext = randomBytes(size);
      const streaming = new PayloadEncryptor(fileKey);
      const expected = Buffer.concat([...streaming.push(plaintext), ...streaming.finish()]);
      const runChunks = 2;
      const pieces: Buffer[] = [streaming.nonce];
      let offset = 0;
      for (let chunk = 0; ; chunk += runChunks) {
        const end = Math.min(size, offset + runChunks * CHUNK_SIZE);
        const endsPayload = end === size;
        // A run ending exactly at a chunk boundary with data behind it is not the end.
        pieces.push(encryptChunkRun(streaming.payloadKey, chunk, plaintext.subarray(offset, end), endsPayload));
        offset = end;
        if (endsPayload) break;
      }
      assert.deepEqual(Buffer.concat(pieces), expected, `size ${size}`);
      const decryptor = new PayloadDecryptor(fileKey);
      assert.deepEqual(Buffer.concat([...decryptor.push(expected), decryptor.finish()]), plaintext);
    }
  });

  test('refuses runs that would break the STREAM rules', () => {
    const key = randomBytes(32);
    assert.throws(() => encryptChunkRun(key, 0, randomBytes(100), false), RangeError);
    assert.throws(() => encryptChunkRun(key, 0, Buffer.alloc(0), false), RangeError);
    assert.throws(() => encryptChunkRun(key, 3, Buffer.alloc(0), true), RangeError);
  });
});
