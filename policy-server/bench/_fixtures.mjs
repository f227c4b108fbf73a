// Shared by the policy-server benchmarks (bench/run.mjs skips files starting with "_"): the customer's three
// zones and a free loopback port.
import { createServer } from 'node:net';

export const ZONES = ['mynumber', 'lgwan', 'internet'];
export const PASSWORD = 'benchmark password 1';

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The zones as `services.zones.save` takes them: My Number may open everything, the other two each other. */
export function benchZones() {
  const policy = (origins) => ({
    channels: { removableMedia: 'seal', outboundFolders: 'seal', mail: 'seal' },
    openableOrigins: origins,
    devices: { allow: [], deny: [] },
    offline: { maxHours: 72, after: 'seal-everything' },
    approvals: { decrypt: { steps: ['approver', 'admin'] }, release: { steps: ['approver', 'admin'] } },
  });
  return [
    { zone: { id: 'mynumber', name: 'マイナンバー系', priority: 1, fallback: false, detection: { cidrs: ['10.1.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: policy(ZONES) },
    { zone: { id: 'lgwan', name: 'LGWAN接続系', priority: 2, fallback: false, detection: { cidrs: ['10.2.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: policy(['lgwan', 'internet']) },
    { zone: { id: 'internet', name: 'インターネット接続系', priority: 3, fallback: false, detection: { cidrs: ['192.168.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: policy(['lgwan', 'internet']) },
  ];
}
