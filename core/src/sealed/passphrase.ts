import { randomInt } from 'node:crypto';

/**
 * Letters and digits that cannot be confused when read aloud or written down (no 0/o, 1/l/i).
 * 31 symbols, so each carries log2(31) = 4.95 bits.
 */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const GROUPS = 6;
const GROUP_LENGTH = 4;

/** Entropy of a generated passphrase in bits: 24 symbols of 31, about 118 bits. */
export const PASSPHRASE_BITS = Math.floor(GROUPS * GROUP_LENGTH * Math.log2(ALPHABET.length));

/** A passphrase like "k7mq-2xpd-9trh-w4nc-b8ve-3fsa": easy to read out over the phone, hard to guess. */
export function generatePassphrase(): string {
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    let group = '';
    for (let i = 0; i < GROUP_LENGTH; i++) group += ALPHABET.charAt(randomInt(ALPHABET.length));
    groups.push(group);
  }
  return groups.join('-');
}
