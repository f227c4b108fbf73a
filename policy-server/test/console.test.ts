// The admin console in a real browser: Debian's Chromium driven by playwright-core against a real policy
// server on loopback (HTTPS with its own CA, SQLite in a temp dir) seeded through its real agent API.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { chainEvent, GENESIS_HASH, type ExportEvent } from '@exitseal/core/wire';
import { randomUUID } from 'node:crypto';
import { cli, customerZones, PASSWORD, ServerFixture, tempDir, type EnrolledAgent } from './helpers/fixture.js';
import { expectStatus, PersonClient } from './helpers/http.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/console/', import.meta.url));
const CONSOLE_BUILT = existsSync(fileURLToPath(new URL('../../web/dist/index.html', import.meta.url)));
const SKIP = !existsSync(CHROMIUM)
  ? `Debian Chromium is missing at ${CHROMIUM} (apt-get install -y chromium): the console browser tests did NOT run`
  : !CONSOLE_BUILT
    ? 'the console is not built (policy-server/web/dist): run "npm run build": the console browser tests did NOT run'
    : false;
if (SKIP !== false) console.error(`\n*** SKIPPED: ${SKIP} ***\n`);

const DEVICE_A = { vendorId: '0781', productId: '5581', serial: 'SN-AAA-001', label: 'KEIRI-USB' };
const DEVICE_B = { vendorId: '090c', productId: '1000', serial: 'SN-BBB-002', label: 'SOUMU-USB' };
const DAYS = ['2025-03-29', '2025-03-30', '2025-03-31'];
const PER_DAY = { a: 4, b: 3 };

/** The events an agent would have sent: per day 4 exports to device A and 3 to device B, 10:00-16:00 JST. */
function seedEvents(): ExportEvent[] {
  const events: ExportEvent[] = [];
  let previous = GENESIS_HASH;
  DAYS.forEach((day, d) => {
    const plan = [...Array<typeof DEVICE_A>(PER_DAY.a).fill(DEVICE_A), ...Array<typeof DEVICE_B>(PER_DAY.b).fill(DEVICE_B)];
    plan.forEach((device, i) => {
      const event = chainEvent(previous, {
        eventId: randomUUID(),
        occurredAt: `${day}T0${1 + i}:15:00.000Z`,
        host: 'PC-LGWAN-001',
        osUser: i % 2 === 0 ? 'tanaka' : 'suzuki',
        zoneId: 'lgwan',
        channel: 'removableMedia',
        device: { ...device, mount: 'E:\\' },
        fileName: `報告書_${day}_${i}.docx`,
        mediaPath: `E:\\報告書_${day}_${i}.docx`,
        size: 10_000 + d * 100 + i,
        sha256: (d * 16 + i).toString(16).padStart(2, '0').repeat(32),
        fileId: randomUUID(),
        keyVersion: 1,
        action: i === 3 ? 'blocked' : 'sealed',
      });
      events.push(event);
      previous = event.hash;
    });
  });
  return events;
}

/**
 * Polls a condition from the test side. page.waitForFunction with a string predicate evaluates it with eval()
 * in the page, which the console's Content-Security-Policy (rightly) forbids.
 */
async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}

