import { randomBytes } from 'node:crypto';
import { SealedFileError } from '../errors.js';
import { CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, nodeChunkCipher, sealedRunLength, type ChunkCipher } from './chunk-cipher.js';
import { hkdfSha256, TAG_SIZE } from './primitives.js';

export { CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE } from './chunk-cipher.js';
export const PAYLOAD_NONCE_SIZE = 16;

export interface PayloadStreamOptions {
  /** Runs the chunks; node:crypto unless the caller has a faster one. */
  readonly cipher?: ChunkCipher;
  /**
   * Reuse output memory: what push() or finish() returns stays valid only until the second push() or finish()
   * after it (two buffers take turns). For a consumer that writes each result before it pushes twice more, as
   * the agent's pumpBlocks does. It spares a fresh buffer per push: fresh memory costs page faults and cache
   * misses, measured at about 0.05 s of a 0.5 s 1 GiB seal. Only ciphers that use `output` benefit.
   */
  readonly recycleOutput?: boolean;
}

/** The two output buffers of a recycling encryptor or decryptor, handed out in turn and grown as needed. */
class OutputTurns {
  private readonly buffers: [Buffer | null, Buffer | null] = [null, null];
  private turn = 0;

  /** Room for `size` bytes, or undefined when recycling is off (the cipher then allocates). */
  next(enabled: boolean, size: number): Buffer | undefined {
    if (!enabled || size === 0) return undefined;
    const turn = this.turn;
    this.turn ^= 1;
    let buffer = this.buffers[turn] ?? null;
    if (buffer === null || buffer.length < size) {
      buffer = Buffer.allocUnsafeSlow(size);
      this.buffers[turn] = buffer;
    }
    return buffer;
  }
}

/**
 * Bytes kept between pushes (a chunk not yet known to be the last, or not yet whole), in one buffer allocated
 * once: a fresh copy per push cost a page fault per 4 KiB on every block of a large file.
 */
class HeldBytes {
  private readonly buffer: Buffer;
  private length = 0;

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafeSlow(capacity);
  }

  get size(): number {
    return this.length;
  }

  /** A view of the held bytes: valid until the next append() or clear(). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  append(data: Buffer): void {
    if (this.length + data.length > this.buffer.length) throw new RangeError('held bytes past their capacity');
    data.copy(this.buffer, this.length);
    this.length += data.length;
  }

  clear(): void {
    this.length = 0;
  }
}

export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return hkdfSha256(fileKey, nonce, 'payload');
}

/**
 * Encrypts a plaintext stream into the age STREAM payload (the 16-byte nonce first, then 64 KiB chunks).
 * Memory is bounded by the size of one push plus one chunk. It holds back the last (possibly full) chunk
 * until `finish()`, because only then is it known to be the final one.
 */
export class PayloadEncryptor {
  private readonly key: Buffer;
  private counter = 0;
  /** The last chunk seen so far (possibly full): only finish() tells whether it is the final one. */
  private readonly pending = new HeldBytes(CHUNK_SIZE);
  private nonceEmitted = false;
  private finished = false;
  private readonly cipher: ChunkCipher;
  private readonly recycle: boolean;
  private readonly outputs = new OutputTurns();
  readonly nonce: Buffer;

  constructor(fileKey: Uint8Array, nonce: Uint8Array = randomBytes(PAYLOAD_NONCE_SIZE), options: PayloadStreamOptions = {}) {
    if (nonce.length !== PAYLOAD_NONCE_SIZE) throw new RangeError('payload nonce must be 16 bytes');
    this.nonce = Buffer.from(nonce);
    this.key = payloadKey(fileKey, this.nonce);
    this.cipher = options.cipher ?? nodeChunkCipher;
    this.recycle = options.recycleOutput === true;
  }

  /** Returns ciphertext pieces (write them in order, e.g. with writev). The input may be reused afterwards. */
  push(data: Uint8Array): Buffer[] {
    if (this.finished) throw new Error('PayloadEncryptor.push after finish');
    const out: Buffer[] = [];
    if (!this.nonceEmitted) {
      out.push(this.nonce);
      this.nonceEmitted = true;
    }
    let input = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const need = this.pending.size > 0 ? CHUNK_SIZE - this.pending.size : 0;
    if (this.pending.size > 0 && input.length <= need) {
      this.pending.append(input);
      return out;
    }
    // The held-back chunk (now known not to be the last) and every whole chunk of the input with at least one
    // byte behind it; the rest waits for more data or finish().
    const completesPending = this.pending.size > 0;
    const wholeChunks = input.length - need === 0 ? 0 : Math.floor((input.length - need - 1) / CHUNK_SIZE);
    let output = this.outputs.next(this.recycle, ((completesPending ? 1 : 0) + wholeChunks) * ENCRYPTED_CHUNK_SIZE);
    if (completesPending) {
      this.pending.append(input.subarray(0, need));
      this.encrypt(this.pending.bytes(), false, out, output);
      this.pending.clear();
      output = output?.subarray(ENCRYPTED_CHUNK_SIZE);
      input = input.subarray(need);
    }
    if (wholeChunks > 0) this.encrypt(input.subarray(0, wholeChunks * CHUNK_SIZE), false, out, output);
    this.pending.append(input.subarray(wholeChunks * CHUNK_SIZE));
    return out;
  }

