// Runs every vector of the C2SP age test kit (core/test/fixtures/age-testkit, see its README.md) through
// our age implementation and compares the outcome and the released plaintext with the vector's
// expectation. Vectors for features we do not implement are skipped explicitly, with the reason.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { inflateSync } from 'node:zlib';
import {
  dearmor,
  openStream,
  PassphraseIdentity,
  PayloadDecryptor,
  readHeader,
  SealedFileError,
  unlockHeader,
  X25519Identity,
  type Identity,
  type SealedFileErrorCode,
} from '../src/index.js';
import { asyncPieces, FIXTURES_DIR, sha256Hex, splitEvery } from './helpers.js';

type Expectation = 'success' | 'no match' | 'HMAC failure' | 'header failure' | 'payload failure' | 'armor failure';

const EXPECTATIONS: readonly string[] = ['success', 'no match', 'HMAC failure', 'header failure', 'payload failure', 'armor failure'];
const KNOWN_KEYS = new Set(['expect', 'payload', 'identity', 'passphrase', 'armored', 'file key', 'comment', 'compressed']);
const PQ_IDENTITY_PREFIX = 'AGE-SECRET-KEY-PQ-1';

/** How our error codes map onto the kit's outcome categories. */
const OUTCOME_OF_CODE: Record<SealedFileErrorCode, Expectation> = {
  HEADER_INVALID: 'header failure',
  HEADER_TOO_LARGE: 'header failure',
  PASSPHRASE_WORK_FACTOR_TOO_HIGH: 'header failure',
  NOT_AGE: 'header failure',
  HMAC_MISMATCH: 'HMAC failure',
  NO_MATCHING_IDENTITY: 'no match',
  PAYLOAD_INVALID: 'payload failure',
  ARMOR_INVALID: 'armor failure',
};

/** openStream, and the lower-level readHeader + unlockHeader + PayloadDecryptor the agent builds on. */
const OPEN_PATHS = ['openStream', 'building blocks'] as const;
type OpenPath = (typeof OPEN_PATHS)[number];

interface Vector {
  readonly name: string;
  readonly fields: ReadonlyMap<string, readonly string[]>;
  readonly ageFile: Buffer;
}

function field(vector: Vector, key: string): string | undefined {
  return vector.fields.get(key)?.[0];
}

function parseVector(name: string, raw: Buffer): Vector {
  const separator = raw.indexOf('\n\n');
  assert.ok(separator > 0, `${name}: no empty line after the vector header`);
  const fields = new Map<string, string[]>();
  for (const line of raw.subarray(0, separator).toString('utf8').split('\n')) {
    const colon = line.indexOf(': ');
    assert.ok(colon > 0, `${name}: malformed vector header line ${JSON.stringify(line)}`);
    const key = line.slice(0, colon);
    fields.set(key, [...(fields.get(key) ?? []), line.slice(colon + 2)]);
  }
  const body = raw.subarray(separator + 2);
  const compression = fields.get('compressed')?.[0];
  if (compression !== undefined) assert.equal(compression, 'zlib', `${name}: unknown compression`);
  return { name, fields, ageFile: compression === 'zlib' ? inflateSync(body) : Buffer.from(body) };
}

/** The reason we cannot run a vector, or null when we can. */
function reasonToSkip(vector: Vector): string | null {
  const unknown = [...vector.fields.keys()].filter((key) => !KNOWN_KEYS.has(key));
  if (unknown.length > 0) return `unknown vector keys (${unknown.join(', ')}): their meaning is not defined for this kit version`;
  const identities = vector.fields.get('identity') ?? [];
  const classic = identities.filter((identity) => !identity.startsWith(PQ_IDENTITY_PREFIX));
  if (identities.length > 0 && classic.length === 0 && (vector.fields.get('passphrase') ?? []).length === 0) {
    return 'the post-quantum mlkem768x25519 hybrid recipient is not implemented';
  }
  return null;
}

