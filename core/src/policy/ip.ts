/**
 * IPv4 / IPv6 address and CIDR parsing, pure, for zone detection on the agent and rule validation on the
 * server. Addresses become bigints so one comparison handles both families.
 */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

export interface Cidr {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
}

const IPV4_PART = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!IPV4_PART.test(part)) return null;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function parseIpv6(text: string): bigint | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const toGroups = (half: string): string[] | null => {
    if (half === '') return [];
    const groups = half.split(':');
    const last = groups[groups.length - 1] ?? '';
    if (last.includes('.')) {
      const v4 = parseIpv4(last);
      if (v4 === null) return null;
      groups.splice(groups.length - 1, 1, ((v4 >> 16n) & 0xffffn).toString(16), (v4 & 0xffffn).toString(16));
    }
    return groups.every((g) => IPV6_GROUP.test(g)) ? groups : null;
  };
  const head = toGroups(halves[0] ?? '');
  const tail = halves.length === 2 ? toGroups(halves[1] ?? '') : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(missing).fill('0'), ...tail];
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(parseInt(group, 16));
  return value;
}

/** Parses "10.1.2.3", "fe80::1%eth0" or "::ffff:10.1.2.3" (the latter as IPv4); null if it is not an address. */
export function parseIp(text: string): IpAddress | null {
  const withoutScope = text.trim().split('%')[0] ?? '';
  if (withoutScope.includes(':')) {
    const value = parseIpv6(withoutScope);
    if (value === null) return null;
    if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
    return { family: 6, value };
  }
  const value = parseIpv4(withoutScope);
  return value === null ? null : { family: 4, value };
}

/** Parses "10.1.0.0/16" or "2001:db8::/32"; host bits must be zero so a typo is not silently widened. */
export function parseCidr(text: string): Cidr | null {
  const [addressText, prefixText, ...extra] = text.trim().split('/');
  if (addressText === undefined || prefixText === undefined || extra.length > 0 || !/^[0-9]{1,3}$/.test(prefixText)) return null;
  const address = parseIp(addressText);
  if (address === null || (address.family === 4 && addressText.includes(':'))) return null;
  const bits = address.family === 4 ? 32 : 128;
  const prefix = Number(prefixText);
  if (prefix > bits) return null;
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((address.value & hostMask) !== 0n) return null;
  return { family: address.family, network: address.value, prefix };
}

export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.family !== address.family) return false;
  const bits = cidr.family === 4 ? 32 : 128;
  const shift = BigInt(bits - cidr.prefix);
  return address.value >> shift === cidr.network >> shift;
}
