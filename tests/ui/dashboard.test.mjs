// The dashboard against `yamctl up` with the real embedded server, in real Chromium.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { login, shot, startWithBrowser } from './harness.mjs';
import { layoutProblems } from './layout-checks.mjs';

const SECOND = 1000;

test('the dashboard shows and controls the server', { timeout: 240 * SECOND }, async (t) => {
  const { yam, browser } = await startWithBrowser(t);
  const context = await browser.newContext({ viewport: { width: 900, height: 600 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The page runs under a strict Content-Security-Policy: anything it blocks is a bug.
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) errors.push(m.text());
  });
  const shots = [];

  await t.test('a page without the token is refused', async () => {
    const stranger = await browser.newPage();
    await stranger.goto(`${yam.base}/`);
    await stranger.locator('#refused').waitFor({ state: 'visible' });
    assert.match(await stranger.locator('#refused').innerText(), /link printed in the terminal that started it/);
    const api = await stranger.request.get(`${yam.base}/api/status`);
    assert.equal(api.status(), 401);
    shots.push(await shot(stranger, '00-refused-without-token'));
    await stranger.close();
  });

  await t.test('the page loads with the token and shows Running', async () => {
    await page.goto(yam.dashboard);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    assert.ok(!page.url().includes('token='), 'the token must leave the address bar');
    await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });
    assert.match(await page.locator('#mode').innerText(), /4 h/);
    await page.locator('#first-run').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#first-run-password').innerText(), yam.password());
    // Nobody has logged in: no peak time is named.
    assert.match(await page.locator('#chart-today').innerText(), /^No sessions yet today · 0 logins · 0 crashes$/);
    shots.push(await shot(page, '01-overview-running-first-run-password'));
  });

  await t.test('three logins appear without reload; revoke one leaves two', async () => {
    for (let i = 0; i < 3; i++) await login(yam.serverUrl, yam.password());
    await page.locator('#count-live', { hasText: '3' }).waitFor();
    await page.click('#tab-sessions');
    const rows = page.locator('#sessions-body tr[data-key]');
    await page.waitForFunction(() => document.querySelectorAll('#sessions-body tr[data-key]').length === 3);
    assert.match(await page.locator('#sessions-body tr.group').innerText(), /admin — 3 sessions/);
    assert.match(await rows.first().innerText(), /127\.0\.0\.1 · Chrome on Windows/);
    shots.push(await shot(page, '02-sessions-three'));
    await rows.first().getByRole('button', { name: /Revoke/ }).click();
    await page.locator('#confirm[open]').waitFor();
    shots.push(await shot(page, '03-revoke-confirmation'));
    // The confirmation names the session: browser, address, when it signed in.
    assert.match(await page.locator('#confirm-text').innerText(), /^Chrome on Windows at 127\.0\.0\.1, signed in .+ \(just now\)\. That browser has to log in again/);
    await page.click('#confirm-ok');
    await page.waitForFunction(() => document.querySelectorAll('#sessions-body tr[data-key]').length === 2);
    await page.locator('.toast', { hasText: 'Session ended' }).waitFor();
  });

  await t.test('force logout asks, names the count, and ends every session', async () => {
    await page.click('#tab-overview');
    await page.click('#btn-force-logout');
    await page.locator('#confirm[open]').waitFor();
    assert.match(await page.locator('#confirm-text').innerText(), /^All 2 sessions of 1 user end\. Everyone has to log in again\.$/);
    await page.click('#confirm-ok');
    await page.locator('#count-live', { hasText: /^0$/ }).waitFor();
    await page.locator('.toast', { hasText: 'Ended 2 sessions' }).waitFor();
    await page.click('#tab-sessions');
    await page.locator('#sessions-empty', { hasText: 'No one is logged in.' }).waitFor();
    shots.push(await shot(page, '04-sessions-empty-after-force-logout'));
  });

  await t.test('turning multiple sessions off restarts the server with 2 h sessions', async () => {
    await page.click('#tab-overview');
    const pidBefore = await page.locator('#process').innerText();
    await page.click('#multiple-switch');
    await page.locator('#mode', { hasText: 'Single session · 2 h' }).waitFor({ timeout: 60 * SECOND });
    // Running again, and with a new process: the new server has taken over.
    await page.waitForFunction((before) => {
      const pid = document.querySelector('#process').innerText;
      return document.querySelector('#phase-label').innerText === 'Running' && pid !== before && pid.startsWith('pid');
    }, pidBefore, { timeout: 60 * SECOND });
    // A keep-alive connection opened before the switch gets one more answer from the old
    // server while it drains (with `Connection: close`); every new connection reaches the new one.
    // This page's fetch pool may hold several such connections: ask until one answer comes
    // from the new server (the old one answers for a second at most).
    let info;
    for (let i = 0; i < 15; i++) {
      info = await (await fetch(`${yam.serverUrl}/api/server-info`)).json();
      if (info.session_lifetime_hours === 2) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.equal(info.session_lifetime_hours, 2);
    shots.push(await shot(page, '05-single-session-mode'));
  });

  await t.test('stop and start', async () => {
    await page.click('#btn-stop');
    // Stopping takes YAM away from everyone: it asks first.
    await page.locator('#confirm[open]').waitFor();
    assert.match(await page.locator('#confirm-text').innerText(), /^Nobody can use YAM until you start it again/);
    await page.click('#confirm-ok');
    await page.locator('#phase-label', { hasText: 'Stopped' }).waitFor({ timeout: 30 * SECOND });
    assert.ok(await page.locator('#btn-stop').isDisabled());
    shots.push(await shot(page, '06-stopped'));
    await page.click('#btn-start');
    await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });
  });

  await t.test('a bad setting value shows its error next to the field', async () => {
    await page.click('#tab-settings');
    await page.fill('input[name=port]', 'abc');
    await page.fill('input[name=session_store]', 'mysql://db');
    await page.click('#settings-form button[type=submit]');
    const error = page.locator('#error-port');
    await error.waitFor();
    assert.match(await error.innerText(), /number between 1 and 65535/);
    const store = page.locator('#error-session_store');
    await store.waitFor();
    assert.match(await store.innerText(), /Redis address such as redis:\/\//);
    assert.equal(await page.locator('input[name=port]').getAttribute('aria-invalid'), 'true');
    shots.push(await shot(page, '07-settings-error'));
  });

  await t.test('logs show the supervisor and server lines', async () => {
    await page.click('#tab-logs');
    await page.locator('#logs', { hasText: 'Starting' }).waitFor();
    shots.push(await shot(page, '08-logs'));
  });

  await t.test('the layout holds in a narrow window', async () => {
    await page.setViewportSize({ width: 420, height: 700 });
    await page.click('#tab-overview');
    const wide = (await layoutProblems(page)).filter((p) => p.kind === 'horizontal-scroll');
    assert.deepEqual(wide, [], 'horizontal scrolling at 420 px');
    shots.push(await shot(page, '09-narrow'));
  });

  assert.deepEqual(errors, [], 'JavaScript errors on the page');
  console.log(`screenshots:\n${shots.join('\n')}`);
});
