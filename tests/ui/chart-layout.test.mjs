// The load chart's geometry (ui/js/chart-layout.js) under Node: no browser needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layout, niceMax, PAD } from '../../ui/js/chart-layout.js';

const T0 = 29_000_040; // a minute on an hour boundary (UTC)

const point = (minute, live, extra = {}) => ({ minute, live, users: Math.ceil(live / 2), logins: 0, starts: 0, crashes: 0, ...extra });
const day = (points, now = T0 + 600) => ({ span: 'day', step: 1, from: now + 1 - 1440, to: now + 1, points });

test('the scale tops out at a round number with a whole half', () => {
  assert.deepEqual([0, 1, 2, 3, 5, 7, 11, 40, 41, 99, 101].map(niceMax), [2, 2, 2, 4, 6, 10, 20, 40, 60, 100, 200]);
});

test('lines break where the supervisor was not running, and the area follows the line', () => {
  const points = [point(T0, 1), point(T0 + 1, 3), point(T0 + 2, 2), point(T0 + 60, 5), point(T0 + 61, 4)];
  const l = layout(day(points), 640, 170);
  assert.equal((l.live.match(/M/g) || []).length, 2, l.live);
  assert.equal((l.area.match(/Z/g) || []).length, 2, l.area);
  assert.deepEqual(l.dots, [], 'every run has a line');
  const lone = layout(day([point(T0, 1), point(T0 + 5, 2), point(T0 + 6, 2)]), 640, 170);
  assert.deepEqual(lone.dots.map((d) => d.minute), [T0], 'a lone point is a dot');
  assert.equal(l.top, 6);
  assert.deepEqual(l.yTicks.map((t) => t.value), [0, 3, 6]);
  assert.equal(l.yTicks[0].y, l.plot.bottom);
  assert.equal(l.yTicks[2].y, PAD.top);
});

test('every point lies inside the plot, newest at the right edge', () => {
  const now = T0 + 600;
  const points = Array.from({ length: 1440 }, (_, i) => point(now - 1439 + i, i % 17));
  const l = layout(day(points, now), 360, 170);
  const xs = [...l.live.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  assert.equal(xs.length, 1440);
  for (const [x, y] of xs) {
    assert.ok(x >= l.plot.left && x <= l.plot.left + l.plot.width, `x ${x}`);
    assert.ok(y >= l.plot.top && y <= l.plot.bottom, `y ${y}`);
  }
  assert.ok(l.plot.left + l.plot.width - xs[xs.length - 1][0] < 1, 'the newest minute is at the right edge');
});

test('crashes and starts are marked where they happened, and the pointer finds a point', () => {
  const points = [point(T0, 2, { starts: 1 }), point(T0 + 1, 2), point(T0 + 2, 0, { crashes: 2, starts: 1 })];
  const l = layout(day(points, T0 + 2), 500, 170);
  assert.equal(l.crashes.length, 1);
  assert.equal(l.crashes[0].count, 2);
  assert.deepEqual(l.starts.map((s) => s.minute), [T0, T0 + 2]);
  const found = l.pointAt(l.crashes[0].x + 1);
  assert.equal(found.point.minute, T0 + 2);
  assert.equal(l.pointAt(l.plot.left), null, 'far from any data');
});

test('ticks fall on local hours and midnights', () => {
  const d = layout(day([], T0 + 600), 800, 170);
  assert.ok(d.xTicks.length >= 7 && d.xTicks.length <= 9, `${d.xTicks.length} ticks in a day`);
  for (const t of d.xTicks) {
    const at = new Date(t.minute * 60000);
    assert.equal(at.getMinutes(), 0);
    assert.equal(at.getHours() % 3, 0);
  }
  const week = layout({ span: 'week', step: 60, from: T0 - 7 * 1440, to: T0, points: [] }, 800, 170);
  assert.ok(week.xTicks.length >= 6 && week.xTicks.length <= 8);
  for (const t of week.xTicks) assert.equal(new Date(t.minute * 60000).getHours(), 0);
});

test('users equal to sessions are said so, and a lone point shows both', () => {
  const same = layout({ from: T0 - 10, to: T0 + 10, step: 1, points: [point(T0, 2, { users: 2 })] }, 400, 170);
  assert.equal(same.sameLines, true);
  assert.deepEqual(same.userDots.map((d) => d.minute), [T0], 'the users point is drawn too');
  const apart = layout({ from: T0 - 10, to: T0 + 10, step: 1, points: [point(T0, 3, { users: 2 }), point(T0 + 1, 3, { users: 2 })] }, 400, 170);
  assert.equal(apart.sameLines, false);
  const nobody = layout({ from: T0 - 10, to: T0 + 10, step: 1, points: [point(T0, 0, { users: 0 })] }, 400, 170);
  assert.equal(nobody.sameLines, false, 'nobody logged in is not "the same"');
});
