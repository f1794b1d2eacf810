// The Users tab against `yamctl up` with the real embedded server, in real Chromium: add a
// user with a generated password, disable, enable, reset, make admin, remove; a tab opened
// without the link's token is asked for it before it may change users.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { login, shot, startWithBrowser } from './harness.mjs';

const SECOND = 1000;

async function userRow(page, name) {
  const row = page.locator(`#users-list li[data-user="${name}"]`);
  await row.waitFor();
  return row;
}

async function manage(page, name, action) {
  await (await userRow(page, name)).getByRole('button', { name: `Manage ${name}` }).click();
  await page.locator('#manage-dialog[open]').waitFor();
  await page.click(action);
}

test('admins manage users from the window', { timeout: 240 * SECOND }, async (t) => {
  const { yam, browser } = await startWithBrowser(t);
  const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(yam.dashboard);
  await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });
  await page.click('#tab-users');
  await userRow(page, 'admin');

  // Add carol with a generated password, shown once.
  await page.click('#user-add');
  await page.fill('#user-form input[name=username]', 'carol');
  await page.fill('#user-form input[name=email]', 'carol@example.org');
  await page.click('#user-form-ok');
  await page.locator('#secret-dialog[open]').waitFor();
  const password = (await page.locator('#secret-value').innerText()).trim();
  assert.ok(password.length >= 16, password);
  await shot(page, '10-users-generated-password');
  await page.locator('#secret-dialog button[value=ok]').click();
  const carolCookie = await login(yam.serverUrl, password, 'carol');
  await (await userRow(page, 'carol')).locator('text=1 session').waitFor({ timeout: 10 * SECOND });
  assert.match(await (await userRow(page, 'carol')).innerText(), /carol@example\.org/);

  // A typed password must be long enough and typed twice alike.
  await manage(page, 'carol', '#manage-password');
  await page.check('#user-form input[value=type]');
  await page.fill('#user-form input[name=password]', 'carols-new-pass');
  await page.fill('#user-form input[name=password2]', 'carols-new-typo');
  await page.click('#user-form-ok');
  assert.match(await page.locator('#user-form-error').innerText(), /differ/);
  await page.fill('#user-form input[name=password2]', 'carols-new-pass');
  await page.click('#user-form-ok');
  await page.locator('.toast', { hasText: 'Password of carol changed. 1 session ended.' }).waitFor();
  const gone = await fetch(`${yam.serverUrl}/api/session/time-remaining`, { headers: { Cookie: carolCookie } });
  assert.equal(gone.status, 401, 'a password reset ends the sessions');
  await login(yam.serverUrl, 'carols-new-pass', 'carol');
  await (await userRow(page, 'carol')).locator('text=1 session').waitFor({ timeout: 10 * SECOND });

  // Disable (confirmed, ends sessions), then enable; make admin.
  await manage(page, 'carol', '#manage-disable');
  await page.locator('#confirm[open]').waitFor();
  assert.match(await page.locator('#confirm-text').innerText(), /1 session end now/);
  await page.click('#confirm-ok');
  await (await userRow(page, 'carol')).locator('.tag.disabled').waitFor();
  const refused = await fetch(`${yam.serverUrl}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login_id: 'carol', password: 'carols-new-pass' }) });
  assert.equal(refused.status, 403);
  assert.match(await refused.text(), /disabled/);
  await manage(page, 'carol', '#manage-disable');
  await page.locator('.toast', { hasText: 'carol can log in again.' }).waitFor();
  await manage(page, 'carol', '#manage-admin');
  await (await userRow(page, 'carol')).locator('.tag.admin').waitFor();
  await shot(page, '11-users-list');

  // The last administrator cannot lose the role.
  await manage(page, 'carol', '#manage-admin');
  await page.locator('.toast', { hasText: 'no longer an administrator' }).waitFor();
  await manage(page, 'admin', '#manage-admin');
  await page.locator('.toast.error', { hasText: 'last active admin' }).waitFor();

  // A tab without the link's token (only the cookie) is asked for the token.
  const other = await context.newPage();
  await other.goto(`${yam.base}/`);
  await other.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });
  await other.click('#tab-users');
  await userRow(other, 'carol');
  const token = yam.dashboard.split('#token=')[1];
  let asked = '';
  other.on('dialog', async (d) => { asked = d.message(); await d.accept(token); });
  await other.getByRole('button', { name: 'Manage carol' }).click();
  await other.click('#manage-remove');
  await other.click('#confirm-ok');
  await other.locator('.toast', { hasText: 'Removed carol.' }).waitFor();
  assert.match(asked, /control token/);
  await page.click('#tab-overview');
  await page.click('#tab-users');
  await page.locator('#users-list li[data-user="carol"]').waitFor({ state: 'detached', timeout: 10 * SECOND });

  assert.deepEqual(errors, [], 'JavaScript errors on the page');
});
