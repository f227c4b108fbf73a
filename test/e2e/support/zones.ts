// The reference customer's three zones for end-to-end tests. The test machine must land in a known zone,
// so LGWAN is detected by the loopback range (every PC has 127.0.0.1): "this PC is an LGWAN PC".
export function zonePolicy(openableOrigins: string[]) {
  return {
    channels: { removableMedia: 'seal', outboundFolders: 'seal', mail: 'block' },
    openableOrigins,
    devices: { allow: [], deny: [{ vendorId: 'dead' }] },
    offline: { maxHours: 72, after: 'seal-everything' },
    approvals: { decrypt: { steps: ['approver'] }, release: { steps: ['approver'] } },
  };
}

/** My Number files open only in My Number; LGWAN and Internet files open in all three. */
export function customerZonesWithThisPcIn(zoneOfThisPc: 'mynumber' | 'lgwan' | 'internet') {
  const zones = [
    { zone: { id: 'mynumber', name: 'マイナンバー系', priority: 2, fallback: false, detection: { cidrs: ['10.1.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: zonePolicy(['mynumber', 'lgwan', 'internet']) },
    { zone: { id: 'lgwan', name: 'LGWAN接続系', priority: 3, fallback: false, detection: { cidrs: ['10.2.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: zonePolicy(['lgwan', 'internet']) },
    { zone: { id: 'internet', name: 'インターネット接続系', priority: 4, fallback: false, detection: { cidrs: ['192.168.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: zonePolicy(['lgwan', 'internet']) },
  ];
  const home = zones.find((entry) => entry.zone.id === zoneOfThisPc);
  if (home) {
    home.zone.priority = 1;
    home.zone.detection.cidrs.push('127.0.0.0/8');
  }
  return zones;
}
