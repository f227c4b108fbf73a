#!/usr/bin/env node
import { main } from '../dist/src/main.js';

const stopSignal = new Promise((resolve) => {
  for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => resolve(signal));
});
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stopSignal });
