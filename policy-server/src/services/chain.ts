import { canonicalJson } from '@exitseal/core/policy';
import type { MasterKey } from '../crypto/masterKey.js';
import type { ChainedRow } from '../storage/store.js';

export interface ChainProblem {
  readonly seq: number;
  readonly problem: string;
}

export interface ChainReport {
  readonly log: string;
  readonly ok: boolean;
  readonly rowsChecked: number;
  readonly problems: readonly ChainProblem[];
}

const SCAN_PAGE = 5000;
const MAX_REPORTED_PROBLEMS = 100;

/**
 * The server-side tamper-evident chain: each row's hash is an HMAC (key derived from the master key) over
 * the previous row's hash and the row's canonical JSON, including its sequence number. Editing a row breaks
 * its hash; deleting one breaks the next row's link and leaves a gap in the sequence; and without the
 * master key nobody can recompute the chain after an edit.
 */
export class LogChain {
  private readonly masterKey: MasterKey;

  constructor(masterKey: MasterKey) {
    this.masterKey = masterKey;
  }

  link = <T extends { seq: number }>(previousHash: string, row: T): string => this.masterKey.chainMac(`${previousHash}\n${canonicalJson(row)}`);

  async verify<T extends { seq: number }>(log: string, scan: (afterSeq: number, limit: number) => Promise<ChainedRow<T>[]>): Promise<ChainReport> {
    const problems: ChainProblem[] = [];
    let previousHash = '';
    let expectedSeq = 1;
    let rowsChecked = 0;
    for (;;) {
      const page = await scan(expectedSeq - 1, SCAN_PAGE);
      if (page.length === 0) break;
      for (const { row, chainHash } of page) {
        if (row.seq !== expectedSeq) {
          problems.push({ seq: expectedSeq, problem: `rows ${expectedSeq}..${row.seq - 1} are missing (deleted)` });
        }
        const recomputed = this.link(previousHash, row);
        if (recomputed !== chainHash) {
          problems.push({
            seq: row.seq,
            problem: row.seq !== expectedSeq ? 'does not link to the row before it (a row before it was deleted)' : 'content does not match its chain hash (edited)',
          });
        }
        previousHash = chainHash;
        expectedSeq = row.seq + 1;
        rowsChecked++;
      }
      if (problems.length > MAX_REPORTED_PROBLEMS) break;
    }
    return { log, ok: problems.length === 0, rowsChecked, problems: problems.slice(0, MAX_REPORTED_PROBLEMS) };
  }
}
