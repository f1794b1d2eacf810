// The real YAM keeps its sessions in Flask's signed cookies, so the window lists them as the
// door sees them. Two real Chromium browsers (two users) sign in to the signed-cookie stand-in
// through YAM Tray's door with YAM's own login form; the admin sees both in the Sessions table
// with their users and browsers, revokes one there (that browser is sent to YAM's login page,
// the other stays signed in, and a new login works), then logs everyone out from the Overview.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repo, shot, startWithBrowser, testPython } from './harness.mjs';

const SECOND = 1000;
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const EDGE = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) '
  + 'Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0';

/** A YAM user's browser: YAM's login page, the form filled in, YAM's home page after it. */
async function signIn(page, url, email) {
  await page.goto(`${url}/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', 'yam-password');
  await Promise.all([page.waitForURL(`${url}/`), page.click('button')]);
  assert.match(await page.locator('p').innerText(), /^Signed in as /);
}

/** Where the browser lands when it opens YAM: its home page, or YAM's login form. */
async function landsOn(page, url) {
  await page.goto(`${url}/`);
  return (await page.locator('form').count()) > 0 ? 'login' : 'home';
}

test('a signed-cookie YAM: browsers listed, one revoked, everyone logged out', { timeout: 240 * SECOND }, async (t) => {
  const yamFolder = mkdtempSync(join(tmpdir(), 'yam-cookie-'));
  t.after(() => rmSync(yamFolder, { recursive: true, force: true }));
  cpSync(join(repo, 'tests/fixtures/yam_cookie_app'), yamFolder, { recursive: true });
  const { yam, browser } = await startWithBrowser(t, {
    settings: `profile = "python"\nyam_dir = "${yamFolder}"\npython = "${testPython()}"\nsetup_done = true\n`,
  });
  const admin = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const errors = [];
  admin.on('pageerror', (e) => errors.push(e.message));
  await admin.goto(yam.dashboard);
  await admin.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 60 * SECOND });

  const ann = await (await browser.newContext({ userAgent: FIREFOX })).newPage();
  const bob = await (await browser.newContext({ userAgent: EDGE })).newPage();
  await signIn(ann, yam.serverUrl, 'admin@example.com');
  await signIn(bob, yam.serverUrl, 'bob@example.com');
  // Counted live, without a reload; the dashboard's own polling is not a session.
  await admin.locator('#count-live', { hasText: /^2$/ }).waitFor({ timeout: 10 * SECOND });

  await admin.click('#tab-sessions');
  await admin.waitForFunction(() => document.querySelectorAll('#sessions-body tr[data-key]').length === 2);
  const table = await admin.locator('#sessions-body').innerText();
  assert.match(table, /admin — 1 session/);
  assert.match(table, /bob — 1 session/);
  assert.match(table, /127\.0\.0\.1 · Firefox on Windows/);
  assert.match(table, /127\.0\.0\.1 · Edge on Windows/);
  const summary = await admin.locator('#sessions-summary').innerText();
  assert.match(summary, /^2 of 2 sessions · Seen at the door: one row per signed-in browser .*checked with YAM's secret/);
  await shot(admin, '15-signed-cookie-sessions-at-the-door');

  // Revoke Bob's browser from the table: it sees YAM's login page, Ann's stays signed in.
  await admin.getByRole('button', { name: /Revoke session of bob/ }).click();
  await admin.locator('#confirm[open]').waitFor();
  assert.match(await admin.locator('#confirm-text').innerText(), /^Edge on Windows at 127\.0\.0\.1, signed in .+\. That browser has to log in again/);
  await admin.click('#confirm-ok');
  await admin.locator('.toast', { hasText: 'Session ended' }).waitFor();
  await admin.waitForFunction(() => document.querySelectorAll('#sessions-body tr[data-key]').length === 1);
  assert.equal(await landsOn(bob, yam.serverUrl), 'login', 'the revoked browser is logged out');
  assert.equal(await landsOn(ann, yam.serverUrl), 'home', 'the other browser stays');
  // A new login works, and its row appears without a reload.
  await signIn(bob, yam.serverUrl, 'bob@example.com');
  await admin.waitForFunction(() => document.querySelectorAll('#sessions-body tr[data-key]').length === 2);

  // Force logout from the Overview: both browsers see the login page, and stay logged out.
  await admin.click('#tab-overview');
  await admin.click('#btn-force-logout');
  await admin.locator('#confirm[open]').waitFor();
  // The door cannot count a browser idle since YAM Tray started, and logs it out too: the
  // dialog says both (it used to say "No session ends: nobody is logged in" and log out all).
  assert.match(await admin.locator('#confirm-text').innerText(),
    /^The 2 browsers of 2 users seen signed in, and any browser not seen since YAM Tray started, are logged out\. Everyone has to log in again\.$/);
  assert.equal(await admin.locator('#confirm-ok').innerText(), 'Log everyone out');
  await admin.click('#confirm-ok');
  await admin.locator('.toast', { hasText: /^Logged out everyone at the door \(2 browsers seen signed in/ }).waitFor();
  await admin.locator('#count-live', { hasText: /^0$/ }).waitFor({ timeout: 10 * SECOND });
  for (const page of [ann, bob]) {
    assert.equal(await landsOn(page, yam.serverUrl), 'login', 'logged out by the force logout');
    assert.equal(await landsOn(page, yam.serverUrl), 'login', 'and not signed back in by its remember cookie');
  }
  await admin.click('#tab-sessions');
  await admin.locator('#sessions-empty', { hasText: 'No browser is signed in.' }).waitFor();
  await shot(admin, '16-signed-cookie-after-force-logout');
  assert.deepEqual(errors, [], 'JavaScript errors on the page');
});
