// Sealed-file format benchmark: seal and open of one large file on local disk with `exitseal`, against plain
// `cp`, the Debian `age` CLI and the age-encryption npm package, all measured in this run. Prints MB/s, ratios
// and peak memory (RSS). BENCH_SIZE_MIB sets the file size (default 1024), BENCH_RUNS the repetitions (median).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'agent/bin/exitseal.js');
const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 1024);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'exitseal-bench-'));
const haveAge = spawnSync('sh', ['-c', 'command -v age']).status === 0;

// Peak RSS of a child: python's getrusage(RUSAGE_CHILDREN) reports the largest child's maxrss in KiB.
const RSS_WRAPPER = 'import resource,subprocess,sys,time\nt=time.perf_counter()\nr=subprocess.run(sys.argv[1:])\nd=time.perf_counter()-t\nprint(d, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)';

function timed(command, args) {
  const result = spawnSync('python3', ['-c', RSS_WRAPPER, command, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const [seconds, rssKiB, code] = result.stdout.trim().split(/\s+/).map(Number);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return { seconds, rssMiB: rssKiB / 1024 };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function measure(label, command, args, cleanup) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    samples.push(timed(command, args));
    cleanup?.();
  }
  const seconds = median(samples.map((s) => s.seconds));
  const rssMiB = Math.max(...samples.map((s) => s.rssMiB));
  return { label, seconds, rssMiB, mbps: (sizeMiB * 1.048576) / seconds };
}

function makeInput(path, mib) {
  const block = randomBytes(4 * 1024 * 1024);
  const fd = openSync(path, 'w');
  for (let written = 0; written < mib * 1024 * 1024; written += block.length) writeSync(fd, block, 0, Math.min(block.length, mib * 1024 * 1024 - written));
  closeSync(fd);
}

try {
  mkdirSync(dir, { recursive: true });
  const input = join(dir, 'input.bin');
  const out = join(dir, 'out.bin');
  const keyFile = join(dir, 'zone.key');
  console.log(`# sealed-file format: ${sizeMiB} MiB file in ${dir}, median of ${runs} runs`);
  makeInput(input, sizeMiB);
  spawnSync(process.execPath, [cli, 'keygen', '-o', keyFile]);
  const keyText = readFileSync(keyFile, 'utf8');
  const recipient = /public key: (age1\S+)/.exec(keyText)[1];
  const identity = keyText.trim().split('\n').pop();
  const rmOut = () => rmSync(out, { force: true });

  const results = [];
  results.push(measure('cp', 'cp', [input, out], rmOut));
  // exitseal flushes its output to disk before it renames it into place; this reference does the same.
  results.push(measure('cp + fsync', 'sh', ['-c', 'cp "$1" "$2" && sync "$2"', 'sh', input, out], rmOut));
  const seal = measure('exitseal seal', process.execPath, [cli, 'seal', input, '--to', recipient, '--zone', 'bench', '-o', out, '--force'], rmOut);
  results.push(seal);
  if (haveAge) results.push(measure('age CLI seal', 'age', ['-r', recipient, '-o', out, input], rmOut));
  results.push(measure('age-encryption seal', process.execPath, [join(root, 'bench/age-encryption-op.mjs'), 'seal', input, out, recipient], rmOut));

  const sealed = join(dir, 'sealed.age');
  spawnSync(process.execPath, [cli, 'seal', input, '--to', recipient, '--zone', 'bench', '-o', sealed]);
  const open = measure('exitseal open', process.execPath, [cli, 'open', sealed, '-i', keyFile, '-o', out, '--force'], rmOut);
  results.push(open);
  if (haveAge) results.push(measure('age CLI open', 'age', ['-d', '-i', keyFile, '-o', out, sealed], rmOut));
  results.push(measure('age-encryption open', process.execPath, [join(root, 'bench/age-encryption-op.mjs'), 'open', sealed, out, identity], rmOut));

  const byLabel = Object.fromEntries(results.map((r) => [r.label, r]));
  const cp = byLabel.cp;
  console.log('operation              seconds     MB/s   x cp time   vs age CLI   peak RSS MiB   x (cp+fsync) time');
  for (const r of results) {
    const op = r.label.split(' ').pop();
    const ageRef = byLabel[`age CLI ${op}`];
    const vsAge = ageRef && r.label !== ageRef.label ? `${(ageRef.seconds / r.seconds).toFixed(2)}x speed` : '';
    console.log(
      `${r.label.padEnd(22)} ${r.seconds.toFixed(2).padStart(7)} ${r.mbps.toFixed(0).padStart(8)} ${(r.seconds / cp.seconds).toFixed(2).padStart(11)} ${vsAge.padStart(12)} ${r.rssMiB.toFixed(0).padStart(14)} ${(r.seconds / byLabel['cp + fsync'].seconds).toFixed(2).padStart(19)}`,
    );
  }
  // Memory must not grow with file size: compare against a small file.
  const small = join(dir, 'small.bin');
  makeInput(small, 10);
  const smallSeal = timed(process.execPath, [cli, 'seal', small, '--to', recipient, '-o', join(dir, 'small.age')]);
  const smallOpen = timed(process.execPath, [cli, 'open', join(dir, 'small.age'), '-i', keyFile, '-o', join(dir, 'small.out')]);
  console.log(`peak RSS, exitseal seal: 10 MiB file ${smallSeal.rssMiB.toFixed(0)} MiB, ${sizeMiB} MiB file ${seal.rssMiB.toFixed(0)} MiB`);
  console.log(`peak RSS, exitseal open: 10 MiB file ${smallOpen.rssMiB.toFixed(0)} MiB, ${sizeMiB} MiB file ${open.rssMiB.toFixed(0)} MiB`);
  console.log('note: exitseal fsyncs its output before the rename (durability); cp and age do not.');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
