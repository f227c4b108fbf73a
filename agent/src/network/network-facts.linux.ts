import { readFile } from 'node:fs/promises';

/**
 * Linux sources of zone evidence: the default gateways from the kernel routing table and the DNS search
 * domains from the resolver configuration. Parsing is separate from reading, for tests.
 */
export const LINUX_NETWORK_PATHS = { route: '/proc/net/route', resolvConf: '/etc/resolv.conf' };

/** Default routes (destination 0.0.0.0/0) from /proc/net/route; the gateway is little-endian hex. */
export function parseDefaultGateways(routeTable: string): string[] {
  const gateways: string[] = [];
  for (const line of routeTable.split('\n').slice(1)) {
    const [, destination, gateway, , , , , mask] = line.trim().split(/\s+/);
    if (destination !== '00000000' || mask !== '00000000' || gateway === undefined || !/^[0-9A-Fa-f]{8}$/.test(gateway) || gateway === '00000000') continue;
    const value = Number.parseInt(gateway, 16);
    gateways.push([value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff].join('.'));
  }
  return [...new Set(gateways)];
}

/** "search" and "domain" lines of resolv.conf, lower-cased, without a trailing dot. */
export function parseDnsSuffixes(resolvConf: string): string[] {
  const suffixes: string[] = [];
  for (const line of resolvConf.split('\n')) {
    const [keyword, ...values] = line.trim().split(/\s+/);
    if (keyword !== 'search' && keyword !== 'domain') continue;
    for (const value of values) {
      if (value.startsWith('#') || value.startsWith(';')) break;
      const suffix = value.toLowerCase().replace(/\.$/, '');
      if (suffix !== '') suffixes.push(suffix);
    }
  }
  return [...new Set(suffixes)];
}

export async function readLinuxGatewaysAndDns(paths = LINUX_NETWORK_PATHS): Promise<{ gateways: string[]; dnsSuffixes: string[] }> {
  const [route, resolv] = await Promise.all([readFile(paths.route, 'utf8').catch(() => ''), readFile(paths.resolvConf, 'utf8').catch(() => '')]);
  return { gateways: parseDefaultGateways(route), dnsSuffixes: parseDnsSuffixes(resolv) };
}
