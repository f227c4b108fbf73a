import { ExitSealError } from '@exitseal/core';

/**
 * Where the agent puts each person's local API token: a file that person can read and nobody else but the
 * OS's administrators (root; SYSTEM and Administrators on Windows). Whoever proves they hold the token in
 * the local API handshake (local-api/handshake.ts) is that person. The platform part only makes such a file:
 *  - Linux/macOS: `<dir>/<uid>/agent.token`, mode 0600, in the person's 0700 socket directory owned by them
 *    (the directory's permission is also what keeps others off the socket);
 *  - Windows: `<dir>\<user>\agent.token`, in a directory whose ACL icacls sets to SYSTEM and Administrators
 *    full control and the person read, nothing inherited (Node cannot set a DACL on a named pipe, so on
 *    Windows this file is the only thing that tells people apart).
 * A new token is written every time the agent opens the person's socket (each start): tokens rotate on restart.
 */

export interface ApiUser {
  readonly osUser: string;
  /** Linux/macOS uid. */
  readonly uid?: number;
  /** Windows security identifier (S-1-5-21-...), when known; else the account name is given to icacls. */
  readonly sid?: string;
}

export interface UserSecrets {
  /** Writes a fresh random token for `user`, readable only by them (and administrators), replacing any earlier one. */
  issue(user: ApiUser): Promise<Buffer>;
  /** Where `user`'s token is: the tray app reads it from there. */
  tokenPath(user: ApiUser): string;
  /** Removes `user`'s token (the agent is stopping: no token outlives the agent that issued it). */
  revoke(user: ApiUser): Promise<void>;
}

export class UserSecretError extends ExitSealError {
  constructor(message: string, cause?: unknown) {
    super('LOCAL_API_SECRET_FAILED', message, { kind: 'fault', cause });
    this.name = 'UserSecretError';
  }
}

/** The token file's name inside the person's directory. */
export const TOKEN_FILE = 'agent.token';
