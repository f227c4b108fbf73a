// Unit tests of the ExitSeal sealed-file layer: readHeader, inspect, isSealed, unlockHeader,
// createSealer with its metadata stanza, and rekeyForPassphrase.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Encrypter } from 'age-encryption';
import {
  AGE_MAGIC,
  createSealer,
  encodeHeader,
  inspect,
  isSealed,
  MAX_HEADER_BYTES,
  MAX_SCRYPT_LOG_N,
  META_STANZA_TYPE,
  openStream,
  parseHeader,
  PassphraseIdentity,
  readHeader,
  rekeyForPassphrase,
  SealedFileError,
  unlockHeader,
  X25519Identity,
  type SealOptions,
} from '../src/index.js';
import { decodeMetaStanza, encodeMetaStanza } from '../src/sealed/meta.js';
import { asyncPieces, collect, expectSealedFileError, patternBytes, splitEvery } from './helpers.js';

const zone = X25519Identity.generate();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function seal(plaintext: Buffer, options: Partial<SealOptions> = {}): { file: Buffer; header: Buffer } {
  const sealer = createSealer({ recipients: [zone.recipient], meta: { zoneId: 'mynumber', keyVersion: 1 }, ...options });
  const file = Buffer.concat([sealer.header, ...sealer.encryptor.push(plaintext), ...sealer.encryptor.finish()]);
  return { file, header: sealer.header };
}

/** Pieces that count how many were pulled, to see how far a reader went into a stream. */
function countingSource(pieces: readonly Buffer[]): { source: AsyncIterator<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const inner = asyncPieces(pieces);
  return {
    source: {
      next: async () => {
        const next = await inner.next();
        if (!next.done) pulled++;
        return next;
      },
    },
    pulled: () => pulled,
  };
}

/** A header of about `bytes` bytes: many unknown stanzas ahead of the X25519 one, with a valid MAC. */
async function largeHeaderFile(bytes: number): Promise<{ file: Buffer; headerLength: number; plaintext: Buffer }> {
  const plaintext = patternBytes(1000, 9);
  const { file, header } = seal(plaintext);
  const { header: parsed, rest } = await readHeader(asyncPieces([file]));
  const fileKey = await unlockHeader(parsed, [zone]);
  const grease = { type: 'grease', args: ['padding'], body: Buffer.alloc(200) };
  const count = Math.floor((bytes - header.length) / 290);
  const big = encodeHeader([...Array<typeof grease>(count).fill(grease), ...parsed.stanzas], fileKey);
  return { file: Buffer.concat([big, rest]), headerLength: big.length, plaintext };
}

describe('readHeader', () => {
  test('finds the header however the bytes are split, and returns the bytes after it', async () => {
    const { file, header } = seal(patternBytes(100));
    for (const size of [1, 2, 7, 64, header.length, file.length]) {
      const { header: parsed, rest } = await readHeader(asyncPieces(splitEvery(file, size)));
      assert.equal(parsed.length, header.length);
      assert.ok(Buffer.concat([header, rest]).equals(file.subarray(0, header.length + rest.length)));
    }
  });

  test('a header near the 64 KiB bound, fed one byte at a time, is read without reading far past it', async () => {
    const { file, headerLength } = await largeHeaderFile(MAX_HEADER_BYTES - 2000);
    assert.ok(headerLength > MAX_HEADER_BYTES - 3000 && headerLength <= MAX_HEADER_BYTES);
    const counting = countingSource(splitEvery(file, 1));
    const { header } = await readHeader(counting.source);
    assert.equal(header.length, headerLength);
    // It stops once the MAC line has arrived, not at the end of the stream.
    assert.equal(counting.pulled(), headerLength);
  });

  test('plaintext is refused after the first piece, not after reading the whole stream', async () => {
    const counting = countingSource(splitEvery(patternBytes(1_000_000), 4096));
    await expectSealedFileError(() => readHeader(counting.source), ['NOT_AGE']);
    assert.equal(counting.pulled(), 1);
  });

  test('an endless stream of stanzas stops at the header size bound', async () => {
    let pulled = 0;
    const endless: AsyncIterator<Uint8Array> = {
      next: () => Promise.resolve({ done: false, value: pulled++ === 0 ? Buffer.from(`${AGE_MAGIC}\n`) : Buffer.from('-> grease\n\n') }),
    };
    await expectSealedFileError(() => readHeader(endless), ['HEADER_TOO_LARGE']);
    assert.ok(pulled * 11 < 3 * MAX_HEADER_BYTES, `read ${pulled} pieces`);
  });

  test('an endless line without a newline stops at the line bound', async () => {
    let pulled = 0;
    const endless: AsyncIterator<Uint8Array> = {
      next: () => Promise.resolve({ done: false, value: pulled++ === 0 ? Buffer.from(`${AGE_MAGIC}\n-> `) : Buffer.alloc(100, 0x41) }),
    };
    await expectSealedFileError(() => readHeader(endless), ['HEADER_INVALID']);
    assert.ok(pulled * 100 < 3 * MAX_HEADER_BYTES, `read ${pulled} pieces`);
  });

  test('an empty stream is not age; a stream ending inside the header is a truncated header', async () => {
    await expectSealedFileError(() => readHeader(asyncPieces([])), ['NOT_AGE']);
    const { header } = seal(Buffer.alloc(0));
    for (const keep of [1, AGE_MAGIC.length + 1, header.length - 1]) {
      await expectSealedFileError(() => readHeader(asyncPieces(splitEvery(header.subarray(0, keep), 3))), ['HEADER_INVALID']);
    }
  });
});