describe('admin console in Chromium', { skip: SKIP }, () => {
  let dir: ReturnType<typeof tempDir>;
  let fixture: ServerFixture;
  let admin: PersonClient;
  let agent: EnrolledAgent;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** Console errors and page errors (a CSP violation is one) in any page: there must be none. */
  const pageErrors: string[] = [];
  let releaseId = '';
  let secondReleaseId = '';

  async function releaseRequest(fileName: string, sha: string): Promise<string> {
    const response = await agent.client.call('/agent/v1/requests/release', {
      body: { fileName, size: 48_213, sha256: sha, reason: '取引先への振込データ提出のため', destination: 'USBメモリ（取引先 ○○銀行）', osUser: 'tanaka' },
    });
    assert.equal(response.status, 201, response.text);
    return (response.json as { id: string }).id;
  }

  async function signedInPage(username: string): Promise<Page> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP', timezoneId: 'Asia/Tokyo', viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    contexts.push(context);
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`${username}: ${message.text()}`);
    });
    page.on('pageerror', (error) => pageErrors.push(`${username}: ${error.message}`));
    await page.goto(`${fixture.server.url}/console/`);
    await page.fill('#username', username);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=who]');
    return page;
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = tempDir();
    fixture = await ServerFixture.create(dir.path);
    admin = await fixture.person('admin1', 'admin');
    // The customer's zones, with LGWAN plaintext releases decided by one approver, so one approval finishes it.
    const zones = customerZones().map((entry) =>
      entry.zone.id === 'lgwan' ? { ...entry, policy: { ...entry.policy, approvals: { ...entry.policy.approvals, release: { steps: ['approver' as const] } } } } : entry,
    );
    await admin.expect(200, '/api/v1/zones', { method: 'PUT', body: { zones } });
    await fixture.person('approver1', 'approver');
    await fixture.person('auditor1', 'auditor');
    await fixture.person('tanaka', 'staff');
    agent = await fixture.enrol(admin, 'lgwan', 'PC-LGWAN-001');
    // The agent says 1500 events are still waiting on the PC after this batch: a large backlog, marked on the Agents page.
    const stored = await expectStatus<{ accepted: number }>(agent.client, 200, '/agent/v1/events', {
      body: { events: seedEvents(), backlog: { outboxEvents: 1500, pendingJobs: 2, quarantinedFiles: 1 } },
    });
    assert.equal(stored.accepted, DAYS.length * (PER_DAY.a + PER_DAY.b));
    releaseId = await releaseRequest('振込データ_20250401.csv', 'ab'.repeat(32));
    secondReleaseId = await releaseRequest('給与振込_20250401.csv', 'cd'.repeat(32));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });

  after(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await fixture?.stop();
    dir?.remove();
  });

  it('serves the console with a strict Content-Security-Policy and refuses a wrong password with a clear message', async () => {
    const index = await fixture.anonymous.call('/console/');
    assert.equal(index.status, 200);
    const csp = String(index.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.doesNotMatch(index.text, /<script>(?!<\/script>)/, 'no inline script');

    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP', timezoneId: 'Asia/Tokyo' });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${fixture.server.url}/`);
    assert.match(page.url(), /\/console\/$/);
    await page.waitForSelector('#username');
    await screenshot(page, '01-sign-in');
    await page.fill('#username', 'approver1');
    await page.fill('#password', 'not the password');
    await page.click('button[type=submit]');
    const alert = await page.waitForSelector('.signin [role=alert]');
    assert.equal(await alert.textContent(), 'ユーザー名またはパスワードが違います。');
    await screenshot(page, '02-sign-in-failed');
  });

  it('approver finds the pending request, approves it with a reason, and the requester sees it approved', async () => {
    const before = await expectStatus<{ status: string }>(agent.client, 200, `/agent/v1/requests/${releaseId}`);
    assert.equal(before.status, 'pending');

    const page = await signedInPage('approver1');
    const card = page.locator(`[data-request-id="${releaseId}"]`);
    await card.waitFor();
    const text = await card.textContent();
    for (const expected of ['振込データ_20250401.csv', 'tanaka', '取引先への振込データ提出のため', 'USBメモリ（取引先 ○○銀行）', 'ab'.repeat(32), '47 KiB', '48,213', '承認待ち']) {
      assert.ok(text?.includes(expected), `request card shows ${expected}: ${text ?? ''}`);
    }
    await screenshot(page, '03-requests-approver');
    // The reason is required before the server is even asked.
    await card.locator('button.approve').click();
    assert.equal(await card.locator('[role=alert]').textContent(), '理由を入力してください。');
    await card.locator('textarea').fill('支払先と金額を確認済み');
    await card.locator('button.approve').click();
    await page.waitForSelector('.notice[role=status]');
    await page.waitForSelector(`[data-request-id="${releaseId}"]`, { state: 'detached' });

    await page.click('a[href="#/requests?tab=history"]');
    const decided = page.locator(`[data-request-id="${releaseId}"]`);
    await decided.waitFor();
    assert.equal(await decided.locator('[data-testid=status]').textContent(), '承認済み');
    assert.ok((await decided.textContent())?.includes('支払先と金額を確認済み'));
    await screenshot(page, '04-requests-history');

    // The requester's side: the agent now receives the approval (with its release token) ...
    const outcome = await expectStatus<{ status: string; releaseToken?: string; decisionReason?: string }>(agent.client, 200, `/agent/v1/requests/${releaseId}`);
    assert.equal(outcome.status, 'approved');
    assert.equal(outcome.decisionReason, '支払先と金額を確認済み');
    assert.ok(typeof outcome.releaseToken === 'string' && outcome.releaseToken.length > 0);
    // ... and the staff member sees only their own requests, this one approved.
    const staff = await signedInPage('tanaka');
    const mine = staff.locator(`[data-request-id="${releaseId}"]`);
    await mine.waitFor();
    assert.equal(await mine.locator('[data-testid=status]').textContent(), '承認済み');
    assert.equal(await staff.locator('button.approve').count(), 0);
    await screenshot(staff, '05-my-requests-staff');
  });

  it('auditor filters the export log to one device and one day, opens a row, downloads the CSV and verifies the log', async () => {
    const page = await signedInPage('auditor1');
    await page.waitForSelector('figure.chart canvas');
    await screenshot(page, '06-dashboard');

    await page.click('a[href="#/log"]');
    await page.waitForSelector('table.log tbody tr');
    assert.equal(await page.locator('table.log tbody tr').count(), DAYS.length * (PER_DAY.a + PER_DAY.b));
    await screenshot(page, '07-export-log');

    await page.fill('#f-deviceSerial', DEVICE_A.serial);
    await page.fill('#f-from', '2025-03-30');
    await page.fill('#f-to', '2025-03-30');
    await page.click('.filters button[type=submit]');
    await until('the filtered log is shown', async () =>
      page.url().includes('deviceSerial') &&
      (await page.locator('table.log tbody tr').count()) === PER_DAY.a &&
      (await page.locator('table.log[aria-busy=true]').count()) === 0,
    );
    const rows = await page.locator('table.log tbody tr').allTextContents();
    assert.equal(rows.length, PER_DAY.a);
    for (const row of rows) {
      assert.ok(row.includes(DEVICE_A.serial), row);
      assert.ok(row.includes('2025/03/30'), row);
    }
    await screenshot(page, '08-export-log-filtered');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    const csvPath = `${ARTIFACTS}export-log-filtered.csv`;
    await download.saveAs(csvPath);
    const lines = readFileSync(csvPath, 'utf8').replace(/^\uFEFF/, '').split('\r\n').filter((l) => l !== '');
    const header = lines[0]?.split(',') ?? [];
    const serialColumn = header.indexOf('deviceSerial');
    const timeColumn = header.indexOf('occurredAt');
    assert.ok(serialColumn >= 0 && timeColumn >= 0, lines[0]);
    const body = lines.slice(1).map((l) => l.split(','));
    assert.equal(body.length, PER_DAY.a, lines.join('\n'));
    for (const fields of body) {
      assert.equal(fields[serialColumn], DEVICE_A.serial);
      // The day is the reader's (JST) day; these exports happened 10:15-13:15 JST, the same UTC day.
      assert.match(fields[timeColumn] ?? '', /^2025-03-30T0[1-4]:15:00\.000Z$/);
    }

    await page.locator('table.log tbody tr a').first().click();
    await page.waitForSelector('[data-testid=chain]');
    assert.equal(await page.locator('[data-field=deviceSerial]').textContent(), DEVICE_A.serial);
    assert.equal(await page.locator('[data-testid=chain] dd').first().textContent(), '正常');
    await screenshot(page, '09-export-log-row');

    await page.goBack();
    await page.waitForSelector('table.log tbody tr');
    await page.click('text=ログの改ざん検査');
    const result = await page.waitForSelector('[data-testid=verify-result]');
    assert.match((await result.textContent()) ?? '', /改ざんは見つかりませんでした（21 行を検査）/);
    await screenshot(page, '10-verify-log');
  });

  it('auditor cannot approve nor edit policy: no buttons, and the server refuses forged calls with a valid session and CSRF token', async () => {
    const page = await signedInPage('auditor1');
    await page.click('a[href="#/requests"]');
    await page.locator(`[data-request-id="${secondReleaseId}"]`).waitFor();
    assert.equal(await page.locator('button.approve').count(), 0);
    await page.click('a[href="#/zones"]');
    await page.waitForSelector('[data-testid=matrix]');
    assert.equal(await page.locator('a[href^="#/zones/"]').count(), 0, 'no edit links for an auditor');

    const lgwan = customerZones().find((z) => z.zone.id === 'lgwan');
    assert.ok(lgwan !== undefined);
    const forged = await page.evaluate(
      async ({ id, zone }) => {
        const session = (await (await fetch('/api/v1/session')).json()) as { csrfToken: string };
        const headers = { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken };
        const approve = await fetch(`/api/v1/requests/${id}/decision`, { method: 'POST', headers, body: JSON.stringify({ decision: 'approve', reason: 'forged' }) });
        const edit = await fetch('/api/v1/zones/lgwan', { method: 'PUT', headers, body: JSON.stringify({ ...zone, zone: { ...zone.zone, name: 'forged' } }) });
        const noCsrf = await fetch(`/api/v1/requests/${id}/decision`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ decision: 'approve', reason: 'forged' }) });
        return {
          approve: { status: approve.status, body: (await approve.json()) as { code: string } },
          edit: { status: edit.status, body: (await edit.json()) as { code: string } },
          noCsrf: { status: noCsrf.status, body: (await noCsrf.json()) as { code: string } },
        };
      },
      { id: secondReleaseId, zone: lgwan },
    );
    assert.equal(forged.approve.status, 403);
    assert.equal(forged.approve.body.code, 'ROLE_FORBIDDEN');
    assert.equal(forged.edit.status, 403);
    assert.equal(forged.edit.body.code, 'ROLE_FORBIDDEN');
    assert.equal(forged.noCsrf.status, 403);
    assert.equal(forged.noCsrf.body.code, 'CSRF_TOKEN_INVALID');

    const request = await admin.expect<{ status: string; decisions: unknown[] }>(200, `/api/v1/requests/${secondReleaseId}`);
    assert.equal(request.status, 'pending');
    assert.equal(request.decisions.length, 0);
    const zones = await admin.expect<{ zones: { zone: { id: string; name: string } }[] }>(200, '/api/v1/zones');
    assert.equal(zones.zones.find((z) => z.zone.id === 'lgwan')?.zone.name, 'LGWAN接続系');
  });

  it('auditor filters the export log by device label and sorts it by size both ways from the column heading', async () => {
    const page = await signedInPage('auditor1');
    await page.click('a[href="#/log"]');
    await page.waitForSelector('table.log tbody tr');
    await page.fill('#f-deviceLabel', DEVICE_B.label);
    await page.click('.filters button[type=submit]');
    const perDayB = PER_DAY.b;
    await until('the label filter is applied', async () => page.url().includes('deviceLabel') && (await page.locator('table.log tbody tr').count()) === DAYS.length * perDayB);
    assert.equal(await page.getAttribute('th[data-sort=size]', 'aria-sort'), 'none');
    // Device B's exports are numbers PER_DAY.a.. of each day, their size growing with the day and the number.
    const bySize = DAYS.flatMap((day) => Array.from({ length: perDayB }, (_, i) => `報告書_${day}_${PER_DAY.a + i}.docx`));
    const fileNames = () => page.locator('table.log tbody tr td:nth-child(7)').allTextContents();

    await page.click('th[data-sort=size] button');
    await until('sorted by size, largest first', async () => (await page.getAttribute('th[data-sort=size]', 'aria-sort')) === 'descending' && (await page.locator('table.log[aria-busy=true]').count()) === 0);
    assert.deepEqual(await fileNames(), [...bySize].reverse());
    assert.ok(page.url().includes('deviceLabel'), 'sorting keeps the filter');
    await screenshot(page, '08b-export-log-label-sorted');

    await page.click('th[data-sort=size] button');
    await until('sorted by size, smallest first', async () => (await page.getAttribute('th[data-sort=size]', 'aria-sort')) === 'ascending' && (await page.locator('table.log[aria-busy=true]').count()) === 0);
    assert.deepEqual(await fileNames(), bySize);
    assert.equal(await page.getAttribute('th[data-sort=occurredAt]', 'aria-sort'), 'none');
    for (const row of await page.locator('table.log tbody tr').allTextContents()) assert.ok(row.includes(DEVICE_B.label), row);
  });

  it('switches the language to English and back, and the choice survives a reload', async () => {
    const page = await signedInPage('auditor1');
    await page.click('a[href="#/log"]');
    await page.waitForSelector('#log-title');
    assert.equal(await page.textContent('#log-title'), '持ち出しログ');
    assert.equal(await page.getAttribute('html', 'lang'), 'ja');
    await page.selectOption('#language', 'en');
    await until('the page is in English', async () => (await page.textContent('#log-title')) === 'Export log');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await page.textContent('label[for=f-deviceSerial]'), 'Device serial number');
    await screenshot(page, '11-export-log-english');
    await page.reload();
    await page.waitForSelector('#log-title');
    assert.equal(await page.textContent('#log-title'), 'Export log');
    await page.selectOption('#language', 'ja');
    await until('the page is in Japanese', async () => (await page.textContent('#log-title')) === '持ち出しログ');
    assert.equal(await page.getAttribute('html', 'lang'), 'ja');
  });

  it('admin sees every page; a policy problem is shown next to its field and nothing is saved', async () => {
    const page = await signedInPage('admin1');
    const pages: [string, string][] = [
      ['zones', '[data-testid=matrix]'],
      ['agents', 'table tbody tr'],
      ['keys', 'table tbody tr'],
      ['audit', 'table tbody tr'],
    ];
    for (const [path, ready] of pages) {
      await page.click(`header a[href="#/${path}"]`);
      await page.waitForSelector(ready);
      await screenshot(page, `12-${path}`);
    }
    await page.click('header a[href="#/agents"]');
    const agentRow = await page.waitForSelector('table tbody tr[data-agent=PC-LGWAN-001]');
    assert.ok((await agentRow.textContent())?.includes('PC-LGWAN-001'));
    // Host, OS, version, zone, last seen, policy version and the queue backlog the agent reported, with its mark.
    const headings = await Promise.all((await page.$$('table thead th')).map((cell) => cell.textContent()));
    assert.deepEqual(headings.slice(0, 7), ['端末名', 'OS', 'バージョン', 'ゾーン', '最終接続', 'ポリシー', '未処理（キュー）']);
    const backlog = await (await agentRow.$('[data-testid=backlog]'))?.textContent();
    assert.match(backlog ?? '', /^未送信ログ 1500・暗号化待ち 2・隔離 1 .+ 時点 滞留$/);

    // An enrolment token comes with the agent's exact enrol command, pinning the CA that `exitseal-server ca` prints.
    const fingerprint = (await cli(['ca', '--data', dir.path, '--fingerprint'])).out;
    await page.selectOption('#enrol-zone', 'lgwan');
    await page.click('form[aria-labelledby=enrol-title] button[type=submit]');
    const command = await page.waitForSelector('#install-command');
    const line = await command.inputValue();
    assert.match(line, new RegExp(`^exitseal-agent enrol --config C:\\\\ProgramData\\\\ExitSeal\\\\agent\\.json --server https://127\\.0\\.0\\.1:\\d+ --token=[A-Za-z0-9_-]{43} --ca-fingerprint ${fingerprint}$`));
    assert.equal(await page.textContent('[data-testid=ca-fingerprint]'), fingerprint);
    await page.fill('#agent-config', 'D:\\Exit Seal\\agent.json');
    assert.match(await command.inputValue(), /--config "D:\\Exit Seal\\agent\.json" --server/);
    await screenshot(page, '12b-enrolment-token');

    await page.goto(`${fixture.server.url}/console/#/zones/lgwan`);
    await page.waitForSelector('#zone-priority');
    await page.fill('#zone-priority', '1');
    await page.click('.zone-editor button[type=submit]');
    const fieldError = await page.waitForSelector('.field.invalid .field-error');
    assert.match((await fieldError.textContent()) ?? '', /priority 1 is also used by zone "mynumber"/);
    assert.equal(await page.locator('.field.invalid #zone-priority').count(), 1, 'the error sits next to the priority field');
    await screenshot(page, '13-zone-edit-invalid');
    const zones = await admin.expect<{ zones: { zone: { id: string; priority: number } }[] }>(200, '/api/v1/zones');
    assert.equal(zones.zones.find((z) => z.zone.id === 'lgwan')?.zone.priority, 2);

    await page.click('header a[href="#/audit"]');
    await page.waitForSelector('table tbody tr');
    const audit = await page.locator('table tbody').textContent();
    assert.ok(audit?.includes('request.approve'), 'the approval is in the audit log');
    assert.ok(audit?.includes('log.export-csv'), 'the CSV export is in the audit log');
  });

  it('changes the password from the header link: a wrong current one is explained, the new one signs in', async () => {
    await fixture.person('kato', 'approver');
    const page = await signedInPage('kato');
    await page.click('header a[href="#/password"]');
    await page.waitForSelector('#password-title');
    assert.equal(await page.textContent('#password-title'), 'パスワードの変更');
    const newPassword = '新しいパスフレーズ 2025 春';
    await page.fill('#current-password', 'not the password');
    await page.fill('#new-password', newPassword);
    await page.fill('#confirm-password', 'something else entirely');
    await page.click('.password-form button[type=submit]');
    assert.equal(await page.textContent('.password-form [role=alert]'), '新しいパスワードと確認が一致しません。');
    await page.fill('#confirm-password', newPassword);
    await page.click('.password-form button[type=submit]');
    await until('the wrong current password is explained', async () => (await page.textContent('.password-form [role=alert]')) === '現在のパスワードが違います。');
    await page.fill('#current-password', PASSWORD);
    await page.click('.password-form button[type=submit]');
    await page.waitForSelector('.password-form [role=status]');
    await screenshot(page, '14-change-password');

    const fresh = new PersonClient(fixture.client());
    assert.equal((await fresh.login('kato', PASSWORD)).status, 401, 'the old password no longer signs in');
    assert.equal((await fresh.login('kato', newPassword)).status, 200);
  });

  it('showed no browser errors (no CSP violation, no failed script) on any page', () => {
    // Expected refusals (wrong password, forged calls, the invalid policy) show up as failed-resource lines; nothing else may.
    const unexpected = pageErrors.filter((e) => !/Failed to load resource: the server responded with a status of (401|403|422)/.test(e));
    writeFileSync(`${ARTIFACTS}browser-errors.txt`, pageErrors.join('\n'));
    assert.deepEqual(unexpected, []);
  });
});
