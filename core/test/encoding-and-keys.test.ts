// Unit tests of the text encodings under the age format (strict unpadded base64, bech32) and of the
// X25519 identity/recipient text forms, checked against the age CLI's own output.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { inspect as utilInspect } from 'node:util';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { bech32Decode, bech32Encode, decodeBase64NoPad, encodeBase64NoPad, PassphraseIdentity, X25519Identity, X25519Recipient } from '../src/index.js';

describe('strict unpadded base64', () => {
  test('round trip for every length from 0 to 100 bytes; output has no padding', () => {
    for (let length = 0; length <= 100; length++) {
      const bytes = Buffer.from(Array.from({ length }, (_, i) => (i * 37 + length) & 0xff));
      const text = encodeBase64NoPad(bytes);
      assert.doesNotMatch(text, /=/);
      assert.equal(text.length, Math.ceil((length * 4) / 3));
      assert.ok(decodeBase64NoPad(text, 'test').equals(bytes));
    }
  });

  test('encodes a view into a larger buffer correctly (offset and length respected)', () => {
    const backing = Buffer.from('xxhelloxx');
    assert.equal(encodeBase64NoPad(backing.subarray(2, 7)), 'aGVsbG8');
  });

  const rejected: Array<[string, string]> = [
    ['AA==', 'padding'],
    ['AAA=', 'padding'],
    ['AB', 'non-canonical: unused low bits set'],
    ['AAB', 'non-canonical: unused low bits set'],
    ['A', 'impossible length'],
    ['AAAAA', 'impossible length'],
    ['-_8', 'URL-safe alphabet'],
    ['ab_c', 'URL-safe alphabet'],
    ['AA AA', 'whitespace'],
    ['AAAA\n', 'newline'],
    ['AAAA\r', 'carriage return'],
    ['QUJD\u00e9', 'non-ASCII'],
    ['QU.D', 'punctuation'],
  ];
  for (const [text, why] of rejected) {
    test(`rejects ${JSON.stringify(text)} (${why}) with HEADER_INVALID`, () => {
      assert.throws(() => decodeBase64NoPad(text, 'test'), { name: 'SealedFileError', code: 'HEADER_INVALID' });
    });
  }

  test('any string that decodes re-encodes to itself (canonical), for arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n'.split('')), maxLength: 12 }), (text) => {
        let decoded: Buffer;
        try {
          decoded = decodeBase64NoPad(text, 'test');
        } catch (error) {
          assert.equal((error as { code?: unknown }).code, 'HEADER_INVALID');
          return;
        }
        assert.equal(encodeBase64NoPad(decoded), text);
      }),
      { seed: 11, numRuns: 2000 },
    );
  });
});

describe('bech32', () => {
  // Valid strings from BIP 173 (their data parts are whole bytes, which is all age needs).
  const BIP173_VALID = [
    'A12UEL5L',
    'a12uel5l',
    'an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs',
    'abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw',
    `11${'q'.repeat(82)}c8247j`,
    'split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w',
    '?1ezyfcl',
  ];
  for (const text of BIP173_VALID) {
    test(`BIP 173 valid: ${text.slice(0, 30)}… decodes and re-encodes identically`, () => {
      const decoded = bech32Decode(text);
      assert.ok(decoded, 'should decode');
      assert.equal(bech32Encode(decoded.hrp, decoded.data, text === text.toUpperCase() && /[A-Z]/.test(text)), text);
    });
  }

  const INVALID: Array<[string, string]> = [
    ['pzry9x0s0muk', 'no separator'],
    ['1pzry9x0s0muk', 'empty human-readable part'],
    ['x1b4n0q5v', 'invalid data character'],
    ['li1dgmt3', 'checksum too short'],
    ['de1lg7wt\u00ff', 'invalid checksum character'],
    ['A1G7SGD8', 'checksum computed over an upper-case HRP'],
    ['10a06t8', 'empty human-readable part'],
    ['1qzzfhee', 'empty human-readable part'],
    [' 1nwldj5', 'HRP character out of range'],
    ['A12uEL5L', 'mixed case'],
    ['a12uel5m', 'bad checksum'],
  ];
  for (const [text, why] of INVALID) {
    test(`rejects ${JSON.stringify(text)} (${why}) by returning null`, () => {
      assert.equal(bech32Decode(text), null);
    });
  }

  test('round trip for arbitrary HRPs and data; every single-character change is detected', () => {
    const hrp = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz-'.split('')), minLength: 1, maxLength: 15 });
    fc.assert(
      fc.property(hrp, fc.uint8Array({ maxLength: 40 }), fc.boolean(), fc.nat(), fc.nat({ max: 31 }), (prefix, data, upper, where, replacement) => {
        const text = bech32Encode(prefix, data, upper);
        const decoded = bech32Decode(text);
        assert.equal(decoded?.hrp, prefix);
        assert.ok(decoded.data.equals(data));
        // Substitute one character of the data or checksum with a different one of the charset.
        const at = prefix.length + 1 + (where % (text.length - prefix.length - 1));
        const charset = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
        const current = text.charAt(at).toLowerCase();
        let substitute = charset.charAt(replacement);
        if (substitute === current) substitute = charset.charAt((replacement + 1) % 32);
        if (upper) substitute = substitute.toUpperCase();
        assert.equal(bech32Decode(text.slice(0, at) + substitute + text.slice(at + 1)), null);
      }),
      { seed: 12, numRuns: 500 },
    );
  });

  test('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (text) => {
        const decoded = bech32Decode(text);
        assert.ok(decoded === null || typeof decoded.hrp === 'string');
      }),
      { seed: 13, numRuns: 2000 },
    );
    assert.equal(bech32Decode(`a1${'q'.repeat(1200)}`), null);
  });
});

