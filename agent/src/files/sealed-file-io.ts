import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { totalmem } from 'node:os';
import {
  ARMOR_BEGIN,
  ArmorDecoder,
  ArmorEncoder,
  CHUNK_SIZE,
  ciphertextChunkCount,
  createSealer,
  dearmor,
  looksArmored,
  openStream,
  describeHeader,
  parseHeader,
  PassphraseIdentity,
  inspect,
  MAX_HEADER_BYTES,
  PayloadDecryptor,
  readHeader,
  rekeyForPassphrase,
  sealedRunLength,
  TAG_SIZE,
  unlockHeader,
  type ChunkCipher,
  type Identity,
  type Inspection,
  type SealMeta,
  type SealOptions,
} from '@exitseal/core';
import { writeAll, writeFileAtomically } from './atomic-write.js';
import { errnoOf, FileOperationError, toFileOperationError } from './errors.js';
import { selectStreamCipher, type FileBlockSealer, type StreamCipher } from './stream-cipher.js';

/**
 * Read size for bulk work. Measured on this class of machine: 1–4 MiB blocks with many chunks per write were
 * about twice as fast end to end as 64 KiB reads, and a 1 GiB seal took 1.19–1.30 s with 1 MiB blocks against
 * 1.29–3.5 s with 4 MiB ones (less system time, steadier). Memory stays constant: two blocks plus one chunk.
 */
export const BLOCK_SIZE = 1024 * 1024;

