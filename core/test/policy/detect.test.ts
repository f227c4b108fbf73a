import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectZone } from '../../src/policy/index.js';
import { customerZones } from './customer.js';

const zones = customerZones().map((e) => e.zone);
const facts = (addresses: string[], dnsSuffixes: string[] = [], gateways: string[] = []) => ({ addresses, dnsSuffixes, gateways });

describe('detectZone', () => {
  it('needs every kind of rule a zone has to match', () => {
    assert.equal(detectZone(zones, facts(['10.1.4.5'], ['pc12.mn.city.local'])).zone.id, 'mynumber');
    // Right range, wrong DNS suffix: not My Number, and nothing else matches.
    const outside = detectZone(zones, facts(['10.1.4.5'], ['evil.example']));
    assert.equal(outside.zone.id, 'unknown');
    assert.equal(outside.isFallback, true);
  });

  it('matches DNS suffixes case-insensitively and with a trailing dot, but not as a bare string suffix', () => {
    assert.equal(detectZone(zones, facts(['10.1.0.9'], ['MN.City.Local.'])).zone.id, 'mynumber');
    assert.equal(detectZone(zones, facts(['10.1.0.9'], ['xmn.city.local'])).zone.id, 'unknown');
  });

  it('matches IPv6 ranges and gateways', () => {
    assert.equal(detectZone(zones, facts(['fe80::1%en0', 'fd00:2:0:1::10'])).zone.id, 'lgwan');
    assert.equal(detectZone(zones, facts(['192.168.3.4'], [], ['192.168.0.1'])).zone.id, 'internet');
    assert.equal(detectZone(zones, facts(['192.168.3.4'], [], ['192.168.0.254'])).zone.id, 'unknown');
  });

  it('takes the lowest priority number when several zones match', () => {
    const overlapping = zones.map((z) => (z.id === 'lgwan' ? { ...z, detection: { ...z.detection, cidrs: ['10.0.0.0/8'] } } : z));
    assert.equal(detectZone(overlapping, facts(['10.1.0.1'], ['mn.city.local'])).zone.id, 'mynumber');
    assert.equal(detectZone(overlapping, facts(['10.1.0.1'])).zone.id, 'lgwan');
  });

  it('falls back on garbage facts and throws without a fallback zone', () => {
    assert.equal(detectZone(zones, facts(['not an ip', ''], ['..'], ['x'])).zone.id, 'unknown');
    assert.throws(() => detectZone(zones.filter((z) => !z.fallback), facts([])), RangeError);
  });
});