describe('inspect and isSealed', () => {
  test('an ExitSeal file: kind, metadata, stanza types and header length', () => {
    const fileId = '0b7f1d3e-8c1a-4e8b-9a55-1d2c3b4a5f60';
    const { file, header } = seal(patternBytes(10), { meta: { zoneId: 'lgwan', keyVersion: 7, fileId } });
    const seen = inspect(file);
    assert.deepEqual(seen, {
      kind: 'exitseal',
      meta: { formatVersion: 1, zoneId: 'lgwan', keyVersion: 7, fileId },
      stanzaTypes: [META_STANZA_TYPE, 'X25519'],
      headerLength: header.length,
    });
    assert.equal(isSealed(file), true);
    assert.equal(isSealed(header), true);
  });

  test('a foreign age file is "age", not ExitSeal', async () => {
    const encrypter = new Encrypter();
    encrypter.addRecipient(zone.recipient.toString());
    const file = await encrypter.encrypt('from elsewhere');
    const seen = inspect(file);
    assert.equal(seen.kind, 'age');
    assert.equal(seen.meta, null);
    assert.deepEqual(seen.stanzaTypes, ['X25519']);
    assert.equal(isSealed(file), false);
    // A plain age file sealed by core without metadata is the same.
    assert.equal(inspect(seal(Buffer.alloc(3), { meta: undefined }).file).kind, 'age');
  });

  test('plaintext: empty, binary, text, a different age version, and short files that begin like the version line', () => {
    const plaintexts = [
      Buffer.alloc(0),
      patternBytes(5000),
      Buffer.from('Quarterly report\n'),
      Buffer.from('age-encryption.org/v2\n-> X25519 abc\n'),
      Buffer.from('a'),
      Buffer.from('age'),
      Buffer.from(AGE_MAGIC),
    ];
    for (const bytes of plaintexts) {
      assert.equal(inspect(bytes).kind, 'plaintext', JSON.stringify(bytes.toString('latin1').slice(0, 30)));
      assert.equal(isSealed(bytes), false);
    }
  });

  test('a truncated or malformed header is an error for inspect (not plaintext to seal over) and false for isSealed', () => {
    const { header } = seal(Buffer.alloc(0));
    const broken = [header.subarray(0, AGE_MAGIC.length + 1), header.subarray(0, header.length - 1), Buffer.from(`${AGE_MAGIC}\n-> X25519\n!!!\n--- x\n`)];
    for (const bytes of broken) {
      assert.throws(() => inspect(bytes), { name: 'SealedFileError', code: 'HEADER_INVALID' });
      assert.equal(isSealed(bytes), false);
    }
  });

  test('with atEof false, a partial header asks for more instead of calling it plaintext', () => {
    const { header } = seal(Buffer.alloc(0));
    assert.throws(() => inspect(header.subarray(0, 5), false), { name: 'SealedFileError', code: 'HEADER_INVALID', message: /pass more/ });
    assert.throws(() => inspect(header.subarray(0, 40), false), { name: 'SealedFileError', code: 'HEADER_INVALID', message: /pass more/ });
  });

  test('two metadata stanzas make a header invalid', async () => {
    const { file } = seal(Buffer.alloc(0));
    const { header: parsed } = await readHeader(asyncPieces([file]));
    const fileKey = await unlockHeader(parsed, [zone]);
    const doubled = encodeHeader([parsed.stanzas[0]!, ...parsed.stanzas], fileKey);
    assert.throws(() => inspect(doubled), { name: 'SealedFileError', code: 'HEADER_INVALID' });
    assert.equal(isSealed(doubled), false);
  });

  test('isSealed never throws, whatever the bytes', () => {
    const { header } = seal(Buffer.alloc(0));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat({ max: header.length }), (noise, cut) => {
        assert.equal(typeof isSealed(noise), 'boolean');
        assert.equal(typeof isSealed(Buffer.concat([header.subarray(0, cut), noise])), 'boolean');
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});

describe('unlockHeader', () => {
  test('returns the file key for the right identity; a stranger gets NO_MATCHING_IDENTITY', async () => {
    const { file } = seal(Buffer.alloc(10));
    const { header } = await readHeader(asyncPieces([file]));
    assert.equal((await unlockHeader(header, [X25519Identity.generate(), zone])).length, 16);
    const error = await expectSealedFileError(() => unlockHeader(header, [X25519Identity.generate()]), ['NO_MATCHING_IDENTITY']);
    assert.equal(error.kind, 'client');
  });

  test('an altered metadata stanza (same length, still valid) fails the MAC', async () => {
    const { file } = seal(Buffer.alloc(10), { meta: { zoneId: 'mynumber', keyVersion: 1 } });
    const altered = Buffer.from(file.toString('latin1').replace(' mynumber 1 ', ' mynumber 2 '), 'latin1');
    assert.equal(inspect(altered).meta?.keyVersion, 2);
    await expectSealedFileError(() => openStream([altered], [zone]), ['HMAC_MISMATCH']);
  });

  test('a scrypt stanza next to another stanza is refused before any key is tried', async () => {
    const fileKey = Buffer.alloc(16, 1);
    const copy = await rekeyForPassphrase(fileKey, { passphrase: 'p', logN: 2 });
    const scrypt = parseHeader(copy.header).stanzas[0]!;
    const mixed = parseHeader(encodeHeader([scrypt, zone.recipient.wrap(fileKey)], fileKey));
    await expectSealedFileError(() => unlockHeader(mixed, [zone]), ['HEADER_INVALID']);
    await expectSealedFileError(() => unlockHeader(mixed, [new PassphraseIdentity('p')]), ['HEADER_INVALID']);
  });
});

describe('createSealer and the metadata stanza', () => {
  test('a generated file id is a lower-case UUID v4; a given one is kept; the meta returned is what the header says', () => {
    const generated = createSealer({ recipients: [zone.recipient], meta: { zoneId: 'internet', keyVersion: 12 } });
    assert.match(generated.meta?.fileId ?? '', UUID);
    assert.deepEqual(inspect(generated.header).meta, generated.meta);
    const fileId = '6f9619ff-8b86-4011-b42d-00c04fc964ff';
    assert.equal(createSealer({ recipients: [zone.recipient], meta: { zoneId: 'internet', keyVersion: 1, fileId } }).meta?.fileId, fileId);
    assert.equal(createSealer({ recipients: [zone.recipient] }).meta, null);
  });

  test('two sealings of the same plaintext share nothing (fresh file key, ephemeral share and nonce)', () => {
    const a = seal(patternBytes(100));
    const b = seal(patternBytes(100));
    assert.notDeepEqual(parseHeader(a.file).stanzas[1], parseHeader(b.file).stanzas[1]);
    assert.ok(!a.file.subarray(a.header.length).equals(b.file.subarray(b.header.length)));
  });

  test('bad seal options are refused before anything is written', () => {
    assert.throws(() => createSealer({ recipients: [] }), RangeError);
    for (const zoneId of ['', 'MyNumber', '-lead', 'a'.repeat(64), 'zone id', 'zone/1', 'ゾーン']) {
      assert.throws(() => createSealer({ recipients: [zone.recipient], meta: { zoneId, keyVersion: 1 } }), { code: 'HEADER_INVALID' }, zoneId);
    }
    for (const keyVersion of [0, -1, 1.5, 1_000_000_000, Number.NaN]) {
      assert.throws(() => createSealer({ recipients: [zone.recipient], meta: { zoneId: 'z', keyVersion } }), RangeError, String(keyVersion));
    }
    for (const fileId of ['6F9619FF-8B86-4011-B42D-00C04FC964FF', 'not-a-uuid', '']) {
      assert.throws(() => createSealer({ recipients: [zone.recipient], meta: { zoneId: 'z', keyVersion: 1, fileId } }), RangeError, fileId);
    }
  });

  test('zone ids at the edges of the pattern are accepted', () => {
    for (const zoneId of ['a', '0', 'a'.repeat(63), 'my-number_2']) {
      assert.equal(createSealer({ recipients: [zone.recipient], meta: { zoneId, keyVersion: 999_999_999 } }).meta?.zoneId, zoneId);
    }
  });

  test('decoding refuses every malformed metadata stanza', () => {
    const good = encodeMetaStanza({ zoneId: 'lgwan', keyVersion: 4, fileId: '6f9619ff-8b86-4011-b42d-00c04fc964ff' });
    assert.deepEqual(decodeMetaStanza(good), { formatVersion: 1, zoneId: 'lgwan', keyVersion: 4, fileId: '6f9619ff-8b86-4011-b42d-00c04fc964ff' });
    const variants: Array<{ args: string[]; body?: Buffer }> = [
      { args: ['2', 'lgwan', '4', '6f9619ff-8b86-4011-b42d-00c04fc964ff'] },
      { args: [] },
      { args: ['1', 'lgwan', '4'] },
      { args: ['1', 'lgwan', '4', '6f9619ff-8b86-4011-b42d-00c04fc964ff', 'extra'] },
      { args: ['1', 'LGWAN', '4', '6f9619ff-8b86-4011-b42d-00c04fc964ff'] },
      { args: ['1', 'lgwan', '04', '6f9619ff-8b86-4011-b42d-00c04fc964ff'] },
      { args: ['1', 'lgwan', '0', '6f9619ff-8b86-4011-b42d-00c04fc964ff'] },
      { args: ['1', 'lgwan', '4', '6F9619FF-8B86-4011-B42D-00C04FC964FF'] },
      { args: [...good.args], body: Buffer.from([0]) },
    ];
    for (const { args, body } of variants) {
      assert.throws(() => decodeMetaStanza({ type: META_STANZA_TYPE, args, body: body ?? Buffer.alloc(0) }), { name: 'SealedFileError', code: 'HEADER_INVALID' }, args.join(' '));
    }
  });
});

describe('rekeyForPassphrase', () => {
  async function sealedAndKey(plaintext: Buffer): Promise<{ fileKey: Buffer; payload: Buffer }> {
    const { file } = seal(plaintext);
    const { header, rest } = await readHeader(asyncPieces([file]));
    return { fileKey: await unlockHeader(header, [zone]), payload: rest };
  }

  test('the new header has exactly one stanza, scrypt, and no ExitSeal metadata; the old payload opens with the passphrase', async () => {
    const plaintext = patternBytes(70_000, 5);
    const { fileKey, payload } = await sealedAndKey(plaintext);
    const copy = await rekeyForPassphrase(fileKey, { passphrase: 'an approved passphrase', logN: 10 });
    const parsed = parseHeader(copy.header);
    assert.equal(parsed.length, copy.header.length);
    assert.equal(parsed.stanzas.length, 1);
    assert.equal(parsed.stanzas[0]?.type, 'scrypt');
    assert.deepEqual(parsed.stanzas[0]?.args[1], '10');
    assert.equal(Buffer.from(parsed.stanzas[0]?.args[0] ?? '', 'base64').length, 16);
    assert.equal(inspect(copy.header).kind, 'age');
    assert.equal(copy.passphrase, 'an approved passphrase');

    const file = Buffer.concat([copy.header, payload]);
    const opened = await openStream(splitEvery(file, 30_000), [new PassphraseIdentity('an approved passphrase')]);
    assert.ok((await collect(opened.plaintext)).equals(plaintext));
  });

  test('the copy does not open with the zone key or a wrong passphrase, nor above the reader\'s work-factor bound', async () => {
    const { fileKey, payload } = await sealedAndKey(Buffer.from('secret'));
    const copy = await rekeyForPassphrase(fileKey, { logN: 10 });
    const file = Buffer.concat([copy.header, payload]);
    await expectSealedFileError(() => openStream([file], [zone]), ['NO_MATCHING_IDENTITY']);
    await expectSealedFileError(() => openStream([file], [new PassphraseIdentity(`${copy.passphrase}x`)]), ['NO_MATCHING_IDENTITY']);
    await expectSealedFileError(() => openStream([file], [new PassphraseIdentity(copy.passphrase, 9)]), ['PASSPHRASE_WORK_FACTOR_TOO_HIGH']);
    assert.ok((await collect((await openStream([file], [new PassphraseIdentity(copy.passphrase)])).plaintext)).equals(Buffer.from('secret')));
  });

  test('without a passphrase it generates one; two copies differ in salt; a wrong-size key is refused', async () => {
    const fileKey = Buffer.alloc(16, 7);
    const a = await rekeyForPassphrase(fileKey, { logN: 4 });
    const b = await rekeyForPassphrase(fileKey, { logN: 4 });
    assert.match(a.passphrase, /^[a-z2-9]{4}(-[a-z2-9]{4}){5}$/);
    assert.notEqual(a.passphrase, b.passphrase);
    assert.notEqual(parseHeader(a.header).stanzas[0]?.args[0], parseHeader(b.header).stanzas[0]?.args[0]);
    await assert.rejects(rekeyForPassphrase(Buffer.alloc(15)), RangeError);
  });

  test('a work factor the readers would refuse (or scrypt cannot compute) is refused when writing', async () => {
    for (const logN of [0, -1, 1.5, Number.NaN, MAX_SCRYPT_LOG_N + 1, 99]) {
      await assert.rejects(rekeyForPassphrase(Buffer.alloc(16), { logN }), RangeError, String(logN));
    }
    const lowest = await rekeyForPassphrase(Buffer.alloc(16), { passphrase: 'p', logN: 1 });
    assert.equal(parseHeader(lowest.header).stanzas[0]?.args[1], '1');
  });
});

describe('error values', () => {
  test('a SealedFileError carries a stable code, the name and kind "client" (bad input, not a fault)', async () => {
    const error = await expectSealedFileError(() => openStream([Buffer.from('plain text')], [zone]));
    assert.ok(error instanceof SealedFileError);
    assert.equal(error.code, 'NOT_AGE');
    assert.equal(error.kind, 'client');
    assert.equal(error.name, 'SealedFileError');
  });
});

describe('openStream and its source', () => {
  /** A source like a file reader: its finally block (closing the file) must run however the read ends. */
  function trackedSource(file: Buffer, pieceSize: number): { source: AsyncIterable<Uint8Array>; closed: () => boolean } {
    let closed = false;
    async function* read(): AsyncGenerator<Uint8Array, void, undefined> {
      try {
        for (const piece of splitEvery(file, pieceSize)) {
          await Promise.resolve();
          yield piece;
        }
      } finally {
        closed = true;
      }
    }
    return { source: read(), closed: () => closed };
  }

  test('the source is closed after a header failure, a payload failure, a consumer that stops early, and success', async () => {
    const plaintext = patternBytes(3 * 65536);
    const { file } = seal(plaintext);

    const wrongKey = trackedSource(file, 1000);
    await expectSealedFileError(() => openStream(wrongKey.source, [X25519Identity.generate()]), ['NO_MATCHING_IDENTITY']);
    assert.ok(wrongKey.closed(), 'after a header failure');

    const damaged = Buffer.from(file);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 100) ^ 1, damaged.length - 100);
    const badPayload = trackedSource(damaged, 1000);
    const opened = await openStream(badPayload.source, [zone]);
    await expectSealedFileError(() => collect(opened.plaintext), ['PAYLOAD_INVALID']);
    assert.ok(badPayload.closed(), 'after a payload failure');

    const early = trackedSource(file, 1000);
    for await (const part of (await openStream(early.source, [zone])).plaintext) {
      assert.ok(part.length > 0);
      break;
    }
    assert.ok(early.closed(), 'after the consumer stopped early');

    const whole = trackedSource(file, 1000);
    assert.ok((await collect((await openStream(whole.source, [zone])).plaintext)).equals(plaintext));
    assert.ok(whole.closed(), 'after success');
  });
});
