// Unit tests of the STREAM payload's contract (the property tests cover the randomised cases): when each
// chunk is released, how a failure after good chunks is reported, and misuse of the objects.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, nodeChunkCipher, PAYLOAD_NONCE_SIZE, PayloadDecryptor, PayloadEncryptor, type ChunkCipher } from '../src/index.js';
import { patternBytes } from './helpers.js';

function encrypt(fileKey: Buffer, plaintext: Buffer): Buffer {
  const encryptor = new PayloadEncryptor(fileKey);
  return Buffer.concat([...encryptor.push(plaintext), ...encryptor.finish()]);
}

describe('PayloadDecryptor', () => {
  const fileKey = randomBytes(16);

  test('a chunk is released as soon as it has arrived whole and authenticated, not one chunk later', () => {
    const plaintext = patternBytes(2 * CHUNK_SIZE + 10);
    const payload = encrypt(fileKey, plaintext);
    const decryptor = new PayloadDecryptor(fileKey);
    assert.deepEqual(decryptor.push(payload.subarray(0, PAYLOAD_NONCE_SIZE + ENCRYPTED_CHUNK_SIZE - 1)), []);
    const first = decryptor.push(payload.subarray(PAYLOAD_NONCE_SIZE + ENCRYPTED_CHUNK_SIZE - 1, PAYLOAD_NONCE_SIZE + ENCRYPTED_CHUNK_SIZE));
    assert.ok(Buffer.concat(first).equals(plaintext.subarray(0, CHUNK_SIZE)));
    const rest = decryptor.push(payload.subarray(PAYLOAD_NONCE_SIZE + ENCRYPTED_CHUNK_SIZE));
    assert.ok(Buffer.concat([...first, ...rest, decryptor.finish()]).equals(plaintext));
  });

  test('a full final chunk (size a multiple of 64 KiB) is released by push; finish then adds nothing', () => {
    const plaintext = patternBytes(2 * CHUNK_SIZE);
    const decryptor = new PayloadDecryptor(fileKey);
    const released = decryptor.push(encrypt(fileKey, plaintext));
    assert.ok(Buffer.concat(released).equals(plaintext));
    assert.equal(decryptor.finish().length, 0);
  });

  test('good chunks before a bad one are returned; the failure comes from the next call', () => {
    const plaintext = patternBytes(3 * CHUNK_SIZE);
    const payload = encrypt(fileKey, plaintext);
    const damagedAt = PAYLOAD_NONCE_SIZE + 2 * ENCRYPTED_CHUNK_SIZE + 5;
    payload.writeUInt8(payload.readUInt8(damagedAt) ^ 1, damagedAt);
    const decryptor = new PayloadDecryptor(fileKey);
    const released = decryptor.push(payload);
    assert.ok(Buffer.concat(released).equals(plaintext.subarray(0, 2 * CHUNK_SIZE)));
    assert.throws(() => decryptor.finish(), { name: 'SealedFileError', code: 'PAYLOAD_INVALID', message: /chunk 2 failed/ });
    // It stays failed.
    assert.throws(() => decryptor.push(Buffer.alloc(1)), { name: 'SealedFileError', code: 'PAYLOAD_INVALID' });
  });

  test('data after a full final chunk is refused, whether it comes in the same push or later', () => {
    const payload = encrypt(fileKey, patternBytes(CHUNK_SIZE));
    const together = new PayloadDecryptor(fileKey);
    assert.equal(Buffer.concat(together.push(Buffer.concat([payload, Buffer.from([0])]))).length, CHUNK_SIZE);
    assert.throws(() => together.finish(), { code: 'PAYLOAD_INVALID', message: /after its final chunk/ });

    const later = new PayloadDecryptor(fileKey);
    assert.equal(Buffer.concat(later.push(payload)).length, CHUNK_SIZE);
    assert.throws(() => later.push(Buffer.from([0])), { code: 'PAYLOAD_INVALID', message: /after its final chunk/ });
  });

  test('an empty payload is the nonce plus one empty final chunk, and opens (the kit covers an empty final chunk after data)', () => {
    const empty = new PayloadDecryptor(fileKey);
    assert.deepEqual(empty.push(encrypt(fileKey, Buffer.alloc(0))), []);
    assert.equal(empty.finish().length, 0);
    assert.equal(encrypt(fileKey, Buffer.alloc(0)).length, PAYLOAD_NONCE_SIZE + 16);
  });

  test('too short: no nonce or part of it (a truncated header, as age counts it), nonce only, a chunk shorter than its tag', () => {
    for (const length of [0, PAYLOAD_NONCE_SIZE - 1, PAYLOAD_NONCE_SIZE, PAYLOAD_NONCE_SIZE + 15]) {
      const decryptor = new PayloadDecryptor(fileKey);
      decryptor.push(encrypt(fileKey, Buffer.from('x')).subarray(0, length));
      const code = length < PAYLOAD_NONCE_SIZE ? 'HEADER_INVALID' : 'PAYLOAD_INVALID';
      assert.throws(() => decryptor.finish(), { name: 'SealedFileError', code }, String(length));
    }
  });

  test('misuse: calls after finish are a programming error, not a file error', () => {
    const decryptor = new PayloadDecryptor(fileKey);
    decryptor.push(encrypt(fileKey, Buffer.from('x')));
    decryptor.finish();
    assert.throws(() => decryptor.finish(), (error: unknown) => error instanceof Error && error.name === 'Error');
  });
});