interface Snapshot {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

function snapshotOf(stats: { size: number; mtimeMs: number; ino: number }): Snapshot {
  return { size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino };
}

function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

/**
 * Reads a file in pieces into one reused buffer (consume each piece before asking for the next). Header-sized
 * pieces by default: a header is a few hundred bytes, so one piece nearly always suffices.
 */
async function* readPieces(handle: FileHandle, pieceSize = MAX_HEADER_BYTES): AsyncGenerator<Buffer, void, undefined> {
  const buffer = Buffer.allocUnsafe(pieceSize);
  let position = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/**
 * Streams `source` (from `start`) through `transform` into `sink`, overlapping the three stages: while one
 * block is transformed on this thread, the next is being read and the previous written by libuv's thread
 * pool. Two read buffers alternate; at most one write is in flight, so memory stays at a few blocks
 * whatever the file size. `transform` must not keep references to its input. Its output must stay as it is
 * until the call after next begins: the write of one block's output is awaited before the block after next
 * is transformed (so an encryptor may recycle two output buffers, see PayloadStreamOptions).
 * Past `flushFrom` bytes of output the sink is flushed as it is written (see EarlyWriteback).
 */
export async function pumpBlocks(
  source: FileHandle,
  start: number,
  sink: FileHandle,
  transform: (block: Buffer) => Buffer[],
  options: { readonly flushFrom: number } = { flushFrom: 0 },
): Promise<number> {
  // Small files (most of what lands on a stick) do not need two 4 MiB buffers: one read of size + 1 bytes
  // gets the whole file and the next read sees the end.
  const bufferSize = Math.min(BLOCK_SIZE, Math.max(0, (await source.stat()).size - start) + 1);
  let filling = Buffer.allocUnsafe(bufferSize);
  let spare = Buffer.allocUnsafe(bufferSize);
  let position = start;
  let written = 0;
  let pendingRead = inFlight(source.read(filling, 0, bufferSize, position));
  let pendingWrite: Promise<number> = Promise.resolve(0);
  const writeback = new EarlyWriteback(sink, options.flushFrom);
  try {
    for (;;) {
      const { bytesRead } = await pendingRead;
      if (bytesRead === 0) break;
      const block = filling.subarray(0, bytesRead);
      position += bytesRead;
      [filling, spare] = [spare, filling];
      pendingRead = inFlight(source.read(filling, 0, bufferSize, position));
      const pieces = transform(block);
      const justWritten = await pendingWrite;
      written += justWritten;
      writeback.wrote(justWritten);
      pendingWrite = inFlight(writeAll(sink, pieces));
    }
    written += await pendingWrite;
    await writeback.settle();
    return written;
  } catch (error) {
    // Let in-flight I/O settle before the caller closes the handles.
    await Promise.allSettled([pendingRead, pendingWrite, writeback.settle()]);
    throw error;
  }
}

/** Plaintext bytes per block of sealBlocksInPool (whole chunks), and the sealed size of every block but the last. */
const CHUNKS_PER_BLOCK = BLOCK_SIZE / CHUNK_SIZE;
const SEALED_BLOCK_SIZE = BLOCK_SIZE + CHUNKS_PER_BLOCK * TAG_SIZE;

/**
 * Blocks sealed at the same time by sealBlocksInPool (libuv's pool has four threads). Measured on a 2-core
 * machine, 1 GiB in process, five runs each: two 0.32-0.44 s, three 0.33-0.38 s, four 0.35-0.56 s.
 */
const BLOCKS_IN_FLIGHT = 3;

/**
 * Seals `sourceBytes` of `source` as the payload's chunks (after its nonce) into `sink` from `sinkStart`, each
 * block read, sealed and written by one job in libuv's thread pool (native/src/seal_block.c), several at a
 * time: blocks do not depend on each other, and the main thread, the bottleneck when it ran the cipher itself,
 * only schedules. `observe` sees each block's plaintext in file order (for the export log's hash) before its
 * buffer is reused. Every job has settled before this returns or throws, so the caller may close the files.
 */
async function sealBlocksInPool(
  sealFileBlock: FileBlockSealer,
  key: Buffer,
  source: FileHandle,
  sourceBytes: number,
  sink: FileHandle,
  sinkStart: number,
  options: { readonly observe: (plaintext: Buffer) => void; readonly flushFrom: number },
): Promise<number> {
  // An empty file is one empty final chunk: one block of 0 bytes.
  const blocks = Math.max(1, Math.ceil(sourceBytes / BLOCK_SIZE));
  const slots = Math.min(BLOCKS_IN_FLIGHT, blocks);
  const blockBytes = Math.min(BLOCK_SIZE, sourceBytes);
  const inputs = Array.from({ length: slots }, () => Buffer.allocUnsafeSlow(blockBytes));
  const outputs = Array.from({ length: slots }, () => Buffer.allocUnsafeSlow(sealedRunLength(blockBytes, true)));
  const lengths = new Array<number>(slots).fill(0);
  const jobs = new Array<Promise<number> | null>(slots).fill(null);
  const writeback = new EarlyWriteback(sink, options.flushFrom);
  let written = 0;
  const finishJob = async (slot: number): Promise<void> => {
    const job = jobs[slot];
    if (!job) return;
    const bytes = await job;
    jobs[slot] = null;
    options.observe(inputs[slot]!.subarray(0, lengths[slot]));
    written += bytes;
    writeback.wrote(bytes);
  };
  try {
    for (let index = 0; index < blocks; index++) {
      const slot = index % slots;
      await finishJob(slot);
      const length = Math.min(BLOCK_SIZE, sourceBytes - index * BLOCK_SIZE);
      lengths[slot] = length;
      const final = index === blocks - 1;
      jobs[slot] = inFlight(
        sealFileBlock(key, index * CHUNKS_PER_BLOCK, inputs[slot]!, final, outputs[slot]!, length, source.fd, index * BLOCK_SIZE, sink.fd, sinkStart + index * SEALED_BLOCK_SIZE),
      );
    }
    // The jobs still running, in file order.
    for (let index = Math.max(0, blocks - slots); index < blocks; index++) await finishJob(index % slots);
    await writeback.settle();
    return written;
  } catch (error) {
    await Promise.allSettled([...jobs, writeback.settle()]);
    if (errnoOf(error) === 'ERR_INPUT_SHRANK') throw new FileOperationError('SOURCE_CHANGED', 'the file got shorter while it was being sealed', { kind: 'client', cause: error });
    throw error;
  }
}

/**
 * Marks an I/O promise that is awaited only later as handled now. The read of the next block and the write of
 * the previous one run while this thread awaits the other; if one of them fails in that time (a pulled stick:
 * ENOTCONN, ECONNABORTED), it would be an unhandled rejection, which kills the process, before the await that
 * reports it is reached. The returned promise still rejects for that await.
 */
function inFlight<T>(operation: Promise<T>): Promise<T> {
  operation.catch(() => undefined);
  return operation;
}

/**
 * Bytes written between two early flushes. An output that is to be durable is fsynced before its rename
 * anyway; without these flushes the whole file sits dirty in the page cache (the kernel starts writing back
 * only at 10% of RAM) and that fsync then waits for all of it at the end. Flushing as we go overlaps the
 * disk's work with encryption. Measured on a 1 GiB seal to local ext4 (quiet 2-core machine, 4-6 alternating
 * runs each): no early flush 1.24-1.32 s, every 32 MiB 1.15-1.27 s, every 8 MiB 1.02-1.16 s (median 1.10),
 * every 4 MiB no better. On a stick it also keeps the time between the end of the copy and "safe to remove"
 * short.
 */
const WRITEBACK_STEP = 8 * 1024 * 1024;

/**
 * An output that is not to be flushed is still flushed as it goes once it is larger than this share of RAM,
 * half of the kernel's default background writeback threshold (10%): past that the dirty pages it leaves make
 * the kernel throttle the writer. Measured with 4 GiB seals on a 24 GiB machine, alternating: never flushed
 * 6.7-14.6 s, flushed past this limit (1.2 GiB) 4.2-5.6 s, the age CLI 3.7-5.9 s. Below it early flushing
 * cost about 0.2 s per GiB (a 1 GiB seal took 1.00-1.32 s flushed from 256 MiB on, 0.82-0.89 s unflushed).
 */
const UNFLUSHED_SHARE_OF_RAM = 0.05;

/** From which output byte pumpBlocks flushes as it goes: at once for a durable output, past the limit otherwise. */
function earlyFlushFrom(durable: boolean): number {
  return durable ? 0 : Math.floor(totalmem() * UNFLUSHED_SHARE_OF_RAM);
}

/**
 * Once `from` bytes of output are written, starts a datasync every WRITEBACK_STEP bytes, at most one at a
 * time, without waiting for it.
 */
class EarlyWriteback {
  private written = 0;
  private sinceFlush = 0;
  private inFlight: Promise<void> | null = null;
  private failure: Error | null = null;

  constructor(
    private readonly sink: FileHandle,
    private readonly from: number,
  ) {}

  wrote(bytes: number): void {
    this.written += bytes;
    this.sinceFlush += bytes;
    if (this.written < this.from || this.sinceFlush < WRITEBACK_STEP || this.inFlight !== null) return;
    this.sinceFlush = 0;
    this.inFlight = this.sink.datasync().then(
      () => {
        this.inFlight = null;
      },
      (error: unknown) => {
        // Kept and thrown from settle(): a failing flush (EIO, ENOSPC on some filesystems) fails the write.
        this.failure ??= error instanceof Error ? error : new Error(String(error));
        this.inFlight = null;
      },
    );
  }

  async settle(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (this.failure !== null) throw this.failure;
  }
}

/**
 * Closing the file we read from cannot lose data, and when the stick is gone it fails too (ENOTCONN, EIO):
 * that error must not replace the one that says what actually happened.
 */
async function closeQuietly(handle: FileHandle): Promise<void> {
  await handle.close().catch(() => undefined);
}

async function openForReading(path: string): Promise<{ handle: FileHandle; before: Snapshot; atime: Date; mtime: Date; mode: number }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw toFileOperationError(error, path);
  }
  const stats = await handle.stat();
  if (!stats.isFile()) {
    await handle.close();
    throw new FileOperationError('NOT_A_FILE', `${path} is not a regular file`, { kind: 'client' });
  }
  return { handle, before: snapshotOf(stats), atime: stats.atime, mtime: stats.mtime, mode: stats.mode & 0o777 };
}

