import { readFile, stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  ExitSealError,
  PassphraseIdentity,
  X25519Identity,
  X25519Recipient,
  validateZoneId,
  type Identity,
} from '@exitseal/core';
import { inspectFile, openFile, sealFile, writeRecipientCopy, type FileInspection, type FileTarget } from '../files/sealed-file-io.js';
import { selectStreamCipher, STREAM_CIPHER_CHOICES, StreamCipherUnavailable, type StreamCipherChoice } from '../files/stream-cipher.js';

/** The process streams, injected so tests can run the CLI in-process. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

/** Exit codes, documented in `exitseal --help`. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  wrongKey: 3,
  badFile: 4,
} as const;

class UsageError extends Error {}

function streamCipherFrom(env: NodeJS.ProcessEnv) {
  const choice = env.EXITSEAL_STREAM_CIPHER ?? 'auto';
  if (!(STREAM_CIPHER_CHOICES as readonly string[]).includes(choice)) {
    throw new UsageError(`EXITSEAL_STREAM_CIPHER must be one of ${STREAM_CIPHER_CHOICES.join(', ')} (it is "${choice}")`);
  }
  return selectStreamCipher(choice as StreamCipherChoice);
}

const MAIN_HELP = `exitseal — seal (encrypt) and open files in the ExitSeal format (age v1)

Usage:
  exitseal keygen [-o IDENTITY_FILE]
  exitseal seal FILE --to RECIPIENT [--to RECIPIENT...] [--zone ZONE [--key-version N]] [--armor] (-o OUT [--sync] | --in-place)
  exitseal open FILE (-i IDENTITY_FILE | --passphrase) (-o OUT [--sync] | --in-place)
  exitseal inspect FILE [--json]
  exitseal recipient-copy FILE -i IDENTITY_FILE -o OUT

Run "exitseal COMMAND --help" for the details of one command.

Exit codes: 0 done, 1 failed (disk, permissions...), 2 wrong usage, 3 no key here opens the file
(or wrong passphrase), 4 the file is damaged, altered or not sealed.

Environment:
  EXITSEAL_STREAM_CIPHER   auto (default), native or node: how the payload is encrypted. auto uses the
                           native addon when it was built at install time and node:crypto otherwise; the
                           files are the same either way, node:crypto is slower on large files.
`;

const HELP: Record<string, string> = {
  keygen: `Usage: exitseal keygen [-o IDENTITY_FILE]

Creates a new zone identity (X25519 key pair). The identity (secret) is written to IDENTITY_FILE with
permissions 0600, or to standard output; the public recipient ("age1...") is printed on standard error.
The identity file is also a valid age identity file: "age -d -i IDENTITY_FILE" opens sealed files.
Options:
  -o, --output FILE   write the identity here (refuses to overwrite an existing file)
`,
  seal: `Usage: exitseal seal FILE --to RECIPIENT [--to RECIPIENT...] [--zone ZONE [--key-version N]] [--armor] (-o OUT [--sync] | --in-place)

Seals FILE to one or more recipients ("age1..."). With --zone the file carries ExitSeal's metadata
(zone id, key version and a fresh file id) that "exitseal inspect" shows without any key.
Options:
  --to RECIPIENT      public key to seal to (repeatable; e.g. the zone key and a recovery key)
  --zone ZONE         zone id to record in the file (a-z, 0-9, "-", "_")
  --key-version N     version of the zone key (default 1)
  -o, --output OUT    write the sealed file to OUT (refuses to overwrite unless --force); OUT appears
                      complete or not at all, and FILE stays as it was
  --sync              with -o: flush OUT to disk before returning (do this before deleting FILE in a
                      script: without it, like cp and age, a power cut soon after may lose OUT)
  --in-place          replace FILE with its sealed form (crash-safe: temp file, fsync, rename, always)
  --force             overwrite OUT if it exists
  -a, --armor         write ASCII armor (text you can paste into a mail body) instead of binary
`,
  open: `Usage: exitseal open FILE (-i IDENTITY_FILE | --passphrase) (-o OUT [--sync] | --in-place)

Opens (decrypts) a sealed file, binary or ASCII-armored. The output is written only after the whole
file authenticated; a damaged file leaves nothing behind and the input untouched.
Options:
  -i, --identity FILE  identity file (lines "AGE-SECRET-KEY-1...", "#" comments allowed; repeatable)
  --passphrase         the file was sealed with a passphrase: it is asked on the terminal, or read as
                       the first line of standard input when that is not a terminal
  -o, --output OUT     write the plaintext to OUT (refuses to overwrite unless --force)
  --sync               with -o: flush OUT to disk before returning
  --in-place           replace FILE with its plaintext (crash-safe, always flushed)
  --force              overwrite OUT if it exists
`,
  inspect: `Usage: exitseal inspect FILE [--json]

Tells whether FILE is an ExitSeal sealed file, another age file or plaintext, and shows its zone, key
version, file id and size. Needs no key.
`,
  'recipient-copy': `Usage: exitseal recipient-copy FILE -i IDENTITY_FILE -o OUT

Writes a copy of a sealed file for an outside recipient: the same encrypted content under a new header
that opens with a generated passphrase (printed on standard output) using any age tool, for example
"age -d -o report.xlsx OUT". The sealed original is kept.
`,
};

function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

async function readIdentityFile(path: string): Promise<X25519Identity[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read identity file ${path}: ${(error as Error).message}`);
  }
  const identities: X25519Identity[] = [];
  for (const [index, rawLine] of text.split(/\r?\n/).entries()) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      identities.push(X25519Identity.parse(line));
    } catch {
      // Never echo the line: it may be (a mangled copy of) a secret key.
      throw new UsageError(`${path}, line ${index + 1}: not an identity (expected "AGE-SECRET-KEY-1...")`);
    }
  }
  if (identities.length === 0) throw new UsageError(`${path} contains no identity`);
  return identities;
}

async function readPassphrase(io: CliIo, prompt: string): Promise<string> {
  const rl = createInterface({ input: io.stdin, terminal: false });
  try {
    if (io.stdin.isTTY) io.stderr.write(prompt);
    for await (const line of rl) {
      if (line.length === 0) throw new UsageError('empty passphrase');
      return line;
    }
    throw new UsageError('no passphrase on standard input');
  } finally {
    rl.close();
  }
}

/**
 * Where a seal or open writes. A copy beside an original that stays is flushed only with --sync, as cp and age
 * do theirs: a crash cannot lose data the input still holds, and a batch of small files is not slowed by a
 * disk flush each. In place the original is replaced, so the library flushes whatever this says.
 */
