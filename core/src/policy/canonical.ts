/**
 * Canonical JSON: object keys sorted, no whitespace, undefined members dropped. Signatures and hash chains
 * are computed over this text so that two implementations (server, agent) agree byte for byte.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) sorted[key] = sortKeys(member);
    }
    return sorted;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError('canonical JSON has no NaN or Infinity');
  return value;
}