/**
 * Guards a rewrite against the source changing under us: the content we read must still be what is at
 * `path` (same inode, size and mtime) when we are about to commit, or the user's newer write would be lost.
 */
async function assertUnchanged(handle: FileHandle, path: string, before: Snapshot): Promise<void> {
  const throughHandle = snapshotOf(await handle.stat());
  let atPath: Snapshot;
  try {
    atPath = snapshotOf(await stat(path));
  } catch (error) {
    throw toFileOperationError(error, path);
  }
  if (!sameSnapshot(before, throughHandle) || !sameSnapshot(before, atPath)) {
    throw new FileOperationError('SOURCE_CHANGED', `${path} changed while it was being processed`, { kind: 'client' });
  }
}

async function refuseExisting(path: string, overwrite: boolean): Promise<void> {
  if (overwrite) return;
  try {
    await stat(path);
  } catch {
    return;
  }
  throw new FileOperationError('TARGET_EXISTS', `${path} already exists (use --force to overwrite)`, { kind: 'client' });
}

export interface FileTarget {
  /** Where the result goes; the same path as the input means in place. */
  readonly outputPath: string;
  /** Allow replacing an existing output (always true in place). */
  readonly overwrite?: boolean;
  /**
   * Flush the output to disk before returning (default true). In place it is flushed whatever this says: the
   * original is being replaced. A copy beside an original that stays may skip it (see AtomicWriteOptions.durable).
   */
  readonly durable?: boolean;
}