function outputTarget(file: string, values: { output?: string; 'in-place'?: boolean; force?: boolean; sync?: boolean }): FileTarget {
  if (values.output !== undefined && values['in-place']) throw new UsageError('use either -o OUT or --in-place, not both');
  if (values.output === undefined && !values['in-place']) throw new UsageError('say where the result goes: -o OUT or --in-place');
  if (values.sync && values['in-place']) throw new UsageError('--sync goes with -o OUT (in place the result is always flushed)');
  return { outputPath: values.output ?? file, overwrite: values.force === true, durable: values.sync === true };
}

function singleFile(positionals: string[]): string {
  if (positionals.length !== 1 || positionals[0] === undefined) throw new UsageError('expected exactly one FILE');
  return positionals[0];
}

function describe(path: string, info: FileInspection, size: number): string {
  const lines = [`${path}:`];
  if (info.kind === 'plaintext') lines.push('  not sealed (plaintext)');
  else if (info.kind === 'age') lines.push(`  age file${info.armored ? ' (ASCII armored)' : ''}, not sealed by ExitSeal (stanzas: ${info.stanzaTypes.join(', ')})`);
  else if (info.meta) {
    lines.push(`  sealed by ExitSeal${info.armored ? ' (ASCII armored)' : ''}`);
    lines.push(`  zone:         ${info.meta.zoneId}`);
    lines.push(`  key version:  ${info.meta.keyVersion}`);
    lines.push(`  file id:      ${info.meta.fileId}`);
    lines.push(`  recipients:   ${info.stanzaTypes.filter((t) => t !== 'exitseal.dev/meta').length}`);
  }
  lines.push(`  size:         ${size} bytes${info.kind === 'plaintext' ? '' : ` (header ${info.headerLength} bytes)`}`);
  return lines.join('\n');
}

