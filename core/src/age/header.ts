import { SealedFileError } from '../errors.js';
import { decodeBase64NoPad, encodeBase64NoPad } from './base64.js';
import { constantTimeEqual, hkdfSha256, hmacSha256 } from './primitives.js';

export const AGE_MAGIC = 'age-encryption.org/v1';
const MAGIC_LINE = Buffer.from(`${AGE_MAGIC}\n`, 'latin1');
const MAC_PREFIX = Buffer.from('---', 'latin1');
const LF = 0x0a;
const BODY_COLUMNS = 64;

/**
 * Bounds that keep a hostile header from costing us memory or time. Real headers are a few hundred bytes
 * (a post-quantum stanza is about 1.6 KiB); 64 KiB leaves room for many recipients.
 */
export const MAX_HEADER_BYTES = 64 * 1024;
const MAX_STANZA_LINE = 4 * 1024;

export interface Stanza {
  readonly type: string;
  readonly args: readonly string[];
  readonly body: Buffer;
}

export interface ParsedHeader {
  readonly stanzas: readonly Stanza[];
  readonly mac: Buffer;
  /** The exact header bytes the MAC covers: from the version line through "---" (no space, no MAC). */
  readonly macInput: Buffer;
  /** Total header length in bytes, including the MAC line's newline; the payload starts here. */
  readonly length: number;
}

/** Thrown internally when the buffer ends before the header does; the caller decides if that is EOF. */
export class HeaderIncomplete extends Error {
  constructor() {
    super('header incomplete');
  }
}

function isVchar(code: number): boolean {
  return code >= 0x21 && code <= 0x7e;
}

function readLine(buf: Uint8Array, start: number, maxLength: number): { line: string; next: number } {
  const limit = Math.min(buf.length, start + maxLength + 1);
  for (let i = start; i < limit; i++) {
    if (buf[i] === LF) {
      return { line: Buffer.from(buf.buffer, buf.byteOffset + start, i - start).toString('latin1'), next: i + 1 };
    }
  }
  if (limit === buf.length && buf.length - start <= maxLength) throw new HeaderIncomplete();
  throw new SealedFileError('HEADER_INVALID', `header line longer than ${maxLength} bytes`);
}

/** True when the bytes begin like an age v1 file (or are a prefix of that beginning). */
export function startsWithAgeMagic(firstBytes: Uint8Array): boolean {
  const n = Math.min(firstBytes.length, MAGIC_LINE.length);
  if (n === 0) return false;
  return Buffer.from(firstBytes.buffer, firstBytes.byteOffset, n).equals(MAGIC_LINE.subarray(0, n));
}

/**
 * Parses an age v1 header from the start of `buf`. Throws HeaderIncomplete if `buf` ends first (read more
 * and try again, or report truncation at EOF), SealedFileError for anything that breaks the spec.
 */
export function parseHeader(buf: Uint8Array): ParsedHeader {
  if (buf.length < MAGIC_LINE.length) {
    if (buf.length === 0 || startsWithAgeMagic(buf)) throw new HeaderIncomplete();
    throw new SealedFileError('NOT_AGE', 'not an age v1 file (missing "age-encryption.org/v1" line)');
  }
  if (!Buffer.from(buf.buffer, buf.byteOffset, MAGIC_LINE.length).equals(MAGIC_LINE)) {
    throw new SealedFileError('NOT_AGE', 'not an age v1 file (missing "age-encryption.org/v1" line)');
  }
  let pos = MAGIC_LINE.length;
  const stanzas: Stanza[] = [];
  for (;;) {
    if (pos > MAX_HEADER_BYTES) throw new SealedFileError('HEADER_TOO_LARGE', `header larger than ${MAX_HEADER_BYTES} bytes`);
    const { line, next } = readLine(buf, pos, MAX_STANZA_LINE);
    if (line.startsWith('---')) {
      if (!line.startsWith('--- ')) throw new SealedFileError('HEADER_INVALID', 'malformed MAC line');
      const macText = line.slice(4);
      if (macText.length !== 43) throw new SealedFileError('HEADER_INVALID', 'header MAC has the wrong length');
      const mac = decodeBase64NoPad(macText, 'header MAC');
      if (stanzas.length === 0) throw new SealedFileError('HEADER_INVALID', 'header has no recipient stanza');
      return {
        stanzas,
        mac,
        macInput: Buffer.from(Buffer.from(buf.buffer, buf.byteOffset, pos + MAC_PREFIX.length)),
        length: next,
      };
    }
    if (!line.startsWith('-> ')) throw new SealedFileError('HEADER_INVALID', 'expected a stanza ("-> ") or the MAC line ("---")');
    const args = line.slice(3).split(' ');
    for (const arg of args) {
      if (arg.length === 0) throw new SealedFileError('HEADER_INVALID', 'stanza has an empty argument');
      for (let i = 0; i < arg.length; i++) {
        if (!isVchar(arg.charCodeAt(i))) throw new SealedFileError('HEADER_INVALID', 'stanza argument has a character outside printable ASCII');
      }
    }
    pos = next;
    const bodyParts: Buffer[] = [];
    for (;;) {
      if (pos > MAX_HEADER_BYTES) throw new SealedFileError('HEADER_TOO_LARGE', `header larger than ${MAX_HEADER_BYTES} bytes`);
      const body = readLine(buf, pos, BODY_COLUMNS);
      pos = body.next;
      bodyParts.push(decodeBase64NoPad(body.line, 'stanza body'));
      if (body.line.length < BODY_COLUMNS) break;
    }
    const [type, ...rest] = args as [string, ...string[]];
    stanzas.push({ type, args: rest, body: Buffer.concat(bodyParts) });
  }
}

function encodeStanza(stanza: Stanza): string {
  const args = [stanza.type, ...stanza.args];
  for (const arg of args) {
    if (arg.length === 0 || [...arg].some((c) => !isVchar(c.charCodeAt(0)))) {
      throw new RangeError(`invalid stanza argument ${JSON.stringify(arg)}`);
    }
  }
  const b64 = encodeBase64NoPad(stanza.body);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += BODY_COLUMNS) lines.push(b64.slice(i, i + BODY_COLUMNS));
  // A body whose encoding fills whole lines is terminated by an empty line.
  if (b64.length % BODY_COLUMNS === 0) lines.push('');
  return `-> ${args.join(' ')}\n${lines.join('\n')}\n`;
}

export function headerMacKey(fileKey: Uint8Array): Buffer {
  return hkdfSha256(fileKey, Buffer.alloc(0), 'header');
}

/** Serialises stanzas and appends the MAC computed with the file key. */
export function encodeHeader(stanzas: readonly Stanza[], fileKey: Uint8Array): Buffer {
  const macInput = Buffer.from(`${AGE_MAGIC}\n${stanzas.map(encodeStanza).join('')}---`, 'latin1');
  const mac = hmacSha256(headerMacKey(fileKey), macInput);
  return Buffer.concat([macInput, Buffer.from(` ${encodeBase64NoPad(mac)}\n`, 'latin1')]);
}

export function verifyHeaderMac(header: ParsedHeader, fileKey: Uint8Array): boolean {
  return constantTimeEqual(hmacSha256(headerMacKey(fileKey), header.macInput), header.mac);
}
