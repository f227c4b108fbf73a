import { randomBytes } from 'node:crypto';
import { SealedFileError } from '../errors.js';
import { AGE_MAGIC, encodeHeader, HeaderIncomplete, MAX_HEADER_BYTES, parseHeader, startsWithAgeMagic, verifyHeaderMac, type ParsedHeader, type Stanza } from '../age/header.js';
import { FILE_KEY_SIZE } from '../age/primitives.js';
import { scryptWrap, DEFAULT_SCRYPT_LOG_N, MAX_SCRYPT_LOG_N } from '../age/scrypt.js';
import { PAYLOAD_NONCE_SIZE, PayloadDecryptor, PayloadEncryptor, type PayloadStreamOptions } from '../age/stream.js';
import type { X25519Recipient } from '../age/x25519.js';
import { findFileKey, type Identity } from './identities.js';
import { decodeMetaStanza, encodeMetaStanza, META_STANZA_TYPE, newFileId, type SealMeta } from './meta.js';
import { generatePassphrase } from './passphrase.js';

export interface SealOptions {
  /** The zone's public key first; optionally the organisation's recovery recipient. */
  readonly recipients: readonly X25519Recipient[];
  /** Present for ExitSeal files; omitted for a plain age file (e.g. `exitseal seal` without --zone). */
  readonly meta?: { readonly zoneId: string; readonly keyVersion: number; readonly fileId?: string };
}

export interface Sealer {
  /** The complete age header, to be written first. */
  readonly header: Buffer;
  readonly meta: SealMeta | null;
  readonly encryptor: PayloadEncryptor;
}

/**
 * Starts sealing: makes a fresh file key, wraps it for each recipient, and returns header plus encryptor.
 * `stream` says how the payload's chunks are run (see PayloadStreamOptions).
 */
export function createSealer(options: SealOptions, stream: PayloadStreamOptions = {}): Sealer {
  if (options.recipients.length === 0) throw new RangeError('at least one recipient is needed');
  const fileKey = randomBytes(FILE_KEY_SIZE);
  const stanzas: Stanza[] = [];
  let meta: SealMeta | null = null;
  if (options.meta) {
    const metaStanza = encodeMetaStanza({ ...options.meta, fileId: options.meta.fileId ?? newFileId() });
    meta = decodeMetaStanza(metaStanza);
    stanzas.push(metaStanza);
  }
  for (const recipient of options.recipients) stanzas.push(recipient.wrap(fileKey));
  return { header: encodeHeader(stanzas, fileKey), meta, encryptor: new PayloadEncryptor(fileKey, undefined, stream) };
}

export type FileKind = 'exitseal' | 'age' | 'plaintext';

export interface Inspection {
  readonly kind: FileKind;
  /** ExitSeal metadata; null for a foreign age file or plaintext. */
  readonly meta: SealMeta | null;
  readonly stanzaTypes: readonly string[];
  /** Header length in bytes (the payload starts here); 0 for plaintext. */
  readonly headerLength: number;
}

/**
 * Tells an ExitSeal file from a foreign age file and from plaintext, without any key. `firstBytes` should
 * hold the whole header (the first 64 KiB of the file is always enough); a file that starts like age but
 * whose header is malformed raises a SealedFileError, since it is neither a good sealed file nor plaintext
 * we should seal over without a look.
 */
export function inspect(firstBytes: Uint8Array, atEof = true): Inspection {
  if (!startsWithAgeMagic(firstBytes)) return { kind: 'plaintext', meta: null, stanzaTypes: [], headerLength: 0 };
  // A whole file shorter than the version line cannot be age, however it begins (a text file "age", say).
  if (atEof && firstBytes.length <= AGE_MAGIC.length) return { kind: 'plaintext', meta: null, stanzaTypes: [], headerLength: 0 };
  let header: ParsedHeader;
  try {
    header = parseHeader(firstBytes);
  } catch (error) {
    if (error instanceof HeaderIncomplete) {
      if (atEof || firstBytes.length >= MAX_HEADER_BYTES) throw new SealedFileError('HEADER_INVALID', 'age header is truncated');
      throw new SealedFileError('HEADER_INVALID', 'age header is incomplete: pass more of the file');
    }
    if (error instanceof SealedFileError && error.code === 'NOT_AGE') {
      return { kind: 'plaintext', meta: null, stanzaTypes: [], headerLength: 0 };
    }
    throw error;
  }
  return describeHeader(header);
}

