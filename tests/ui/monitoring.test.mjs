// Watching the server from the dashboard: the load chart (logins, a crash marked), the
// notice banner (crash, then back healthy, once each; a busy port), and the log tab (levels read from the
// lines, a level filter, search, Save as…). Real yamctl up, real yam-server, real Chromium.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { login, shot, startWithBrowser } from './harness.mjs';

const SECOND = 1000;

test('the dashboard shows the load, notices and levelled logs', { timeout: 180 * SECOND }, async (t) => {
  const { yam, browser } = await startWithBrowser(t);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const api = (path) => page.evaluate((p) => fetch(p).then((r) => r.json()), path);

  await page.goto(yam.dashboard);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });

  await t.test('logins show in today\'s line and on the chart', async () => {
    for (let i = 0; i < 2; i++) await login(yam.serverUrl, yam.password());
    await page.locator('#chart-today', { hasText: /2 sessions \(1 user\) at .*· 2 logins · 0 crashes/ }).waitFor();
    await page.locator('#chart svg .live-line').waitFor({ state: 'attached' });
    assert.match(await page.locator('#chart svg .live-line').getAttribute('d'), /^M[\d.]+,[\d.]+/);
    assert.equal(await page.locator('#chart svg .start-mark').count(), 1, 'the server started once');
  });

  await t.test('a crash is a banner, then "back and healthy" replaces it; the chart marks it', async () => {
    const { pid } = await api('/api/status');
    process.kill(pid, 'SIGKILL');
    const notice = page.locator('#notice');
    await page.locator('#notice[data-kind=crashed]').waitFor({ timeout: 10 * SECOND });
    assert.match(await notice.innerText(), /stopped unexpectedly \(killed by signal 9\); restarting it/);
    assert.equal(await notice.getAttribute('data-tone'), 'bad');
    await shot(page, 'monitoring-crash-banner');
    await page.locator('#notice[data-kind=recovered]').waitFor({ timeout: 30 * SECOND });
    assert.match(await notice.innerText(), /back and healthy after the crash/);
    assert.equal(await notice.getAttribute('data-tone'), 'ok');
    await page.locator('#chart svg .crash-mark').waitFor({ state: 'attached' });
    assert.match(await page.locator('#chart-today').innerText(), /1 crash$/);
    assert.equal(await page.locator('#chart svg .start-mark').count() >= 1, true);
    // The point under the crash reads out what happened in that minute.
    const box = await page.locator('#chart').boundingBox();
    const x = Number(await page.locator('#chart svg .crash-mark line').getAttribute('x1'));
    await page.mouse.move(box.x + x, box.y + 60);
    assert.match(await page.locator('#chart-readout').innerText(), /\d+ sessions?, \d+ users? · .*1 crash/);
    await shot(page, 'monitoring-back-healthy-chart');
    await page.click('#notice-dismiss');
    assert.equal(await notice.isHidden(), true);
    // A reload does not bring a dismissed notice back.
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    assert.equal(await notice.isHidden(), true);
  });

  await t.test('the 7-day view has a point an hour', async () => {
    await page.click('[data-span=week]');
    await page.locator('#chart-summary', { hasText: 'the last 7 days' }).waitFor();
    assert.equal(await page.locator('[data-span=week]').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.locator('[data-span=day]').getAttribute('aria-pressed'), 'false');
    const week = await api('/api/history?span=week');
    assert.equal(week.step, 60);
    assert.equal(week.points.reduce((n, p) => n + p.crashes, 0), 1);
    await page.locator('#chart svg .crash-mark').waitFor({ state: 'attached' });
  });

  await t.test('logs are coloured by level, filtered, searched and saved', async () => {
    await page.click('#tab-logs');
    const lines = page.locator('#logs > span');
    await page.locator('#logs', { hasText: 'Server exited' }).waitFor();
    // stderr is not an error: the server's INFO lines (on stderr) are information.
    assert.ok(await page.locator('#logs > span.lvl-info', { hasText: 'Control token for admin scripts' }).count() >= 1);
    assert.ok(await page.locator('#logs > span.lvl-warn', { hasText: 'First start' }).count() >= 1);
    assert.ok(await page.locator('#logs > span.lvl-error', { hasText: 'killed by signal 9' }).count() >= 1);
    const colours = await page.evaluate(() => Object.fromEntries(['info', 'warn', 'error'].map((l) => {
      const el = document.querySelector(`#logs > span.lvl-${l}:not(.yam)`) || document.querySelector(`#logs > span.lvl-${l}`);
      return [l, el && getComputedStyle(el).color];
    })));
    assert.notEqual(colours.info, colours.error, JSON.stringify(colours));
    assert.notEqual(colours.warn, colours.error, JSON.stringify(colours));

    await page.selectOption('#logs-level', 'error');
    const errorsOnly = await lines.evaluateAll((spans) => spans.map((s) => s.className));
    assert.ok(errorsOnly.length >= 2, errorsOnly.join());
    assert.ok(errorsOnly.every((c) => c.startsWith('lvl-error')), errorsOnly.join());
    assert.match(await page.locator('#logs-count').innerText(), /^\d+ of \d+ lines$/);
    await shot(page, 'monitoring-logs-errors-only');

    await page.selectOption('#logs-level', 'debug');
    await page.fill('#logs-search', 'CONTROL TOKEN');
    const found = await lines.allInnerTexts();
    assert.ok(found.length >= 1 && found.every((l) => /control token/i.test(l)), found.join('|'));

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#logs-save')]);
    assert.match(download.suggestedFilename(), /^yam-server-\d{12}\.log$/);
    const saved = readFileSync(await download.path(), 'utf8');
    assert.equal(saved.trim().split('\n').length, found.length, saved);
    assert.match(saved, /^\d{4}-\d\d-\d\dT\S+ INFO +\[stderr\] .*Control token/m);
    await page.locator('.toast', { hasText: `Saved ${found.length} lines as` }).waitFor();
    await page.fill('#logs-search', '');
  });

  await t.test('a busy port is a banner naming who holds it; nothing is killed', async () => {
    await page.click('#tab-overview');
    // The supervisor holds its own port for as long as it runs: another program can only be
    // in the way of a port it moves to.
    const port = Number(new URL(yam.serverUrl).port);
    const squatter = createServer();
    await new Promise((ok) => squatter.listen(0, '127.0.0.1', ok));
    const busy = squatter.address().port;
    try {
      await yam.api('POST', '/api/settings', { port: busy });
      await page.locator('#notice[data-kind=port_busy]').waitFor({ timeout: 30 * SECOND });
      assert.match(await page.locator('#notice-text').innerText(), new RegExp(`Port ${busy} is used by .*node.*\\(pid ${process.pid}\\); nothing was stopped`));
      assert.equal(await page.locator('#notice').getAttribute('data-tone'), 'warn', 'orange, as the status');
      await shot(page, 'monitoring-port-busy-banner');
    } finally {
      await new Promise((ok) => squatter.close(ok));
    }
    await yam.api('POST', '/api/settings', { port });
    await yam.api('POST', '/api/start', {});
    await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });
  });

  await t.test('yamctl status would print the same peak', async () => {
    const status = await api('/api/status');
    assert.equal(status.today.logins, 2);
    assert.equal(status.today.crashes, 1);
    assert.equal(status.today.starts, 3, 'started, restarted after the crash, started again after the busy port');
  });

  assert.deepEqual(errors, [], 'JavaScript errors on the page');
});