  /**
   * For a caller that seals the chunks itself, several at a time (the agent's native file path): returns the
   * payload nonce, which opens the payload, and the payload key, and closes this encryptor. The caller must do
   * what push and finish would: seal plaintext chunk n (CHUNK_SIZE bytes each) with counter n and flag the last
   * chunk final (an empty plaintext is one empty final chunk).
   */
  handOver(): { readonly nonce: Buffer; readonly key: Buffer } {
    if (this.finished || this.nonceEmitted) throw new Error('PayloadEncryptor.handOver after it was used');
    this.finished = true;
    return { nonce: this.nonce, key: this.key };
  }

  finish(): Buffer[] {
    if (this.finished) throw new Error('PayloadEncryptor.finish called twice');
    const out: Buffer[] = [];
    if (!this.nonceEmitted) {
      out.push(this.nonce);
      this.nonceEmitted = true;
    }
    this.encrypt(this.pending.bytes(), true, out, this.outputs.next(this.recycle, sealedRunLength(this.pending.size, true)));
    this.pending.clear();
    this.finished = true;
    return out;
  }

  private encrypt(run: Buffer, final: boolean, out: Buffer[], output: Buffer | undefined): void {
    const pieces = this.cipher.sealChunks(this.key, this.counter, run, final, output);
    this.counter += final ? 1 : run.length / CHUNK_SIZE;
    for (const piece of pieces) out.push(piece);
  }
}

/**
 * Decrypts an age STREAM payload (starting with its 16-byte nonce). Plaintext of a chunk is returned only
 * after that chunk's tag verified (the ChunkCipher guarantees it).
 *
 * A full-size chunk is tried as a non-final chunk first and, if that fails, as the final one (as the age
 * reference implementation does), so every chunk is released as soon as it has arrived and authenticated.
 * The payload as a whole is valid only once finish() has returned: a stream may still turn out truncated.
 *
 * Any failure is a PAYLOAD_INVALID error (HEADER_INVALID if even the nonce is missing) and the decryptor
 * stops. When a push() authenticates some chunks and then meets a bad one, it returns the good chunks
 * (they are genuine) and throws the error from the next call (push or finish), so callers see every
 * verified byte and still cannot miss the failure.
 */
export class PayloadDecryptor {
  private readonly fileKey: Buffer;
  private key: Buffer | null = null;
  private counter = 0;
  /** Bytes of the nonce (until the key is known) or of the chunk being collected. */
  private readonly pending = new HeldBytes(ENCRYPTED_CHUNK_SIZE);
  /** Set once a final chunk authenticated: any byte after it is an error. */
  private sawFinalChunk = false;
  private deferredError: SealedFileError | null = null;
  private failed = false;
  private finished = false;
  private readonly cipher: ChunkCipher;
  private readonly recycle: boolean;
  private readonly outputs = new OutputTurns();

  constructor(fileKey: Uint8Array, options: PayloadStreamOptions = {}) {
    this.fileKey = Buffer.from(fileKey);
    this.cipher = options.cipher ?? nodeChunkCipher;
    this.recycle = options.recycleOutput === true;
  }

  push(data: Uint8Array): Buffer[] {
    this.checkUsable();
    const out: Buffer[] = [];
    try {
      this.consume(Buffer.from(data.buffer, data.byteOffset, data.byteLength), out);
    } catch (error) {
      if (out.length > 0 && error instanceof SealedFileError) {
        this.deferredError = error;
        return out;
      }
      throw error;
    }
    return out;
  }

