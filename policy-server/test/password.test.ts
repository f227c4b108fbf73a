// Changing one's own password over the API: the policy (current password, length, not the user name), the
// other sessions ended, the current one kept, the audit trail, and the throttle on guessing the current one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, ServerFixture, tempDir } from './helpers/fixture.js';
import { assertCleanClientError, PersonClient } from './helpers/http.js';

const NEW_PASSWORD = 'a much longer new passphrase';

describe('change password', () => {
  let dir: ReturnType<typeof tempDir>;
  let fixture: ServerFixture;

  before(async () => {
    dir = tempDir();
    fixture = await ServerFixture.create(dir.path);
  });

  after(async () => {
    await fixture.stop();
    dir.remove();
  });

  const change = (person: PersonClient, body: unknown, headers?: Record<string, string>) => person.call('/api/v1/session/password', { body, ...(headers ? { headers } : {}) });

  it('refuses a weak new password, a wrong current one, a missing CSRF token and extra fields, changing nothing', async () => {
    const person = await fixture.person('yamada.approver', 'approver');
    assertCleanClientError(await change(person, { currentPassword: PASSWORD, newPassword: 'short' }), 400, 'PASSWORD_TOO_SHORT');
    assertCleanClientError(await change(person, { currentPassword: PASSWORD, newPassword: 'YAMADA.APPROVER' }), 400, 'PASSWORD_IS_USERNAME');
    assertCleanClientError(await change(person, { currentPassword: PASSWORD, newPassword: PASSWORD }), 400, 'PASSWORD_UNCHANGED');
    assertCleanClientError(await change(person, { currentPassword: 'not the password', newPassword: NEW_PASSWORD }), 403, 'CURRENT_PASSWORD_WRONG');
    assertCleanClientError(await change(person, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, { 'x-csrf-token': 'forged' }), 403, 'CSRF_TOKEN_INVALID');
    assertCleanClientError(await change(person, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD, username: 'admin' }), 400);
    assertCleanClientError(await fixture.anonymous.call('/api/v1/session/password', { body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } }), 401);
    // Still the old password.
    await fixture.login('yamada.approver');
  });

  it('changes the password, keeps the current session, ends the others and audits it', async () => {
    const admin = await fixture.person('sato.admin', 'admin');
    const person = await fixture.person('kobayashi', 'auditor');
    const otherSession = await fixture.login('kobayashi');
    const response = await change(person, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    assert.equal(response.status, 204, response.text);

    await person.expect(200, '/api/v1/session');
    assertCleanClientError(await otherSession.call('/api/v1/session'), 401);
    assertCleanClientError(await new PersonClient(fixture.client()).login('kobayashi', PASSWORD), 401);
    const fresh = new PersonClient(fixture.client());
    assert.equal((await fresh.login('kobayashi', NEW_PASSWORD)).status, 200);
    // Another user's sessions are untouched.
    await admin.expect(200, '/api/v1/session');

    const { entries } = await admin.expect<{ entries: { actor: string; action: string; target: string; detail: string }[] }>(200, '/api/v1/audit');
    const audited = entries.find((e) => e.action === 'password.change');
    assert.ok(audited, 'the change is in the audit log');
    assert.equal(audited.actor, 'kobayashi');
    assert.ok(!JSON.stringify(entries).includes(NEW_PASSWORD), 'no password in the audit log');
  });

  it('throttles guessing the current password through this route like failed logins', async () => {
    const person = await fixture.person('guesser', 'staff');
    let last = await change(person, { currentPassword: 'guess 0', newPassword: NEW_PASSWORD });
    for (let i = 1; i < 30 && last.status === 403; i++) last = await change(person, { currentPassword: `guess ${i}`, newPassword: NEW_PASSWORD });
    assertCleanClientError(last, 429, 'LOGIN_RATE_LIMITED');
    assertCleanClientError(await change(person, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }), 429, 'LOGIN_RATE_LIMITED');
  });
});
