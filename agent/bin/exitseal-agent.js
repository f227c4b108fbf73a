#!/usr/bin/env node
// The service's V8 settings are applied before the rest of the agent is even loaded (see service-heap.ts).
if (process.argv[2] === 'run') (await import('../dist/src/platform/service-heap.js')).applyServiceHeapSettings();
const { main } = await import('../dist/src/main.js');

const stopSignal = new Promise((resolve) => {
  for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => resolve(signal));
});
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stopSignal });
