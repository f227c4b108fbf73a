import { Type, type Static } from '@sinclair/typebox';

/** A backlog count can never be negative or absurd: anything above this is refused at the boundary. */
export const MAX_BACKLOG_COUNT = 1_000_000_000;

const Count = (description: string) => Type.Integer({ minimum: 0, maximum: MAX_BACKLOG_COUNT, description });

/**
 * What an agent has not finished yet, as it reports it with every event upload and policy poll: the
 * administrator's sign that a PC is falling behind (offline for long, a stuck seal, plaintext kept aside).
 */
export const AgentBacklogSchema = Type.Object(
  {
    outboxEvents: Count('export events logged on the PC and not yet stored by the server'),
    pendingJobs: Count('files in the seal journal whose seal has not finished (e.g. the stick was pulled out)'),
    quarantinedFiles: Count('plaintext files the agent moved off the media into its local quarantine folder'),
  },
  { additionalProperties: false },
);
export type AgentBacklog = Static<typeof AgentBacklogSchema>;

/**
 * The same counts as query parameters of the policy poll (GET /agent/v1/bundle), which has no body. Either
 * all three or none (an agent that does not report them); digits only, so "1e3", "-1" or "0x10" are refused.
 */
const CountParam = Type.String({ pattern: '^(0|[1-9][0-9]{0,9})$', maxLength: 10 });
export const BundlePollQuerySchema = Type.Object(
  {
    outboxEvents: Type.Optional(CountParam),
    pendingJobs: Type.Optional(CountParam),
    quarantinedFiles: Type.Optional(CountParam),
  },
  { additionalProperties: false },
);
export type BundlePollQuery = Static<typeof BundlePollQuerySchema>;

/** The poll's query parameters for a backlog (the agent's side). */
export function backlogQuery(backlog: AgentBacklog): string {
  return `outboxEvents=${backlog.outboxEvents}&pendingJobs=${backlog.pendingJobs}&quarantinedFiles=${backlog.quarantinedFiles}`;
}

/**
 * The backlog in a poll's query (the server's side): undefined when the agent sent none, null when it sent
 * only some of the counts or a count out of range (a malformed report, refused).
 */
export function backlogFromQuery(query: BundlePollQuery): AgentBacklog | undefined | null {
  const { outboxEvents, pendingJobs, quarantinedFiles } = query;
  if (outboxEvents === undefined && pendingJobs === undefined && quarantinedFiles === undefined) return undefined;
  if (outboxEvents === undefined || pendingJobs === undefined || quarantinedFiles === undefined) return null;
  const counts = [outboxEvents, pendingJobs, quarantinedFiles].map(Number);
  if (counts.some((n) => !Number.isSafeInteger(n) || n < 0 || n > MAX_BACKLOG_COUNT)) return null;
  const [outbox, jobs, quarantined] = counts as [number, number, number];
  return { outboxEvents: outbox, pendingJobs: jobs, quarantinedFiles: quarantined };
}
