// Fuzz-style test of the header parser and everything above it: thousands of mutated headers (bit flips,
// inserted and deleted bytes, duplicated, dropped and swapped lines, huge lines, random bytes, long runs
// without a newline, cut base64, CRLF, oversized headers) go through parseHeader, inspect, isSealed and
// openStream. The only acceptable failures are SealedFileError (and HeaderIncomplete from parseHeader,
// which is its way of asking for more bytes); any other exception type means hostile input reached code
// that did not expect it. A deterministic generator keeps the cases the same on every run.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createSealer,
  encodeHeader,
  HeaderIncomplete,
  inspect,
  isSealed,
  MAX_HEADER_BYTES,
  openStream,
  parseHeader,
  PassphraseIdentity,
  readHeader,
  rekeyForPassphrase,
  SealedFileError,
  unlockHeader,
  X25519Identity,
  type SealedFileErrorCode,
} from '../src/index.js';
import { asyncPieces, patternBytes, splitAt } from './helpers.js';

// FUZZ_SEED and FUZZ_CASES explore beyond the fixed CI run (e.g. FUZZ_CASES=100000 for a long session).
const CASES = Number.parseInt(process.env['FUZZ_CASES'] ?? '', 10) || 5000;
const FUZZ_SEED = Number.parseInt(process.env['FUZZ_SEED'] ?? '', 10) || 0x5eed_a9e;
/** A low bound keeps a mutated work factor from costing seconds of scrypt per case. */
const FUZZ_MAX_LOG_N = 12;
const PASSPHRASE = 'fuzz-passphrase';

