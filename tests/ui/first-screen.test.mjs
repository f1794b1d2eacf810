// The first screen an admin meets (first start: the password banner and the "how do you want
// to run YAM?" choice both showing): the state and address, the live count, Restart, Force
// logout and the multiple-sessions switch are all visible without scrolling at the tray
// window's 900×600 and at 420×800, none covered by anything. Pressing a button keeps the
// focus on it; the Logs tab follows the newest line and fills the window; Settings shows the
// conflict resolution that multiple sessions bring. Screenshots: artifacts/ui/first-screen-*.png.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { artifacts, login, startWithBrowser } from './harness.mjs';

const SECOND = 1000;
const SIZES = [{ width: 900, height: 600 }, { width: 420, height: 800 }, { width: 360, height: 740 }];
const FIRST_SCREEN = {
  'state': '#phase-label',
  'address': '#url',
  'sessions count': '#count-live',
  'users count': '#count-users',
  'Restart': '#btn-restart',
  'Force logout': '#btn-force-logout',
  'multiple-sessions switch': '#multiple-switch',
};

/** Each control that is not wholly inside the window below the header, or is covered. */
async function notOnFirstScreen(page) {
  return page.evaluate((wanted) => {
    const header = document.querySelector('.top').getBoundingClientRect();
    const out = [];
    for (const [what, selector] of Object.entries(wanted)) {
      const el = document.querySelector(selector);
      const r = el && el.getBoundingClientRect();
      if (!r || r.width < 1 || r.height < 1) { out.push(`${what} is not shown`); continue; }
      if (r.top < header.bottom - 1 || r.bottom > window.innerHeight + 1 || r.left < -1 || r.right > window.innerWidth + 1) {
        out.push(`${what} is at ${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)}, outside the ${window.innerWidth}×${window.innerHeight} window (header ends at ${Math.round(header.bottom)})`);
        continue;
      }
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      if (!hit || !(el.contains(hit) || hit.contains(el) || hit.closest('label') === el.closest('label'))) {
        out.push(`${what} is covered by ${hit ? hit.tagName.toLowerCase() + (hit.id ? '#' + hit.id : '') : 'nothing'}`);
      }
    }
    return out;
  }, FIRST_SCREEN);
}

test('the first screen holds the four clicks, at 900×600, 420×800 and 360×740', { timeout: 240 * SECOND }, async (t) => {
  const { yam, browser } = await startWithBrowser(t);
  for (let i = 0; i < 2; i++) await login(yam.serverUrl, yam.password());
  const errors = [];
  mkdirSync(artifacts, { recursive: true });
  for (const size of SIZES) {
    const context = await browser.newContext({ viewport: size });
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(yam.dashboard);
    await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });
    await page.locator('#count-live', { hasText: '2' }).waitFor();
    // The first start, as every admin meets it: both one-time cards are showing.
    await page.locator('#first-run').waitFor({ state: 'visible' });
    await page.locator('#welcome').waitFor({ state: 'visible' });
    await page.locator('#first-run-password', { hasText: yam.password() }).waitFor();
    await page.screenshot({ path: join(artifacts, `first-screen-${size.width}x${size.height}.png`) });
    const missing = await notOnFirstScreen(page);
    assert.deepEqual(missing, [], `at ${size.width}×${size.height}`);
    // The one-time cards are one line each where there is room for it.
    if (size.width >= 900) {
      for (const card of ['#first-run .one-line', '#welcome .one-line']) {
        const lines = await page.locator(card).evaluate((el) => Math.round(el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight || '20')));
        assert.ok(lines <= 2, `${card} takes ${lines} lines at ${size.width} px`);
      }
    }
    // The five tabs share one row (at 420 px "Settings" used to wrap onto its own).
    const rows = await page.locator('[role=tab]').evaluateAll((tabs) => new Set(tabs.map((t) => Math.round(t.getBoundingClientRect().top))).size);
    assert.equal(rows, 1, `the tab bar wraps onto ${rows} rows at ${size.width} px`);
    // The tab has an icon.
    assert.equal((await page.request.get(`${yam.base}/favicon.ico`)).status(), 200);
    // The count is one click from the sessions list.
    await page.click('#now-sessions');
    await page.locator('#panel-sessions').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelectorAll('#sessions-body tr[data-key]').length === 2);
    await context.close();
  }
  assert.deepEqual(errors, []);
});

