// "Connect my YAM" in real Chromium against `yamctl up`: the first-start card, a folder that
// is not a YAM (nothing can be saved), the stand-in YAM (its Python, Flask and file sessions
// found), and switching to it: the supervisor then runs it. Turning multiple sessions off
// there asks first (YAM logs everyone out in single-session mode).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repo, shot, startWithBrowser, testPython } from './harness.mjs';

const SECOND = 1000;

test('an existing YAM folder is checked, then connected', { timeout: 240 * SECOND }, async (t) => {
  const { yam, browser } = await startWithBrowser(t, { settings: `python = "${testPython()}"\n` });
  const page = await (await browser.newContext({ viewport: { width: 900, height: 700 } })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const yamFolder = join(yam.dir, 'YAM');
  cpSync(join(repo, 'tests/fixtures/yam_app'), yamFolder, { recursive: true });
  const notYam = join(yam.dir, 'Documents');
  mkdirSync(notYam);

  await page.goto(yam.dashboard);
  await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });
  await page.locator('#welcome').waitFor();
  await shot(page, '12-first-start-choice');
  await page.click('#welcome-connect');
  await page.locator('#connect-dialog[open]').waitFor();
  assert.ok(await page.locator('#connect-browse').isHidden(), 'a browser has no folder picker');

  await page.fill('#connect-folder', notYam);
  await page.click('#connect-check');
  await page.locator('#connect-findings li', { hasText: 'not a YAM folder' }).waitFor({ timeout: 30 * SECOND });
  assert.ok(await page.locator('#connect-use').isDisabled());

  await page.fill('#connect-folder', yamFolder);
  await page.click('#connect-check');
  await page.locator('#connect-findings li', { hasText: /^Flask / }).waitFor({ timeout: 30 * SECOND });
  const findings = await page.locator('#connect-findings').innerText();
  assert.match(findings, /app\/server\.py is there/);
  assert.match(findings, /Python 3\.\d+/);
  assert.match(findings, /Flask \d+\.\d+(\.\d+)? imports/);
  assert.match(findings, /keeps sessions in files/);
  await shot(page, '13-connect-yam-checked');
  assert.ok(await page.locator('#connect-use').isEnabled());
  await page.click('#connect-use');

  await page.locator('#profile', { hasText: /python/i }).waitFor({ timeout: 60 * SECOND });
  await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 60 * SECOND });
  assert.ok(await page.locator('#welcome').isHidden(), 'the choice is made');
  const status = await (await page.request.get(`${yam.base}/api/status`)).json();
  assert.equal(status.settings.yam_dir, yamFolder);
  assert.equal(status.settings.setup_done, true);

  // Single-session mode logs everyone out in YAM: the switch asks first, naming the count.
  const r = await fetch(`${yam.serverUrl}/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ login_id: 'admin', password: 'yam-password' }),
  });
  assert.equal(r.status, 200);
  await page.locator('#count-live', { hasText: '1' }).waitFor({ timeout: 30 * SECOND });
  assert.ok(await page.locator('#multiple-switch').isChecked());
  await page.click('#multiple-switch');
  await page.locator('#confirm[open]').waitFor();
  assert.match(await page.locator('#confirm-text').innerText(), /logs everyone out: the 1 session of 1 user ends\./);
  assert.equal(await page.locator('#confirm-ok').innerText(), 'Turn off and end 1 session');
  await shot(page, '14-python-single-mode-asks-first');
  await page.click('#confirm-cancel');
  assert.ok(await page.locator('#multiple-switch').isChecked(), 'cancel leaves it on');
  assert.equal((await (await page.request.get(`${yam.base}/api/status`)).json()).pid, status.pid, 'and YAM was not restarted');
  assert.deepEqual(errors, [], 'JavaScript errors on the page');
});
