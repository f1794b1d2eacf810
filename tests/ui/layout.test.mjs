// Every tab (and the Add user dialog) at 360, 420, 900 and 1280 px, in light and dark mode:
// no horizontal scrolling, no overlapping controls, nothing cut off, and axe-core finds no
// problem of any impact. Screenshots at 420 and 1280 px go to artifacts/ui/layout-*.png
// and the results to artifacts/ui/layout-report.md.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, login, startWithBrowser } from './harness.mjs';
import { axeProblems, layoutProblems } from './layout-checks.mjs';

const SECOND = 1000;
const WIDTHS = [360, 420, 900, 1280];
const SHOT_WIDTHS = [420, 1280];
const SCHEMES = ['light', 'dark'];
const VIEWS = [
  { name: 'overview', tab: '#tab-overview' },
  { name: 'sessions', tab: '#tab-sessions' },
  { name: 'users', tab: '#tab-users' },
  { name: 'logs', tab: '#tab-logs' },
  { name: 'settings', tab: '#tab-settings' },
  { name: 'add-user-dialog', tab: '#tab-users', open: '#user-add', scope: '#user-dialog' },
];

// A week of load as the supervisor would have recorded it (the input under test is the
// window's drawing of it): office hours on weekdays, quiet nights, one crash at 03:12 today
// or yesterday (local time).
function sampleHistory(now) {
  const lines = ['minute,live,users,logins,starts,crashes'];
  const crash = new Date(now * 60000);
  crash.setHours(3, 12, 0, 0);
  if (crash.getTime() / 60000 >= now) crash.setDate(crash.getDate() - 1);
  const crashAt = crash.getTime() / 60000;
  for (let m = now - 7 * 1440 + 1; m < now; m++) {
    const d = new Date(m * 60000);
    const hour = d.getHours() + d.getMinutes() / 60;
    const weekday = d.getDay() % 6 !== 0;
    const office = hour > 7.5 && hour < 18 ? Math.sin((Math.PI * (hour - 7.5)) / 10.5) : 0;
    const live = Math.round((weekday ? 22 : 4) * office);
    const users = Math.ceil(live * 0.7);
    const logins = office > 0.2 && m % 9 === 0 ? 1 : 0;
    const crash = m === crashAt ? 1 : 0;
    const starts = m === crashAt || m === now - 7 * 1440 + 1 ? 1 : 0;
    lines.push(`${m},${live},${users},${logins},${starts},${crash}`);
  }
  return lines.join('\n') + '\n';
}

async function settle(page) {
  await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
}

test('every tab passes the layout and accessibility checks at every width, light and dark', { timeout: 420 * SECOND }, async (t) => {
  const now = Math.floor(Date.now() / 60000);
  const { yam, browser } = await startWithBrowser(t, { files: { 'data/history.csv': sampleHistory(now) } });

  // Something in every tab: sessions of three users, a crash notice, server log lines.
  const first = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const setup = await first.newPage();
  await setup.goto(yam.dashboard);
  await setup.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });
  for (const name of ['bob', 'carol-with-a-rather-long-name']) {
    await yam.api('POST', '/api/users', { username: name, password: `${name}-password-123`, email: `${name}@example.org` });
    await login(yam.serverUrl, `${name}-password-123`, name);
  }
  for (let i = 0; i < 3; i++) await login(yam.serverUrl, yam.password());
  const { pid } = await yam.api('GET', '/api/status');
  process.kill(pid, 'SIGKILL');
  await setup.locator('#notice[data-kind=recovered]').waitFor({ timeout: 30 * SECOND });
  await first.close();

  const results = [];
  const failures = [];
  mkdirSync(artifacts, { recursive: true });
  for (const scheme of SCHEMES) {
    // The accessibility checker is injected as an inline script, which the dashboard's
    // Content-Security-Policy (rightly) blocks: the checker's pages bypass it. The dashboard
    // test runs under the policy and fails on any violation.
    const context = await browser.newContext({
      colorScheme: scheme,
      viewport: { width: 1280, height: 800 },
      bypassCSP: true,
    });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(yam.dashboard);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    await page.locator('#phase-label', { hasText: 'Running' }).waitFor({ timeout: 30 * SECOND });
    await page.locator('#chart svg .crash-mark').first().waitFor({ state: 'attached' });
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 });
      for (const view of VIEWS) {
        await page.click(view.tab);
        if (view.name === 'users') await page.locator('#users-list li[data-user=bob]').waitFor();
        if (view.name === 'sessions') await page.locator('#sessions-body tr[data-key]').first().waitFor();
        if (view.open) {
          await page.click(view.open);
          await page.locator(`${view.scope}[open]`).waitFor();
        }
        await settle(page);
        const layout = await layoutProblems(page, view.scope);
        const axe = await axeProblems(page, view.scope);
        const label = `${view.name} at ${width} px, ${scheme}`;
        results.push({ view: view.name, width, scheme, layout: layout.length, serious: axe.serious.length, other: axe.other.map((v) => `${v.id} (${v.impact})`) });
        for (const p of layout) failures.push(`${label}: ${p.kind}: ${p.detail}`);
        // Every finding counts, whatever its impact (a missing h1 is "moderate").
        for (const v of [...axe.serious, ...axe.other]) failures.push(`${label}: axe ${v.id} (${v.impact}): ${v.help} — ${v.nodes.join('; ')}`);
        if (SHOT_WIDTHS.includes(width)) {
          await page.screenshot({ path: join(artifacts, `layout-${view.name}-${width}${scheme === 'dark' ? '-dark' : ''}.png`), fullPage: true });
        }
        if (view.open) await page.keyboard.press('Escape');
      }
    }
    assert.deepEqual(errors, [], `JavaScript errors on the page (${scheme})`);
    await context.close();
  }

  const rows = results.map((r) => `| ${r.view} | ${r.width} | ${r.scheme} | ${r.layout} | ${r.serious} | ${r.other.join(', ') || '—'} |`);
  writeFileSync(join(artifacts, 'layout-report.md'), [
    '# Layout and accessibility checks',
    '',
    '| view | width | scheme | layout problems | axe serious/critical | axe minor/moderate |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    ...(failures.length ? ['## Problems', '', ...failures.map((f) => `- ${f}`)] : ['No problems.']),
    '',
  ].join('\n'));
  assert.deepEqual(failures, [], `${failures.length} layout or accessibility problem(s); see artifacts/ui/layout-report.md`);
});
