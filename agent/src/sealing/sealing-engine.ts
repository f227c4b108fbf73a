import { stat } from 'node:fs/promises';
import { errorFields, type Logger } from '../logging/logger.js';
import type { MountListener } from '../media/mount-watcher.js';
import { volumeKey, type VolumeInfo } from '../media/volume.js';
import { decideDevice, type PolicySource } from '../policy/agent-policy.js';
import type { ChannelActionName } from '../config/agent-config.js';
import { AreaSession, type SessionDependencies } from './area-session.js';
import type { UserNotifier } from './notifier.js';
import type { AreaMode, WatchedArea } from './watched-area.js';

function modeForChannel(action: ChannelActionName, channelName: string): AreaMode {
  switch (action) {
    case 'seal':
      return { kind: 'seal' };
    case 'allow':
      return { kind: 'allow' };
    case 'block':
    case 'read-only':
      return { kind: 'remove', action, reason: `the policy sets ${channelName} to ${action}` };
  }
}

/**
 * Turns mounts into watched areas under the policy in force: a denied device or a blocked channel gets its
 * new files moved off, an allowed one is logged, everything else is sealed. Outbound folders named by the
 * policy are watched the same way for as long as the agent runs.
 */
export class SealingEngine implements MountListener {
  private readonly sessions = new Map<string, AreaSession>();
  private readonly volumes = new Map<string, VolumeInfo>();
  private unsubscribe: (() => void) | undefined;
  private applying: Promise<void> = Promise.resolve();

  constructor(
    private readonly policy: PolicySource,
    private readonly dependencies: SessionDependencies,
    private readonly notifier: UserNotifier,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = policy.subscribe(() => {
      this.applying = this.applying.then(() => this.applyPolicy()).catch((error: unknown) => this.logger.error('applying a new policy failed', errorFields(error)));
    });
  }

  async mounted(volume: VolumeInfo): Promise<void> {
    const policy = this.policy.current();
    const decision = decideDevice(policy, volume.usb);
    const mode = this.volumeMode(volume);
    this.volumes.set(volume.mountPoint, volume);
    const area: WatchedArea = {
      root: volume.mountPoint,
      volumeKey: volumeKey(volume),
      mountToken: volume.mountToken,
      channel: 'removableMedia',
      existingFiles: 'baseline',
      firstSeenAt: volume.firstSeenAt,
      device: {
        vendorId: volume.usb.vendorId,
        productId: volume.usb.productId,
        serial: (volume.usb.serial ?? volume.volumeSerial)?.slice(0, 128),
        label: volume.label?.slice(0, 128),
        mount: volume.mountPoint.slice(0, 1024),
      },
    };
    this.logger.info('volume mounted', { mount: volume.mountPoint, volume: area.volumeKey, bus: volume.bus, fsType: volume.fsType, label: volume.label, mode: mode.kind });
    if (!decision.allowed) {
      this.notifier.notify('blocked', `${volume.label ?? volume.mountPoint}: ${decision.reason}; files written to it are removed to quarantine`, [volume.mountPoint]);
    }
    await this.startSession(area, mode);
  }

  async unmounted(volume: VolumeInfo): Promise<void> {
    this.volumes.delete(volume.mountPoint);
    const session = this.sessions.get(volume.mountPoint);
    if (!session) return;
    this.sessions.delete(volume.mountPoint);
    await session.stop();
    this.dependencies.registry.markUnmounted(session.area.volumeKey);
    this.logger.info('volume unmounted', { mount: volume.mountPoint, volume: session.area.volumeKey, ...session.counts });
  }

  /** Watches the outbound folders of the current policy; a missing folder is reported, not created. */
  async startOutboundFolders(): Promise<void> {
    const policy = this.policy.current();
    const mode = modeForChannel(policy.channels.outboundFolders, 'outbound folders');
    for (const root of policy.outboundFolders) {
      if (this.sessions.has(root)) continue;
      const exists = await stat(root).then((s) => s.isDirectory()).catch(() => false);
      if (!exists) {
        this.logger.warn('outbound folder does not exist: not watched', { root });
        continue;
      }
      // A constant token: an outbound folder is "the same mount" across restarts, so what was dropped
      // in it while the agent was down is still sealed. What is in it the first time is processed too.
      await this.startSession({ root, volumeKey: `folder:${root}`, mountToken: 'outbound-folder', channel: 'outboundFolders', existingFiles: 'process' }, mode);
    }
  }

  /**
   * A new policy (another zone, a new bundle, the offline limit): mounted sticks and outbound folders keep
   * being watched, and what is written from now on gets the new treatment; outbound folders the policy no
   * longer names stop being watched, new ones start.
   */
  async applyPolicy(): Promise<void> {
    const policy = this.policy.current();
    const outboundMode = modeForChannel(policy.channels.outboundFolders, 'outbound folders');
    const wanted = new Set(policy.outboundFolders);
    for (const [root, session] of [...this.sessions]) {
      if (session.area.channel === 'outboundFolders') {
        if (!wanted.has(root)) {
          this.sessions.delete(root);
          await session.stop();
          this.logger.info('outbound folder no longer watched', { root });
        } else session.setMode(outboundMode);
        continue;
      }
      const volume = this.volumes.get(root);
      if (!volume) continue;
      const mode = this.volumeMode(volume);
      if (JSON.stringify(mode) !== JSON.stringify(session.currentMode())) {
        session.setMode(mode);
        this.logger.info('volume treatment changed by the policy', { mount: root, mode: mode.kind, zone: policy.zoneId });
      }
    }
    await this.startOutboundFolders();
  }

  /** Resolves once the latest policy change has been applied (for tests and an orderly stop). */
  settled(): Promise<void> {
    return this.applying;
  }

  private volumeMode(volume: VolumeInfo): AreaMode {
    const policy = this.policy.current();
    const decision = decideDevice(policy, volume.usb);
    return decision.allowed ? modeForChannel(policy.channels.removableMedia, 'removable media') : { kind: 'remove', action: policy.deniedDeviceAction, reason: decision.reason };
  }

  /** Stops watching without marking volumes unmounted: after a restart the same mounts continue. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.applying;
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map((session) => session.stop()));
  }

  isIdle(): boolean {
    return [...this.sessions.values()].every((session) => session.isIdle());
  }

  watchedRoots(): string[] {
    return [...this.sessions.keys()];
  }

  private async startSession(area: WatchedArea, mode: AreaMode): Promise<void> {
    const session = new AreaSession(area, mode, this.dependencies);
    this.sessions.set(area.root, session);
    try {
      await session.start();
    } catch (error) {
      this.sessions.delete(area.root);
      await session.stop();
      this.logger.error('could not watch', { root: area.root, ...errorFields(error) });
    }
  }
}
