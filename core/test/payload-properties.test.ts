// Property tests (fast-check) of the STREAM payload and of whole sealed files: round trips at sizes around
// the chunk boundaries with arbitrary push splits, and tampering (bit flips, truncation, swapped chunks)
// that must always end in a typed SealedFileError, releasing no byte of a chunk that failed.
//
// The runs are deterministic (a fixed seed) so CI is reproducible; set FC_SEED to explore other cases.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  CHUNK_SIZE,
  createSealer,
  ENCRYPTED_CHUNK_SIZE,
  openStream,
  PAYLOAD_NONCE_SIZE,
  PayloadDecryptor,
  PayloadEncryptor,
  SealedFileError,
  X25519Identity,
  type SealedFileErrorCode,
} from '../src/index.js';
import { collect, patternBytes, splitAt } from './helpers.js';

const TAG = ENCRYPTED_CHUNK_SIZE - CHUNK_SIZE;
const seedFromEnvironment = Number(process.env['FC_SEED']);
const FC_PARAMETERS = { seed: Number.isInteger(seedFromEnvironment) ? seedFromEnvironment : 20_240_611, numRuns: 60 };

/** Plaintext sizes: mostly within a few bytes of a chunk boundary (0..3 chunks), sometimes anywhere. */
const sizeArbitrary = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -2, max: 2 })).map(([chunks, delta]) => Math.max(0, chunks * CHUNK_SIZE + delta)),
  fc.integer({ min: 0, max: 3 * CHUNK_SIZE + 100 }),
);
/** Cut points as fractions, so they scale with whatever length they are applied to. */
const cutsArbitrary = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });

function cutsFor(length: number, fractions: readonly number[]): number[] {
  return fractions.map((f) => Math.floor(f * length));
}

function expectedCiphertextLength(size: number): number {
  const chunks = Math.max(1, Math.ceil(size / CHUNK_SIZE));
  return PAYLOAD_NONCE_SIZE + size + chunks * TAG;
}

interface SealedSample {
  readonly plaintext: Buffer;
  readonly file: Buffer;
  readonly headerLength: number;
}

const identity = X25519Identity.generate();

function sealSample(size: number, seed: number): SealedSample {
  const plaintext = patternBytes(size, seed);
  const sealer = createSealer({ recipients: [identity.recipient], meta: { zoneId: 'lgwan', keyVersion: 1 } });
  const file = Buffer.concat([sealer.header, ...sealer.encryptor.push(plaintext), ...sealer.encryptor.finish()]);
  return { plaintext, file, headerLength: sealer.header.length };
}

/** Opens through the public streaming API; returns what was released and how it ended. */
async function openPieces(pieces: readonly Buffer[]): Promise<{ released: Buffer; error: SealedFileError | null }> {
  const parts: Buffer[] = [];
  try {
    const opened = await openStream(pieces, [identity]);
    for await (const part of opened.plaintext) parts.push(part);
    return { released: Buffer.concat(parts), error: null };
  } catch (error) {
    // Any other exception type is a crash on hostile input: let it fail the property.
    if (!(error instanceof SealedFileError)) throw error;
    return { released: Buffer.concat(parts), error };
  }
}

/** Index of the payload chunk that holds file offset `offset` (-1 for the nonce). */
function chunkIndexAt(sample: SealedSample, offset: number): number {
  const intoPayload = offset - sample.headerLength - PAYLOAD_NONCE_SIZE;
  return intoPayload < 0 ? -1 : Math.floor(intoPayload / ENCRYPTED_CHUNK_SIZE);
}

function assertReleasedExactlyChunksBefore(sample: SealedSample, released: Buffer, chunkIndex: number): void {
  const expected = sample.plaintext.subarray(0, Math.max(0, chunkIndex) * CHUNK_SIZE);
  assert.equal(released.length, expected.length, 'released plaintext must be exactly the chunks before the damaged one');
  assert.ok(released.equals(expected), 'released plaintext must be the genuine plaintext');
}

const HEADER_CODES: readonly SealedFileErrorCode[] = ['HEADER_INVALID', 'HMAC_MISMATCH', 'NO_MATCHING_IDENTITY', 'NOT_AGE'];

describe('payload round trip (PayloadEncryptor / PayloadDecryptor)', () => {
  test('any size and any push splits decrypt to the plaintext; the ciphertext does not depend on the splits', () => {
    fc.assert(
      fc.property(sizeArbitrary, cutsArbitrary, cutsArbitrary, fc.integer(), (size, encryptCuts, decryptCuts, seed) => {
        const plaintext = patternBytes(size, seed);
        const fileKey = randomBytes(16);
        const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
        const encryptor = new PayloadEncryptor(fileKey, nonce);
        const pieces: Buffer[] = [];
        for (const piece of splitAt(plaintext, cutsFor(size, encryptCuts))) pieces.push(...encryptor.push(piece));
        pieces.push(...encryptor.finish());
        const ciphertext = Buffer.concat(pieces);
        assert.equal(ciphertext.length, expectedCiphertextLength(size));

        const oneShot = new PayloadEncryptor(fileKey, nonce);
        assert.ok(Buffer.concat([...oneShot.push(plaintext), ...oneShot.finish()]).equals(ciphertext));

        const decryptor = new PayloadDecryptor(fileKey);
        const out: Buffer[] = [];
        for (const piece of splitAt(ciphertext, cutsFor(ciphertext.length, decryptCuts))) out.push(...decryptor.push(piece));
        out.push(decryptor.finish());
        assert.ok(Buffer.concat(out).equals(plaintext));
      }),
      FC_PARAMETERS,
    );
  });

  test('a wrong file key fails at the first chunk with PAYLOAD_INVALID and releases nothing', () => {
    fc.assert(
      fc.property(sizeArbitrary, cutsArbitrary, (size, cuts) => {
        const encryptor = new PayloadEncryptor(randomBytes(16));
        const ciphertext = Buffer.concat([...encryptor.push(patternBytes(size)), ...encryptor.finish()]);
        const decryptor = new PayloadDecryptor(randomBytes(16));
        const released: Buffer[] = [];
        assert.throws(() => {
          for (const piece of splitAt(ciphertext, cutsFor(ciphertext.length, cuts))) released.push(...decryptor.push(piece));
          released.push(decryptor.finish());
        }, { name: 'SealedFileError', code: 'PAYLOAD_INVALID' });
        assert.equal(Buffer.concat(released).length, 0);
      }),
      FC_PARAMETERS,
    );
  });
});