describe('X25519 keys in the age text forms', () => {
  // Output of age-keygen (age 1.1.1), a throwaway key made for this test.
  const AGE_KEYGEN_OUTPUT = [
    '# created: 2026-11-26T04:18:58Z',
    '# public key: age1pexnzqvlea7un4sd59n30ua998yjyrlq6wk3c8xjvwyh26k6t4lsy3r5jp',
    'AGE-SECRET-KEY-10VHRDQRM7RZ079M3VQVSTT7HP9ZD32REWCU6Q43CV0KNSC702DRQ7FXSDW',
  ];
  // The identity of the C2SP test kit, with the recipient `age-keygen -y` gives for it.
  const KIT_IDENTITY = 'AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0';
  const KIT_RECIPIENT = 'age1xmwwc06ly3ee5rytxm9mflaz2u56jjj36s0mypdrwsvlul66mv4q47ryef';

  test('an age-keygen identity parses, gives the recipient age-keygen printed, and prints back identically', () => {
    const secret = AGE_KEYGEN_OUTPUT[2] ?? '';
    const identity = X25519Identity.parse(secret);
    assert.equal(identity.recipient.toString(), (AGE_KEYGEN_OUTPUT[1] ?? '').replace('# public key: ', ''));
    assert.equal(identity.toSecretString(), secret);
    assert.equal(X25519Identity.parse(KIT_IDENTITY).recipient.toString(), KIT_RECIPIENT);
    assert.equal(X25519Recipient.parse(KIT_RECIPIENT).toString(), KIT_RECIPIENT);
    // Surrounding whitespace, as read from a key file line, is tolerated.
    assert.equal(X25519Identity.parse(`  ${secret}\n`).toSecretString(), secret);
    assert.equal(X25519Recipient.parse(` ${KIT_RECIPIENT}\r\n`).toString(), KIT_RECIPIENT);
  });

  test('the raw key bytes follow RFC 7748 (its section 6.1 test vector)', () => {
    const alicePrivate = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
    const alicePublic = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
    const identity = X25519Identity.fromRaw(alicePrivate);
    assert.equal(identity.recipient.publicKey.toString('hex'), alicePublic);
    assert.equal(X25519Recipient.fromRaw(Buffer.from(alicePublic, 'hex')).toString(), identity.recipient.toString());
    assert.throws(() => X25519Identity.fromRaw(Buffer.alloc(31)), RangeError);
    assert.throws(() => X25519Recipient.fromRaw(Buffer.alloc(33)), RangeError);
  });

  test('generated keys have the age text shape and round-trip', () => {
    const identity = X25519Identity.generate();
    assert.match(identity.toSecretString(), /^AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}$/);
    assert.match(identity.recipient.toString(), /^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/);
    assert.equal(X25519Identity.parse(identity.toSecretString()).recipient.toString(), identity.recipient.toString());
  });

  test('the age CLI derives the same recipient from a core identity (needs the Debian package "age")', (t) => {
    const identity = X25519Identity.generate();
    let derived: string;
    try {
      derived = execFileSync('age-keygen', ['-y'], { input: `${identity.toSecretString()}\n`, encoding: 'utf8' }).trim();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        t.skip('age-keygen is not installed (Debian package "age")');
        return;
      }
      throw error;
    }
    assert.equal(derived, identity.recipient.toString());
  });

  const BAD_RECIPIENTS: Array<[string, string]> = [
    [KIT_RECIPIENT.toUpperCase(), 'upper case'],
    [`${KIT_RECIPIENT.slice(0, -1)}x`, 'bad checksum'],
    [KIT_IDENTITY, 'an identity, not a recipient'],
    [bech32Encode('age', Buffer.alloc(31)), '31-byte key'],
    [bech32Encode('age', Buffer.alloc(33)), '33-byte key'],
    [bech32Encode('age1pq', Buffer.alloc(32)), 'another recipient type'],
    ['', 'empty'],
  ];
  for (const [text, why] of BAD_RECIPIENTS) {
    test(`recipient parse refuses ${why}`, () => {
      assert.throws(() => X25519Recipient.parse(text), { name: 'SealedFileError', code: 'HEADER_INVALID' });
    });
  }

  const BAD_IDENTITIES: Array<[string, string]> = [
    [KIT_IDENTITY.toLowerCase(), 'lower case'],
    [`${KIT_IDENTITY.slice(0, -1)}Q`, 'bad checksum'],
    [KIT_RECIPIENT, 'a recipient, not an identity'],
    [bech32Encode('age-secret-key-', Buffer.alloc(16), true), '16-byte key'],
    ['AGE-SECRET-KEY-PQ-1HZLGZUPT4ETPKDEV8HSGFDCYZ4E522W0A7PU2LHT8EH9W6YLNC3SW78XKG', 'a post-quantum identity'],
    ['# created: 2026-11-26T04:18:58Z', 'a comment line'],
  ];
  for (const [text, why] of BAD_IDENTITIES) {
    test(`identity parse refuses ${why}`, () => {
      assert.throws(() => X25519Identity.parse(text), { name: 'SealedFileError', code: 'HEADER_INVALID' });
    });
  }

  test('identities never show their secret in JSON or util.inspect', () => {
    const identity = X25519Identity.generate();
    const secret = identity.toSecretString();
    for (const shown of [JSON.stringify(identity), JSON.stringify({ identity }), utilInspect(identity, { depth: 5, showHidden: true })]) {
      assert.ok(!shown.includes(secret), shown);
      assert.ok(!shown.toLowerCase().includes(secret.toLowerCase().slice(15, 40)), shown);
    }
    const passphrase = new PassphraseIdentity('hunter2-hunter2');
    assert.ok(!JSON.stringify(passphrase).includes('hunter2'));
  });

  test('unwrap: other stanza types are not ours; malformed X25519 stanzas are header errors', () => {
    const identity = X25519Identity.generate();
    const fileKey = Buffer.alloc(16, 3);
    const good = identity.recipient.wrap(fileKey);
    assert.ok(identity.unwrap(good)?.equals(fileKey));
    assert.equal(X25519Identity.generate().unwrap(good), null);
    assert.equal(identity.unwrap({ ...good, type: 'x25519' }), null);
    assert.equal(identity.unwrap({ ...good, body: Buffer.from(good.body).fill(0, 0, 1) }), null);
    const malformed = [
      { ...good, args: [] },
      { ...good, args: [...good.args, 'extra'] },
      { ...good, args: [encodeBase64NoPad(Buffer.alloc(31, 9))] },
      { ...good, args: [`${good.args[0] ?? ''}=`] },
      { ...good, body: good.body.subarray(0, 31) },
      { ...good, body: Buffer.concat([good.body, Buffer.alloc(1)]) },
      { ...good, args: [encodeBase64NoPad(Buffer.alloc(32))] },
    ];
    for (const stanza of malformed) {
      assert.throws(() => identity.unwrap(stanza), { name: 'SealedFileError', code: 'HEADER_INVALID' }, stanza.args.join(' '));
    }
  });
});
