import { randomUUID } from 'node:crypto';
import { SealedFileError } from '../errors.js';
import type { Stanza } from '../age/header.js';

/**
 * ExitSeal's own stanza. Standard age implementations skip stanzas of types they do not know, so a sealed
 * file stays an ordinary age file; ExitSeal reads this one to know, before any key is used, which zone key
 * version opens the file and which export-log row it belongs to. It is covered by the header MAC.
 *
 *   -> exitseal.dev/meta 1 <zone id> <key version> <file id>
 */
export const META_STANZA_TYPE = 'exitseal.dev/meta';
export const META_FORMAT_VERSION = 1;

export const ZONE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KEY_VERSION_PATTERN = /^[1-9][0-9]{0,8}$/;

export interface SealMeta {
  readonly formatVersion: number;
  readonly zoneId: string;
  readonly keyVersion: number;
  readonly fileId: string;
}

export function newFileId(): string {
  return randomUUID();
}

export function validateZoneId(zoneId: string): void {
  if (!ZONE_ID_PATTERN.test(zoneId)) {
    throw new SealedFileError('HEADER_INVALID', `zone id ${JSON.stringify(zoneId)} must be 1-63 characters of a-z, 0-9, "-" or "_"`);
  }
}

export function encodeMetaStanza(meta: Omit<SealMeta, 'formatVersion'>): Stanza {
  validateZoneId(meta.zoneId);
  if (!Number.isInteger(meta.keyVersion) || meta.keyVersion < 1 || meta.keyVersion > 999_999_999) {
    throw new RangeError('key version must be an integer from 1 to 999999999');
  }
  if (!UUID_PATTERN.test(meta.fileId)) throw new RangeError('file id must be a lower-case UUID');
  return {
    type: META_STANZA_TYPE,
    args: [String(META_FORMAT_VERSION), meta.zoneId, String(meta.keyVersion), meta.fileId],
    body: Buffer.alloc(0),
  };
}

export function decodeMetaStanza(stanza: Stanza): SealMeta {
  const [version, zoneId, keyVersion, fileId, ...extra] = stanza.args;
  if (version !== String(META_FORMAT_VERSION)) {
    throw new SealedFileError('HEADER_INVALID', `unsupported ExitSeal metadata version ${JSON.stringify(version ?? '')}`);
  }
  if (
    zoneId === undefined ||
    !ZONE_ID_PATTERN.test(zoneId) ||
    keyVersion === undefined ||
    !KEY_VERSION_PATTERN.test(keyVersion) ||
    fileId === undefined ||
    !UUID_PATTERN.test(fileId) ||
    extra.length > 0 ||
    stanza.body.length !== 0
  ) {
    throw new SealedFileError('HEADER_INVALID', 'malformed ExitSeal metadata stanza');
  }
  return { formatVersion: META_FORMAT_VERSION, zoneId, keyVersion: Number(keyVersion), fileId };
}
