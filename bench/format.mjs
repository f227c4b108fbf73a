// Sealed-file format benchmark: seal and open of one large file on local disk with `exitseal`, against plain
// `cp`, the Debian `age` CLI and the age-encryption npm package, all measured in this run. Prints MB/s, ratios
// and peak memory (RSS). BENCH_SIZE_MIB sets the file size (default 1024), BENCH_RUNS the repetitions (median),
// BENCH_SAMPLES=1 prints every sample (to tell a noisy run from a slow case).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'agent/bin/exitseal.js');
const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 1024);
let runs = Number(process.env.BENCH_RUNS ?? 5);
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'exitseal-bench-'));
const haveAge = spawnSync('sh', ['-c', 'command -v age']).status === 0;
const inputPath = join(dir, 'input.bin');
const sealedPath = join(dir, 'sealed.age');
// exitseal runs with the native stream cipher when it was built, and once more with node:crypto (the fallback).
const nativeAddon = createRequire(import.meta.url)('@exitseal/native');
const NATIVE = { ...process.env, EXITSEAL_STREAM_CIPHER: 'native' };
const NODE_CRYPTO = { ...process.env, EXITSEAL_STREAM_CIPHER: 'node' };

// Peak RSS of a child: python's getrusage(RUSAGE_CHILDREN) reports the largest child's maxrss in KiB.
const RSS_WRAPPER = 'import resource,subprocess,sys,time\nt=time.perf_counter()\nr=subprocess.run(sys.argv[1:])\nd=time.perf_counter()-t\nprint(d, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)';

