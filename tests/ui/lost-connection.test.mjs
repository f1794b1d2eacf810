// An open dashboard whose supervisor goes away (yamctl stopped, the tray quit) says so within
// seconds instead of showing the last state with working-looking buttons (found by an admin's
// walk: the page still said "Stopped" with Start enabled 15 s after yamctl was gone).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shot, startWithBrowser } from './harness.mjs';

const SECOND = 1000;

test('the dashboard says when the supervisor stops answering', { timeout: 120 * SECOND }, async (t) => {
  const { yam, browser } = await startWithBrowser(t);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(yam.dashboard);
  await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });
  assert.ok(await page.locator('#lost').isHidden(), 'connected: no banner');

  await yam.stop();
  await page.locator('#lost').waitFor({ timeout: 15 * SECOND });
  assert.match(await page.locator('#lost').innerText(), /supervisor does not answer: is yamctl up \(or the tray\) still running\?/);
  assert.equal(await page.locator('#top-phase').innerText(), 'Not connected');
  await shot(page, '17-supervisor-gone');
  assert.deepEqual(errors, [], 'JavaScript errors on the page');
});
