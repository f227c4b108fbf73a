// The native stream cipher (native/, loaded by src/files/native-addon.ts) against the node:crypto reference in
// core: the same bytes out, the same chunks authenticated, the same refusals, on hand-picked edges, on random
// cases, and on every STREAM vector of the C2SP age test kit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, cp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { inflateSync } from 'node:zlib';
import nativeAddon from '@exitseal/native';
import fc from 'fast-check';
import {
  CHUNK_SIZE,
  dearmor,
  ENCRYPTED_CHUNK_SIZE,
  nodeChunkCipher,
  PassphraseIdentity,
  PayloadDecryptor,
  PayloadEncryptor,
  readHeader,
  SealedFileError,
  unlockHeader,
  X25519Identity,
  type ChunkCipher,
  type Identity,
} from '@exitseal/core';
import type { NativeAddon } from '../src/files/native-addon.js';
import { nativeAvailability, selectStreamCipher, StreamCipherUnavailable } from '../src/files/stream-cipher.js';
import { hasCommand } from './cli-harness.js';
import { inTempDir } from './helpers.js';

const availability = nativeAvailability();
// CI builds the addon and sets this, so a broken build fails there instead of skipping every case below.
const required = process.env.EXITSEAL_REQUIRE_NATIVE === '1';
const skipNative = availability.available ? false : `the native addon is not built here (${availability.reason ?? 'unknown'})`;
const native: ChunkCipher = availability.available ? selectStreamCipher('native') : nodeChunkCipher;
const CIPHERS = [nodeChunkCipher, native] as const;

async function* asyncPieces(pieces: readonly Buffer[]): AsyncGenerator<Buffer, void, undefined> {
  for (const piece of pieces) {
    await Promise.resolve();
    yield piece;
  }
}

function key(): Buffer {
  return randomBytes(32);
}

function concat(pieces: readonly Buffer[]): Buffer {
  return Buffer.concat(pieces);
}

/** Outcome of opening a run with one cipher, in a form two ciphers can be compared by. */
function openWith(cipher: ChunkCipher, k: Buffer, counter: number, ciphertext: Buffer, final: boolean) {
  const opened = cipher.openChunks(k, counter, ciphertext, final);
  return { authenticated: opened.authenticated, plaintext: concat(opened.plaintext).toString('hex') };
}

function thrownBy(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).constructor.name;
  }
  return 'nothing';
}

