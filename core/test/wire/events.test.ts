import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import { EventBatchSchema, ExportEventSchema, GENESIS_HASH, chainEvent, computeEventHash, type ExportEvent } from '../../src/wire/index.js';

function event(n: number): Omit<ExportEvent, 'hash' | 'prevHash'> {
  return {
    eventId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    occurredAt: '2025-01-02T03:04:05.000Z',
    host: 'PC-12',
    osUser: 'tanaka',
    zoneId: 'lgwan',
    channel: 'removableMedia',
    device: { vendorId: '0781', productId: '5581', serial: 'AA01', label: 'USB', mount: 'E:\\' },
    fileName: '予算.xlsx',
    size: 1234,
    sha256: 'c'.repeat(64),
    action: 'sealed',
  };
}

describe('export event chain', () => {
  it('links each event to the previous one and validates against the wire schema', () => {
    const first = chainEvent(GENESIS_HASH, event(1));
    const second = chainEvent(first.hash, event(2));
    assert.equal(second.prevHash, first.hash);
    assert.equal(computeEventHash(second), second.hash);
    assert.ok(Value.Check(EventBatchSchema, { events: [first, second] }));
  });

  it('changes the hash when any field changes', () => {
    const original = chainEvent(GENESIS_HASH, event(1));
    assert.notEqual(computeEventHash({ ...original, size: 1235 }), original.hash);
    assert.notEqual(computeEventHash({ ...original, prevHash: 'f'.repeat(64) }), original.hash);
  });

  it('refuses wrong types and unknown fields in the schema', () => {
    const good = chainEvent(GENESIS_HASH, event(1));
    assert.equal(Value.Check(ExportEventSchema, { ...good, size: '12' }), false);
    assert.equal(Value.Check(ExportEventSchema, { ...good, extra: 1 }), false);
    assert.equal(Value.Check(ExportEventSchema, { ...good, action: 'deleted' }), false);
    assert.equal(Value.Check(EventBatchSchema, { events: [] }), false);
  });
});