/** mulberry32: a tiny seeded PRNG, enough to make the mutations reproducible. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const below = (random: Random, n: number): number => Math.floor(random() * n);
const pick = <T>(random: Random, items: readonly T[]): T => items[below(random, items.length)] as T;

const INTERESTING_BYTES = [0x0a, 0x0d, 0x20, 0x2d, 0x3e, 0x3d, 0x2b, 0x2f, 0x41, 0x00, 0x7f, 0x80, 0xff, 0x31];
const BASE64_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function lines(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a) {
      out.push(buf.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < buf.length) out.push(buf.subarray(start));
  return out;
}

function base64Run(random: Random, length: number): Buffer {
  let text = '';
  for (let i = 0; i < length; i++) text += BASE64_CHARS.charAt(below(random, 64));
  return Buffer.from(text, 'latin1');
}

type Mutation = (random: Random, header: Buffer) => Buffer;

const MUTATIONS: Record<string, Mutation> = {
  flipBit: (random, h) => {
    const out = Buffer.from(h);
    const at = below(random, out.length);
    out[at] = (out[at] ?? 0) ^ (1 << below(random, 8));
    return out;
  },
  insertByte: (random, h) => {
    const at = below(random, h.length + 1);
    const byte = random() < 0.7 ? pick(random, INTERESTING_BYTES) : below(random, 256);
    return Buffer.concat([h.subarray(0, at), Buffer.from([byte]), h.subarray(at)]);
  },
  deleteByte: (random, h) => {
    const at = below(random, h.length);
    return Buffer.concat([h.subarray(0, at), h.subarray(at + 1)]);
  },
  duplicateLine: (random, h) => {
    const all = lines(h);
    const at = below(random, all.length);
    return Buffer.concat([...all.slice(0, at + 1), all[at] ?? Buffer.alloc(0), ...all.slice(at + 1)]);
  },
  deleteLine: (random, h) => {
    const all = lines(h);
    const at = below(random, all.length);
    return Buffer.concat([...all.slice(0, at), ...all.slice(at + 1)]);
  },
  swapLines: (random, h) => {
    const all = lines(h);
    const a = below(random, all.length);
    const b = below(random, all.length);
    [all[a], all[b]] = [all[b] ?? Buffer.alloc(0), all[a] ?? Buffer.alloc(0)];
    return Buffer.concat(all);
  },
  hugeLine: (random, h) => {
    const all = lines(h);
    const at = below(random, all.length + 1);
    const prefix = pick(random, ['-> ', '', '-> X25519 ', '--- ']);
    const line = Buffer.concat([Buffer.from(prefix, 'latin1'), base64Run(random, 60 + below(random, 10_000)), Buffer.from('\n')]);
    return Buffer.concat([...all.slice(0, at), line, ...all.slice(at)]);
  },
  randomBytes: (random, h) => {
    const at = below(random, h.length);
    const length = 1 + below(random, 32);
    const noise = Buffer.alloc(length);
    for (let i = 0; i < length; i++) noise[i] = below(random, 256);
    return Buffer.concat([h.subarray(0, at), noise, h.subarray(Math.min(h.length, at + length))]);
  },
  longRunWithoutNewline: (random, h) => {
    const at = below(random, h.length);
    const run = random() < 0.5 ? Buffer.alloc(1 + below(random, MAX_HEADER_BYTES + 8192), 0x41) : base64Run(random, 1 + below(random, 8192));
    return Buffer.concat([h.subarray(0, at), run]);
  },
  cutBase64: (random, h) => {
    const all = lines(h);
    const at = below(random, all.length);
    const line = all[at] ?? Buffer.alloc(0);
    const cut = 1 + below(random, 4);
    all[at] = Buffer.concat([line.subarray(0, Math.max(0, line.length - 1 - cut)), Buffer.from('\n')]);
    return Buffer.concat(all);
  },
  padBase64: (random, h) => {
    const all = lines(h);
    const at = below(random, all.length);
    const line = all[at] ?? Buffer.alloc(0);
    all[at] = Buffer.concat([line.subarray(0, Math.max(0, line.length - 1)), Buffer.from(random() < 0.5 ? '=\n' : '==\n')]);
    return Buffer.concat(all);
  },
  crlf: (random, h) => {
    const all = lines(h);
    const at = below(random, all.length);
    const line = all[at] ?? Buffer.alloc(0);
    all[at] = Buffer.concat([line.subarray(0, Math.max(0, line.length - 1)), Buffer.from('\r\n')]);
    return Buffer.concat(all);
  },
  truncate: (random, h) => h.subarray(0, below(random, h.length)),
  oversize: (random, h) => {
    const all = lines(h);
    const stanza = Buffer.from(`-> grease ${'x'.repeat(1 + below(random, 60))}\n${base64Run(random, 64).toString('latin1')}\n\n`, 'latin1');
    const copies = Math.ceil((MAX_HEADER_BYTES + below(random, 4096)) / stanza.length);
    return Buffer.concat([all[0] ?? Buffer.alloc(0), ...Array<Buffer>(copies).fill(stanza), ...all.slice(1)]);
  },
};
const MUTATION_NAMES = Object.keys(MUTATIONS);

interface Seed {
  readonly name: string;
  readonly header: Buffer;
  readonly payload: Buffer;
  readonly plaintext: Buffer;
}

const zone = X25519Identity.generate();
const recovery = X25519Identity.generate();

async function buildSeeds(): Promise<Seed[]> {
  const plaintext = patternBytes(300, 1);
  const sealed = (recipients: X25519Identity[], withMeta: boolean) => {
    const sealer = createSealer({ recipients: recipients.map((r) => r.recipient), meta: withMeta ? { zoneId: 'internet', keyVersion: 2 } : undefined });
    return { header: sealer.header, payload: Buffer.concat([...sealer.encryptor.push(plaintext), ...sealer.encryptor.finish()]) };
  };
  const exitseal = sealed([zone], true);
  const withRecovery = sealed([zone, recovery], true);
  const foreign = sealed([recovery], false);
  const { header: parsed } = await readHeader(asyncPieces([exitseal.header]));
  const fileKey = await unlockHeader(parsed, [zone]);
  const passphraseCopy = await rekeyForPassphrase(fileKey, { passphrase: PASSPHRASE, logN: 10 });
  // Unknown stanzas with bodies of 0, 48 (exactly one full line, then an empty one) and 100 bytes exercise
  // the body-line rules; the header MAC is valid, so only the mutation breaks it.
  const greaseHeader = encodeHeader(
    [
      { type: 'grease-a', args: ['x', 'y'], body: Buffer.alloc(0) },
      { type: 'grease-b', args: [], body: patternBytes(48, 2) },
      ...parsed.stanzas,
      { type: 'grease-c', args: ['!#$%'], body: patternBytes(100, 3) },
    ],
    fileKey,
  );
  return [
    { name: 'exitseal', header: exitseal.header, payload: exitseal.payload, plaintext },
    { name: 'exitseal+recovery', header: withRecovery.header, payload: withRecovery.payload, plaintext },
    { name: 'foreign age', header: foreign.header, payload: foreign.payload, plaintext },
    { name: 'passphrase copy', header: passphraseCopy.header, payload: exitseal.payload, plaintext },
    { name: 'grease stanzas', header: greaseHeader, payload: exitseal.payload, plaintext },
  ];
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : typeof error;
}

describe('header fuzzing', () => {
  test(`${CASES} mutated headers: only typed errors, never a crash`, async (t) => {
    const seeds = await buildSeeds();
    const identities = [zone, new PassphraseIdentity(PASSPHRASE, FUZZ_MAX_LOG_N)];
    const random = prng(FUZZ_SEED);
    const outcomes = new Map<SealedFileErrorCode | 'opened', number>();
    for (let i = 0; i < CASES; i++) {
      const seed = pick(random, seeds);
      let header = seed.header;
      const applied: string[] = [];
      for (let m = 1 + below(random, 3); m > 0; m--) {
        const name = pick(random, MUTATION_NAMES);
        applied.push(name);
        header = (MUTATIONS[name] as Mutation)(random, header);
      }
      const file = Buffer.concat([header, seed.payload]);
      const context = `case ${i} (${seed.name}; ${applied.join(', ')})`;

      try {
        parseHeader(header);
      } catch (error) {
        if (!(error instanceof SealedFileError) && !(error instanceof HeaderIncomplete)) {
          assert.fail(`${context}: parseHeader threw ${describeError(error)}`);
        }
      }
      try {
        inspect(file.subarray(0, MAX_HEADER_BYTES), file.length <= MAX_HEADER_BYTES);
      } catch (error) {
        if (!(error instanceof SealedFileError)) assert.fail(`${context}: inspect threw ${describeError(error)}`);
      }
      assert.equal(typeof isSealed(file.subarray(0, MAX_HEADER_BYTES)), 'boolean');

      const cuts = [below(random, file.length + 1), below(random, file.length + 1)];
      try {
        const opened = await openStream(splitAt(file, cuts), identities);
        const parts: Buffer[] = [];
        for await (const part of opened.plaintext) parts.push(part);
        // A mutation can leave the file intact (a byte replaced by itself, two equal lines swapped).
        assert.ok(Buffer.concat(parts).equals(seed.plaintext), `${context}: opened to different plaintext`);
        outcomes.set('opened', (outcomes.get('opened') ?? 0) + 1);
      } catch (error) {
        if (!(error instanceof SealedFileError)) assert.fail(`${context}: openStream threw ${describeError(error)}`);
        outcomes.set(error.code, (outcomes.get(error.code) ?? 0) + 1);
      }
    }
    t.diagnostic(`seed ${FUZZ_SEED}, outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
    // The mutations must reach every layer, not stop at the first check: each of these outcomes occurs.
    for (const code of ['NOT_AGE', 'HEADER_INVALID', 'HEADER_TOO_LARGE', 'HMAC_MISMATCH', 'NO_MATCHING_IDENTITY'] as const) {
      assert.ok((outcomes.get(code) ?? 0) > 0, `no case ended in ${code}: ${JSON.stringify([...outcomes])}`);
    }
  });
});
