// generatePassphrase: the passphrase an approved outside recipient gets must be readable aloud and carry
// at least 100 bits of entropy, which holds only if every symbol is drawn uniformly and independently.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generatePassphrase, PASSPHRASE_BITS } from '../src/index.js';

const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const SHAPE = /^[a-z2-9]{4}(-[a-z2-9]{4}){5}$/;

describe('generatePassphrase', () => {
  test('shape: six groups of four from an alphabet without look-alikes (0/o, 1/l/i)', () => {
    for (let i = 0; i < 1000; i++) {
      const passphrase = generatePassphrase();
      assert.match(passphrase, SHAPE);
      assert.doesNotMatch(passphrase, /[01ilo]/);
    }
  });

  test('PASSPHRASE_BITS is at least 100 and is what 24 symbols of a 31-letter alphabet give', () => {
    assert.equal(ALPHABET.length, 31);
    assert.equal(PASSPHRASE_BITS, Math.floor(24 * Math.log2(31)));
    assert.ok(PASSPHRASE_BITS >= 100);
  });

  test('20,000 passphrases are all different, and every symbol is used evenly at every position', () => {
    const count = 20_000;
    const seen = new Set<string>();
    const perSymbol = new Map<string, number>();
    const perPosition: Array<Map<string, number>> = Array.from({ length: 24 }, () => new Map<string, number>());
    for (let i = 0; i < count; i++) {
      const passphrase = generatePassphrase();
      seen.add(passphrase);
      [...passphrase.replaceAll('-', '')].forEach((symbol, position) => {
        perSymbol.set(symbol, (perSymbol.get(symbol) ?? 0) + 1);
        const slot = perPosition[position];
        slot?.set(symbol, (slot.get(symbol) ?? 0) + 1);
      });
    }
    assert.equal(seen.size, count);
    assert.deepEqual([...perSymbol.keys()].sort().join(''), [...ALPHABET].sort().join(''));
    // Expected 15,484 per symbol (standard deviation about 122): ±5% is over six deviations, so a fair
    // generator never trips it, while a biased one (e.g. modulo bias of a byte, ±9%) does.
    const expected = (count * 24) / 31;
    for (const [symbol, n] of perSymbol) assert.ok(Math.abs(n - expected) < expected * 0.05, `symbol ${symbol} drawn ${n} times, expected about ${expected}`);
    // Per position (expected 645, deviation about 25): a generous ±25% still catches a fixed or missing symbol.
    for (const slot of perPosition) {
      assert.equal(slot.size, 31);
      for (const n of slot.values()) assert.ok(Math.abs(n - count / 31) < (count / 31) * 0.25);
    }
  });
});
