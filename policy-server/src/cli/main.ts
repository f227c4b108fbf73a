import { createInterface } from 'node:readline';
import { runCli } from './commands.js';

/** The process side of the CLI: real environment, stdout/stderr, stdin and signals. */
export async function main(argv: readonly string[]): Promise<void> {
  const code = await runCli(argv, {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    readSecret: async () => {
      const lines = createInterface({ input: process.stdin });
      for await (const line of lines) {
        lines.close();
        return line;
      }
      return '';
    },
    untilStopped: () =>
      new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      }),
  });
  process.exitCode = code;
}
