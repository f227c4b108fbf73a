import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SealedFileError } from '../errors.js';
import { hkdfSha256, TAG_SIZE } from './primitives.js';

/** Plaintext bytes per STREAM chunk (age v1). */
export const CHUNK_SIZE = 64 * 1024;
export const ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
export const PAYLOAD_NONCE_SIZE = 16;

function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  // 11-byte big-endian counter; 2^53 chunks (512 PiB) is far beyond any file, so two words suffice.
  nonce.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 3);
  nonce.writeUInt32BE(counter >>> 0, 7);
  nonce[11] = last ? 1 : 0;
  return nonce;
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
  private pending: Buffer = Buffer.alloc(0);
  private nonceEmitted = false;
  private finished = false;
  readonly nonce: Buffer;

  constructor(fileKey: Uint8Array, nonce: Uint8Array = randomBytes(PAYLOAD_NONCE_SIZE)) {
    if (nonce.length !== PAYLOAD_NONCE_SIZE) throw new RangeError('payload nonce must be 16 bytes');
    this.nonce = Buffer.from(nonce);
    this.key = payloadKey(fileKey, this.nonce);
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
    if (this.pending.length > 0) {
      const need = CHUNK_SIZE - this.pending.length;
      if (input.length <= need) {
        this.pending = Buffer.concat([this.pending, input]);
        return out;
      }
      // A full chunk with more data behind it: it is not the last one.
      this.encryptChunk([this.pending, input.subarray(0, need)], false, out);
      this.pending = Buffer.alloc(0);
      input = input.subarray(need);
    }
    let offset = 0;
    while (input.length - offset > CHUNK_SIZE) {
      this.encryptChunk([input.subarray(offset, offset + CHUNK_SIZE)], false, out);
      offset += CHUNK_SIZE;
    }
    this.pending = Buffer.from(input.subarray(offset));
    return out;
  }

  finish(): Buffer[] {
    if (this.finished) throw new Error('PayloadEncryptor.finish called twice');
    const out: Buffer[] = [];
    if (!this.nonceEmitted) {
      out.push(this.nonce);
      this.nonceEmitted = true;
    }
    this.encryptChunk([this.pending], true, out);
    this.pending = Buffer.alloc(0);
    this.finished = true;
    return out;
  }

  private encryptChunk(parts: Buffer[], last: boolean, out: Buffer[]): void {
    const cipher = createCipheriv('chacha20-poly1305', this.key, chunkNonce(this.counter++, last), { authTagLength: TAG_SIZE });
    for (const part of parts) if (part.length > 0) out.push(cipher.update(part));
    cipher.final();
    out.push(cipher.getAuthTag());
  }
}

/**
 * Decrypts an age STREAM payload (starting with its 16-byte nonce). Plaintext of a chunk is returned only
 * after that chunk's tag verified: Node's decipher.update() returns bytes before the tag is checked, so
 * they are held until final() succeeds.
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
  private pending: Buffer = Buffer.alloc(0);
  /** Set once a final chunk authenticated: any byte after it is an error. */
  private sawFinalChunk = false;
  private deferredError: SealedFileError | null = null;
  private failed = false;
  private finished = false;

  constructor(fileKey: Uint8Array) {
    this.fileKey = Buffer.from(fileKey);
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
    if (this.key === null) return this.fail('the file ends before its payload nonce (truncated after the header)', 'HEADER_INVALID');
    if (this.pending.length === 0) {
      return this.fail(this.counter === 0 ? 'payload has no chunks' : 'payload is truncated: the last chunk is missing');
    }
    const plaintext = this.decryptChunk(this.pending, true);
    if (plaintext === null) return this.fail(`payload chunk ${this.counter} failed authentication (altered, truncated or reordered data)`);
    if (plaintext.length === 0 && this.counter > 0) return this.fail('payload ends with an empty final chunk');
    this.counter++;
    this.pending = Buffer.alloc(0);
    return plaintext;
  }

  private consume(data: Buffer, out: Buffer[]): void {
    let input = data;
    if (this.key === null) {
      const combined = Buffer.concat([this.pending, input]);
      if (combined.length < PAYLOAD_NONCE_SIZE) {
        this.pending = combined;
        return;
      }
      this.key = payloadKey(this.fileKey, combined.subarray(0, PAYLOAD_NONCE_SIZE));
      this.pending = Buffer.alloc(0);
      input = combined.subarray(PAYLOAD_NONCE_SIZE);
    }
    if (input.length > 0 && this.sawFinalChunk) this.fail('payload has data after its final chunk');
    if (this.pending.length > 0) {
      const need = ENCRYPTED_CHUNK_SIZE - this.pending.length;
      if (input.length < need) {
        this.pending = Buffer.concat([this.pending, input]);
        return;
      }
      const chunk = Buffer.concat([this.pending, input.subarray(0, need)]);
      this.pending = Buffer.alloc(0);
      out.push(this.decryptFullChunk(chunk));
      input = input.subarray(need);
    }
    let offset = 0;
    while (input.length - offset >= ENCRYPTED_CHUNK_SIZE) {
      if (this.sawFinalChunk) this.fail('payload has data after its final chunk');
      out.push(this.decryptFullChunk(input.subarray(offset, offset + ENCRYPTED_CHUNK_SIZE)));
      offset += ENCRYPTED_CHUNK_SIZE;
    }
    if (offset < input.length) {
      if (this.sawFinalChunk) this.fail('payload has data after its final chunk');
      this.pending = Buffer.from(input.subarray(offset));
    }
  }

  private decryptFullChunk(chunk: Buffer): Buffer {
    const asMiddle = this.decryptChunk(chunk, false);
    if (asMiddle !== null) {
      this.counter++;
      return asMiddle;
    }
    const asFinal = this.decryptChunk(chunk, true);
    if (asFinal === null) {
      this.fail(`payload chunk ${this.counter} failed authentication (altered, reordered or truncated data)`);
    }
    this.counter++;
    this.sawFinalChunk = true;
    return asFinal;
  }

  /** The chunk's plaintext, or null if it does not authenticate under this counter and final flag. */
  private decryptChunk(chunk: Buffer, last: boolean): Buffer | null {
    const key = this.key;
    if (key === null || chunk.length < TAG_SIZE) return null;
    const decipher = createDecipheriv('chacha20-poly1305', key, chunkNonce(this.counter, last), { authTagLength: TAG_SIZE });
    decipher.setAuthTag(chunk.subarray(chunk.length - TAG_SIZE));
    const plaintext = decipher.update(chunk.subarray(0, chunk.length - TAG_SIZE));
    try {
      decipher.final();
    } catch {
      return null;
    }
    return plaintext;
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
