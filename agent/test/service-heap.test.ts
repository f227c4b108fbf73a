import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';

const SERVICE_HEAP = new URL('../src/platform/service-heap.js', import.meta.url).href;

/**
 * Runs a fresh node that (optionally) applies the service's V8 settings at run time, then allocates as the
 * start-up burst does (many short-lived objects, some kept a while), and prints the young generation's size.
 */
function youngGenerationMiB(applySettings: boolean): number {
  const script = `
    const v8 = await import('node:v8');
    if (${applySettings}) (await import(${JSON.stringify(SERVICE_HEAP)})).applyServiceHeapSettings();
    const kept = [];
    for (let round = 0; round < 200; round++) {
      const batch = [];
      for (let i = 0; i < 20000; i++) batch.push({ i, name: 'file' + i });
      kept.push(batch);
      if (kept.length > 5) kept.shift();
    }
    const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    process.stdout.write(String(young.space_size / 1048576));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return Number(result.stdout);
}

describe('the service heap settings', () => {
  test('set at run time (as exitseal-agent run does), they keep the young generation from growing', () => {
    const without = youngGenerationMiB(false);
    const withSettings = youngGenerationMiB(true);
    assert.ok(without >= 8, `without the settings V8 grows the young generation under this load (got ${without} MiB): otherwise this test shows nothing`);
    assert.ok(withSettings <= 2, `with the settings it stays at its initial size (got ${withSettings} MiB)`);
  });
});
