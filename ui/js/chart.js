// The Overview's load chart: live sessions and users over the last 24 hours or 7 days, with
// crashes and server starts marked. Hand-drawn SVG (no library, nothing fetched at run time).

import { layout } from './chart-layout.js';
import { plural } from './format.js';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const HEIGHT = 170;
const REFRESH_MS = 60000;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: 'short', month: 'numeric', day: 'numeric' });
const dayTime = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
const at = (minute) => new Date(minute * 60000);

export class LoadChart {
  constructor(transport) {
    this.t = transport;
    this.span = 'day';
    this.series = null;
    this.layout = null;
    this.lastEvents = null;
    this.box = $('chart');
    for (const button of document.querySelectorAll('[data-span]')) {
      button.addEventListener('click', () => {
        this.span = button.dataset.span;
        for (const b of document.querySelectorAll('[data-span]')) b.setAttribute('aria-pressed', String(b === button));
        this.load();
      });
    }
    new ResizeObserver(() => this.draw()).observe(this.box);
    this.box.addEventListener('pointermove', (e) => this.hover(e));
    this.box.addEventListener('pointerleave', () => this.hover(null));
    setInterval(() => this.load(), REFRESH_MS);
    this.load();
  }

  // A crash, start or login shows at once rather than at the next minute's refresh.
  onStatus(s) {
    const t = s.today;
    const events = t ? `${t.crashes}/${t.starts}/${t.logins}` : '';
    if (this.lastEvents !== null && events !== this.lastEvents) this.load();
    this.lastEvents = events;
    // A peak of nobody has no time worth naming.
    const peak = t && t.live > 0
      ? `Today's peak: ${plural(t.live, 'session', 'sessions')} (${plural(t.users, 'user', 'users')}) at ${time.format(at(t.minute))}`
      : 'No sessions yet today';
    $('chart-today').textContent = t
      ? `${peak} · ${plural(t.logins, 'login', 'logins')} · ${plural(t.crashes, 'crash', 'crashes')}`
      : 'Nothing recorded today yet.';
  }

  async load() {
    try {
      this.series = await this.t.history(this.span);
      this.draw();
    } catch {
      /* the next refresh tries again */
    }
  }

  draw() {
    const series = this.series;
    const width = this.box.clientWidth;
    if (!series || width <= 0) return;
    const l = layout(series, width, HEIGHT);
    this.layout = l;
    const root = svg('svg', { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img', 'aria-labelledby': 'chart-title chart-summary' });
    for (const tick of l.yTicks) {
      root.append(svg('line', { class: 'grid', x1: l.plot.left, x2: l.plot.left + l.plot.width, y1: tick.y, y2: tick.y }));
      root.append(svg('text', { class: 'axis', x: l.plot.left - 6, y: tick.y + 4, 'text-anchor': 'end' }, String(tick.value)));
    }
    // Labels far enough apart not to collide at narrow widths.
    const minGap = series.step === 1 ? 46 : 52;
    let lastLabel = -Infinity;
    for (const tick of l.xTicks) {
      root.append(svg('line', { class: 'grid faint', x1: tick.x, x2: tick.x, y1: l.plot.top, y2: l.plot.bottom }));
      if (tick.x - lastLabel >= minGap && tick.x <= width - 20) {
        root.append(svg('text', { class: 'axis', x: tick.x, y: HEIGHT - 6, 'text-anchor': 'middle' },
          (series.step === 1 ? time : weekday).format(at(tick.minute))));
        lastLabel = tick.x;
      }
    }
    // Marks first, lines over them: the newest point is never hidden under a crash line.
    for (const s of l.starts) {
      const mark = svg('line', { class: 'start-mark', x1: s.x, x2: s.x, y1: l.plot.bottom - 7, y2: l.plot.bottom });
      mark.append(svg('title', {}, `Server started at ${dayTime.format(at(s.minute))}`));
      root.append(mark);
    }
    for (const c of l.crashes) {
      const g = svg('g', { class: 'crash-mark' });
      g.append(svg('line', { x1: c.x, x2: c.x, y1: l.plot.top, y2: l.plot.bottom }));
      g.append(svg('circle', { cx: c.x, cy: l.plot.top + 4, r: 4 }));
      g.append(svg('title', {}, `${plural(c.count, 'crash', 'crashes')} at ${dayTime.format(at(c.minute))}`));
      root.append(g);
    }
    root.append(svg('path', { class: 'live-area', d: l.area }));
    root.append(svg('path', { class: 'live-line', d: l.live }));
    // Drawn last and wider: where it runs on the sessions line (one session per user) the
    // line shows green dashes over the blue one instead of vanishing under it.
    root.append(svg('path', { class: 'users-line', d: l.users }));
    // A point with no neighbour draws no line: a dot shows it (a ring for users).
    for (const dot of l.dots) root.append(svg('circle', { class: 'live-dot', cx: dot.x, cy: dot.y, r: 2.5 }));
    for (const dot of l.userDots) root.append(svg('circle', { class: 'users-dot', cx: dot.x, cy: dot.y, r: 4.5 }));
    $('legend-users').textContent = l.sameLines ? 'Users (same as sessions: one each)' : 'Users';
    root.append(svg('line', { class: 'cursor', id: 'chart-cursor', x1: 0, x2: 0, y1: l.plot.top, y2: l.plot.bottom, visibility: 'hidden' }));
    this.box.replaceChildren(root);

    const live = series.points.map((p) => p.live);
    const crashes = series.points.reduce((n, p) => n + p.crashes, 0);
    const logins = series.points.reduce((n, p) => n + p.logins, 0);
    const span = series.span === 'day' ? 'the last 24 hours' : 'the last 7 days';
    $('chart-summary').textContent = series.points.length
      ? `Over ${span}: at most ${plural(Math.max(...live), 'session', 'sessions')}, ${plural(logins, 'login', 'logins')}, ${plural(crashes, 'crash', 'crashes')}.`
      : `No history for ${span} yet: a point is recorded every minute while YAM Tray runs.`;
  }

  hover(e) {
    const cursor = document.getElementById('chart-cursor');
    if (!this.layout || !cursor) return;
    const found = e ? this.layout.pointAt(e.clientX - this.box.getBoundingClientRect().left) : null;
    if (!found) {
      cursor.setAttribute('visibility', 'hidden');
      $('chart-readout').textContent = '';
      return;
    }
    cursor.setAttribute('x1', found.x);
    cursor.setAttribute('x2', found.x);
    cursor.setAttribute('visibility', 'visible');
    const p = found.point;
    const when = this.series.step === 1 ? dayTime.format(at(p.minute)) : `${dayTime.format(at(p.minute))} (hour)`;
    const events = [
      p.logins ? plural(p.logins, 'login', 'logins') : '',
      p.crashes ? plural(p.crashes, 'crash', 'crashes') : '',
      p.starts ? plural(p.starts, 'server start', 'server starts') : '',
    ].filter(Boolean);
    $('chart-readout').textContent = `${when}: ${plural(p.live, 'session', 'sessions')}, ${plural(p.users, 'user', 'users')}${events.length ? ' · ' + events.join(', ') : ''}`;
  }
}