/** In place the output replaces the only copy of the data, so it is always flushed. */
function isDurable(inputPath: string, target: FileTarget): boolean {
  return target.outputPath === inputPath || target.durable !== false;
}

export interface SealOutputOptions {
  /** Hash the plaintext for the export log (default true; it costs a pass over the data). */
  readonly sha256?: boolean;
  /** Write ASCII armor (PEM-like text, for mail bodies) instead of the binary format. */
  readonly armor?: boolean;
  /**
   * Runs the payload's chunks; default: the native one when built (see stream-cipher.ts). One that can seal
   * file blocks in the thread pool (sealFileBlock) does so for a binary output (see sealBlocksInPool).
   */
  readonly cipher?: StreamCipher;
}

export interface OpenOptions {
  /** Hash the plaintext (default true; it costs a pass over the data). */
  readonly sha256?: boolean;
  /** Runs the payload's chunks; default: the native one when built (see stream-cipher.ts). */
  readonly cipher?: ChunkCipher;
}

export interface SealFileResult {
  readonly meta: SealMeta | null;
  readonly plaintextBytes: number;
  readonly sealedBytes: number;
  /** SHA-256 of the plaintext, hex: what the export log records (null when not asked for: it costs a pass). */
  readonly sha256: string | null;
}

/** Seals `inputPath` to `target.outputPath` (crash-safe; in place when they are the same path). */
export async function sealFile(
  inputPath: string,
  target: FileTarget,
  options: SealOptions,
  output: SealOutputOptions = {},
): Promise<SealFileResult> {
  const inPlace = target.outputPath === inputPath;
  const durable = isDurable(inputPath, target);
  await refuseExisting(target.outputPath, inPlace || target.overwrite === true);
  const source = await openForReading(inputPath);
  try {
    const cipher = output.cipher ?? selectStreamCipher();
    // pumpBlocks has written each block's output before it transforms the block after next: recycling is safe.
    const sealer = createSealer(options, { cipher, recycleOutput: true });
    const hash = output.sha256 === false ? null : createHash('sha256');
    const armorer = output.armor === true ? new ArmorEncoder() : null;
    const encode = (pieces: Buffer[]): Buffer[] => (armorer ? [Buffer.from(armorer.push(Buffer.concat(pieces)), 'latin1')] : pieces);
    let plaintextBytes = 0;
    let sealedBytes = 0;
    await writeFileAtomically(
      target.outputPath,
      async (out, space) => {
        // Blocks finish out of order and extend the file past gaps. Where its space was reserved (ext4, xfs,
        // tmpfs) that costs nothing; where it could not be (exFAT through FUSE) the file system fills each gap
        // first: a 300 MiB --sync seal to such a stick took 0.65-0.79 s in blocks, 0.61-0.67 s streamed.
        if (cipher.sealFileBlock && !armorer && space.reserved) {
          const { nonce, key } = sealer.encryptor.handOver();
          sealedBytes += await writeAll(out, [sealer.header, nonce]);
          sealedBytes += await sealBlocksInPool(cipher.sealFileBlock, key, source.handle, source.before.size, out, sealedBytes, {
            observe: (plaintext) => {
              hash?.update(plaintext);
              plaintextBytes += plaintext.length;
            },
            flushFrom: earlyFlushFrom(durable),
          });
          return;
        }
        sealedBytes += await writeAll(out, encode([sealer.header]));
        sealedBytes += await pumpBlocks(
          source.handle,
          0,
          out,
          (block) => {
            hash?.update(block);
            plaintextBytes += block.length;
            return encode(sealer.encryptor.push(block));
          },
          { flushFrom: earlyFlushFrom(durable) },
        );
        sealedBytes += await writeAll(out, encode(sealer.encryptor.finish()));
        if (armorer) sealedBytes += await writeAll(out, [Buffer.from(armorer.finish(), 'latin1')]);
      },
      {
        mode: source.mode,
        times: inPlace ? { atime: source.atime, mtime: source.mtime } : undefined,
        beforeCommit: () => assertUnchanged(source.handle, inputPath, source.before),
        durable,
        // Armor's size depends on line breaks; it is for mail bodies, small enough not to need a reservation.
        expectedBytes: armorer ? undefined : sealer.header.length + sealedRunLength(source.before.size, true),
      },
    );
    return { meta: sealer.meta, plaintextBytes, sealedBytes, sha256: hash?.digest('hex') ?? null };
  } finally {
    await closeQuietly(source.handle);
  }
}

