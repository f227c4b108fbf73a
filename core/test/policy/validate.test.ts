import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validatePolicySet } from '../../src/policy/index.js';
import { customerZones } from './customer.js';

describe('validatePolicySet', () => {
  it('accepts the reference customer\'s three networks with a fallback', () => {
    assert.deepEqual(validatePolicySet(customerZones()), []);
  });

  it('lists every structural problem at once, with its path', () => {
    const entries: unknown[] = customerZones();
    entries[0] = { zone: { id: 'Bad Id', name: '', priority: 0, fallback: 'no', detection: {} }, policy: { channels: { removableMedia: 'shred' } } };
    const problems = validatePolicySet(entries);
    const paths = problems.map((p) => p.path);
    assert.ok(paths.includes('/zones/Bad Id/zone/id'), paths.join(','));
    assert.ok(paths.includes('/zones/Bad Id/zone/name'));
    assert.ok(paths.includes('/zones/Bad Id/zone/priority'));
    assert.ok(paths.includes('/zones/Bad Id/zone/fallback'));
    assert.ok(paths.some((p) => p.startsWith('/zones/Bad Id/policy/channels')));
    assert.ok(problems.length >= 6);
  });

  it('lists every rule broken between fields and zones', () => {
    const entries = customerZones();
    const [mynumber, lgwan, internet, unknown] = entries;
    assert.ok(mynumber && lgwan && internet && unknown);
    lgwan.zone.priority = 1;
    mynumber.zone.detection.cidrs.push('10.1.0.1/16');
    internet.zone.detection.gateways.push('gateway');
    internet.zone.detection.dnsSuffixes.push('Not A Name');
    mynumber.policy.openableOrigins.push('nowhere', 'lgwan');
    mynumber.policy.devices.allow.push({ vendorId: '0781', serial: 'ABC' });
    unknown.policy.channels.mail = 'allow';
    unknown.zone.detection.cidrs.push('0.0.0.0/0');
    const problems = validatePolicySet(entries);
    const messages = problems.map((p) => `${p.path}: ${p.message}`);
    const expectPath = (path: string) => assert.ok(problems.some((p) => p.path === path), `${path} in ${messages.join('\n')}`);
    expectPath('/zones/lgwan/zone/priority');
    expectPath('/zones/mynumber/zone/detection/cidrs/1');
    expectPath('/zones/internet/zone/detection/gateways/1');
    expectPath('/zones/internet/zone/detection/dnsSuffixes/0');
    expectPath('/zones/mynumber/policy/openableOrigins/3');
    expectPath('/zones/mynumber/policy/openableOrigins/4');
    expectPath('/zones/mynumber/policy/devices/allow/0');
    expectPath('/zones/unknown/policy/channels/mail');
    expectPath('/zones/unknown/zone/detection');
    assert.equal(problems.length, 9);
  });

  it('requires exactly one fallback zone and detection rules on the others', () => {
    const entries = customerZones().slice(0, 3);
    entries[0]!.zone.detection = { cidrs: [], dnsSuffixes: [], gateways: [] };
    const problems = validatePolicySet(entries);
    assert.ok(problems.some((p) => p.path === '/zones' && /exactly one/.test(p.message)));
    assert.ok(problems.some((p) => p.path === '/zones/mynumber/zone/detection'));
  });

  it('refuses a zone id used twice', () => {
    const entries = customerZones();
    entries[1]!.zone.id = 'mynumber';
    assert.ok(validatePolicySet(entries).some((p) => /used twice/.test(p.message)));
  });
});
