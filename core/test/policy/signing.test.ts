import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X25519Identity } from '../../src/index.js';
import {
  SignatureError,
  SigningKey,
  VerifyKey,
  canonicalJson,
  signBundle,
  signReleaseToken,
  verifyBundle,
  verifyReleaseToken,
  type BundlePayload,
  type ReleaseTokenPayload,
} from '../../src/policy/index.js';
import { customerZones } from './customer.js';

function samplePayload(): BundlePayload {
  const identity = X25519Identity.generate();
  const entries = customerZones();
  return {
    formatVersion: 1,
    revision: 7,
    issuedAt: '2025-01-02T03:04:05.000Z',
    agentId: 'agent-1',
    homeZoneId: 'lgwan',
    zones: entries.map((e) => e.zone),
    policies: [{ zoneId: 'lgwan', policy: entries[1]!.policy }],
    sealTo: { zoneId: 'lgwan', keyVersion: 1, recipient: identity.recipient.toString() },
    identities: [{ zoneId: 'lgwan', keyVersion: 1, secret: identity.toSecretString() }],
  };
}

function expectCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (error: unknown) => error instanceof SignatureError && error.code === code);
}

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[{"y":2,"z":1}]},"b":1}');
    assert.throws(() => canonicalJson({ a: Number.NaN }), RangeError);
  });
});

describe('signed bundles', () => {
  const key = SigningKey.generate();

  it('round-trips through the pinned public key, also after the key is re-imported', () => {
    const payload = samplePayload();
    const signed = signBundle(payload, key);
    assert.deepEqual(verifyBundle(signed, key.publicKey), payload);
    const pinned = VerifyKey.fromBase64(key.publicKey.toBase64());
    assert.deepEqual(verifyBundle(JSON.parse(JSON.stringify(signed)), pinned), payload);
    assert.deepEqual(SigningKey.fromRaw(key.toRaw()).publicKey.raw, key.publicKey.raw);
    assert.ok(!JSON.stringify(key).includes(key.toRaw().toString('base64')));
  });

  it('refuses an altered payload, another key and junk', () => {
    const signed = signBundle(samplePayload(), key);
    const altered = { ...signed, payload: signed.payload.replace('"revision":7', '"revision":8') };
    expectCode(() => verifyBundle(altered, key.publicKey), 'SIGNATURE_INVALID');
    expectCode(() => verifyBundle(signed, SigningKey.generate().publicKey), 'SIGNATURE_INVALID');
    expectCode(() => verifyBundle({ payload: 1 }, key.publicKey), 'SIGNED_DATA_INVALID');
    expectCode(() => verifyBundle({ ...signed, signature: 'AAAA' }, key.publicKey), 'SIGNATURE_INVALID');
  });

  it('refuses a correctly signed payload of the wrong shape', () => {
    const signed = signBundle({ ...samplePayload(), revision: 0 }, key);
    expectCode(() => verifyBundle(signed, key.publicKey), 'SIGNED_DATA_INVALID');
  });
});

describe('release tokens', () => {
  const key = SigningKey.generate();
  const payload: ReleaseTokenPayload = {
    v: 1,
    requestId: 'req-1',
    agentId: 'agent-1',
    osUser: 'tanaka',
    sha256: 'a'.repeat(64),
    fileName: 'transfer.csv',
    destination: 'bank partner',
    expiresAt: '2030-01-01T00:00:00.000Z',
  };
  const check = { agentId: 'agent-1', osUser: 'tanaka', sha256: 'a'.repeat(64), now: new Date('2029-12-31T00:00:00Z') };

  it('verifies for the same agent, user and file before expiry', () => {
    assert.deepEqual(verifyReleaseToken(signReleaseToken(payload, key), key.publicKey, check), payload);
  });

  it('refuses another file, agent or user, an expired token, a forged one and junk', () => {
    const token = signReleaseToken(payload, key);
    expectCode(() => verifyReleaseToken(token, key.publicKey, { ...check, sha256: 'b'.repeat(64) }), 'TOKEN_MISMATCH');
    expectCode(() => verifyReleaseToken(token, key.publicKey, { ...check, agentId: 'agent-2' }), 'TOKEN_MISMATCH');
    expectCode(() => verifyReleaseToken(token, key.publicKey, { ...check, osUser: 'sato' }), 'TOKEN_MISMATCH');
    expectCode(() => verifyReleaseToken(token, key.publicKey, { ...check, now: new Date('2030-01-01T00:00:00Z') }), 'TOKEN_EXPIRED');
    expectCode(() => verifyReleaseToken(token, SigningKey.generate().publicKey, check), 'SIGNATURE_INVALID');
    const [prefix, , signature] = token.split('.');
    const forgedBody = Buffer.from(canonicalJson({ ...payload, sha256: 'b'.repeat(64) })).toString('base64url');
    expectCode(() => verifyReleaseToken(`${prefix}.${forgedBody}.${signature}`, key.publicKey, { ...check, sha256: 'b'.repeat(64) }), 'SIGNATURE_INVALID');
    expectCode(() => verifyReleaseToken('est1..', key.publicKey, check), 'SIGNED_DATA_INVALID');
    expectCode(() => verifyReleaseToken('garbage', key.publicKey, check), 'SIGNED_DATA_INVALID');
  });
});