describe('sealed files through openStream', () => {
  test('round trip with any read splits', async () => {
    await fc.assert(
      fc.asyncProperty(sizeArbitrary, cutsArbitrary, fc.integer(), async (size, cuts, seed) => {
        const sample = sealSample(size, seed);
        const opened = await openStream(splitAt(sample.file, cutsFor(sample.file.length, cuts)), [identity]);
        assert.equal(opened.inspection.kind, 'exitseal');
        assert.ok((await collect(opened.plaintext)).equals(sample.plaintext));
      }),
      FC_PARAMETERS,
    );
  });

  test('any single flipped bit fails with a typed error and releases only the chunks before it', async () => {
    await fc.assert(
      fc.asyncProperty(sizeArbitrary, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 0, max: 7 }), cutsArbitrary, fc.boolean(), async (size, where, bit, cuts, inHeader) => {
        const sample = sealSample(size, size);
        // Half the flips land in the header, which is small next to the payload but has the most rules.
        const offset = inHeader ? Math.floor(where * sample.headerLength) : sample.headerLength + Math.floor(where * (sample.file.length - sample.headerLength));
        const damaged = Buffer.from(sample.file);
        damaged[offset] = (damaged[offset] ?? 0) ^ (1 << bit);
        const { released, error } = await openPieces(splitAt(damaged, cutsFor(damaged.length, cuts)));
        assert.ok(error !== null, `flipping bit ${bit} of byte ${offset} went unnoticed`);
        if (offset < sample.headerLength) {
          assert.ok(HEADER_CODES.includes(error.code), `header damage gave ${error.code}`);
          assert.equal(released.length, 0);
        } else {
          assert.equal(error.code, 'PAYLOAD_INVALID');
          assertReleasedExactlyChunksBefore(sample, released, chunkIndexAt(sample, offset));
        }
      }),
      { ...FC_PARAMETERS, numRuns: 300 },
    );
  });

  test('any truncation fails with a typed error and releases only whole verified chunks', async () => {
    await fc.assert(
      fc.asyncProperty(sizeArbitrary, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), cutsArbitrary, async (size, where, cuts) => {
        const sample = sealSample(size, size);
        const keep = Math.floor(where * sample.file.length);
        const truncated = sample.file.subarray(0, keep);
        const { released, error } = await openPieces(splitAt(truncated, cutsFor(keep, cuts)));
        assert.ok(error !== null, `truncation to ${keep} of ${sample.file.length} bytes went unnoticed`);
        if (keep < sample.headerLength + PAYLOAD_NONCE_SIZE) {
          assert.ok(['HEADER_INVALID', 'NOT_AGE'].includes(error.code), `truncation inside the header gave ${error.code}`);
          assert.equal(released.length, 0);
        } else {
          assert.equal(error.code, 'PAYLOAD_INVALID');
          // Chunks that arrived whole may go out; the one cut short may not.
          const wholeChunks = Math.floor((keep - sample.headerLength - PAYLOAD_NONCE_SIZE) / ENCRYPTED_CHUNK_SIZE);
          assertReleasedExactlyChunksBefore(sample, released, wholeChunks);
        }
      }),
      { ...FC_PARAMETERS, numRuns: 200 },
    );
  });

  test('swapping two chunks fails with PAYLOAD_INVALID and releases only the chunks before the first swapped one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 0, max: CHUNK_SIZE }), fc.nat(), fc.nat(), cutsArbitrary, async (chunks, tail, a, b, cuts) => {
        const size = (chunks - 1) * CHUNK_SIZE + Math.max(1, tail);
        const sample = sealSample(size, size);
        const count = Math.ceil(size / CHUNK_SIZE);
        const first = a % count;
        const second = (first + 1 + (b % (count - 1))) % count;
        const [low, high] = first < second ? [first, second] : [second, first];
        const payloadStart = sample.headerLength + PAYLOAD_NONCE_SIZE;
        const range = (index: number): [number, number] => [payloadStart + index * ENCRYPTED_CHUNK_SIZE, Math.min(sample.file.length, payloadStart + (index + 1) * ENCRYPTED_CHUNK_SIZE)];
        const [lowStart, lowEnd] = range(low);
        const [highStart, highEnd] = range(high);
        const swapped = Buffer.concat([
          sample.file.subarray(0, lowStart),
          sample.file.subarray(highStart, highEnd),
          sample.file.subarray(lowEnd, highStart),
          sample.file.subarray(lowStart, lowEnd),
          sample.file.subarray(highEnd),
        ]);
        assert.equal(swapped.length, sample.file.length);
        const { released, error } = await openPieces(splitAt(swapped, cutsFor(swapped.length, cuts)));
        assert.equal(error?.code, 'PAYLOAD_INVALID');
        assertReleasedExactlyChunksBefore(sample, released, low);
      }),
      FC_PARAMETERS,
    );
  });
});
