// Unit tests of the STREAM payload's contract (the property tests cover the randomised cases): when each
// chunk is released, how a failure after good chunks is reported, and misuse of the objects.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, PAYLOAD_NONCE_SIZE, PayloadDecryptor, PayloadEncryptor } from '../src/index.js';
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