describe('native stream cipher', () => {
  test('is built here (CI insists on it)', (t) => {
    if (!availability.available) {
      if (required) assert.fail(`EXITSEAL_REQUIRE_NATIVE=1 but the addon did not load: ${availability.reason ?? 'unknown'}`);
      t.skip(`not built: ${availability.reason ?? 'unknown'}; node:crypto is used`);
      return;
    }
    assert.notEqual(selectStreamCipher('auto'), nodeChunkCipher);
    assert.equal(selectStreamCipher('node'), nodeChunkCipher);
  });

  test('seals runs to the same bytes as node:crypto, at every edge of the chunk size and counter', { skip: skipNative }, () => {
    const k = key();
    const cases: Array<[number, boolean]> = [
      [0, true],
      [1, true],
      [CHUNK_SIZE - 1, true],
      [CHUNK_SIZE, true],
      [CHUNK_SIZE + 1, true],
      [3 * CHUNK_SIZE, true],
      [CHUNK_SIZE, false],
      [16 * CHUNK_SIZE, false],
    ];
    for (const counter of [0, 1, 0xffff_ffff, 0x1_0000_0000 + 5, Number.MAX_SAFE_INTEGER - 20]) {
      for (const [length, final] of cases) {
        const plaintext = randomBytes(length);
        const expected = concat(nodeChunkCipher.sealChunks(k, counter, plaintext, final));
        const got = concat(native.sealChunks(k, counter, plaintext, final));
        assert.ok(got.equals(expected), `length ${length}, final ${final}, counter ${counter}`);
        for (const opener of CIPHERS) {
          const opened = opener.openChunks(k, counter, got, final);
          assert.ok(concat(opened.plaintext).equals(plaintext), `${opener.name} opens length ${length}, counter ${counter}`);
        }
      }
    }
  });

  test('stops at the first altered chunk and never returns its plaintext, like node:crypto', { skip: skipNative }, () => {
    const k = key();
    const plaintext = randomBytes(4 * CHUNK_SIZE + 100);
    const sealed = concat(nodeChunkCipher.sealChunks(k, 7, plaintext, true));
    for (const offset of [0, 5, CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE - 1, ENCRYPTED_CHUNK_SIZE + 3, 2 * ENCRYPTED_CHUNK_SIZE + 9, sealed.length - 1]) {
      const altered = Buffer.from(sealed);
      altered[offset] = (altered[offset] ?? 0) ^ 0x01;
      const expected = openWith(nodeChunkCipher, k, 7, altered, true);
      assert.equal(expected.authenticated, Math.floor(offset / ENCRYPTED_CHUNK_SIZE), `node:crypto at ${offset}`);
      assert.deepEqual(openWith(native, k, 7, altered, true), expected, `byte ${offset} flipped`);
    }
    // Right bytes, wrong position or wrong final flag: nothing authenticates.
    for (const [counter, final] of [[8, true], [7, false]] as const) {
      const whole = sealed.subarray(0, 4 * ENCRYPTED_CHUNK_SIZE);
      const shifted = final ? sealed : whole;
      assert.deepEqual(openWith(native, k, counter, shifted, final), openWith(nodeChunkCipher, k, counter, shifted, final));
    }
    const lastAsMiddle = concat(nodeChunkCipher.sealChunks(k, 0, randomBytes(CHUNK_SIZE), true));
    assert.deepEqual(openWith(native, k, 0, lastAsMiddle, false), { authenticated: 0, plaintext: '' });
    assert.deepEqual(openWith(native, key(), 0, lastAsMiddle, true), { authenticated: 0, plaintext: '' });
  });

  test('refuses malformed runs and arguments as node:crypto does, without touching memory', { skip: skipNative }, () => {
    const k = key();
    const badRuns: Array<[string, () => unknown, () => unknown]> = [
      ['partial chunk without final', () => native.sealChunks(k, 0, randomBytes(10), false), () => nodeChunkCipher.sealChunks(k, 0, randomBytes(10), false)],
      ['empty run without final', () => native.sealChunks(k, 0, Buffer.alloc(0), false), () => nodeChunkCipher.sealChunks(k, 0, Buffer.alloc(0), false)],
      ['final chunk shorter than a tag', () => native.openChunks(k, 0, randomBytes(15), true), () => nodeChunkCipher.openChunks(k, 0, randomBytes(15), true)],
      ['partial encrypted chunk without final', () => native.openChunks(k, 0, randomBytes(100), false), () => nodeChunkCipher.openChunks(k, 0, randomBytes(100), false)],
      ['negative counter', () => native.sealChunks(k, -1, randomBytes(1), true), () => nodeChunkCipher.sealChunks(k, -1, randomBytes(1), true)],
      ['fractional counter', () => native.sealChunks(k, 1.5, randomBytes(1), true), () => nodeChunkCipher.sealChunks(k, 1.5, randomBytes(1), true)],
    ];
    for (const [what, nativeCall, nodeCall] of badRuns) {
      assert.equal(thrownBy(nativeCall), 'RangeError', `native: ${what}`);
      assert.equal(thrownBy(nodeCall), 'RangeError', `node:crypto: ${what}`);
    }
    // The addon's own checks, below the wrapper: each is a clear error, never a crash or an overrun.
    const binding = nativeAddon.binding;
    assert.ok(binding);
    const shared = Buffer.alloc(4 * CHUNK_SIZE);
    const direct: Array<[string, () => unknown, string]> = [
      ['short key', () => binding.sealChunks(randomBytes(31), 0, randomBytes(1), true, Buffer.alloc(17)), 'RangeError'],
      ['key not bytes', () => binding.sealChunks('k'.repeat(32) as unknown as Buffer, 0, randomBytes(1), true, Buffer.alloc(17)), 'TypeError'],
      ['output too small', () => binding.sealChunks(k, 0, randomBytes(CHUNK_SIZE), true, Buffer.alloc(CHUNK_SIZE + 15)), 'RangeError'],
      ['open output too small', () => binding.openChunks(k, 0, randomBytes(ENCRYPTED_CHUNK_SIZE), false, Buffer.alloc(CHUNK_SIZE - 1)), 'RangeError'],
      ['overlapping buffers', () => binding.sealChunks(k, 0, shared.subarray(0, CHUNK_SIZE), true, shared.subarray(100)), 'RangeError'],
      ['counter past 2^53 - 1', () => binding.sealChunks(k, Number.MAX_SAFE_INTEGER, randomBytes(2 * CHUNK_SIZE), true, Buffer.alloc(3 * CHUNK_SIZE)), 'RangeError'],
      ['counter not a number', () => binding.sealChunks(k, '0' as unknown as number, randomBytes(1), true, Buffer.alloc(17)), 'RangeError'],
      ['final not a boolean', () => binding.sealChunks(k, 0, randomBytes(1), 1 as unknown as boolean, Buffer.alloc(17)), 'TypeError'],
      ['Uint16Array input', () => binding.sealChunks(k, 0, new Uint16Array(4) as unknown as Buffer, true, Buffer.alloc(32)), 'TypeError'],
      ['too few arguments', () => (binding.sealChunks as unknown as (...args: unknown[]) => number)(k, 0, randomBytes(1)), 'TypeError'],
    ];
    for (const [what, call, expected] of direct) assert.equal(thrownBy(call), expected, what);
    // A subarray with an offset is read and written at the right place.
    const backing = Buffer.alloc(ENCRYPTED_CHUNK_SIZE + 64, 0xee);
    const plaintext = randomBytes(CHUNK_SIZE);
    const written = binding.sealChunks(k, 3, plaintext, false, backing.subarray(32, 32 + ENCRYPTED_CHUNK_SIZE));
    assert.equal(written, ENCRYPTED_CHUNK_SIZE);
    assert.ok(backing.subarray(32, 32 + ENCRYPTED_CHUNK_SIZE).equals(concat(nodeChunkCipher.sealChunks(k, 3, plaintext, false))));
    assert.ok(backing.subarray(0, 32).equals(Buffer.alloc(32, 0xee)) && backing.subarray(32 + ENCRYPTED_CHUNK_SIZE).equals(Buffer.alloc(32, 0xee)));
  });

  test('a failed chunk leaves no plaintext in the output buffer', { skip: skipNative }, () => {
    const binding = nativeAddon.binding;
    assert.ok(binding);
    const k = key();
    const plaintext = Buffer.alloc(2 * CHUNK_SIZE, 0x41);
    const sealed = concat(nodeChunkCipher.sealChunks(k, 0, plaintext, false));
    sealed.writeUInt8(sealed.readUInt8(ENCRYPTED_CHUNK_SIZE + CHUNK_SIZE) ^ 0x80, ENCRYPTED_CHUNK_SIZE + CHUNK_SIZE); // second chunk's tag
    const output = Buffer.alloc(2 * CHUNK_SIZE, 0xee);
    assert.equal(binding.openChunks(k, 0, sealed, false, output), 1);
    assert.ok(output.subarray(0, CHUNK_SIZE).equals(plaintext.subarray(0, CHUNK_SIZE)));
    assert.ok(!output.subarray(CHUNK_SIZE).includes(0x41), 'the unauthenticated chunk was wiped');
  });

  test('whole payloads: random sizes, random pieces, random damage give the same bytes and the same verdicts', { skip: skipNative }, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 * CHUNK_SIZE + 50 }),
        fc.array(fc.integer({ min: 1, max: 3 * CHUNK_SIZE }), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        (size, cuts, damageAt) => {
          const fileKey = randomBytes(16);
          const nonce = randomBytes(16);
          const plaintext = randomBytes(size);
          const sealedBy = (cipher: ChunkCipher, recycleOutput = false): Buffer => {
            const encryptor = new PayloadEncryptor(fileKey, nonce, { cipher, recycleOutput });
            const out: Buffer[] = [];
            let offset = 0;
            // Copied at once, as a writer that is done with them before the push after next would have them.
            for (const cut of cuts) {
              out.push(concat(encryptor.push(plaintext.subarray(offset, offset + cut))));
              offset = Math.min(size, offset + cut);
            }
            out.push(concat(encryptor.push(plaintext.subarray(offset))), concat(encryptor.finish()));
            return concat(out);
          };
          const sealed = sealedBy(native);
          assert.ok(sealed.equals(sealedBy(nodeChunkCipher)));
          assert.ok(sealed.equals(sealedBy(native, true)), 'recycled output buffers');
          const input = Buffer.from(sealed);
          if (damageAt !== undefined) input.writeUInt8(input.readUInt8(damageAt % input.length) ^ 0x04, damageAt % input.length);
          const openedBy = (cipher: ChunkCipher, recycleOutput = false) => {
            const decryptor = new PayloadDecryptor(fileKey, { cipher, recycleOutput });
            const released: Buffer[] = [];
            let offset = 0;
            try {
              for (const cut of [...cuts].reverse()) {
                released.push(concat(decryptor.push(input.subarray(offset, offset + cut))));
                offset = Math.min(input.length, offset + cut);
              }
              released.push(concat(decryptor.push(input.subarray(offset))), Buffer.from(decryptor.finish()));
              return { released: concat(released).toString('hex'), error: null };
            } catch (error) {
              assert.ok(error instanceof SealedFileError, String(error));
              return { released: concat(released).toString('hex'), error: `${error.code}: ${error.message}` };
            }
          };
          const viaNative = openedBy(native);
          assert.deepEqual(viaNative, openedBy(nodeChunkCipher));
          assert.deepEqual(openedBy(native, true), viaNative, 'recycled output buffers');
          if (damageAt === undefined) assert.equal(viaNative.released, plaintext.toString('hex'));
          else assert.notEqual(viaNative.error, null);
        },
      ),
      { numRuns: 150 },
    );
  });
});

