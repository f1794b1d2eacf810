// Layout checks run inside the page: horizontal scrolling, controls that overlap, and
// anything cut off (outside the window, outside its card, clipped by an ancestor, or text
// wider than its box). Plus axe-core's accessibility rules.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');

/** What the page looks like to a machine, inside `scope` (a selector; the document by default). */
export async function layoutProblems(page, scope = 'body') {
  return page.evaluate((scopeSelector) => {
    const root = document.querySelector(scopeSelector);
    const problems = [];
    const name = (el) => {
      const id = el.id ? `#${el.id}` : '';
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().replace(/\s+/g, ' ').slice(0, 30);
      return `${el.tagName.toLowerCase()}${id}${cls}${text ? ` "${text}"` : ''}`;
    };
    const visible = (el) => {
      if (!el.getClientRects().length) return false;
      const r = el.getBoundingClientRect();
      if (r.width < 1 || r.height < 1) return false;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.opacity === '0') return false;
      // Screen-reader-only text is 1 px on purpose.
      return !el.closest('.sr, .toasts');
    };
    // A scroll container (sessions table, log) may hold more than it shows: that is scrolling,
    // not cutting off — as long as the container itself fits.
    const scroller = (el) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const s = getComputedStyle(a);
        if (['auto', 'scroll'].includes(s.overflowX) || ['auto', 'scroll'].includes(s.overflowY)) return a;
      }
      return null;
    };

    const doc = document.documentElement;
    if (doc.scrollWidth > window.innerWidth + 1) {
      const wide = [...document.querySelectorAll('body *')].filter((e) => visible(e) && e.getBoundingClientRect().right > window.innerWidth + 1 && !scroller(e));
      problems.push({ kind: 'horizontal-scroll', detail: `page is ${doc.scrollWidth} px wide in a ${window.innerWidth} px window; widest: ${wide.slice(0, 3).map(name).join(', ')}` });
    }

    // Columns or text hidden off to the side of a scroll box (scrolling down is fine).
    for (const el of root.querySelectorAll('*')) {
      if (!visible(el)) continue;
      const s = getComputedStyle(el);
      if (['auto', 'scroll'].includes(s.overflowX) && el.scrollWidth > el.clientWidth + 1) {
        problems.push({ kind: 'cut-off', detail: `${name(el)} hides ${el.scrollWidth - el.clientWidth} px to the side (needs sideways scrolling)` });
      }
    }

    const CONTROLS = 'button, input:not([type=hidden]), select, textarea, a[href], [role=tab], [role=switch]';
    const BOXES = '.card, fieldset, .notice, .banner, .count, .warnings p, .empty, .users li, .table-wrap, .logs, .chart, dialog[open]';
    const controls = [...root.querySelectorAll(CONTROLS)].filter(visible);
    const boxes = [...root.querySelectorAll(BOXES)].filter(visible);

    // Overlap: two controls, or two boxes, or a control and a box it is not inside.
    const items = [...controls, ...boxes];
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const a = items[i], b = items[j];
        if (a.contains(b) || b.contains(a)) continue;
        const ra = a.getBoundingClientRect(), rb = b.getBoundingClientRect();
        const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (w > 1 && h > 1) problems.push({ kind: 'overlap', detail: `${name(a)} and ${name(b)} overlap by ${Math.round(w)}×${Math.round(h)} px` });
      }
    }

    // Cut off.
    const inside = (r, box) => r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
    const measure = document.createElement('canvas').getContext('2d');
    for (const el of [...controls, ...boxes, ...root.querySelectorAll('h1, h2, legend, .facts dd, .count .n')].filter(visible)) {
      const r = el.getBoundingClientRect();
      const scroll = scroller(el);
      if (!scroll && (r.left < -1 || r.right > window.innerWidth + 1)) {
        problems.push({ kind: 'cut-off', detail: `${name(el)} reaches past the window (${Math.round(r.left)}…${Math.round(r.right)} of ${window.innerWidth})` });
      }
      const card = el.parentElement && el.parentElement.closest(BOXES);
      if (card && !scroll && !inside(r, card.getBoundingClientRect())) {
        problems.push({ kind: 'cut-off', detail: `${name(el)} sticks out of ${name(card)}` });
      }
      const style = getComputedStyle(el);
      if (el.matches('button, [role=tab], legend, h2, .count .n') && el.scrollWidth > el.clientWidth + 1 && style.overflowX !== 'visible') {
        problems.push({ kind: 'cut-off', detail: `${name(el)}: text ${el.scrollWidth} px in a ${el.clientWidth} px box` });
      }
      if (el.tagName === 'SELECT' && el.selectedOptions.length) {
        measure.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
        const text = measure.measureText(el.selectedOptions[0].text).width;
        const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16; // the arrow
        if (text > room + 1) problems.push({ kind: 'cut-off', detail: `${name(el)}: "${el.selectedOptions[0].text}" needs ${Math.round(text)} px, has ${Math.round(room)}` });
      }
    }
    return problems;
  }, scope);
}

/** axe-core's violations of impact serious or critical (and a count of the others). */
export async function axeProblems(page, scope = 'body') {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async (s) => {
    // The whole page when no part is named: page rules (one h1, landmarks) look at <html>.
    const r = await window.axe.run(s === 'body' ? document : document.querySelector(s), { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  }, scope);
  return {
    serious: result.filter((v) => ['serious', 'critical'].includes(v.impact)),
    other: result.filter((v) => !['serious', 'critical'].includes(v.impact)),
  };
}
