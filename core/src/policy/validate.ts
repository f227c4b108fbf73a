import { Value } from '@sinclair/typebox/value';
import { ZoneSchema, ZonePolicySchema, type ZoneWithPolicy } from './model.js';
import { parseCidr, parseIp } from './ip.js';

export interface PolicyProblem {
  /** JSON-pointer-like location, e.g. "/zones/mynumber/policy/openableOrigins/0". */
  readonly path: string;
  readonly message: string;
}

const DNS_SUFFIX = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Validates a whole set of zones with their policies and returns every problem found (empty: valid).
 * Structural checks come from the schemas; the rest are rules between fields and between zones that a
 * schema cannot say: one fallback zone, distinct priorities, parseable ranges, known matrix references.
 */
export function validatePolicySet(entries: readonly unknown[]): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const wellFormed: ZoneWithPolicy[] = [];
  entries.forEach((entry, index) => {
    const before = problems.length;
    const record = (entry ?? {}) as Record<string, unknown>;
    const base = `/zones/${typeof (record.zone as Record<string, unknown> | undefined)?.id === 'string' ? String((record.zone as Record<string, unknown>).id) : index}`;
    for (const error of Value.Errors(ZoneSchema, record.zone)) problems.push({ path: `${base}/zone${error.path}`, message: error.message });
    for (const error of Value.Errors(ZonePolicySchema, record.policy)) problems.push({ path: `${base}/policy${error.path}`, message: error.message });
    if (problems.length === before) wellFormed.push(entry as ZoneWithPolicy);
  });
  if (problems.length > 0) return problems;

  const ids = new Set<string>();
  const priorities = new Map<number, string>();
  for (const { zone } of wellFormed) {
    if (ids.has(zone.id)) problems.push({ path: `/zones/${zone.id}/zone/id`, message: `zone id "${zone.id}" is used twice` });
    ids.add(zone.id);
  }
  const fallbacks = wellFormed.filter((e) => e.zone.fallback);
  if (fallbacks.length !== 1) {
    problems.push({ path: '/zones', message: `exactly one zone must be the fallback ("unknown network") zone; found ${fallbacks.length}` });
  }
  for (const { zone, policy } of wellFormed) {
    const base = `/zones/${zone.id}`;
    const detection = zone.detection;
    const ruleCount = detection.cidrs.length + detection.dnsSuffixes.length + detection.gateways.length;
    if (zone.fallback && ruleCount > 0) problems.push({ path: `${base}/zone/detection`, message: 'the fallback zone matches when nothing else does: it must have no detection rules' });
    if (!zone.fallback && ruleCount === 0) problems.push({ path: `${base}/zone/detection`, message: 'a zone needs at least one detection rule (CIDR, DNS suffix or gateway)' });
    if (!zone.fallback) {
      const other = priorities.get(zone.priority);
      if (other !== undefined) problems.push({ path: `${base}/zone/priority`, message: `priority ${zone.priority} is also used by zone "${other}"` });
      priorities.set(zone.priority, zone.id);
    }
    detection.cidrs.forEach((cidr, i) => {
      if (parseCidr(cidr) === null) problems.push({ path: `${base}/zone/detection/cidrs/${i}`, message: `"${cidr}" is not a CIDR range with zero host bits (e.g. 10.1.0.0/16)` });
    });
    detection.gateways.forEach((gateway, i) => {
      if (parseIp(gateway) === null) problems.push({ path: `${base}/zone/detection/gateways/${i}`, message: `"${gateway}" is not an IP address` });
    });
    detection.dnsSuffixes.forEach((suffix, i) => {
      if (!DNS_SUFFIX.test(suffix)) problems.push({ path: `${base}/zone/detection/dnsSuffixes/${i}`, message: `"${suffix}" is not a lower-case DNS name` });
    });
    const seenOrigins = new Set<string>();
    policy.openableOrigins.forEach((origin, i) => {
      if (!ids.has(origin)) problems.push({ path: `${base}/policy/openableOrigins/${i}`, message: `unknown zone "${origin}"` });
      if (seenOrigins.has(origin)) problems.push({ path: `${base}/policy/openableOrigins/${i}`, message: `zone "${origin}" is listed twice` });
      seenOrigins.add(origin);
    });
    for (const list of ['allow', 'deny'] as const) {
      policy.devices[list].forEach((rule, i) => {
        if (rule.serial !== undefined && rule.productId === undefined) {
          problems.push({ path: `${base}/policy/devices/${list}/${i}`, message: 'a serial number needs a product id (serials are unique only per product)' });
        }
      });
    }
    if (zone.fallback) {
      for (const [channel, action] of Object.entries(policy.channels)) {
        if (action === 'allow') problems.push({ path: `${base}/policy/channels/${channel}`, message: 'the fallback zone must be the strictest: no channel may allow plaintext export' });
      }
    }
  }
  return problems;
}