function timed(command, args, env = process.env) {
  const result = spawnSync('python3', ['-c', RSS_WRAPPER, command, ...args], { encoding: 'utf8', maxBuffer: 1 << 20, env });
  const [seconds, rssKiB, code] = result.stdout.trim().split(/\s+/).map(Number);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return { seconds, rssMiB: rssKiB / 1024 };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The cases in a random order (Fisher-Yates). */
function shuffled(cases) {
  const order = [...cases];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * Runs every case once per round, rounds repeated `runs` times, so a burst of load from other jobs on this
 * shared machine hits all cases alike instead of one of them. Each round takes the cases in a new random
 * order: on this VM a case that writes 1 GiB unflushed right after one that wrote and flushed 1 GiB is often
 * 2-4x slower (exitseal open after age + fsync: 1.2-2.9 s, against 0.5-0.95 s after other opens), and a fixed
 * order put the same case behind the same neighbour every round. Reports the median and the best of each case.
 */
function measureInterleaved(cases) {
  const samples = new Map(cases.map((c) => [c.label, []]));
  for (let round = 0; round < runs; round++) {
    for (const c of shuffled(cases)) {
      warm(c.args.includes(sealedPath) ? sealedPath : inputPath);
      samples.get(c.label).push(timed(c.command, c.args, c.env));
      c.cleanup?.();
    }
  }
  return cases.map((c) => {
    const list = samples.get(c.label);
    if (process.env.BENCH_SAMPLES) console.log(`  samples ${c.label}: ${list.map((sample) => sample.seconds.toFixed(2)).join(' ')}`);
    const seconds = median(list.map((s) => s.seconds));
    const best = Math.min(...list.map((s) => s.seconds));
    const rssMiB = Math.max(...list.map((s) => s.rssMiB));
    return { label: c.label, seconds, best, rssMiB, mbps: (sizeMiB * 1.048576) / seconds };
  });
}

/**
 * Gives every case its input in the same state, that of a file read from disk: drops the file's pages from the
 * page cache (dd iflag=nocache), then reads it through once (untimed). Two states skewed the reference before:
 * - In one measurement cp took 0.26 s from the freshly written input and 0.31-0.34 s from the same bytes read
 *   back from disk, while exitseal took 0.61-0.66 s from either (a written file's large folios are the likely
 *   reason). At other times cp took 0.26 s from both: its speed also changes from one period to the next here.
 * - This VM's DAMON pages out memory untouched for about a minute, so which state a case met changed during a
 *   run.
 * What remains noisy is writing 1 GiB that is not flushed: some samples of cp, and of every other unflushed
 * case, take 2-4x their usual time. The likely cause (not proven) is that this VM reports freed memory to its
 * host (virtio-balloon free page reporting is on, in 2 MiB blocks), so fresh page-cache pages may first cost a
 * host page fault. Hence interleaved rounds and medians.
 */
function warm(path) {
  spawnSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
  spawnSync('sh', ['-c', 'cat "$1" > /dev/null', 'sh', path]);
}

function makeInput(path, mib) {
  const block = randomBytes(4 * 1024 * 1024);
  const fd = openSync(path, 'w');
  for (let written = 0; written < mib * 1024 * 1024; written += block.length) writeSync(fd, block, 0, Math.min(block.length, mib * 1024 * 1024 - written));
  closeSync(fd);
}

try {
  mkdirSync(dir, { recursive: true });
  const input = inputPath;
  const out = join(dir, 'out.bin');
  const keyFile = join(dir, 'zone.key');
  console.log(`# sealed-file format: ${sizeMiB} MiB file in ${dir}, median and best of ${runs} interleaved rounds`);
  console.log(
    nativeAddon.binding
      ? '# exitseal: native stream cipher (Node\'s OpenSSL, reused buffers); "(node:crypto)" rows: the fallback'
      : `# exitseal: node:crypto only, the native stream cipher is not built (${nativeAddon.loadError})`,
  );
  const exitsealEnv = nativeAddon.binding ? NATIVE : NODE_CRYPTO;
  makeInput(input, sizeMiB);
  spawnSync(process.execPath, [cli, 'keygen', '-o', keyFile]);
  const keyText = readFileSync(keyFile, 'utf8');
  const recipient = /public key: (age1\S+)/.exec(keyText)[1];
  const identity = keyText.trim().split('\n').pop();
  // Each case starts from the same clean disk state: the previous output removed and everything flushed. This
  // root file system is mounted with online discard, so removing a 1 GiB file queues 1 GiB of discards that
  // the next journal commit carries out; without this sync whichever case fsyncs next paid for its
  // predecessor's clean-up (cp without fsync then measured slower than cp with it).
  const rmOut = () => {
    rmSync(out, { force: true });
    spawnSync('sync');
  };

  const sealed = sealedPath;
  spawnSync(process.execPath, [cli, 'seal', input, '--to', recipient, '--zone', 'bench', '-o', sealed]);
  // The 2 GiB just written would otherwise be written back during the first round (cp's first sample: 2.7 s).
  spawnSync('sync');
  const cases = [
    { label: 'cp', command: 'cp', args: [input, out], cleanup: rmOut },
    // Each operation twice: as cp and age do it (the output left to the kernel to write back), and flushed to
    // disk before it returns (exitseal --sync, which in-place writes and the agent always do; cp/age + sync).
    { label: 'cp + fsync', command: 'sh', args: ['-c', 'cp "$1" "$2" && sync "$2"', 'sh', input, out], cleanup: rmOut },
    { label: 'exitseal seal', command: process.execPath, args: [cli, 'seal', input, '--to', recipient, '--zone', 'bench', '-o', out, '--force'], env: exitsealEnv, cleanup: rmOut },
    { label: 'exitseal seal --sync', command: process.execPath, args: [cli, 'seal', input, '--to', recipient, '--zone', 'bench', '-o', out, '--force', '--sync'], env: exitsealEnv, cleanup: rmOut },
    ...(nativeAddon.binding
      ? [{ label: 'exitseal seal (node:crypto)', command: process.execPath, args: [cli, 'seal', input, '--to', recipient, '--zone', 'bench', '-o', out, '--force'], env: NODE_CRYPTO, cleanup: rmOut }]
      : []),
    ...(haveAge
      ? [
          { label: 'age CLI seal', command: 'age', args: ['-r', recipient, '-o', out, input], cleanup: rmOut },
          { label: 'age CLI seal + fsync', command: 'sh', args: ['-c', 'age -r "$1" -o "$3" "$2" && sync "$3"', 'sh', recipient, input, out], cleanup: rmOut },
        ]
      : []),
    { label: 'age-encryption seal', command: process.execPath, args: [join(root, 'bench/age-encryption-op.mjs'), 'seal', input, out, recipient], cleanup: rmOut },
    { label: 'exitseal open', command: process.execPath, args: [cli, 'open', sealed, '-i', keyFile, '-o', out, '--force'], env: exitsealEnv, cleanup: rmOut },
    { label: 'exitseal open --sync', command: process.execPath, args: [cli, 'open', sealed, '-i', keyFile, '-o', out, '--force', '--sync'], env: exitsealEnv, cleanup: rmOut },
    ...(nativeAddon.binding
      ? [{ label: 'exitseal open (node:crypto)', command: process.execPath, args: [cli, 'open', sealed, '-i', keyFile, '-o', out, '--force'], env: NODE_CRYPTO, cleanup: rmOut }]
      : []),
    ...(haveAge
      ? [
          { label: 'age CLI open', command: 'age', args: ['-d', '-i', keyFile, '-o', out, sealed], cleanup: rmOut },
          { label: 'age CLI open + fsync', command: 'sh', args: ['-c', 'age -d -i "$1" -o "$3" "$2" && sync "$3"', 'sh', keyFile, sealed, out], cleanup: rmOut },
        ]
      : []),
  ];
  // age-encryption takes ~10x longer than the rest: one round of it is enough to place it.
  const slow = cases.filter((c) => c.label.startsWith('age-encryption'));
  const results = measureInterleaved(cases.filter((c) => !slow.includes(c)));
  const savedRuns = runs;
  runs = 1;
  results.push(...measureInterleaved(slow), ...measureInterleaved([{ label: 'age-encryption open', command: process.execPath, args: [join(root, 'bench/age-encryption-op.mjs'), 'open', sealed, out, identity], cleanup: rmOut }]));
  runs = savedRuns;
  const seal = results.find((r) => r.label === 'exitseal seal');
  const open = results.find((r) => r.label === 'exitseal open');

  const byLabel = Object.fromEntries(results.map((r) => [r.label, r]));
  const cp = byLabel.cp;
  console.log('operation                    median s   best s   MB/s  x cp time  x cp+fsync  speed vs age  vs age+fsync  peak RSS MiB');
  for (const r of results) {
    const op = r.label.includes('open') ? 'open' : 'seal';
    const isAge = r.label.startsWith('age CLI');
    const vs = (ref) => (ref && !isAge && !r.label.startsWith('cp') ? `${(ref.seconds / r.seconds).toFixed(2)}x` : '');
    console.log(
      [
        r.label.padEnd(28),
        r.seconds.toFixed(2).padStart(8),
        r.best.toFixed(2).padStart(8),
        r.mbps.toFixed(0).padStart(6),
        (r.seconds / cp.seconds).toFixed(2).padStart(10),
        (r.seconds / byLabel['cp + fsync'].seconds).toFixed(2).padStart(11),
        vs(byLabel[`age CLI ${op}`]).padStart(13),
        vs(byLabel[`age CLI ${op} + fsync`]).padStart(13),
        r.rssMiB.toFixed(0).padStart(13),
      ].join(' '),
    );
  }
  // Memory must not grow with file size: compare against a small file.
  const small = join(dir, 'small.bin');
  makeInput(small, 10);
  const smallSeal = timed(process.execPath, [cli, 'seal', small, '--to', recipient, '-o', join(dir, 'small.age')], exitsealEnv);
  const smallOpen = timed(process.execPath, [cli, 'open', join(dir, 'small.age'), '-i', keyFile, '-o', join(dir, 'small.out')], exitsealEnv);
  console.log(`peak RSS, exitseal seal: 10 MiB file ${smallSeal.rssMiB.toFixed(0)} MiB, ${sizeMiB} MiB file ${seal.rssMiB.toFixed(0)} MiB`);
  console.log(`peak RSS, exitseal open: 10 MiB file ${smallOpen.rssMiB.toFixed(0)} MiB, ${sizeMiB} MiB file ${open.rssMiB.toFixed(0)} MiB`);
  // The targets of the foundation issue, judged on the medians above (the best samples are printed beside them).
  // They are set for a 1 GiB file: on small files the CLI's start-up (about 0.1 s) dominates.
  if (sizeMiB !== 1024) console.log(`the targets below are set for a 1024 MiB file; this run used ${sizeMiB} MiB`);
  const verdict = (met) => (met ? 'met' : 'NOT met');
  // On a shared VM some samples of the fast unflushed writers (cp, exitseal) take 2-5x their usual time while
  // age, a slower writer, stays steady; when half of a case's samples are that far off, its median is too.
  const noisy = [cp, seal].filter((r) => r.seconds > 1.3 * r.best);
  if (noisy.length > 0) {
    console.log(`warning: noisy run (${noisy.map((r) => `${r.label} median ${r.seconds.toFixed(2)} s against best ${r.best.toFixed(2)} s`).join('; ')}): the verdicts below are unreliable; run again on a quiet machine`);
  }
  const sealVsCp = seal.seconds / cp.seconds;
  console.log(`target: seal within 2x of cp: ${sealVsCp.toFixed(2)}x (${verdict(sealVsCp <= 2)})`);
  const ageSeal = byLabel['age CLI seal'];
  if (ageSeal) console.log(`target: seal at least as fast as the age CLI: ${(ageSeal.seconds / seal.seconds).toFixed(2)}x its speed (${verdict(seal.seconds <= ageSeal.seconds)})`);
  // Flat: the largest file may cost a few buffers more than a 10 MiB one, never an amount that grows with it.
  const growthMiB = Math.max(seal.rssMiB - smallSeal.rssMiB, open.rssMiB - smallOpen.rssMiB);
  console.log(`target: memory flat in file size: ${sizeMiB} MiB file +${growthMiB.toFixed(0)} MiB over 10 MiB (${verdict(growthMiB <= 16)})`);
  console.log('note: "exitseal seal/open" writes to another path as cp and age do (not flushed); "--sync" flushes before the rename, as in-place writes and the agent always do: compare it with "+ fsync".');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