test('a pressed button keeps the focus; Logs follow the tail and fill the window; Settings tell the effective state', { timeout: 240 * SECOND }, async (t) => {
  const { yam, browser } = await startWithBrowser(t);
  const page = await (await browser.newContext({ viewport: { width: 900, height: 600 } })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(yam.dashboard);
  await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });

  await t.test('Restart from the keyboard: the focus stays on Restart', async () => {
    const before = (await yam.api('GET', '/api/status')).pid;
    await page.focus('#btn-restart');
    await page.keyboard.press('Enter');
    await page.waitForFunction((pid) => {
      const label = document.getElementById('phase-label').textContent;
      return label.startsWith('Running') && !document.getElementById('btn-restart').classList.contains('busy');
    }, before, { timeout: 60 * SECOND });
    assert.notEqual((await yam.api('GET', '/api/status')).pid, before, 'a new server');
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'btn-restart');
    // And it still works from the keyboard, with nothing left disabled.
    assert.equal(await page.locator('#btn-restart').getAttribute('aria-disabled'), null);
    assert.ok(await page.locator('#btn-restart').isEnabled());
  });

  await t.test('the first-run line does what it says: back after a restart, gone once saved', async () => {
    assert.match(await page.locator('#first-run-note').innerText(), /^Shown here at every start until you click “I saved it”/);
    await page.locator('#first-run').waitFor({ state: 'visible' });
    await page.click('#first-run-done');
    await page.locator('#first-run').waitFor({ state: 'hidden' });
    await page.locator('.toast', { hasText: 'initial-admin-password.txt until the admin password is changed' }).waitFor();
    await page.reload();
    await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });
    assert.ok(await page.locator('#first-run').isHidden(), 'dismissed stays dismissed');
  });

  await t.test('Logs open at the newest line, stay there, and offer a way back after scrolling up', async () => {
    await page.setViewportSize({ width: 900, height: 420 });
    await page.click('#tab-logs');
    // Enough lines to scroll: each login is a line in the server's log.
    for (let i = 0; i < 40; i++) await login(yam.serverUrl, yam.password());
    await page.waitForFunction(() => { const p = document.getElementById('logs'); return p.scrollHeight > p.clientHeight * 2; }, null, { timeout: 30 * SECOND });
    const atBottom = () => page.evaluate(() => { const p = document.getElementById('logs'); return p.scrollTop + p.clientHeight >= p.scrollHeight - 8; });
    assert.ok(await atBottom(), 'the log opens at its newest line');
    // The pane reaches the bottom of the window.
    const gap = await page.evaluate(() => window.innerHeight - document.querySelector('.logs-wrap').getBoundingClientRect().bottom);
    assert.ok(gap >= 0 && gap <= 24, `the log ends ${gap} px above the window's bottom`);
    assert.ok(await page.locator('#logs-newest').isHidden());
    await shot(page, 'logs-following-900x420');

    // Reading older lines: new ones do not pull the view away.
    await page.locator('#logs').evaluate((p) => { p.scrollTop = 0; });
    await page.locator('#logs-newest').waitFor({ state: 'visible' });
    const lines = await page.locator('#logs span').count();
    for (let i = 0; i < 5; i++) await login(yam.serverUrl, yam.password());
    await page.waitForFunction((n) => document.querySelectorAll('#logs span').length > n, lines, { timeout: 30 * SECOND });
    assert.equal(await page.locator('#logs').evaluate((p) => p.scrollTop), 0, 'the view stays where the user is reading');
    await shot(page, 'logs-scrolled-up-900x420');
    await page.click('#logs-newest');
    assert.ok(await atBottom(), 'jump to newest');
    assert.ok(await page.locator('#logs-newest').isHidden());
    // Following again: the next lines keep it at the bottom.
    const now = await page.locator('#logs span').count();
    await login(yam.serverUrl, yam.password());
    await page.waitForFunction((n) => document.querySelectorAll('#logs span').length > n, now, { timeout: 30 * SECOND });
    assert.ok(await atBottom(), 'following the tail again');
  });

  await t.test('Settings: multiple sessions show conflict resolution on, and why', async () => {
    await page.setViewportSize({ width: 900, height: 600 });
    await page.click('#tab-settings');
    const box = page.locator('#settings-form input[name=conflict_resolution]');
    assert.ok(await page.locator('#settings-form input[name=multiple_sessions]').isChecked());
    assert.ok(await box.isChecked(), 'conflict resolution is in force');
    assert.ok(await box.isDisabled(), 'and follows from multiple sessions');
    assert.match(await page.locator('#conflict-why').innerText(), /multiple sessions include it/);
    // Multiple sessions off in the form: the box is the admin's own again (off here).
    await page.locator('#settings-form input[name=multiple_sessions]').uncheck();
    assert.ok(!(await box.isChecked()));
    assert.ok(await box.isEnabled());
  });
  assert.deepEqual(errors, []);
});

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`) });
}
