import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { X25519Identity } from '@exitseal/core';
import { strictestPolicy, type BundlePayload, type ZonePolicy } from '@exitseal/core/policy';
import { policyFromBundle } from '../src/policy/bundle-policy.js';
import { ServerPolicySource } from '../src/policy/server-policy-source.js';
import { parseDefaultGateways, parseDnsSuffixes } from '../src/network/network-facts.linux.js';
import { Backoff, ThrottledErrorLog } from '../src/server/retry.js';
import { MemoryLogger } from './helpers.js';

const keys = {
  mynumber: X25519Identity.generate(),
  lgwan: X25519Identity.generate(),
  internet: X25519Identity.generate(),
};

function zonePolicy(openableOrigins: string[], offline: ZonePolicy['offline'] = { maxHours: 72, after: 'seal-everything' }): ZonePolicy {
  return {
    channels: { removableMedia: 'seal', outboundFolders: 'allow', mail: 'block' },
    openableOrigins,
    devices: { allow: [], deny: [{ vendorId: 'dead' }] },
    offline,
    approvals: { decrypt: { steps: ['approver'] }, release: { steps: ['approver'] } },
  };
}

/** A My Number PC's bundle, as the server builds it: its zone's policy, the fallback's, and its matrix row of identities. */
function mynumberBundle(offline?: ZonePolicy['offline']): BundlePayload {
  return {
    formatVersion: 1,
    revision: 7,
    issuedAt: '2025-04-01T09:00:00.000Z',
    agentId: 'agent-1',
    homeZoneId: 'mynumber',
    zones: [
      { id: 'mynumber', name: 'My Number', priority: 1, fallback: false, detection: { cidrs: ['10.1.0.0/16'], dnsSuffixes: ['mn.city.local'], gateways: [] } },
      { id: 'lgwan', name: 'LGWAN', priority: 2, fallback: false, detection: { cidrs: ['10.2.0.0/16'], dnsSuffixes: [], gateways: [] } },
      { id: 'unknown', name: 'Unknown', priority: 10000, fallback: true, detection: { cidrs: [], dnsSuffixes: [], gateways: [] } },
    ],
    policies: [
      { zoneId: 'mynumber', policy: zonePolicy(['mynumber', 'lgwan', 'internet'], offline) },
      { zoneId: 'unknown', policy: strictestPolicy() },
    ],
    sealTo: { zoneId: 'mynumber', keyVersion: 3, recipient: keys.mynumber.recipient.toString() },
    identities: (['mynumber', 'lgwan', 'internet'] as const).map((zoneId) => ({ zoneId, keyVersion: 1, secret: keys[zoneId].toSecretString() })),
  };
}

const atHome = { addresses: ['127.0.0.1', '10.1.4.20'], dnsSuffixes: ['mn.city.local'], gateways: ['10.1.0.1'] };
const now = new Date('2025-04-02T09:00:00Z');
const online = { online: true, lastContactAt: now };

