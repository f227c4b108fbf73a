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
 * they are held until final() succeeds. Any failure is a PAYLOAD_INVALID error and the decryptor stops.
 */
export class PayloadDecryptor {
  private readonly fileKey: Buffer;
  private key: Buffer | null = null;
  private counter = 0;
  private pending: Buffer = Buffer.alloc(0);
  private failed = false;
  private finished = false;

  constructor(fileKey: Uint8Array) {
    this.fileKey = Buffer.from(fileKey);
  }

  push(data: Uint8Array): Buffer[] {
    this.checkUsable();
    let input = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const out: Buffer[] = [];
    if (this.key === null) {
      const combined = Buffer.concat([this.pending, input]);
      if (combined.length < PAYLOAD_NONCE_SIZE) {
        this.pending = combined;
        return out;
      }
      this.key = payloadKey(this.fileKey, combined.subarray(0, PAYLOAD_NONCE_SIZE));
      this.pending = Buffer.alloc(0);
      input = combined.subarray(PAYLOAD_NONCE_SIZE);
    }
    if (this.pending.length > 0) {
      const need = ENCRYPTED_CHUNK_SIZE - this.pending.length;
      if (input.length <= need) {
        this.pending = Buffer.concat([this.pending, input]);
        return out;
      }
      out.push(this.decryptChunk(Buffer.concat([this.pending, input.subarray(0, need)]), false));
      this.pending = Buffer.alloc(0);
      input = input.subarray(need);
    }
    let offset = 0;
    while (input.length - offset > ENCRYPTED_CHUNK_SIZE) {
      out.push(this.decryptChunk(input.subarray(offset, offset + ENCRYPTED_CHUNK_SIZE), false));
      offset += ENCRYPTED_CHUNK_SIZE;
    }
    this.pending = Buffer.from(input.subarray(offset));
    return out;
  }

  /** Verifies and returns the final chunk. Throws if the payload was truncated. */
  finish(): Buffer {
    this.checkUsable();
    this.finished = true;
    if (this.key === null) return this.fail('payload is missing or shorter than its 16-byte nonce');
    if (this.pending.length === 0) {
      return this.fail(this.counter === 0 ? 'payload has no chunks' : 'payload is truncated: the last chunk is missing');
    }
    const plaintext = this.decryptChunk(this.pending, true);
    if (plaintext.length === 0 && this.counter > 1) return this.fail('payload ends with an empty final chunk');
    this.pending = Buffer.alloc(0);
    return plaintext;
  }

  private decryptChunk(chunk: Buffer, last: boolean): Buffer {
    if (chunk.length < TAG_SIZE) return this.fail('payload chunk is shorter than its authentication tag');
    const key = this.key;
    if (key === null) return this.fail('payload nonce missing');
    const decipher = createDecipheriv('chacha20-poly1305', key, chunkNonce(this.counter, last), { authTagLength: TAG_SIZE });
    decipher.setAuthTag(chunk.subarray(chunk.length - TAG_SIZE));
    const plaintext = decipher.update(chunk.subarray(0, chunk.length - TAG_SIZE));
    try {
      decipher.final();
    } catch (cause) {
      return this.fail(
        last
          ? `payload chunk ${this.counter} failed authentication (altered, truncated or reordered data)`
          : `payload chunk ${this.counter} failed authentication (altered or reordered data, or data after the end)`,
        cause,
      );
    }
    this.counter++;
    return plaintext;
  }

  private checkUsable(): void {
    if (this.failed) throw new SealedFileError('PAYLOAD_INVALID', 'payload decryption already failed');
    if (this.finished) throw new Error('PayloadDecryptor used after finish');
  }

  private fail(message: string, cause?: unknown): never {
    this.failed = true;
    throw new SealedFileError('PAYLOAD_INVALID', message, { cause });
  }
}