describe('PayloadEncryptor', () => {
  test('the nonce comes first and has 16 bytes; a nonce of another size is refused', () => {
    const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
    const encryptor = new PayloadEncryptor(randomBytes(16), nonce);
    const first = encryptor.push(Buffer.alloc(0));
    assert.ok(first[0]?.equals(nonce));
    assert.throws(() => new PayloadEncryptor(randomBytes(16), randomBytes(12)), RangeError);
  });

  test('push after finish and a second finish are refused', () => {
    const encryptor = new PayloadEncryptor(randomBytes(16));
    encryptor.finish();
    assert.throws(() => encryptor.push(Buffer.from('late')), /after finish/);
    assert.throws(() => encryptor.finish(), /twice/);
  });

  test('handOver gives what a caller needs to seal the chunks itself: the same payload as push and finish', () => {
    const fileKey = randomBytes(16);
    const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
    for (const size of [0, 1, CHUNK_SIZE, 3 * CHUNK_SIZE + 5]) {
      const plaintext = randomBytes(size);
      const streamed = new PayloadEncryptor(fileKey, nonce);
      const reference = Buffer.concat([...streamed.push(plaintext), ...streamed.finish()]);
      const handed = new PayloadEncryptor(fileKey, nonce).handOver();
      // Chunk n with counter n, the last one final: here all in one run.
      const byCaller = Buffer.concat([handed.nonce, ...nodeChunkCipher.sealChunks(handed.key, 0, plaintext, true)]);
      assert.ok(byCaller.equals(reference), `size ${size}`);
    }
    const used = new PayloadEncryptor(fileKey);
    used.push(Buffer.from('started'));
    assert.throws(() => used.handOver(), /after it was used/);
    const handedOver = new PayloadEncryptor(fileKey);
    handedOver.handOver();
    assert.throws(() => handedOver.push(Buffer.from('late')), /after finish/);
    assert.throws(() => handedOver.handOver(), /after it was used/);
  });

  test('the caller may reuse its buffer after push (data held back is copied)', () => {
    const fileKey = randomBytes(16);
    const encryptor = new PayloadEncryptor(fileKey);
    const block = Buffer.alloc(1000, 0x61);
    const pieces = [...encryptor.push(block)];
    block.fill(0x62);
    pieces.push(...encryptor.push(block), ...encryptor.finish());
    const decryptor = new PayloadDecryptor(fileKey);
    const plaintext = Buffer.concat([...decryptor.push(Buffer.concat(pieces)), decryptor.finish()]);
    assert.ok(plaintext.equals(Buffer.concat([Buffer.alloc(1000, 0x61), Buffer.alloc(1000, 0x62)])));
  });
});

