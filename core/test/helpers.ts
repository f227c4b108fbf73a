// Shared helpers for the core tests. Not a test file itself (no `.test.ts`), so the runner skips it.
import { createHash } from 'node:crypto';
import { SealedFileError, type SealedFileErrorCode } from '../src/index.js';

/** Fixtures live next to the sources; compiled tests run from core/dist/test, two levels below core/. */
export const FIXTURES_DIR = new URL('../../test/fixtures/', import.meta.url);

export function sha256Hex(parts: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** Splits `bytes` into pieces at the given cut points (sorted, deduplicated, clamped to the length). */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(bytes.length, c))))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    pieces.push(Buffer.from(bytes.subarray(start, point)));
    start = point;
  }
  return pieces;
}

/** Splits `bytes` into pieces of at most `size` bytes (at least one piece, possibly empty). */
export function splitEvery(bytes: Uint8Array, size: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(Buffer.from(bytes.subarray(i, i + size)));
  return pieces.length === 0 ? [Buffer.alloc(0)] : pieces;
}

/** Deterministic pseudo-random bytes (a counter hashed), so failures reproduce without storing data. */
export function patternBytes(length: number, seed = 0): Buffer {
  const out = Buffer.alloc(length);
  let block = 0;
  for (let offset = 0; offset < length; offset += 32) {
    createHash('sha256').update(`${seed}:${block++}`).digest().copy(out, offset);
  }
  return out;
}

/** Collects a whole async sequence of byte pieces into one buffer. */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

/**
 * Runs `action` and returns the SealedFileError it throws. Fails the test if it succeeds or throws anything
 * else: a foreign exception type would mean an input reached code that did not expect it.
 */
export async function expectSealedFileError(action: () => unknown, allowed?: readonly SealedFileErrorCode[]): Promise<SealedFileError> {
  let outcome: unknown;
  try {
    await action();
  } catch (error) {
    outcome = error;
  }
  if (!(outcome instanceof SealedFileError)) {
    const description = outcome === undefined ? 'it succeeded' : `it threw ${outcome instanceof Error ? `${outcome.name}: ${outcome.message}` : typeof outcome}`;
    throw new Error(`expected a SealedFileError, but ${description}`, { cause: outcome });
  }
  if (allowed && !allowed.includes(outcome.code)) {
    throw new Error(`expected a SealedFileError with code ${allowed.join(' or ')}, got ${outcome.code}`, { cause: outcome });
  }
  return outcome;
}

/** An async iterator over the given pieces, the shape readHeader takes (a file read block by block). */
export async function* asyncPieces(pieces: readonly Uint8Array[]): AsyncGenerator<Uint8Array, void, undefined> {
  for (const piece of pieces) {
    await Promise.resolve();
    yield piece;
  }
}
