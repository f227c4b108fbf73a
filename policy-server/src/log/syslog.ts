// The only file that opens sockets of its own: RFC 5424 syslog forwarding of export events to a SIEM.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket as TcpSocket } from 'node:net';
import { hostname } from 'node:os';
import type { EventRow } from '../storage/store.js';

export interface SyslogOptions {
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp';
  readonly appName: string;
}

const FACILITY_LOCAL0 = 16;
const SEVERITY_NOTICE = 5;
const SEVERITY_WARNING = 4;
const ENTERPRISE_SD_ID = 'exitseal@32473';

/** Escapes an RFC 5424 structured-data parameter value ('"', '\' and ']' must be escaped). */
function sdValue(value: string): string {
  return value.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/** One RFC 5424 message for an export event; the SIEM gets the fields as structured data. */
export function formatSyslogMessage(event: EventRow, appName: string, host: string): string {
  const severity = event.action === 'blocked' || event.action === 'failed' || event.action === 'plaintext-window-exceeded' ? SEVERITY_WARNING : SEVERITY_NOTICE;
  const params: [string, string | number | null][] = [
    ['seq', event.seq],
    ['eventId', event.eventId],
    ['agent', event.agentId],
    ['host', event.host],
    ['user', event.osUser],
    ['zone', event.zoneId],
    ['channel', event.channel],
    ['action', event.action],
    ['file', event.fileName],
    ['size', event.size],
    ['sha256', event.sha256],
    ['vendor', event.deviceVendorId],
    ['product', event.deviceProductId],
    ['serial', event.deviceSerial],
  ];
  const sd = params
    .filter((p): p is [string, string | number] => p[1] !== null)
    .map(([k, v]) => `${k}="${sdValue(String(v))}"`)
    .join(' ');
  const message = `${event.action} ${event.fileName} by ${event.osUser} on ${event.host}`;
  return `<${FACILITY_LOCAL0 * 8 + severity}>1 ${event.occurredAt} ${host} ${appName} - export [${ENTERPRISE_SD_ID} ${sd}] \uFEFF${message}`;
}

/** One RFC 5424 message with a log's anchored chain head, so the SIEM holds a copy outside the server. */
export function formatChainHeadMessage(log: string, head: { seq: number; headHash: string }, at: string, appName: string, host: string): string {
  const sd = `log="${sdValue(log)}" seq="${head.seq}" head="${sdValue(head.headHash)}"`;
  return `<${FACILITY_LOCAL0 * 8 + SEVERITY_NOTICE}>1 ${at} ${host} ${appName} - chain-head [${ENTERPRISE_SD_ID} ${sd}] \uFEFF${log} log head at row ${head.seq}`;
}

/**
 * Sends events fire-and-forget: the export log in the database is the record; syslog is a copy for the
 * SIEM, so a SIEM outage never blocks ingestion (failures are reported through `onError`).
 */
export class SyslogForwarder {
  private readonly options: SyslogOptions;
  private readonly onError: (error: Error) => void;
  private readonly host = hostname();
  private udp: UdpSocket | null = null;
  private tcp: TcpSocket | null = null;

  constructor(options: SyslogOptions, onError: (error: Error) => void) {
    this.options = options;
    this.onError = onError;
  }

  forward(events: readonly EventRow[]): void {
    for (const event of events) this.send(formatSyslogMessage(event, this.options.appName, this.host));
  }

  publish(log: 'export' | 'audit', head: { readonly seq: number; readonly headHash: string }, at: string): void {
    this.send(formatChainHeadMessage(log, head, at, this.options.appName, this.host));
  }

  private send(message: string): void {
    const bytes = Buffer.from(message, 'utf8');
    if (this.options.transport === 'udp') {
      this.udp ??= createSocket(this.options.host.includes(':') ? 'udp6' : 'udp4').on('error', this.onError);
      this.udp.send(bytes, this.options.port, this.options.host, (error) => {
        if (error) this.onError(error);
      });
      return;
    }
    if (this.tcp === null || this.tcp.destroyed) {
      this.tcp = connect(this.options.port, this.options.host).on('error', (error) => {
        this.tcp = null;
        this.onError(error);
      });
    }
    // RFC 6587 octet counting, so messages may contain newlines.
    this.tcp.write(`${bytes.length} ${message}`);
  }

  close(): void {
    this.udp?.close();
    this.tcp?.end();
    this.udp = null;
    this.tcp = null;
  }
}
