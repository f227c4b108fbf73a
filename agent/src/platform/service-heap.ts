import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

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
 *
 * Sealing allocates about one byte of short-lived Buffer per byte sealed (Node's cipher.update returns a new
 * Buffer for every 64 KiB STREAM chunk). The JS objects are tiny, so the young generation hardly fills and
 * V8 collects them only once tens of MiB of them piled up (its external-memory limit): the agent's RSS rose by
 * 35-40 MiB while sealing and glibc often kept that memory afterwards. While bulk work runs (bulkWork()),
 * a scavenge every few milliseconds frees those Buffers while they are still young (a scavenge of a 1 MiB
 * young generation takes well under a millisecond); when the work ends, one full collection frees what lived
 * longer (the per-file read buffers). `gc` is reached through a fresh vm context after --expose-gc, so the
 * agent's own global object gets no `gc`.
 *
 * What is left (measured, see the bench): the pipeline's Buffers that live across a write to the stick (a few
 * milliseconds, so they often survive two scavenges and are promoted) still raise RSS by 15-40 MiB while a
 * large file is sealed, and glibc keeps most of that high-water mark in its heap afterwards (idle after sealing
 * 80-109 MiB instead of 67-69). Starting node with MALLOC_MMAP_THRESHOLD_=65536 in the environment brought it
 * back to 67 MiB (glibc reads it only at process start, so a Linux service unit would have to set it); the
 * cause itself is the per-chunk Buffer of cipher.update and the blocks kept alive across writes in
 * files/sealed-file-io.ts. Starting V8 with --no-opt saved another 6 MiB idle but made sealing slower (a 300 MiB seal on tmpfs 0.61 s ->
 * 0.70-0.83 s; the bench's 100 MiB plaintext window p50 0.6-0.7 s -> 1.5-3.1 s on the loaded machine), so no.
 */
export const SERVICE_V8_FLAGS = ['--semi-space-growth-factor=1'] as const;

const SCAVENGE_EVERY_MS = 5;
const FULL_GC_AFTER_IDLE_MS = 1000;

type GcFunction = (options: { type: 'minor' | 'major' }) => void;

let gc: GcFunction | undefined;
let activeWork = 0;
let scavenger: ReturnType<typeof setInterval> | undefined;
let fullCollection: ReturnType<typeof setTimeout> | undefined;

export function applyServiceHeapSettings(): void {
  for (const flag of SERVICE_V8_FLAGS) setFlagsFromString(flag);
  setFlagsFromString('--expose-gc');
  const exposed: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
  gc = typeof exposed === 'function' ? (exposed as GcFunction) : undefined;
}

/**
 * Marks a stretch of bulk work (a seal, an open); returns the function that ends it (call it once, in a
 * finally). Without applyServiceHeapSettings (tests, the command-line tool) it does nothing.
 */
export function bulkWork(): () => void {
  const collect = gc;
  if (!collect) return () => undefined;
  activeWork++;
  if (activeWork === 1) {
    if (fullCollection) clearTimeout(fullCollection);
    fullCollection = undefined;
    scavenger = setInterval(() => collect({ type: 'minor' }), SCAVENGE_EVERY_MS);
    scavenger.unref();
  }
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    activeWork--;
    if (activeWork > 0) return;
    clearInterval(scavenger);
    scavenger = undefined;
    collect({ type: 'minor' });
    fullCollection = setTimeout(() => collect({ type: 'major' }), FULL_GC_AFTER_IDLE_MS);
    fullCollection.unref();
  };
}