/**
 * Opens the age file with our implementation along `path`, feeding it in pieces of `pieceSize` bytes, and
 * reports the outcome and every plaintext byte released before the outcome was known. Post-quantum
 * identities are left out: a vector is only run without them when it also names a classic identity that
 * decides it (hybrid_x25519_arg: an X25519 stanza carrying a hybrid-sized share).
 */
async function openVector(vector: Vector, pieceSize: number, path: OpenPath): Promise<{ outcome: Expectation; released: Buffer[]; error?: SealedFileError }> {
  const identities: Identity[] = [
    ...(vector.fields.get('identity') ?? []).filter((text) => !text.startsWith(PQ_IDENTITY_PREFIX)).map((text) => X25519Identity.parse(text)),
    ...(vector.fields.get('passphrase') ?? []).map((passphrase) => new PassphraseIdentity(passphrase)),
  ];
  const released: Buffer[] = [];
  const pieces = splitEvery(vector.ageFile, pieceSize);
  const armored = field(vector, 'armored') === 'yes';
  try {
    if (path === 'openStream') {
      const opened = await openStream(armored ? dearmor(pieces) : pieces, identities);
      for await (const chunk of opened.plaintext) released.push(chunk);
    } else {
      // The building blocks the agent's file-level open uses.
      const source = armored ? dearmor(pieces) : asyncPieces(pieces);
      const { header, rest } = await readHeader(source);
      const decryptor = new PayloadDecryptor(await unlockHeader(header, identities));
      released.push(...decryptor.push(rest));
      for await (const piece of source) released.push(...decryptor.push(piece));
      released.push(decryptor.finish());
    }
    return { outcome: 'success', released };
  } catch (error) {
    // Anything but our typed error (a TypeError, a RangeError from Node's crypto) fails the test here.
    if (!(error instanceof SealedFileError)) throw error;
    return { outcome: OUTCOME_OF_CODE[error.code], released, error };
  }
}

const kitDir = new URL('age-testkit/', FIXTURES_DIR);
const vectorNames = readdirSync(kitDir)
  .filter((name) => name !== 'README.md')
  .sort();

describe('C2SP age test kit', () => {
  test('the kit is complete (guards against a partial copy)', () => {
    assert.equal(vectorNames.length, 143);
  });

  for (const name of vectorNames) {
    test(name, async (t) => {
      const vector = parseVector(name, readFileSync(new URL(name, kitDir)));
      const expected = field(vector, 'expect');
      assert.ok(expected !== undefined && EXPECTATIONS.includes(expected), `${name}: unknown expectation ${String(expected)}`);
      const skip = reasonToSkip(vector);
      if (skip !== null) {
        t.skip(skip);
        return;
      }
      // Whole file, then small pieces: the outcome must not depend on how the bytes arrive, nor on the API.
      for (const path of OPEN_PATHS) {
        for (const pieceSize of [vector.ageFile.length + 1, 4099]) {
          const how = `${path}, pieces of ${pieceSize} B`;
          const { outcome, released, error } = await openVector(vector, pieceSize, path);
          assert.equal(outcome, expected, `${name} (${how}): got ${outcome}${error ? ` (${error.code}: ${error.message})` : ''}`);
          const payload = field(vector, 'payload');
          if (payload !== undefined) {
            assert.equal(sha256Hex(released), payload, `${name} (${how}): released plaintext differs`);
          } else if (expected !== 'success' && expected !== 'payload failure') {
            assert.equal(released.length, 0, `${name} (${how}): no plaintext may be released when the header fails`);
          }
        }
      }
      if (name === 'scrypt_work_factor_23') {
        // The bound must be checked before any scrypt work, which is what this code (not a scrypt error) shows.
        const { error } = await openVector(vector, vector.ageFile.length + 1, 'openStream');
        assert.equal(error?.code, 'PASSPHRASE_WORK_FACTOR_TOO_HIGH');
      }
    });
  }
});
