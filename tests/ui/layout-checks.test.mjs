// The layout checks themselves: each finds what it is for on a page built to have it, and
// nothing on a page without it (a check that cannot fail would prove nothing).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from './harness.mjs';
import { axeProblems, layoutProblems } from './layout-checks.mjs';

const CLEAN = `<main style="padding:8px;font:14px sans-serif">
  <div class="card" style="border:1px solid #ccc;padding:8px"><h2>Card</h2><button>One</button> <button>Two</button></div>
  <div class="table-wrap" style="overflow:auto"><table><tr><td>a</td><td>b</td></tr></table></div></main>`;

const BROKEN = {
  overlap: `<div style="position:relative;height:60px"><button style="position:absolute;left:0;top:0;width:120px">First</button>
    <button style="position:absolute;left:60px;top:5px;width:120px">Second</button></div>`,
  window: '<button style="margin-left:380px;width:120px">Off the edge</button>',
  card: '<div class="card" style="width:120px;border:1px solid"><button style="white-space:nowrap">A button wider than its card</button></div>',
  sideways: '<div class="table-wrap" style="overflow:auto;width:200px"><table><tr><td style="white-space:nowrap">a column far wider than the box that holds the whole table</td></tr></table></div>',
  text: '<button style="width:40px;overflow:hidden;white-space:nowrap">A long label</button>',
  select: '<select style="width:90px"><option>Embedded (yam-server, recommended)</option></select>',
};

test('the layout checks find what they look for, and only that', { timeout: 60000 }, async (t) => {
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 400, height: 400 } });

  await page.setContent(CLEAN);
  assert.deepEqual(await layoutProblems(page), []);

  const expect = {
    overlap: /overlap: button "First" and button "Second" overlap by/,
    window: /cut-off: button "Off the edge" reaches past the window/,
    card: /cut-off: button "A button wider than its card" sticks out of div.card/,
    sideways: /cut-off: div.table-wrap .*hides \d+ px to the side/,
    text: /cut-off: button "A long label": text \d+ px in a \d+ px box/,
    select: /cut-off: select .*"Embedded \(yam-server, recommended\)" needs \d+ px, has \d+/,
  };
  for (const [name, html] of Object.entries(BROKEN)) {
    await page.setContent(`<main style="font:14px sans-serif">${html}</main>`);
    const found = (await layoutProblems(page)).map((p) => `${p.kind}: ${p.detail}`);
    assert.ok(found.some((f) => expect[name].test(f)), `${name}: ${found.join(' | ') || 'nothing found'}`);
  }

  // axe: grey on grey is a serious contrast problem; the clean page has none.
  await page.setContent(`<html lang="en"><title>t</title><main>${CLEAN}</main></html>`);
  assert.deepEqual((await axeProblems(page)).serious, []);
  await page.setContent('<html lang="en"><title>t</title><main><p style="color:#aaa;background:#bbb">faint</p></main></html>');
  assert.deepEqual((await axeProblems(page)).serious.map((v) => v.id), ['color-contrast']);
});