async function runKeygen(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { output: { type: 'string', short: 'o' } }, allowPositionals: true });
  if (positionals.length > 0) throw new UsageError('keygen takes no FILE');
  const identity = X25519Identity.generate();
  const recipient = identity.recipient.toString();
  const text = `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity.toSecretString()}\n`;
  if (values.output !== undefined) {
    try {
      await writeFile(values.output, text, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      throw new UsageError(`cannot create ${values.output}: ${(error as Error).message}`);
    }
  } else {
    io.stdout.write(text);
  }
  write(io.stderr, `Public key: ${recipient}`);
  return EXIT.ok;
}

async function runSeal(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      to: { type: 'string', multiple: true },
      zone: { type: 'string' },
      'key-version': { type: 'string' },
      output: { type: 'string', short: 'o' },
      'in-place': { type: 'boolean' },
      force: { type: 'boolean' },
      sync: { type: 'boolean' },
      armor: { type: 'boolean', short: 'a' },
    },
    allowPositionals: true,
  });
  const file = singleFile(positionals);
  const target = outputTarget(file, values);
  if (!values.to || values.to.length === 0) throw new UsageError('at least one --to RECIPIENT is needed');
  const recipients = values.to.map((text) => {
    try {
      return X25519Recipient.parse(text);
    } catch {
      throw new UsageError(`--to ${text}: not a recipient (expected "age1...")`);
    }
  });
  let meta: { zoneId: string; keyVersion: number } | undefined;
  if (values.zone !== undefined) {
    try {
      validateZoneId(values.zone);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const keyVersionText = values['key-version'] ?? '1';
    if (!/^[1-9][0-9]{0,8}$/.test(keyVersionText)) throw new UsageError('--key-version must be a whole number from 1');
    meta = { zoneId: values.zone, keyVersion: Number(keyVersionText) };
  } else if (values['key-version'] !== undefined) {
    throw new UsageError('--key-version needs --zone');
  }
  const first = await inspectFile(file).catch(() => null);
  if (first !== null && first.kind !== 'plaintext') {
    write(io.stderr, `exitseal: ${file} is already ${first.kind === 'exitseal' ? 'sealed' : 'an age file'}; nothing done`);
    return EXIT.badFile;
  }
  const cipher = streamCipherFrom(io.env);
  const result = await sealFile(file, target, { recipients, ...(meta ? { meta } : {}) }, { sha256: false, armor: values.armor === true, cipher });
  write(io.stderr, `sealed ${file} -> ${target.outputPath} (${result.plaintextBytes} bytes${result.meta ? `, zone ${result.meta.zoneId}, file id ${result.meta.fileId}` : ''})`);
  return EXIT.ok;
}

async function runOpen(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      identity: { type: 'string', short: 'i', multiple: true },
      passphrase: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      'in-place': { type: 'boolean' },
      force: { type: 'boolean' },
      sync: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  const file = singleFile(positionals);
  const target = outputTarget(file, values);
  const identityFiles = values.identity ?? [];
  if (identityFiles.length > 0 && values.passphrase) throw new UsageError('use either -i IDENTITY_FILE or --passphrase');
  const identities: Identity[] = [];
  for (const path of identityFiles) identities.push(...(await readIdentityFile(path)));
  if (values.passphrase) identities.push(new PassphraseIdentity(await readPassphrase(io, 'Passphrase: ')));
  if (identities.length === 0) throw new UsageError('say how to open the file: -i IDENTITY_FILE or --passphrase');
  const result = await openFile(file, target, identities, { sha256: false, cipher: streamCipherFrom(io.env) });
  write(io.stderr, `opened ${file} -> ${target.outputPath} (${result.plaintextBytes} bytes)`);
  return EXIT.ok;
}

