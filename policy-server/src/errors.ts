import { ExitSealError } from '@exitseal/core';

/**
 * An error the HTTP layer turns into a response: `status` is the HTTP status, `code` is stable for clients.
 * 4xx are the client's fault (kind "client"), 5xx are ours (kind "fault").
 */
export class ServerError extends ExitSealError {
  readonly status: number;
  readonly problems: readonly { path: string; message: string }[] | undefined;

  constructor(status: number, code: string, message: string, options: { cause?: unknown; problems?: readonly { path: string; message: string }[] } = {}) {
    super(code, message, { kind: status < 500 ? 'client' : 'fault', cause: options.cause });
    this.name = 'ServerError';
    this.status = status;
    this.problems = options.problems;
  }
}

export const badRequest = (code: string, message: string, cause?: unknown) => new ServerError(400, code, message, { cause });
export const unauthenticated = (message: string) => new ServerError(401, 'UNAUTHENTICATED', message);
export const forbidden = (code: string, message: string) => new ServerError(403, code, message);
export const notFound = (what: string) => new ServerError(404, 'NOT_FOUND', `${what} not found`);
export const conflict = (code: string, message: string) => new ServerError(409, code, message);
export const invalidPolicy = (problems: readonly { path: string; message: string }[]) =>
  new ServerError(422, 'POLICY_INVALID', `the policy has ${problems.length} problem(s); nothing was saved`, { problems });

/** Configuration or environment problem found at start; the process should stop with this message. */
export class StartupError extends ExitSealError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { kind: 'fault', cause });
    this.name = 'StartupError';
  }
}
