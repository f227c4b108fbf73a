import type { Zone } from './model.js';
import { cidrContains, parseCidr, parseIp, type IpAddress } from './ip.js';

/** What the agent knows about the PC's network at this moment (from the OS, no server needed). */
export interface NetworkFacts {
  readonly addresses: readonly string[];
  readonly dnsSuffixes: readonly string[];
  readonly gateways: readonly string[];
}

export interface ZoneMatch {
  readonly zone: Zone;
  /** True when no zone's rules matched and the fallback ("unknown network") zone was chosen. */
  readonly isFallback: boolean;
}

function normaliseDns(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

function dnsMatches(suffix: string, pcSuffix: string): boolean {
  const want = normaliseDns(suffix);
  const have = normaliseDns(pcSuffix);
  return have === want || have.endsWith(`.${want}`);
}

function zoneMatches(zone: Zone, addresses: readonly IpAddress[], gateways: readonly IpAddress[], dnsSuffixes: readonly string[]): boolean {
  const { cidrs, dnsSuffixes: suffixes, gateways: gatewayRules } = zone.detection;
  if (cidrs.length + suffixes.length + gatewayRules.length === 0) return false;
  if (cidrs.length > 0) {
    const ranges = cidrs.map(parseCidr).filter((c) => c !== null);
    if (!addresses.some((a) => ranges.some((r) => cidrContains(r, a)))) return false;
  }
  if (suffixes.length > 0 && !dnsSuffixes.some((have) => suffixes.some((want) => dnsMatches(want, have)))) return false;
  if (gatewayRules.length > 0) {
    const wanted = gatewayRules.map(parseIp).filter((g) => g !== null);
    if (!gateways.some((g) => wanted.some((w) => w.family === g.family && w.value === g.value))) return false;
  }
  return true;
}

/**
 * Decides which zone the PC is in: the first zone, in ascending priority, all of whose kinds of rules
 * match; otherwise the fallback zone. Unparseable facts are ignored (they can only make a match less
 * likely, which leads to the stricter fallback). Throws if the table has no fallback zone, which a
 * validated policy set always has.
 */
export function detectZone(zones: readonly Zone[], facts: NetworkFacts): ZoneMatch {
  const addresses = facts.addresses.map(parseIp).filter((a) => a !== null);
  const gateways = facts.gateways.map(parseIp).filter((a) => a !== null);
  const ordered = zones.filter((z) => !z.fallback).sort((a, b) => a.priority - b.priority);
  for (const zone of ordered) {
    if (zoneMatches(zone, addresses, gateways, facts.dnsSuffixes)) return { zone, isFallback: false };
  }
  const fallback = zones.find((z) => z.fallback);
  if (fallback === undefined) throw new RangeError('the zone table has no fallback zone');
  return { zone: fallback, isFallback: true };
}