export interface OpenFileResult {
  readonly inspection: Inspection;
  readonly plaintextBytes: number;
  readonly sha256: string | null;
}

async function readHeaderFrom(handle: FileHandle, path: string) {
  const blocks = readPieces(handle);
  try {
    return await readHeader(blocks);
  } catch (error) {
    throw toFileOperationError(error, path);
  } finally {
    await blocks.return();
  }
}

/**
 * Opens (decrypts) a sealed file. The output is committed only after the last chunk authenticated, so a
 * damaged or truncated file never replaces anything and never leaves partial plaintext behind.
 */
export async function openFile(
  inputPath: string,
  target: FileTarget,
  identities: readonly Identity[],
  options: OpenOptions = {},
): Promise<OpenFileResult> {
  const inPlace = target.outputPath === inputPath;
  const durable = isDurable(inputPath, target);
  await refuseExisting(target.outputPath, inPlace || target.overwrite === true);
  const source = await openForReading(inputPath);
  try {
    if (await isArmoredFile(source.handle)) return await openArmored(source, inputPath, target, identities, options);
    const { header } = await readHeaderFrom(source.handle, inputPath);
    const inspection = describeHeader(header);
    const fileKey = await unlockHeader(header, identities);
    const decryptor = new PayloadDecryptor(fileKey, { cipher: options.cipher ?? selectStreamCipher(), recycleOutput: true });
    const hash = options.sha256 === false ? null : createHash('sha256');
    let plaintextBytes = 0;
    await writeFileAtomically(
      target.outputPath,
      async (out) => {
        await pumpBlocks(
          source.handle,
          header.length,
          out,
          (block) => {
            const plain = decryptor.push(block);
            for (const piece of plain) {
              hash?.update(piece);
              plaintextBytes += piece.length;
            }
            return plain;
          },
          { flushFrom: earlyFlushFrom(durable) },
        );
        const last = decryptor.finish();
        hash?.update(last);
        plaintextBytes += last.length;
        await writeAll(out, [last]);
      },
      {
        mode: source.mode,
        times: inPlace ? { atime: source.atime, mtime: source.mtime } : undefined,
        beforeCommit: () => assertUnchanged(source.handle, inputPath, source.before),
        durable,
        expectedBytes: plaintextLengthOf(source.before.size - header.length),
      },
    );
    return { inspection, plaintextBytes, sha256: hash?.digest('hex') ?? null };
  } finally {
    await closeQuietly(source.handle);
  }
}

