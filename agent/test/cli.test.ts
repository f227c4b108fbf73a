import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { nativeAvailability } from '../src/files/stream-cipher.js';
import { age, ageWithPassphrase, CLI_PATH, hasCommand, runCli, withTempDir } from './cli-harness.js';

// The last size spans several early-writeback flushes (every 8 MiB) in both directions.
const SIZES = [0, 1, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 2 * 64 * 1024, 3 * 1024 * 1024 + 5, 20 * 1024 * 1024 + 3];
const haveAge = hasCommand('age');

async function keygen(dir: string): Promise<{ keyFile: string; recipient: string }> {
  const keyFile = join(dir, 'zone.key');
  const run = await runCli(['keygen', '-o', keyFile]);
  assert.equal(run.code, 0, run.stderr);
  const match = /Public key: (age1[0-9a-z]+)/.exec(run.stderr);
  assert.ok(match?.[1], 'keygen prints the public key');
  return { keyFile, recipient: match[1] };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function leftoverTemps(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('.es-'));
}

describe('exitseal keygen', () => {
  test('writes an identity file only the owner can read, in the age format', async () => {
    await withTempDir(async (dir) => {
      const { keyFile, recipient } = await keygen(dir);
      const mode = (await stat(keyFile)).mode & 0o777;
      assert.equal(mode, 0o600);
      const text = await readFile(keyFile, 'utf8');
      assert.match(text, /^# created: .+\n# public key: age1[0-9a-z]+\nAGE-SECRET-KEY-1[0-9A-Z]+\n$/);
      if (hasCommand('age-keygen')) {
        const derived = spawnSync('age-keygen', ['-y', keyFile]).stdout.toString().trim();
        assert.equal(derived, recipient, 'age-keygen derives the same recipient');
      }
      const again = await runCli(['keygen', '-o', keyFile]);
      assert.equal(again.code, 2, 'never overwrites an identity');
    });
  });
});

describe('exitseal seal/open interop with the age CLI', { skip: haveAge ? false : 'the Debian `age` CLI is not installed' }, () => {
  for (const size of SIZES) {
    test(`${size} bytes: exitseal seals, age opens; age seals, exitseal opens`, async () => {
      await withTempDir(async (dir) => {
        const { keyFile, recipient } = await keygen(dir);
        const original = randomBytes(size);
        const file = join(dir, 'report.xlsx');
        await writeFile(file, original);
        const sealRun = await runCli(['seal', file, '--to', recipient, '--zone', 'mynumber', '--key-version', '2', '--in-place']);
        assert.equal(sealRun.code, 0, sealRun.stderr);
        const sealed = await readFile(file);
        assert.ok(sealed.subarray(0, 21).toString() === 'age-encryption.org/v1');
        assert.equal(sha256(age(['-d', '-i', keyFile, file])), sha256(original), 'age CLI opens the sealed file');

        const inspected = await runCli(['inspect', file, '--json']);
        const info = JSON.parse(inspected.stdout) as { kind: string; meta: { zoneId: string; keyVersion: number; fileId: string } };
        assert.equal(info.kind, 'exitseal');
        assert.equal(info.meta.zoneId, 'mynumber');
        assert.equal(info.meta.keyVersion, 2);

        const fromAge = join(dir, 'from-age.age');
        age(['-r', recipient, '-o', fromAge], original);
        const opened = join(dir, 'opened.bin');
        const openRun = await runCli(['open', fromAge, '-i', keyFile, '-o', opened]);
        assert.equal(openRun.code, 0, openRun.stderr);
        assert.equal(sha256(await readFile(opened)), sha256(original));

        const inPlace = await runCli(['open', file, '-i', keyFile, '--in-place']);
        assert.equal(inPlace.code, 0, inPlace.stderr);
        assert.equal(sha256(await readFile(file)), sha256(original));
        assert.deepEqual(await leftoverTemps(dir), []);
      });
    });
  }

  test('ASCII armor: exitseal --armor opens in the age CLI, age -a output opens in exitseal, damage is refused', async () => {
    await withTempDir(async (dir) => {
      const { keyFile, recipient } = await keygen(dir);
      const original = randomBytes(100_000);
      const file = join(dir, 'mail-body.txt');
      await writeFile(file, original);
      const run = await runCli(['seal', file, '--to', recipient, '--zone', 'internet', '--armor', '-o', join(dir, 'sealed.asc')]);
      assert.equal(run.code, 0, run.stderr);
      const text = await readFile(join(dir, 'sealed.asc'), 'latin1');
      assert.match(text, /^-----BEGIN AGE ENCRYPTED FILE-----\n([A-Za-z0-9+/]{64}\n)+[A-Za-z0-9+/=]{1,64}\n-----END AGE ENCRYPTED FILE-----\n$/);
      assert.equal(sha256(age(['-d', '-i', keyFile, join(dir, 'sealed.asc')])), sha256(original), 'the age CLI opens our armor');
      const info = JSON.parse((await runCli(['inspect', join(dir, 'sealed.asc'), '--json'])).stdout) as { kind: string; armored: boolean };
      assert.deepEqual([info.kind, info.armored], ['exitseal', true]);

      age(['-a', '-r', recipient, '-o', join(dir, 'by-age.asc')], original);
      const opened = await runCli(['open', join(dir, 'by-age.asc'), '-i', keyFile, '-o', join(dir, 'by-age.out')]);
      assert.equal(opened.code, 0, opened.stderr);
      assert.equal(sha256(await readFile(join(dir, 'by-age.out'))), sha256(original));

      const lines = text.split('\n');
      lines[3] = `${lines[3] ?? ''} `;
      await writeFile(join(dir, 'broken.asc'), lines.join('\n'));
      const broken = await runCli(['open', join(dir, 'broken.asc'), '-i', keyFile, '-o', join(dir, 'broken.out')]);
      assert.equal(broken.code, 4, broken.stderr);
      assert.match(broken.stderr, /ASCII armor/);
      await assert.rejects(stat(join(dir, 'broken.out')));
      assert.deepEqual(await leftoverTemps(dir), []);
    });
  });

  test('a recipient copy opens with its passphrase in the age CLI and in exitseal; age passphrase files open in exitseal', async () => {
    await withTempDir(async (dir) => {
      const { keyFile, recipient } = await keygen(dir);
      for (const size of [0, 70_000]) {
        const original = randomBytes(size);
        const file = join(dir, `f${size}.docx`);
        await writeFile(file, original);
        assert.equal((await runCli(['seal', file, '--to', recipient, '--zone', 'lgwan', '--in-place'])).code, 0);
        const copy = join(dir, `f${size}.recipient.age`);
        const run = await runCli(['recipient-copy', file, '-i', keyFile, '-o', copy]);
        assert.equal(run.code, 0, run.stderr);
        const passphrase = run.stdout.trim();
        assert.match(passphrase, /^([a-z2-9]{4}-){5}[a-z2-9]{4}$/);
        const byAge = join(dir, `f${size}.by-age`);
        await ageWithPassphrase(['-d', '-o', byAge, copy], passphrase);
        // The age CLI creates its output file on the first write, so an empty plaintext leaves none.
        const opened = size === 0 ? await readFile(byAge).catch(() => Buffer.alloc(0)) : await readFile(byAge);
        assert.equal(sha256(opened), sha256(original));
        const byUs = join(dir, `f${size}.by-us`);
        const openRun = await runCli(['open', copy, '--passphrase', '-o', byUs], `${passphrase}\n`);
        assert.equal(openRun.code, 0, openRun.stderr);
        assert.equal(sha256(await readFile(byUs)), sha256(original));
        const wrong = await runCli(['open', copy, '--passphrase', '-o', join(dir, 'nope')], 'not-the-passphrase\n');
        assert.equal(wrong.code, 3, wrong.stderr);
      }
      const agePassFile = join(dir, 'age-pass.age');
      const plain = join(dir, 'plain.txt');
      await writeFile(plain, 'made by the age CLI with a passphrase\n');
      await ageWithPassphrase(['-p', '-o', agePassFile, plain], 'correct horse battery staple');
      const run = await runCli(['open', agePassFile, '--passphrase', '-o', join(dir, 'plain.out')], 'correct horse battery staple\n');
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await readFile(join(dir, 'plain.out'), 'utf8'), 'made by the age CLI with a passphrase\n');
    });
  });
});

