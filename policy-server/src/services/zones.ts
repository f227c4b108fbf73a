import { X25519Identity, X25519Recipient } from '@exitseal/core';
import { strictestPolicy, validatePolicySet, type ZoneWithPolicy } from '@exitseal/core/policy';
import type { MasterKey } from '../crypto/masterKey.js';
import { badRequest, invalidPolicy, notFound } from '../errors.js';
import type { Store, ZoneKeyRecord } from '../storage/store.js';
import type { AuditService } from './audit.js';
import type { Clock } from './clock.js';

export const FALLBACK_ZONE_ID = 'unknown';

export interface PublicZoneKey {
  readonly zoneId: string;
  readonly version: number;
  readonly recipient: string;
  readonly createdAt: string;
}

function secretLabel(zoneId: string, version: number): string {
  return `zone-key:${zoneId}:${version}`;
}

/** Zones, their policies and their key pairs. Private keys leave this service only as X25519Identity objects. */
export class ZoneService {
  constructor(
    private readonly store: Store,
    private readonly masterKey: MasterKey,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  list(): Promise<ZoneWithPolicy[]> {
    return this.store.zones.list();
  }

  /** First start: the "unknown network" zone with the strictest policy, so a table always has its fallback. */
  async ensureFallbackZone(): Promise<void> {
    const zones = await this.store.zones.list();
    if (zones.some((z) => z.zone.fallback)) return;
    const entry: ZoneWithPolicy = {
      zone: { id: FALLBACK_ZONE_ID, name: 'Unknown network', priority: 10000, fallback: true, detection: { cidrs: [], dnsSuffixes: [], gateways: [] } },
      policy: strictestPolicy(),
    };
    await this.save('system', [entry]);
  }

  /**
   * Saves zones with their policies (new or replacing) after validating the whole set as it would be;
   * refuses with every problem listed. Zones that refer to each other in their matrix are saved together.
   * A new zone gets its first key pair.
   */
  async save(actor: string, entries: readonly unknown[]): Promise<ZoneWithPolicy[]> {
    const existing = await this.store.zones.list();
    const ids = new Set(entries.map((e) => (e as { zone?: { id?: unknown } } | null)?.zone?.id));
    const candidate = [...existing.filter((e) => !ids.has(e.zone.id)), ...entries];
    const problems = validatePolicySet(candidate);
    if (problems.length > 0) throw invalidPolicy(problems);
    const valid = entries as ZoneWithPolicy[];
    await this.store.zones.save(valid, this.clock.now().toISOString());
    for (const entry of valid) {
      if ((await this.store.keys.list(entry.zone.id)).length === 0) await this.addKeyVersion(entry.zone.id);
      await this.audit.record(actor, existing.some((e) => e.zone.id === entry.zone.id) ? 'zone.update' : 'zone.create', entry.zone.id);
    }
    return valid;
  }

  async rotateKey(actor: string, zoneId: string): Promise<PublicZoneKey> {
    if (!(await this.store.zones.list()).some((z) => z.zone.id === zoneId)) throw notFound(`zone "${zoneId}"`);
    const record = await this.addKeyVersion(zoneId);
    await this.audit.record(actor, 'zone.rotate-key', zoneId, { version: record.version });
    return toPublic(record);
  }

  private addKeyVersion(zoneId: string): Promise<ZoneKeyRecord> {
    return this.store.keys.addNextVersion(zoneId, this.clock.now().toISOString(), (version) => {
      const identity = X25519Identity.generate();
      return { recipient: identity.recipient.toString(), sealedSecret: this.masterKey.seal(Buffer.from(identity.toSecretString()), secretLabel(zoneId, version)) };
    });
  }

  async publicKeys(zoneId?: string): Promise<PublicZoneKey[]> {
    return (await this.store.keys.list(zoneId)).map(toPublic);
  }

  /** The newest key version of a zone: what agents seal to. */
  async currentKey(zoneId: string): Promise<PublicZoneKey> {
    const [latest] = await this.store.keys.list(zoneId);
    if (latest === undefined) throw notFound(`key of zone "${zoneId}"`);
    return toPublic(latest);
  }

  /** Every version of the zones' identities (old versions still open old files). */
  async identities(zoneIds: readonly string[]): Promise<{ zoneId: string; version: number; identity: X25519Identity }[]> {
    const wanted = new Set(zoneIds);
    return (await this.store.keys.list()).filter((k) => wanted.has(k.zoneId)).map((k) => ({ zoneId: k.zoneId, version: k.version, identity: this.open(k) }));
  }

  async identity(zoneId: string, version: number): Promise<X25519Identity> {
    const record = await this.store.keys.get(zoneId, version);
    if (record === null) throw badRequest('KEY_UNKNOWN', `zone "${zoneId}" has no key version ${version}`);
    return this.open(record);
  }

  private open(record: ZoneKeyRecord): X25519Identity {
    return X25519Identity.parse(this.masterKey.open(record.sealedSecret, secretLabel(record.zoneId, record.version)).toString());
  }

  recoveryRecipient(): Promise<string | null> {
    return this.store.settings.get('recovery_recipient');
  }

  /** The organisation's recovery recipient (public key only; its private key is kept offline). */
  async setRecoveryRecipient(actor: string, recipient: string | null): Promise<void> {
    if (recipient !== null) {
      try {
        X25519Recipient.parse(recipient);
      } catch (cause) {
        throw badRequest('RECIPIENT_INVALID', 'recipient must be an age X25519 public key ("age1...")', cause);
      }
    }
    await this.store.settings.put('recovery_recipient', recipient);
    await this.audit.record(actor, 'recovery-recipient.set', recipient ?? 'none');
  }
}

function toPublic(k: ZoneKeyRecord): PublicZoneKey {
  return { zoneId: k.zoneId, version: k.version, recipient: k.recipient, createdAt: k.createdAt };
}