/** The plaintext size of a payload of `payloadBytes`; undefined when no valid payload has that size. */
function plaintextLengthOf(payloadBytes: number): number | undefined {
  try {
    return payloadBytes - ciphertextChunkCount(payloadBytes, true) * TAG_SIZE;
  } catch {
    return undefined;
  }
}

async function isArmoredFile(handle: FileHandle): Promise<boolean> {
  const start = Buffer.alloc(ARMOR_BEGIN.length + 1024);
  const { bytesRead } = await handle.read(start, 0, start.length, 0);
  return bytesRead > ARMOR_BEGIN.length && looksArmored(start.subarray(0, bytesRead));
}

/**
 * Armored files are small text (mail bodies), so they take the simple streaming road: dearmor, openStream,
 * write. The output is still committed only after the last chunk authenticated.
 */
async function openArmored(
  source: { handle: FileHandle; before: Snapshot; atime: Date; mtime: Date; mode: number },
  inputPath: string,
  target: FileTarget,
  identities: readonly Identity[],
  options: OpenOptions,
): Promise<OpenFileResult> {
  const hash = options.sha256 === false ? null : createHash('sha256');
  let plaintextBytes = 0;
  let inspection: Inspection | undefined;
  try {
    await writeFileAtomically(
      target.outputPath,
      async (out) => {
        const opened = await openStream(dearmor(readPieces(source.handle, BLOCK_SIZE)), identities);
        inspection = opened.inspection;
        for await (const piece of opened.plaintext) {
          hash?.update(piece);
          plaintextBytes += piece.length;
          await writeAll(out, [piece]);
        }
      },
      {
        mode: source.mode,
        times: target.outputPath === inputPath ? { atime: source.atime, mtime: source.mtime } : undefined,
        beforeCommit: () => assertUnchanged(source.handle, inputPath, source.before),
        durable: isDurable(inputPath, target),
      },
    );
  } catch (error) {
    throw toFileOperationError(error, inputPath);
  }
  if (!inspection) throw new FileOperationError('IO_FAILED', `${inputPath}: armored file produced no header`);
  return { inspection, plaintextBytes, sha256: hash?.digest('hex') ?? null };
}

export type FileInspection = Inspection & {
  /** The file is ASCII-armored age (text); the rest describes the age file inside. */
  readonly armored: boolean;
};

/** Reads at most the first 64 KiB (armored: the text that holds that much): enough for any header we accept. */
export async function inspectFile(path: string): Promise<FileInspection> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw toFileOperationError(error, path);
  }
  try {
    const size = (await handle.stat()).size;
    // Armor grows the data by 4/3 plus line ends; twice the header limit covers it.
    const buffer = Buffer.alloc(2 * MAX_HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const start = buffer.subarray(0, bytesRead);
    const whole = bytesRead === size;
    if (bytesRead > ARMOR_BEGIN.length && looksArmored(start)) {
      const decoder = new ArmorDecoder();
      const decoded = decoder.push(whole ? start : start.subarray(0, start.lastIndexOf(0x0a) + 1));
      if (whole) decoded.push(...decoder.finish());
      return { ...inspect(Buffer.concat(decoded), whole), armored: true };
    }
    return { ...inspect(start.subarray(0, Math.min(bytesRead, MAX_HEADER_BYTES)), bytesRead === size), armored: false };
  } finally {
    await closeQuietly(handle);
  }
}

/**
 * Writes `newHeader`, then the sealed file's payload (from `payloadStart`) byte for byte, authenticating it
 * under `fileKey` on the way: a damaged payload, or a header for another file, never produces a copy.
 */