/**
 * Every vector of the age test kit that gets past the header, opened with the native cipher and with
 * node:crypto: the same verdict, the same released bytes, and the kit's plaintext hash. (Core's kit test
 * checks node:crypto against each vector's expectation, and lists the skipped post-quantum ones.)
 */
describe('C2SP age test kit through the native stream cipher', () => {
  const kitDir = new URL('../../../core/test/fixtures/age-testkit/', import.meta.url);
  const names = readdirSync(kitDir).filter((name) => name !== 'README.md');

  async function openVector(file: Buffer, fields: ReadonlyMap<string, readonly string[]>, pieceSize: number, cipher: ChunkCipher) {
    const identities: Identity[] = [
      ...(fields.get('identity') ?? []).filter((text) => !text.startsWith('AGE-SECRET-KEY-PQ-1')).map((text) => X25519Identity.parse(text)),
      ...(fields.get('passphrase') ?? []).map((passphrase) => new PassphraseIdentity(passphrase)),
    ];
    const pieces = Array.from({ length: Math.ceil(file.length / pieceSize) }, (_, i) => file.subarray(i * pieceSize, (i + 1) * pieceSize));
    const source = fields.get('armored')?.[0] === 'yes' ? dearmor(pieces) : asyncPieces(pieces);
    const released: Buffer[] = [];
    let reachedPayload = false;
    try {
      const { header, rest } = await readHeader(source);
      const decryptor = new PayloadDecryptor(await unlockHeader(header, identities), { cipher, recycleOutput: true });
      reachedPayload = true;
      released.push(concat(decryptor.push(rest)));
      for await (const piece of source) released.push(concat(decryptor.push(piece)));
      released.push(Buffer.from(decryptor.finish()));
      return { reachedPayload, error: null, released: concat(released) };
    } catch (error) {
      if (!(error instanceof SealedFileError)) throw error;
      return { reachedPayload, error: error.code, released: concat(released) };
    }
  }

  test('every vector that reaches the payload: the same verdict and bytes as node:crypto, and the kit\'s hash', { skip: skipNative }, async () => {
    let runs = 0;
    for (const name of names) {
      const raw = readFileSync(new URL(name, kitDir));
      const separator = raw.indexOf('\n\n');
      const fields = new Map<string, string[]>();
      for (const line of raw.subarray(0, separator).toString('utf8').split('\n')) {
        const colon = line.indexOf(': ');
        fields.set(line.slice(0, colon), [...(fields.get(line.slice(0, colon)) ?? []), line.slice(colon + 2)]);
      }
      const body = raw.subarray(separator + 2);
      const file = fields.get('compressed')?.[0] === 'zlib' ? inflateSync(body) : body;
      for (const pieceSize of [file.length + 1, 4099]) {
        const viaNative = await openVector(file, fields, pieceSize, native);
        if (!viaNative.reachedPayload) continue;
        runs++;
        const how = `${name}, pieces of ${pieceSize} B`;
        assert.deepEqual(viaNative, await openVector(file, fields, pieceSize, nodeChunkCipher), how);
        const expected = fields.get('expect')?.[0];
        if (expected === 'success') assert.equal(viaNative.error, null, how);
        if (expected === 'payload failure') assert.equal(viaNative.error, 'PAYLOAD_INVALID', how);
        const payload = fields.get('payload')?.[0];
        if (payload !== undefined) assert.equal(createHash('sha256').update(viaNative.released).digest('hex'), payload, `${how}: released plaintext`);
      }
    }
    // 43 vectors get past the header, each opened two ways. Guards against a run that silently stopped
    // reaching the payload (a wrong path, a parser change).
    assert.equal(runs, 2 * 43);
  });
});

