import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ARMOR_BEGIN, ARMOR_END, ArmorDecoder, ArmorEncoder, armor, dearmor, looksArmored, SealedFileError } from '../src/index.js';

function decodeAll(text: string, pieceSize: number): Buffer {
  const decoder = new ArmorDecoder();
  const out: Buffer[] = [];
  const bytes = Buffer.from(text, 'latin1');
  for (let i = 0; i < bytes.length; i += pieceSize) out.push(...decoder.push(bytes.subarray(i, i + pieceSize)));
  out.push(...decoder.finish());
  return Buffer.concat(out);
}

describe('ASCII armor', () => {
  test('round trips any size, whatever the piece sizes on either side', () => {
    for (const size of [0, 1, 47, 48, 49, 95, 96, 97, 1000, 65_536]) {
      const data = randomBytes(size);
      const whole = armor(data);
      const encoder = new ArmorEncoder();
      let streamed = '';
      for (let i = 0; i < size; i += 13) streamed += encoder.push(data.subarray(i, i + 13));
      streamed += encoder.finish();
      assert.equal(streamed, whole, `size ${size}: streaming and one-shot encodings agree`);
      for (const pieceSize of [1, 7, 65, 4096]) assert.deepEqual(decodeAll(whole, pieceSize), data, `size ${size}, pieces of ${pieceSize}`);
      assert.deepEqual(decodeAll(whole.replace(/\n/g, '\r\n'), 5), data, 'CRLF line ends');
    }
  });

  test('refuses what strict PEM refuses, with ARMOR_INVALID', () => {
    const good = armor(randomBytes(200));
    const lines = good.split('\n');
    const cases: Record<string, string> = {
      'no end line': lines.slice(0, -2).join('\n'),
      'short line in the middle': [lines[0], 'AAAA', ...lines.slice(1)].join('\n'),
      'line too long': [lines[0], `${lines[1] ?? ''}AAAA`, ...lines.slice(2)].join('\n'),
      'space inside': good.replace(/\n([A-Za-z])/, '\n $1'),
      'garbage after': `${good}garbage\n`,
      'garbage before': `garbage\n${good}`,
      'lower-case type': good.replace(ARMOR_BEGIN, ARMOR_BEGIN.toLowerCase()),
      'endless line': `${ARMOR_BEGIN}\n${'A'.repeat(10_000)}`,
      'too much whitespace': `${' '.repeat(2000)}${good}`,
    };
    for (const [what, text] of Object.entries(cases)) {
      assert.throws(() => decodeAll(text, 64), (error: unknown) => error instanceof SealedFileError && error.code === 'ARMOR_INVALID', what);
    }
  });

  test('looksArmored tells armor from binary and from text', () => {
    assert.equal(looksArmored(Buffer.from(`\n  ${ARMOR_BEGIN}\n`)), true);
    assert.equal(looksArmored(Buffer.from('age-encryption.org/v1\n')), false);
    assert.equal(looksArmored(Buffer.from('hello')), false);
    assert.equal(looksArmored(Buffer.alloc(0)), false);
    assert.ok(armor(Buffer.alloc(0)).endsWith(`${ARMOR_END}\n`));
  });

  test('dearmor streams', async () => {
    const data = randomBytes(10_000);
    const text = Buffer.from(armor(data), 'latin1');
    const out: Buffer[] = [];
    for await (const piece of dearmor([text.subarray(0, 100), text.subarray(100)])) out.push(piece);
    assert.deepEqual(Buffer.concat(out), data);
  });
});
