import { canonicalJson } from '@exitseal/core/policy';
import type { MasterKey } from '../crypto/masterKey.js';
import type { ChainedRow, LogAnchor, LogName } from '../storage/store.js';

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
 * master key nobody can recompute the chain after an edit. Deleting rows at the END leaves a chain that still
 * links: the anchored head (seq and hash under a MAC, rewritten in each append's transaction) shows it, and
 * an append on top of a shortened log records that in the anchor for good.
 *
 * What this cannot show: someone with write access to the database file replacing the whole file (rows and
 * anchor together) with an older copy of itself; every MAC in it is genuine. The heads copied outside the
 * database every few minutes (server log, syslog: ChainHeadPublisher) are what reveal that, by comparison.
 */
export class LogChain {
  private readonly masterKey: MasterKey;

  constructor(masterKey: MasterKey) {
    this.masterKey = masterKey;
  }

  link = <T extends { seq: number }>(previousHash: string, row: T): string => this.masterKey.chainMac(`${previousHash}\n${canonicalJson(row)}`);

  /** The anchor's MAC; "anchor" (not hex) before it keeps it apart from every row link's input. */
  seal = (log: LogName, anchor: Omit<LogAnchor, 'mac'>): string =>
    this.masterKey.chainMac(`anchor\n${log}\n${canonicalJson({ seq: anchor.seq, headHash: anchor.headHash, breaks: anchor.breaks })}`);

  /**
   * Walks the whole chain, then checks it against the anchored head: the anchor read first must be genuine,
   * its row must be in the chain with the anchored hash (rows after it are appends made during the walk), and
   * every break an append recorded (rows deleted at the end before it) is reported.
   */
  async verify<T extends { seq: number }>(
    log: LogName,
    scan: (afterSeq: number, limit: number) => Promise<ChainedRow<T>[]>,
    readAnchor: () => Promise<LogAnchor | null>,
  ): Promise<ChainReport> {
    const anchor = await readAnchor();
    let anchoredRowSeen = false;
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
        if (anchor !== null && row.seq === anchor.seq) {
          anchoredRowSeen = true;
          if (chainHash !== anchor.headHash) problems.push({ seq: row.seq, problem: 'is not the anchored chain head (the end of the log was replaced)' });
        }
        previousHash = chainHash;
        expectedSeq = row.seq + 1;
        rowsChecked++;
      }
      if (problems.length > MAX_REPORTED_PROBLEMS) break;
    }
    problems.push(...this.anchorProblems(log, anchor, rowsChecked, expectedSeq - 1, anchoredRowSeen));
    return { log, ok: problems.length === 0, rowsChecked, problems: problems.slice(0, MAX_REPORTED_PROBLEMS) };
  }

  private anchorProblems(log: LogName, anchor: LogAnchor | null, rowsChecked: number, lastSeq: number, anchoredRowSeen: boolean): ChainProblem[] {
    if (anchor === null) {
      return rowsChecked === 0 ? [] : [{ seq: lastSeq, problem: 'the chain head has no anchor (the anchor row was deleted): deleted rows at the end would not show' }];
    }
    if (this.seal(log, anchor) !== anchor.mac) return [{ seq: anchor.seq, problem: 'the anchor of the chain head does not match its MAC (edited)' }];
    const problems: ChainProblem[] = [];
    if (anchor.seq > 0 && !anchoredRowSeen) {
      problems.push({ seq: anchor.seq, problem: `the log ends at row ${lastSeq} but its anchored head is row ${anchor.seq}: rows ${lastSeq + 1}..${anchor.seq} at the end were deleted` });
    }
    for (const broken of anchor.breaks) {
      const found = `row ${broken.foundSeq + 1} was appended (${broken.at}) when the log ended at row ${broken.foundSeq}`;
      const problem =
        broken.reason === 'shorter'
          ? `${found}, not at its anchored head, row ${broken.anchoredSeq ?? 0}: rows at the end had been deleted`
          : broken.reason === 'missing'
            ? `${found} and had no anchor (deleted, or a log from before anchoring)`
            : `${found} and its anchor did not match its MAC (edited)`;
      problems.push({ seq: broken.foundSeq + 1, problem });
    }
    return problems;
  }
}
