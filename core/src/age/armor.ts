import { SealedFileError } from '../errors.js';

/**
 * ASCII armor of the age spec: strict PEM (RFC 7468) with the type "AGE ENCRYPTED FILE". Padded standard
 * base64 in lines of exactly 64 columns, the last one shorter or full; LF or CRLF line ends; nothing but
 * whitespace before the first line or after the last; no PEM headers, no checksums. For files pasted into a
 * mail body or a ticket.
 */
export const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
export const ARMOR_END = '-----END AGE ENCRYPTED FILE-----';
const COLUMNS = 64;
const BYTES_PER_LINE = (COLUMNS / 4) * 3;
/** Whitespace tolerated around the armor, each side. */
const MAX_OUTSIDE_WHITESPACE = 1024;
/** Longer than any valid line; a longer one is refused before it is buffered further. */
const MAX_LINE = 128;
const PADDED_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

function armorError(message: string): SealedFileError {
  return new SealedFileError('ARMOR_INVALID', `ASCII armor: ${message}`);
}

/** True when the bytes, after optional whitespace, begin with the armor's first line (or a prefix of it). */
export function looksArmored(firstBytes: Uint8Array): boolean {
  let i = 0;
  while (i < firstBytes.length && i < MAX_OUTSIDE_WHITESPACE && isWhitespace(firstBytes[i] ?? 0)) i++;
  const rest = Buffer.from(firstBytes.buffer, firstBytes.byteOffset + i, Math.min(firstBytes.length - i, ARMOR_BEGIN.length)).toString('latin1');
  return rest.length > 0 && ARMOR_BEGIN.startsWith(rest);
}

type State = 'leading' | 'first-line' | 'body' | 'expect-end' | 'trailing';

/**
 * Streaming armor decoder: push text, get the binary age file back a line at a time. Memory is one line.
 * Every violation is a SealedFileError with code ARMOR_INVALID.
 */
export class ArmorDecoder {
  private state: State = 'leading';
  private line = '';
  private outsideWhitespace = 0;
  private failed = false;

  push(data: Uint8Array): Buffer[] {
    this.checkUsable();
    const out: Buffer[] = [];
    try {
      for (let i = 0; i < data.length; i++) {
        const byte = data[i] ?? 0;
        if (this.state === 'leading' || this.state === 'trailing') {
          if (isWhitespace(byte)) {
            if (++this.outsideWhitespace > MAX_OUTSIDE_WHITESPACE) throw armorError('too much whitespace around the armor');
            continue;
          }
          if (this.state === 'trailing') throw armorError('data after the end line');
          this.state = 'first-line';
        }
        if (byte === 0x0a) {
          this.endLine(out);
          continue;
        }
        if (this.line.length >= MAX_LINE) throw armorError('line too long');
        this.line += String.fromCharCode(byte);
      }
    } catch (error) {
      this.failed = true;
      throw error;
    }
    return out;
  }

  /** Call at the end of the input: the end line may lack its newline, but it must be there. */
  finish(): Buffer[] {
    this.checkUsable();
    const out: Buffer[] = [];
    try {
      if (this.line.length > 0) this.endLine(out);
      if (this.state === 'leading') throw armorError('no armor found');
      if (this.state !== 'trailing') throw armorError(`missing the end line "${ARMOR_END}"`);
    } catch (error) {
      this.failed = true;
      throw error;
    }
    this.failed = true;
    return out;
  }

  private endLine(out: Buffer[]): void {
    const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line;
    this.line = '';
    switch (this.state) {
      case 'first-line':
        if (line !== ARMOR_BEGIN) throw armorError(`the first line must be "${ARMOR_BEGIN}"`);
        this.state = 'body';
        return;
      case 'body':
      case 'expect-end': {
        if (line === ARMOR_END) {
          this.state = 'trailing';
          this.outsideWhitespace = 0;
          return;
        }
        if (this.state === 'expect-end') throw armorError('a short line must be the last before the end line');
        if (line.length === 0 || line.length > COLUMNS || line.length % 4 !== 0 || !PADDED_BASE64.test(line)) {
          throw armorError('a line is not 64 columns of padded base64');
        }
        const bytes = Buffer.from(line, 'base64');
        if (bytes.toString('base64') !== line) throw armorError('base64 is not canonical');
        if (bytes.length < BYTES_PER_LINE) this.state = 'expect-end';
        out.push(bytes);
        return;
      }
      default:
        throw armorError('unexpected line');
    }
  }

  private checkUsable(): void {
    if (this.failed) throw armorError('decoder already finished or failed');
  }
}

/** Armors a whole (small) age file in one go. */
export function armor(binary: Uint8Array): string {
  const encoder = new ArmorEncoder();
  return encoder.push(binary) + encoder.finish();
}

/** Decodes an armored stream piece by piece (constant memory), for openStream and readHeader. */
export async function* dearmor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Buffer, void, undefined> {
  const decoder = new ArmorDecoder();
  for await (const piece of source) {
    const decoded = decoder.push(piece);
    if (decoded.length > 0) yield Buffer.concat(decoded);
  }
  const rest = decoder.finish();
  if (rest.length > 0) yield Buffer.concat(rest);
}

/** Streaming armor encoder: push binary, get armored text; constant memory (one partial line). */
export class ArmorEncoder {
  private carry: Buffer = Buffer.alloc(0);
  private started = false;

  push(data: Uint8Array): string {
    let text = this.started ? '' : `${ARMOR_BEGIN}\n`;
    this.started = true;
    const input = this.carry.length > 0 ? Buffer.concat([this.carry, data]) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const whole = input.length - (input.length % BYTES_PER_LINE);
    const lines: string[] = [];
    for (let i = 0; i < whole; i += BYTES_PER_LINE) lines.push(input.subarray(i, i + BYTES_PER_LINE).toString('base64'));
    if (lines.length > 0) text += `${lines.join('\n')}\n`;
    this.carry = Buffer.from(input.subarray(whole));
    return text;
  }

  finish(): string {
    let text = this.started ? '' : `${ARMOR_BEGIN}\n`;
    this.started = true;
    if (this.carry.length > 0) text += `${this.carry.toString('base64')}\n`;
    this.carry = Buffer.alloc(0);
    return `${text}${ARMOR_END}\n`;
  }
}
