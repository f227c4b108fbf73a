// One seal or open with the age-encryption npm package (typage), streaming file to file, for bench/format.mjs.
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { Decrypter, Encrypter } from 'age-encryption';

const [op, input, output, key] = process.argv.slice(2);
const source = Readable.toWeb(createReadStream(input, { highWaterMark: 4 * 1024 * 1024 }));
let result;
if (op === 'seal') {
  const e = new Encrypter();
  e.addRecipient(key);
  result = await e.encrypt(source);
} else {
  const d = new Decrypter();
  d.addIdentity(key);
  result = await d.decrypt(source);
}
await result.pipeTo(Writable.toWeb(createWriteStream(output)));