async function runInspect(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean' } }, allowPositionals: true });
  const file = singleFile(positionals);
  const info = await inspectFile(file);
  const size = (await stat(file)).size;
  if (values.json) write(io.stdout, JSON.stringify({ path: file, size, ...info }));
  else write(io.stdout, describe(file, info, size));
  return EXIT.ok;
}

async function runRecipientCopy(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { identity: { type: 'string', short: 'i', multiple: true }, output: { type: 'string', short: 'o' }, force: { type: 'boolean' } },
    allowPositionals: true,
  });
  const file = singleFile(positionals);
  if (values.output === undefined) throw new UsageError('-o OUT is required');
  if (!values.identity?.length) throw new UsageError('-i IDENTITY_FILE is required');
  const identities: Identity[] = [];
  for (const path of values.identity) identities.push(...(await readIdentityFile(path)));
  const cipher = streamCipherFrom(io.env);
  const result = await writeRecipientCopy(file, { outputPath: values.output, overwrite: values.force === true }, identities, { cipher });
  write(io.stdout, result.passphrase);
  write(io.stderr, `wrote ${values.output}: opens with the passphrase above (age -d ${values.output})`);
  return EXIT.ok;
}

const COMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  keygen: runKeygen,
  seal: runSeal,
  open: runOpen,
  inspect: runInspect,
  'recipient-copy': runRecipientCopy,
};

function exitCodeFor(error: ExitSealError): number {
  switch (error.code) {
    case 'NO_MATCHING_IDENTITY':
      return EXIT.wrongKey;
    case 'HEADER_INVALID':
    case 'HEADER_TOO_LARGE':
    case 'HMAC_MISMATCH':
    case 'PAYLOAD_INVALID':
    case 'NOT_AGE':
    case 'PASSPHRASE_WORK_FACTOR_TOO_HIGH':
    case 'ARMOR_INVALID':
      return EXIT.badFile;
    case 'TARGET_EXISTS':
    case 'NOT_A_FILE':
      return EXIT.usage;
    default:
      return EXIT.failed;
  }
}

function explain(error: ExitSealError): string {
  switch (error.code) {
    case 'NO_MATCHING_IDENTITY':
      return `${error.message}. This key or passphrase does not open the file.`;
    case 'HMAC_MISMATCH':
      return `${error.message}. Nothing was written.`;
    case 'PAYLOAD_INVALID':
      return `the file is damaged or was altered (${error.message}). Nothing was written; the file is unchanged.`;
    case 'NOT_AGE':
      return 'the file is not sealed.';
    default:
      return error.message;
  }
}

/** Runs the CLI; returns the process exit code. Never throws. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    write(command === undefined ? io.stderr : io.stdout, MAIN_HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  const run = COMMANDS[command];
  if (!run) {
    write(io.stderr, `exitseal: unknown command "${command}"\n\n${MAIN_HELP}`);
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    write(io.stdout, HELP[command] ?? MAIN_HELP);
    return EXIT.ok;
  }
  try {
    return await run(rest, io);
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      write(io.stderr, `exitseal ${command}: ${error.message}\n\n${HELP[command] ?? ''}`);
      return EXIT.usage;
    }
    if (error instanceof ExitSealError) {
      write(io.stderr, `exitseal ${command}: ${explain(error)}`);
      return exitCodeFor(error);
    }
    if (error instanceof StreamCipherUnavailable) {
      write(io.stderr, `exitseal ${command}: ${error.message}`);
      return EXIT.failed;
    }
    write(io.stderr, `exitseal ${command}: unexpected failure: ${(error as Error).message ?? String(error)}`);
    return EXIT.failed;
  }
}