describe('exitseal refuses bad input clearly and loses nothing', () => {
  test('a damaged, truncated or foreign file: exit 4 or 3, the input unchanged, nothing written', async () => {
    await withTempDir(async (dir) => {
      const { keyFile, recipient } = await keygen(dir);
      const other = await runCli(['keygen', '-o', join(dir, 'other.key')]);
      assert.equal(other.code, 0);
      const original = randomBytes(200_000);
      const file = join(dir, 'data.bin');
      await writeFile(file, original);
      assert.equal((await runCli(['seal', file, '--to', recipient, '--zone', 'internet', '--in-place'])).code, 0);
      const sealed = await readFile(file);

      const flipped = Buffer.from(sealed);
      const at = sealed.length - 1000;
      flipped[at] = (flipped[at] ?? 0) ^ 0x01;
      await writeFile(file, flipped);
      let run = await runCli(['open', file, '-i', keyFile, '--in-place']);
      assert.equal(run.code, 4, run.stderr);
      assert.match(run.stderr, /damaged or was altered/);
      assert.deepEqual(await readFile(file), flipped, 'in-place open of a damaged file leaves it as it was');

      await writeFile(file, sealed.subarray(0, sealed.length - 70_000));
      run = await runCli(['open', file, '-i', keyFile, '-o', join(dir, 'out.bin')]);
      assert.equal(run.code, 4);
      await assert.rejects(stat(join(dir, 'out.bin')), 'no partial plaintext is left behind');

      const headerFlip = Buffer.from(sealed);
      headerFlip[100] = (headerFlip[100] ?? 0) ^ 0x20;
      await writeFile(file, headerFlip);
      run = await runCli(['open', file, '-i', keyFile, '-o', join(dir, 'out.bin')]);
      assert.equal(run.code, 4, run.stderr);

      await writeFile(file, sealed);
      run = await runCli(['open', file, '-i', join(dir, 'other.key'), '-o', join(dir, 'out.bin')]);
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, /none of the given keys/);

      await writeFile(join(dir, 'plain.txt'), 'hello');
      run = await runCli(['open', join(dir, 'plain.txt'), '-i', keyFile, '-o', join(dir, 'out.bin')]);
      assert.equal(run.code, 4);
      assert.match(run.stderr, /not sealed/);

      await writeFile(join(dir, 'garbage.age'), Buffer.concat([Buffer.from('age-encryption.org/v1\n-> X25519 '), Buffer.alloc(100_000, 0x41)]));
      run = await runCli(['open', join(dir, 'garbage.age'), '-i', keyFile, '-o', join(dir, 'out.bin')]);
      assert.equal(run.code, 4);
      assert.deepEqual(await leftoverTemps(dir), []);
    });
  });

  test('usage errors exit 2 with help; existing outputs are not overwritten without --force; sealing twice is refused', async () => {
    await withTempDir(async (dir) => {
      const { recipient } = await keygen(dir);
      const file = join(dir, 'a.txt');
      await writeFile(file, 'abc');
      assert.equal((await runCli([])).code, 2);
      assert.equal((await runCli(['frobnicate'])).code, 2);
      for (const command of ['keygen', 'seal', 'open', 'inspect', 'recipient-copy']) {
        const help = await runCli([command, '--help']);
        assert.equal(help.code, 0);
        assert.match(help.stdout, new RegExp(`Usage: exitseal ${command}`));
      }
      let run = await runCli(['seal', file, '--to', recipient]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /-o OUT or --in-place/);
      run = await runCli(['seal', file, '--to', 'age1notarecipient', '--in-place']);
      assert.equal(run.code, 2);
      run = await runCli(['seal', file, '--to', recipient, '--zone', 'Bad Zone!', '--in-place']);
      assert.equal(run.code, 2);
      run = await runCli(['seal', file, '--bogus']);
      assert.equal(run.code, 2);
      run = await runCli(['seal', file, '--to', recipient, '--in-place', '--sync']);
      assert.equal(run.code, 2, 'in place is always flushed: --sync there is a mistake worth saying');
      assert.match(run.stderr, /--sync goes with -o OUT/);
      assert.equal(await readFile(file, 'utf8'), 'abc');
      await writeFile(join(dir, 'exists.age'), 'keep me');
      run = await runCli(['seal', file, '--to', recipient, '-o', join(dir, 'exists.age')]);
      assert.equal(run.code, 2);
      assert.equal(await readFile(join(dir, 'exists.age'), 'utf8'), 'keep me');
      run = await runCli(['seal', file, '--to', recipient, '-o', join(dir, 'exists.age'), '--force']);
      assert.equal(run.code, 0, run.stderr);
      run = await runCli(['seal', join(dir, 'exists.age'), '--to', recipient, '--in-place']);
      assert.equal(run.code, 4);
      assert.match(run.stderr, /already/);
      run = await runCli(['seal', join(dir, 'missing.txt'), '--to', recipient, '--in-place']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /no longer exists/);
      run = await runCli(['open', file, '-i', join(dir, 'missing.key'), '--in-place']);
      assert.equal(run.code, 2);
      await writeFile(join(dir, 'bad.key'), 'AGE-SECRET-KEY-1NOTAKEY\n');
      run = await runCli(['open', file, '-i', join(dir, 'bad.key'), '--in-place']);
      assert.equal(run.code, 2);
      assert.doesNotMatch(run.stderr, /NOTAKEY/, 'never echoes key material');
    });
  });

  test('EXITSEAL_STREAM_CIPHER: a bad value exits 2 and names the choices; files made with one cipher open with the other', async () => {
    await withTempDir(async (dir) => {
      const { keyFile, recipient } = await keygen(dir);
      const file = join(dir, 'a.bin');
      const content = randomBytes(3 * 64 * 1024 + 17);
      await writeFile(file, content);
      const bad = await runCli(['seal', file, '--to', recipient, '-o', join(dir, 'x.age')], '', { EXITSEAL_STREAM_CIPHER: 'fast' });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /EXITSEAL_STREAM_CIPHER must be one of auto, native, node/);
      const nativeBuilt = nativeAvailability().available;
      const ciphers = nativeBuilt ? ['native', 'node', 'auto'] : ['node', 'auto'];
      for (const sealWith of ciphers) {
        const sealed = join(dir, `${sealWith}.age`);
        const run = await runCli(['seal', file, '--to', recipient, '-o', sealed], '', { EXITSEAL_STREAM_CIPHER: sealWith });
        assert.equal(run.code, 0, run.stderr);
        for (const openWith of ciphers) {
          const opened = join(dir, `${sealWith}-${openWith}.out`);
          const openRun = await runCli(['open', sealed, '-i', keyFile, '-o', opened], '', { EXITSEAL_STREAM_CIPHER: openWith });
          assert.equal(openRun.code, 0, openRun.stderr);
          assert.ok((await readFile(opened)).equals(content), `sealed with ${sealWith}, opened with ${openWith}`);
        }
      }
      if (!nativeBuilt) {
        const run = await runCli(['seal', file, '--to', recipient, '-o', join(dir, 'n.age')], '', { EXITSEAL_STREAM_CIPHER: 'native' });
        assert.equal(run.code, 1);
        assert.match(run.stderr, /native stream cipher is not available/);
      }
    });
  });
});

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

