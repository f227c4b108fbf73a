import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { verifyReleaseToken, type VerifyKey } from '@exitseal/core/policy';
import type { RequestStore } from '../storage/request-store.js';

export interface Release {
  readonly requestId: string;
  readonly sha256: string;
  readonly size: number;
}

/** SHA-256 and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    const block = chunk as Buffer;
    hash.update(block);
    size += block.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * Decides whether a file about to be sealed is let through in plaintext: only when its SHA-256 matches an
 * unexpired release token issued to this agent for this user, and the token's signature verifies with the
 * key pinned at enrolment (checked again at use, not only when it arrived). The file is hashed only when the
 * user holds a token at all, so ordinary sealing costs nothing extra.
 */
export class ReleaseGate {
  constructor(
    private readonly store: RequestStore,
    private readonly verifyKey: VerifyKey,
    private readonly agentId: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async check(path: string, osUser: string): Promise<Release | undefined> {
    const tokens = this.store.releaseTokensFor(osUser);
    if (tokens.length === 0) return undefined;
    const { sha256, size } = await hashFile(path);
    for (const stored of tokens) {
      if (stored.sha256 !== sha256) continue;
      try {
        const payload = verifyReleaseToken(stored.token, this.verifyKey, { agentId: this.agentId, osUser, sha256, now: this.now() });
        return { requestId: payload.requestId, sha256, size };
      } catch {
        // Expired since it was stored, or not ours: the file is sealed like any other.
      }
    }
    return undefined;
  }
}