/**
 * A ChunkCipher that writes into the `output` it is offered, as the agent's native one does, so that the
 * recycling bookkeeping (two buffers in turn, offsets inside a push) is tested here without native code. It
 * records every output buffer it was handed.
 */
function outputUsingCipher(): ChunkCipher & { readonly offered: Buffer[] } {
  const offered: Buffer[] = [];
  const place = (pieces: Buffer[], output: Buffer | undefined): Buffer[] => {
    if (output === undefined) return pieces;
    offered.push(output);
    const whole = Buffer.concat(pieces);
    assert.ok(output.length >= whole.length, 'offered output too small');
    whole.copy(output);
    return whole.length > 0 ? [output.subarray(0, whole.length)] : [];
  };
  return {
    name: 'test: writes into output',
    offered,
    sealChunks: (key, counter, plaintext, final, output) => place(nodeChunkCipher.sealChunks(key, counter, plaintext, final), output),
    openChunks(key, counter, ciphertext, final, output) {
      const opened = nodeChunkCipher.openChunks(key, counter, ciphertext, final);
      return { plaintext: place(opened.plaintext, output), authenticated: opened.authenticated };
    },
  };
}

describe('recycled output buffers', () => {
  const sameMemory = (a: Buffer, b: Buffer) => a.buffer === b.buffer;

  test('give the same bytes, stay valid until the push after next, and alternate between two buffers', () => {
    const fileKey = randomBytes(16);
    const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
    const plaintext = patternBytes(9 * CHUNK_SIZE + 123);
    // Unaligned pieces, so pushes both complete a held chunk and bring whole ones; the first two are the
    // largest, so neither buffer has to grow later.
    const cuts = [4 * CHUNK_SIZE + 7, 4 * CHUNK_SIZE, 5, CHUNK_SIZE + 111];
    const cipher = outputUsingCipher();
    const recycling = new PayloadEncryptor(fileKey, nonce, { cipher, recycleOutput: true });
    const reference = new PayloadEncryptor(fileKey, nonce);
    const written: Buffer[] = [];
    const expected: Buffer[] = [];
    let previous: { pieces: Buffer[]; copy: Buffer } | null = null;
    let offset = 0;
    for (const cut of cuts) {
      const block = plaintext.subarray(offset, offset + cut);
      offset += cut;
      const pieces = recycling.push(block);
      expected.push(...reference.push(block));
      // The previous push's result is still intact after this one: a writer may still be writing it.
      if (previous) assert.ok(Buffer.concat(previous.pieces).equals(previous.copy), 'the result of the push before was overwritten');
      previous = { pieces, copy: Buffer.concat(pieces) };
      written.push(previous.copy);
    }
    written.push(Buffer.concat(recycling.finish()));
    expected.push(...reference.finish());
    assert.ok(Buffer.concat(written).equals(Buffer.concat(expected)));
    const distinct = cipher.offered.filter((buffer, index) => cipher.offered.findIndex((other) => sameMemory(other, buffer)) === index);
    assert.equal(distinct.length, 2, 'two buffers take turns');

    const decryptingCipher = outputUsingCipher();
    const decryptor = new PayloadDecryptor(fileKey, { cipher: decryptingCipher, recycleOutput: true });
    const payload = Buffer.concat(written);
    const opened: Buffer[] = [];
    for (let at = 0; at < payload.length; at += 300_001) opened.push(Buffer.concat(decryptor.push(payload.subarray(at, at + 300_001))));
    opened.push(Buffer.from(decryptor.finish()));
    assert.ok(Buffer.concat(opened).equals(plaintext));
    assert.ok(decryptingCipher.offered.length > 2);
  });

  test('a full-size final chunk found inside a run is opened into the same buffer, at its place', () => {
    const fileKey = randomBytes(16);
    const plaintext = patternBytes(3 * CHUNK_SIZE);
    const payload = encrypt(fileKey, plaintext);
    const decryptor = new PayloadDecryptor(fileKey, { cipher: outputUsingCipher(), recycleOutput: true });
    const released = Buffer.concat(decryptor.push(payload));
    assert.ok(Buffer.concat([released, decryptor.finish()]).equals(plaintext));
  });
});