describe('crash safety of in-place writes', () => {
  test('a full volume: the seal fails with NO_SPACE, the original is intact, no temp file left', { skip: isRoot() ? false : 'needs root to mount a small tmpfs' }, async () => {
    await withTempDir(async (dir) => {
      const { recipient } = await keygen(dir);
      const mountPoint = join(dir, 'small');
      await import('node:fs/promises').then((fs) => fs.mkdir(mountPoint));
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mountPoint]);
      if (mounted.status !== 0) {
        assert.fail(`could not mount a tmpfs as root: ${mounted.stderr.toString()}`);
      }
      try {
        const original = randomBytes(300 * 1024);
        const file = join(mountPoint, 'big.bin');
        await writeFile(file, original);
        const run = await runCli(['seal', file, '--to', recipient, '--in-place']);
        assert.equal(run.code, 1, run.stderr);
        assert.match(run.stderr, /no space left/);
        assert.deepEqual(await readFile(file), original);
        assert.deepEqual(await leftoverTemps(mountPoint), []);
      } finally {
        spawnSync('umount', [mountPoint]);
      }
    });
  });

  test('kill -9 at random moments of an in-place seal never leaves a truncated file', async () => {
    await withTempDir(async (dir) => {
      const { keyFile, recipient } = await keygen(dir);
      const original = randomBytes(48 * 1024 * 1024);
      const digest = sha256(original);
      const file = join(dir, 'video.mp4');
      let sealedSeen = 0;
      let originalSeen = 0;
      for (let round = 0; round < 6; round++) {
        await writeFile(file, original);
        const child = spawn(process.execPath, [CLI_PATH, 'seal', file, '--to', recipient, '--in-place'], { stdio: 'ignore' });
        const closed = new Promise((resolve) => child.on('close', resolve));
        const delay = 20 + Math.floor(Math.random() * 300);
        await new Promise((resolve) => setTimeout(resolve, delay));
        child.kill('SIGKILL');
        await closed;
        const now = await readFile(file);
        if (sha256(now) === digest) {
          originalSeen++;
        } else {
          assert.equal(now.subarray(0, 21).toString(), 'age-encryption.org/v1', 'the file is either the original or sealed');
          assert.equal(sha256(age(['-d', '-i', keyFile, file])), digest, 'and a sealed result is complete');
          sealedSeen++;
        }
      }
      assert.equal(sealedSeen + originalSeen, 6);
    });
  });
});
