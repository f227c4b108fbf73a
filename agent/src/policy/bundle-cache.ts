import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * The last good signed bundle on disk, so the agent starts on it without the server. It holds zone secret
 * keys: the file is 0600 in a 0700 folder, and it is stored signed, so it is verified again at every load.
 */
const CachedBundleSchema = Type.Object(
  {
    etag: Type.Optional(Type.String({ maxLength: 256 })),
    signedBundle: Type.Unknown(),
    lastContactAt: Type.Optional(Type.String({ maxLength: 40 })),
  },
  { additionalProperties: false },
);
export type CachedBundle = Static<typeof CachedBundleSchema>;

export class BundleCache {
  constructor(private readonly path: string) {}

  /** Undefined when there is none or it is unreadable (the caller then waits for the server). */
  async load(): Promise<CachedBundle | undefined> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.path, 'utf8'));
      return Value.Check(CachedBundleSchema, parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  async save(entry: CachedBundle): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await chmod(dirname(this.path), 0o700);
    const temp = `${this.path}.tmp`;
    await writeFile(temp, JSON.stringify(entry), { mode: 0o600 });
    await rename(temp, this.path);
  }
}