  /** Verifies and returns the final chunk (empty if it already went out). Throws if the payload was truncated. */
  finish(): Buffer {
    this.checkUsable();
    this.finished = true;
    if (this.sawFinalChunk) return Buffer.alloc(0);
    // age counts the nonce as part of the header: a file that ends before it is a truncated header.
    const key = this.key;
    if (key === null) return this.fail('the file ends before its payload nonce (truncated after the header)', 'HEADER_INVALID');
    const last = this.pending.bytes();
    if (last.length === 0) {
      return this.fail(this.counter === 0 ? 'payload has no chunks' : 'payload is truncated: the last chunk is missing');
    }
    const opened = last.length < TAG_SIZE ? null : this.cipher.openChunks(key, this.counter, last, true, this.outputs.next(this.recycle, last.length - TAG_SIZE));
    if (opened === null || opened.authenticated !== 1) {
      return this.fail(`payload chunk ${this.counter} failed authentication (altered, truncated or reordered data)`);
    }
    const plaintext = opened.plaintext.length === 1 ? (opened.plaintext[0] ?? Buffer.alloc(0)) : Buffer.concat(opened.plaintext);
    if (plaintext.length === 0 && this.counter > 0) return this.fail('payload ends with an empty final chunk');
    this.counter++;
    this.pending.clear();
    return plaintext;
  }

  private consume(data: Buffer, out: Buffer[]): void {
    let input = data;
    let key = this.key;
    if (key === null) {
      const missing = PAYLOAD_NONCE_SIZE - this.pending.size;
      this.pending.append(input.subarray(0, missing));
      input = input.subarray(missing);
      if (this.pending.size < PAYLOAD_NONCE_SIZE) return;
      key = this.key = payloadKey(this.fileKey, this.pending.bytes());
      this.pending.clear();
    }
    if (input.length > 0 && this.sawFinalChunk) this.fail('payload has data after its final chunk');
    const need = this.pending.size > 0 ? ENCRYPTED_CHUNK_SIZE - this.pending.size : 0;
    if (this.pending.size > 0 && input.length < need) {
      this.pending.append(input);
      return;
    }
    // The chunk being collected, now complete, and every whole chunk of the input; the rest waits.
    const completesPending = this.pending.size > 0;
    const wholeChunks = Math.floor((input.length - need) / ENCRYPTED_CHUNK_SIZE);
    let output = this.outputs.next(this.recycle, ((completesPending ? 1 : 0) + wholeChunks) * CHUNK_SIZE);
    if (completesPending) {
      this.pending.append(input.subarray(0, need));
      this.decryptWholeChunks(key, this.pending.bytes(), out, output);
      this.pending.clear();
      output = output?.subarray(CHUNK_SIZE);
      input = input.subarray(need);
    }
    if (wholeChunks > 0) {
      if (this.sawFinalChunk) this.fail('payload has data after its final chunk');
      this.decryptWholeChunks(key, input.subarray(0, wholeChunks * ENCRYPTED_CHUNK_SIZE), out, output);
    }
    const rest = input.subarray(wholeChunks * ENCRYPTED_CHUNK_SIZE);
    if (rest.length > 0) {
      if (this.sawFinalChunk) this.fail('payload has data after its final chunk');
      this.pending.append(rest);
    }
  }

  /** Full-size chunks, all taken as non-final; the first that fails that is retried as the final chunk. */
  private decryptWholeChunks(key: Buffer, run: Buffer, out: Buffer[], output: Buffer | undefined): void {
    const opened = this.cipher.openChunks(key, this.counter, run, false, output);
    for (const piece of opened.plaintext) out.push(piece);
    this.counter += opened.authenticated;
    const chunks = run.length / ENCRYPTED_CHUNK_SIZE;
    if (opened.authenticated === chunks) return;
    const failing = opened.authenticated * ENCRYPTED_CHUNK_SIZE;
    const asFinal = this.cipher.openChunks(key, this.counter, run.subarray(failing, failing + ENCRYPTED_CHUNK_SIZE), true, output?.subarray(opened.authenticated * CHUNK_SIZE));
    if (asFinal.authenticated !== 1) {
      this.fail(`payload chunk ${this.counter} failed authentication (altered, reordered or truncated data)`);
    }
    for (const piece of asFinal.plaintext) out.push(piece);
    this.counter++;
    this.sawFinalChunk = true;
    if (failing + ENCRYPTED_CHUNK_SIZE < run.length) this.fail('payload has data after its final chunk');
  }

  private checkUsable(): void {
    const deferred = this.deferredError;
    if (deferred !== null) {
      this.deferredError = null;
      throw deferred;
    }
    if (this.failed) throw new SealedFileError('PAYLOAD_INVALID', 'payload decryption already failed');
    if (this.finished) throw new Error('PayloadDecryptor used after finish');
  }

  private fail(message: string, code: 'PAYLOAD_INVALID' | 'HEADER_INVALID' = 'PAYLOAD_INVALID'): never {
    this.failed = true;
    throw new SealedFileError(code, message);
  }
}
