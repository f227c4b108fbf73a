/**
 * What the agent's code logs through. Fields are structured (JSON); by rule they never carry keys,
 * passphrases or file contents, only names, sizes, hashes, codes and counts.
 */
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
}

/** Turns an error into loggable fields: code, kind, message and the cause chain's messages, no stack bloat. */
export function errorFields(error: unknown): LogFields {
  if (!(error instanceof Error)) return { error: String(error) };
  const fields: Record<string, unknown> = { error: error.message, errorName: error.name };
  if ('code' in error && typeof error.code === 'string') fields.code = error.code;
  if ('kind' in error && typeof error.kind === 'string') fields.kind = error.kind;
  if (error.cause instanceof Error) fields.cause = error.cause.message;
  return fields;
}
