import { networkInterfaces } from 'node:os';
import type { NetworkFacts } from '@exitseal/core/policy';
import { errorFields, type Logger } from '../logging/logger.js';
import { readLinuxGatewaysAndDns } from './network-facts.linux.js';

/** Reads what zone detection needs from the OS. Windows and macOS give addresses only for now (see the report). */
export async function readNetworkFacts(platform: NodeJS.Platform = process.platform): Promise<NetworkFacts> {
  const addresses = Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .map((entry) => entry.address);
  if (platform === 'linux') {
    const { gateways, dnsSuffixes } = await readLinuxGatewaysAndDns();
    return { addresses: [...new Set(addresses)].sort(), gateways: gateways.sort(), dnsSuffixes: dnsSuffixes.sort() };
  }
  return { addresses: [...new Set(addresses)].sort(), gateways: [], dnsSuffixes: [] };
}

/**
 * Reads the network at start and then every `pollMs`, telling the listener when anything changed; every
 * poll also ticks (the offline limit depends on time, not only on the network).
 */
export class NetworkWatcher {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private last = '';
  private running = false;

  constructor(
    private readonly listener: { networkChanged(facts: NetworkFacts): void; tick(): void },
    private readonly pollMs: number,
    private readonly logger: Logger,
    private readonly read: () => Promise<NetworkFacts> = () => readNetworkFacts(),
  ) {}

  async start(): Promise<void> {
    this.running = true;
    await this.check();
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => void this.check().finally(() => this.schedule()), this.pollMs);
  }

  private async check(): Promise<void> {
    try {
      const facts = await this.read();
      const text = JSON.stringify(facts);
      if (text !== this.last) {
        this.last = text;
        this.logger.info('network', { addresses: facts.addresses, gateways: facts.gateways, dnsSuffixes: facts.dnsSuffixes });
        this.listener.networkChanged(facts);
      } else {
        this.listener.tick();
      }
    } catch (error) {
      this.logger.warn('could not read the network', errorFields(error));
    }
  }
}