/** What a parsed header says about the file: ExitSeal metadata, stanza types, header length. */
export function describeHeader(header: ParsedHeader): Inspection {
  const metaStanzas = header.stanzas.filter((s) => s.type === META_STANZA_TYPE);
  if (metaStanzas.length > 1) throw new SealedFileError('HEADER_INVALID', 'more than one ExitSeal metadata stanza');
  const metaStanza = metaStanzas[0];
  const meta = metaStanza ? decodeMetaStanza(metaStanza) : null;
  return { kind: meta ? 'exitseal' : 'age', meta, stanzaTypes: header.stanzas.map((s) => s.type), headerLength: header.length };
}

/**
 * Cheap test on the first bytes of a file: does it carry an ExitSeal header? Never throws; a malformed or
 * foreign age header is "not sealed by us".
 */
export function isSealed(firstBytes: Uint8Array): boolean {
  try {
    return inspect(firstBytes, true).kind === 'exitseal';
  } catch {
    return false;
  }
}

/**
 * Collects bytes from a stream until a whole header is parsed; returns the header and the leftover bytes.
 *
 * Parsing starts over from the first byte each time, so it is not retried on every piece: only on the
 * first piece (a plaintext file is told apart at once), when a line starting with "---" (the MAC line, the
 * only way a header can end) has arrived, when the bytes held have doubled since the last try, and at the
 * end of the stream. However small the pieces a source yields, the work stays linear in the header size.
 */
export async function readHeader(
  source: AsyncIterator<Uint8Array>,
): Promise<{ header: ParsedHeader; rest: Buffer }> {
  const pieces: Buffer[] = [];
  let length = 0;
  let lengthAtLastTry = -1;
  let lineHead = '';
  let macLineArrived = false;
  const tryParse = (): { header: ParsedHeader; rest: Buffer } | null => {
    const buffered = Buffer.concat(pieces, length);
    pieces.splice(0, pieces.length, buffered);
    lengthAtLastTry = length;
    macLineArrived = false;
    try {
      const header = parseHeader(buffered);
      return { header, rest: buffered.subarray(header.length) };
    } catch (error) {
      if (!(error instanceof HeaderIncomplete)) throw error;
      return null;
    }
  };
  for (;;) {
    if (macLineArrived || length >= 2 * lengthAtLastTry || length > MAX_HEADER_BYTES) {
      const parsed = tryParse();
      if (parsed) return parsed;
      if (length > MAX_HEADER_BYTES) throw new SealedFileError('HEADER_TOO_LARGE', `header larger than ${MAX_HEADER_BYTES} bytes`);
    }
    const next = await source.next();
    if (next.done) {
      if (length === 0) throw new SealedFileError('NOT_AGE', 'the file is empty, not an age file');
      const parsed = lengthAtLastTry === length ? null : tryParse();
      if (parsed) return parsed;
      throw new SealedFileError('HEADER_INVALID', 'the file ends inside its header (truncated)');
    }
    const piece = Buffer.from(next.value);
    pieces.push(piece);
    length += piece.length;
    for (let i = 0; i < piece.length && !macLineArrived; i++) {
      const byte = piece[i] ?? 0;
      if (byte === 0x0a) {
        macLineArrived = lineHead === '---';
        lineHead = '';
      } else if (lineHead.length < 3) {
        lineHead += String.fromCharCode(byte);
      }
    }
  }
}

/** Recovers and authenticates the file key: the header MAC is checked before any payload is touched. */
export async function unlockHeader(header: ParsedHeader, identities: readonly Identity[]): Promise<Buffer> {
  const fileKey = await findFileKey(header.stanzas, identities);
  if (!verifyHeaderMac(header, fileKey)) {
    throw new SealedFileError('HMAC_MISMATCH', 'the header MAC does not verify: the header was altered or is damaged');
  }
  return fileKey;
}

