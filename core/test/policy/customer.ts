// The reference customer's three networks, shared by the policy tests. Not a test file itself.
import { strictestPolicy, type ZonePolicy, type ZoneWithPolicy } from '../../src/policy/index.js';

function policy(openableOrigins: string[], overrides: Partial<ZonePolicy> = {}): ZonePolicy {
  return {
    channels: { removableMedia: 'seal', outboundFolders: 'seal', mail: 'seal' },
    openableOrigins,
    devices: { allow: [], deny: [] },
    offline: { maxHours: 72, after: 'seal-everything' },
    approvals: { decrypt: { steps: ['approver', 'admin'] }, release: { steps: ['approver', 'admin'] } },
    ...overrides,
  };
}

export function customerZones(): ZoneWithPolicy[] {
  return [
    {
      zone: { id: 'mynumber', name: 'My Number', priority: 1, fallback: false, detection: { cidrs: ['10.1.0.0/16'], dnsSuffixes: ['mn.city.local'], gateways: [] } },
      policy: policy(['mynumber', 'lgwan', 'internet']),
    },
    {
      zone: { id: 'lgwan', name: 'LGWAN', priority: 2, fallback: false, detection: { cidrs: ['10.2.0.0/16', 'fd00:2::/32'], dnsSuffixes: [], gateways: [] } },
      policy: policy(['mynumber', 'lgwan', 'internet'].filter((z) => z !== 'mynumber')),
    },
    {
      zone: { id: 'internet', name: 'Internet', priority: 3, fallback: false, detection: { cidrs: ['192.168.0.0/16'], dnsSuffixes: [], gateways: ['192.168.0.1'] } },
      policy: policy(['lgwan', 'internet']),
    },
    { zone: { id: 'unknown', name: 'Unknown network', priority: 10000, fallback: true, detection: { cidrs: [], dnsSuffixes: [], gateways: [] } }, policy: strictestPolicy() },
  ];
}