async function writeVerifiedCopy(
  inputPath: string,
  target: FileTarget,
  source: { readonly handle: FileHandle; readonly before: Snapshot },
  payloadStart: number,
  newHeader: Buffer,
  fileKey: Uint8Array,
  cipher: ChunkCipher = selectStreamCipher(),
): Promise<void> {
  const verifier = new PayloadDecryptor(fileKey, { cipher, recycleOutput: true });
  const durable = isDurable(inputPath, target);
  const payloadBytes = source.before.size - payloadStart;
  await writeFileAtomically(
    target.outputPath,
    async (out) => {
      await writeAll(out, [newHeader]);
      await pumpBlocks(
        source.handle,
        payloadStart,
        out,
        (block) => {
          verifier.push(block);
          return [Buffer.from(block)];
        },
        { flushFrom: earlyFlushFrom(durable) },
      );
      verifier.finish();
    },
    { mode: 0o600, durable, expectedBytes: newHeader.length + payloadBytes },
  );
}

export interface RecipientCopyResult {
  readonly passphrase: string;
  readonly inspection: Inspection;
}

/**
 * Writes a copy for an outside recipient: a new header with a single passphrase (scrypt) stanza, then the
 * payload byte for byte. The payload is authenticated on the way, so we never hand out a damaged file.
 */
export async function writeRecipientCopy(
  inputPath: string,
  target: FileTarget,
  identities: readonly Identity[],
  options: { passphrase?: string; logN?: number; cipher?: ChunkCipher } = {},
): Promise<RecipientCopyResult> {
  if (target.outputPath === inputPath) {
    throw new FileOperationError('TARGET_EXISTS', 'a recipient copy must go to another path; the sealed original is kept', { kind: 'client' });
  }
  await refuseExisting(target.outputPath, target.overwrite === true);
  const source = await openForReading(inputPath);
  try {
    const { header } = await readHeaderFrom(source.handle, inputPath);
    const inspection = describeHeader(header);
    const fileKey = await unlockHeader(header, identities);
    const copy = await rekeyForPassphrase(fileKey, options);
    await writeVerifiedCopy(inputPath, target, source, header.length, copy.header, fileKey, options.cipher);
    return { passphrase: copy.passphrase, inspection };
  } finally {
    await closeQuietly(source.handle);
  }
}

/**
 * Writes an outside recipient's copy from a header the policy server made (one scrypt stanza wrapping this
 * file's key, under `passphrase`) and the unchanged payload of the sealed file. The agent holds no key to
 * this file: the passphrase unlocks the new header, and the payload is authenticated under that key on the
 * way, so a header for another file, or a damaged payload, never produces a copy.
 */
export async function writeRecipientCopyFromHeader(inputPath: string, target: FileTarget, recipientHeader: Buffer, passphrase: string): Promise<Inspection> {
  if (target.outputPath === inputPath) {
    throw new FileOperationError('TARGET_EXISTS', 'a recipient copy must go to another path; the sealed original is kept', { kind: 'client' });
  }
  let newHeader;
  try {
    newHeader = parseHeader(recipientHeader);
  } catch (error) {
    throw new FileOperationError('RECIPIENT_HEADER_INVALID', 'the recipient header from the server is not an age header', { cause: error });
  }
  if (newHeader.length !== recipientHeader.length || newHeader.stanzas.length !== 1 || newHeader.stanzas[0]?.type !== 'scrypt') {
    throw new FileOperationError('RECIPIENT_HEADER_INVALID', 'the recipient header must be exactly one scrypt stanza');
  }
  const fileKey = await unlockHeader(newHeader, [new PassphraseIdentity(passphrase)]);
  await refuseExisting(target.outputPath, target.overwrite === true);
  const source = await openForReading(inputPath);
  try {
    const { header } = await readHeaderFrom(source.handle, inputPath);
    const inspection = describeHeader(header);
    try {
      await writeVerifiedCopy(inputPath, target, source, header.length, recipientHeader, fileKey);
    } catch (error) {
      throw toFileOperationError(error, inputPath);
    }
    return inspection;
  } finally {
    await closeQuietly(source.handle);
  }
}
