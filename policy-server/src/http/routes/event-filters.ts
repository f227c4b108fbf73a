import { Type } from '@sinclair/typebox';
import { ZoneIdSchema } from '@exitseal/core/policy';
import { EXPORT_ACTIONS } from '@exitseal/core/wire';

const Timestamp = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2}))?$', maxLength: 40 });

/**
 * The export-log filters, shared by the search (GET /api/v1/events) and its CSV export, so the CSV always
 * accepts exactly the filters the page it comes from was built with.
 */
export const EventFilterFields = {
  agentId: Type.Optional(Type.String({ maxLength: 64 })),
  zoneId: Type.Optional(ZoneIdSchema),
  channel: Type.Optional(Type.String({ maxLength: 32 })),
  action: Type.Optional(Type.Union(EXPORT_ACTIONS.map((a) => Type.Literal(a)))),
  osUser: Type.Optional(Type.String({ maxLength: 256 })),
  host: Type.Optional(Type.String({ maxLength: 255 })),
  sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  fileName: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'prefix of the file name' })),
  deviceSerial: Type.Optional(Type.String({ maxLength: 128 })),
  deviceLabel: Type.Optional(Type.String({ maxLength: 128 })),
  from: Type.Optional(Timestamp),
  to: Type.Optional(Timestamp),
};
