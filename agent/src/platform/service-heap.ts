import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for the long-running service, applied from inside the process so that the documented service
 * command (`exitseal-agent run`) gets them on every platform: a shebang `env -S node --flag` does not work on
 * Windows, NODE_OPTIONS does not accept these flags, and re-spawning node would cost a second process.
 *
 * `--semi-space-growth-factor=1` keeps V8's young generation at its initial 1 MiB per semi-space instead of
 * letting it double up to 8-16 MiB after the start-up burst (taking the baseline of a stick with 10,000 files
 * allocates a lot of short-lived objects). Unlike `--max-semi-space-size`, which V8 reads only when the heap
 * is created, the growth factor is read each time the young generation would grow, so it takes effect when set
 * at run time. Measured with agent/bench/plaintext-window.mjs (idle, 10,000 files on an exFAT stick): RSS
 * 80.1-81.1 MiB without it, 67-69 MiB with it, the same as starting node with --max-semi-space-size=1.
 * A smaller young generation also means more frequent scavenges, which free the short-lived Buffers of the
 * periodic mount-table and network reads sooner instead of letting them pile up as external memory.
 * It must run before anything else is loaded, so that the start-up burst already runs under it.
 */
export const SERVICE_V8_FLAGS = ['--semi-space-growth-factor=1'] as const;

export function applyServiceHeapSettings(): void {
  for (const flag of SERVICE_V8_FLAGS) setFlagsFromString(flag);
}