describe('zone policy from the signed bundle', () => {
  test('in its home network the PC gets its zone policy, seals to the zone key and may open its matrix row', () => {
    const policy = policyFromBundle(mynumberBundle(), atHome, online, now, ['/srv/outbound']);
    assert.equal(policy.zoneId, 'mynumber');
    assert.equal(policy.basis, 'network-match');
    assert.equal(policy.sealZoneId, 'mynumber');
    assert.equal(policy.keyVersion, 3);
    assert.equal(policy.sealRecipients[0]?.toString(), keys.mynumber.recipient.toString());
    assert.deepEqual([...policy.openable.keys()].sort(), ['internet', 'lgwan', 'mynumber']);
    assert.deepEqual(policy.channels, { removableMedia: 'seal', outboundFolders: 'allow' });
    assert.deepEqual(policy.outboundFolders, ['/srv/outbound']);
    assert.equal(policy.version, 'r7');
  });

  test('every kind of evidence must agree: the right addresses with the wrong DNS suffix is an unknown network', () => {
    const policy = policyFromBundle(mynumberBundle(), { ...atHome, dnsSuffixes: ['home.example'] }, online, now);
    assert.equal(policy.zoneId, 'unknown');
    assert.equal(policy.basis, 'unknown-network');
    assert.equal(policy.openable.size, 0, 'the fallback zone opens nothing');
    assert.equal(policy.sealZoneId, 'mynumber', 'still sealed to the home key: the only key the PC has');
  });

  test('a PC carried into another zone (LGWAN) gets the fallback policy: the bundle has no other zone policy', () => {
    const policy = policyFromBundle(mynumberBundle(), { addresses: ['10.2.0.9'], dnsSuffixes: [], gateways: [] }, online, now);
    assert.equal(policy.zoneId, 'unknown');
  });

  test('the offline limit: within it the cached policy holds; past it the strict fallback seals or blocks everything and opens nothing', () => {
    const lastContactAt = new Date(now.getTime() - 71 * 3_600_000);
    const within = policyFromBundle(mynumberBundle(), atHome, { online: false, lastContactAt }, now);
    assert.equal(within.basis, 'network-match');
    const later = new Date(now.getTime() + 2 * 3_600_000);
    const sealAll = policyFromBundle(mynumberBundle(), atHome, { online: false, lastContactAt }, later);
    assert.equal(sealAll.basis, 'offline-limit');
    assert.equal(sealAll.zoneId, 'unknown');
    assert.deepEqual(sealAll.channels, { removableMedia: 'seal', outboundFolders: 'seal' });
    assert.equal(sealAll.openable.size, 0);
    const blockAll = policyFromBundle(mynumberBundle({ maxHours: 1, after: 'block-everything' }), atHome, { online: false, lastContactAt }, now);
    assert.deepEqual(blockAll.channels, { removableMedia: 'block', outboundFolders: 'block' });
    const neverReached = policyFromBundle(mynumberBundle(), atHome, { online: false, lastContactAt: undefined }, now);
    assert.equal(neverReached.basis, 'offline-limit');
  });

  test('the source tells listeners only when the behaviour changes, and time alone can cross the offline limit', () => {
    let clock = now;
    const logger = new MemoryLogger();
    const source = new ServerPolicySource([], logger, () => clock);
    assert.equal(source.hasPolicy(), false);
    assert.throws(() => source.current(), /no policy yet/);
    const seen: string[] = [];
    source.subscribe((policy) => seen.push(`${policy.zoneId}/${policy.basis}`));
    source.networkChanged(atHome);
    source.contactChanged({ online: true, lastContactAt: now });
    source.bundleChanged(mynumberBundle({ maxHours: 1, after: 'block-everything' }));
    source.networkChanged({ ...atHome, addresses: [...atHome.addresses, '::1'] });
    source.contactChanged({ online: false, lastContactAt: now });
    assert.deepEqual(seen, ['mynumber/network-match']);
    clock = new Date(now.getTime() + 2 * 3_600_000);
    source.tick();
    assert.deepEqual(seen, ['mynumber/network-match', 'unknown/offline-limit']);
    source.networkChanged({ addresses: ['192.168.1.5'], dnsSuffixes: [], gateways: [] });
    source.contactChanged({ online: true, lastContactAt: clock });
    assert.deepEqual(seen.at(-1), 'unknown/unknown-network');
    assert.ok(logger.lines.some((line) => line.message === 'policy in force' && line.fields.zone === 'unknown'));
    assert.ok(!JSON.stringify(logger.lines).includes('AGE-SECRET-KEY'), 'no key reaches the log');
  });
});

describe('network facts (Linux)', () => {
  test('the default gateway comes from the kernel routing table, little-endian hex', () => {
    const table = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
      'garbage line',
    ].join('\n');
    assert.deepEqual(parseDefaultGateways(table), ['192.0.2.1', '192.168.1.1']);
    assert.deepEqual(parseDefaultGateways(''), []);
  });

  test('DNS suffixes are the search and domain lines, lower-case, without the root dot', () => {
    const conf = '# generated\nnameserver 10.0.0.53\nsearch Tokyo.City.LG.JP. lgwan.local # comment\ndomain mn.city.local\noptions ndots:2\n';
    assert.deepEqual(parseDnsSuffixes(conf), ['tokyo.city.lg.jp', 'lgwan.local', 'mn.city.local']);
  });
});

describe('retry helpers', () => {
  test('backoff doubles up to its ceiling, with at most a quarter of jitter, and resets after success', () => {
    const backoff = new Backoff(1000, 8000, () => 0);
    assert.deepEqual([1, 2, 3, 4, 5].map(() => backoff.nextDelayMs()), [1000, 2000, 4000, 8000, 8000]);
    backoff.reset();
    assert.equal(backoff.nextDelayMs(), 1000);
    const jittered = new Backoff(1000, 8000, () => 1);
    assert.equal(jittered.nextDelayMs(), 750);
  });

  test('a repeating failure is logged once per interval with the count of repeats, and its end is logged', () => {
    let clock = 0;
    const logger = new MemoryLogger();
    const log = new ThrottledErrorLog(logger, 'upload failed', 60_000, () => clock);
    for (let i = 0; i < 100; i++) {
      log.failed(new Error('ECONNREFUSED'));
      clock += 1000;
    }
    assert.equal(logger.lines.length, 2);
    assert.equal(logger.lines[1]?.fields.repeatsNotLogged, 59);
    log.recovered();
    assert.equal(logger.lines.at(-1)?.message, 'upload failed: recovered');
    log.recovered();
    assert.equal(logger.lines.length, 3);
  });
});