describe('without the addon (no compiler at install time)', () => {
  const absent = { binding: null, loadError: "Cannot find module '.../exitseal_native.node'" };

  test('auto falls back to node:crypto; native is a clear error that says how to build it', () => {
    assert.equal(selectStreamCipher('node'), nodeChunkCipher);
    assert.equal(selectStreamCipher('auto', absent), nodeChunkCipher);
    assert.deepEqual(nativeAvailability(absent), { available: false, reason: absent.loadError });
    assert.throws(() => selectStreamCipher('native', absent), (error: unknown) => {
      assert.ok(error instanceof StreamCipherUnavailable);
      assert.match(error.message, /npm rebuild @exitseal\/native/);
      return true;
    });
  });

  test('the loader reports a missing build instead of throwing', async () => {
    await inTempDir(async (dir) => {
      await copyFile(fileURLToPath(import.meta.resolve('@exitseal/native')), join(dir, 'index.cjs'));
      const loaded = createRequire(import.meta.url)(join(dir, 'index.cjs')) as NativeAddon;
      assert.equal(loaded.binding, null);
      assert.match(loaded.loadError ?? '', /exitseal_native\.node/);
    });
  });

  const canConfigure = hasCommand('make') && existsSync(join(nodeDir(), 'include', 'node', 'node_api.h'));
  test('the install step warns and succeeds when the compiler fails, and fails when CI requires the addon', { skip: canConfigure ? false : "needs make and Node's headers (node-gyp)" }, async () => {
    await inTempDir(async (dir) => {
      const packageDir = dirname(fileURLToPath(import.meta.resolve('@exitseal/native')));
      for (const name of ['package.json', 'binding.gyp', 'src', 'scripts']) await cp(join(packageDir, name), join(dir, name), { recursive: true });
      const nodeGyp = npmNodeGyp();
      const build = (required: boolean) =>
        spawnSync(process.execPath, [join(dir, 'scripts/build.mjs')], {
          cwd: dir,
          encoding: 'utf8',
          // A compiler that always fails, as on a machine without one. Node's own headers, as npm points
          // node-gyp to them here, so that it fails at compiling and not by reaching for the network.
          env: { ...process.env, CC: 'false', CXX: 'false', npm_config_node_gyp: nodeGyp, npm_config_nodedir: nodeDir(), EXITSEAL_REQUIRE_NATIVE: required ? '1' : '' },
        });
      const tolerant = build(false);
      assert.equal(tolerant.status, 0, tolerant.stderr);
      assert.match(tolerant.stderr, /@exitseal\/native: not built .* node:crypto/);
      const strict = build(true);
      assert.equal(strict.status, 1);
      assert.match(strict.stderr, /build failed .* EXITSEAL_REQUIRE_NATIVE=1/);
    });
  });
});

/** Where this Node's headers are (include/node under its prefix), as npm's `nodedir` setting. */
function nodeDir(): string {
  return process.env.npm_config_nodedir ?? dirname(dirname(process.execPath));
}

/** The node-gyp that npm bundles (npm tells install scripts its path; a test has to look for it). */
function npmNodeGyp(): string {
  const npmCli = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout.trim();
  return join(npmCli, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
}
