// Entry point of the store's writer thread, started by SqliteStore (sqlite.ts): it owns the connection that
// appends export events and records agent polls, so those transactions never hold the server's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { serveWriter } from './sqlite.js';

if (parentPort === null) throw new Error('sqlite-writer.js runs only as the store writer thread');
serveWriter(parentPort, workerData as string);