export interface OpenedStream {
  readonly inspection: Inspection;
  /** Verified plaintext, chunk by chunk. Throws SealedFileError (PAYLOAD_INVALID) at the first bad chunk. */
  readonly plaintext: AsyncGenerator<Buffer, void, undefined>;
}

/** Opens a sealed stream with any of the identities. */
export async function openStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  identities: readonly Identity[],
): Promise<OpenedStream> {
  const iterator = toAsyncIterator(source);
  try {
    const { header, rest } = await readHeader(iterator);
    const inspection = describeHeader(header);
    const fileKey = await unlockHeader(header, identities);
    // The payload nonce belongs to the header's side of the file (age reports a missing one as a header
    // failure), so a file cut right after its header fails here, before any plaintext is promised.
    let payloadStart = rest;
    while (payloadStart.length < PAYLOAD_NONCE_SIZE) {
      const next = await iterator.next();
      if (next.done) throw new SealedFileError('HEADER_INVALID', 'the file ends before its payload nonce (truncated after the header)');
      payloadStart = Buffer.concat([payloadStart, next.value]);
    }
    return { inspection, plaintext: decryptRest(fileKey, payloadStart, iterator) };
  } catch (error) {
    // Let the source release what it holds (a file handle in a generator's finally); the first error wins.
    await iterator.return?.().catch(() => undefined);
    throw error;
  }
}

/** Decrypts the rest of the stream; the source is closed however this ends (done, failed, or abandoned by break). */
async function* decryptRest(fileKey: Buffer, rest: Buffer, iterator: AsyncIterator<Uint8Array>): AsyncGenerator<Buffer, void, undefined> {
  try {
    const decryptor = new PayloadDecryptor(fileKey);
    if (rest.length > 0) yield* decryptor.push(rest);
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      yield* decryptor.push(next.value);
    }
    yield decryptor.finish();
  } finally {
    await iterator.return?.().catch(() => undefined);
  }
}

function toAsyncIterator(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncIterator<Uint8Array> {
  if (Symbol.asyncIterator in source) return source[Symbol.asyncIterator]();
  const sync = source[Symbol.iterator]();
  return {
    next: () => Promise.resolve(sync.next()),
    return: () => Promise.resolve(sync.return?.() ?? { done: true, value: undefined }),
  };
}

/** Seals a plaintext stream; yields the header and then ciphertext pieces. */
export async function* sealStream(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: SealOptions): AsyncGenerator<Buffer, void, undefined> {
  const sealer = createSealer(options);
  yield sealer.header;
  for await (const block of source) yield* sealer.encryptor.push(block);
  yield* sealer.encryptor.finish();
}

export interface RecipientCopy {
  /** The new header: one scrypt stanza and a MAC under the same file key. The payload follows unchanged. */
  readonly header: Buffer;
  readonly passphrase: string;
}

/**
 * Re-keys a sealed file for an outside recipient: a new header whose only stanza is scrypt (as the spec
 * demands), the payload unchanged. The caller must already have authenticated `fileKey` against the old
 * header (unlockHeader does).
 */
export async function rekeyForPassphrase(
  fileKey: Uint8Array,
  options: { passphrase?: string; logN?: number } = {},
): Promise<RecipientCopy> {
  if (fileKey.length !== FILE_KEY_SIZE) throw new RangeError('file key must be 16 bytes');
  const logN = options.logN ?? DEFAULT_SCRYPT_LOG_N;
  // Above the readers' bound (ours and age's is 2^22) the copy could not be opened; below 1 scrypt fails.
  if (!Number.isInteger(logN) || logN < 1 || logN > MAX_SCRYPT_LOG_N) {
    throw new RangeError(`scrypt work factor must be an integer from 1 to ${MAX_SCRYPT_LOG_N}`);
  }
  const passphrase = options.passphrase ?? generatePassphrase();
  const stanza = await scryptWrap(fileKey, passphrase, logN);
  return { header: encodeHeader([stanza], fileKey), passphrase };
}
