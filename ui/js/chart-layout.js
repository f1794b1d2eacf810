// The load chart's geometry, without the DOM: scales, paths (broken where the supervisor was
// not running), axis ticks and event markers. Tested under Node.

export const PAD = { left: 34, right: 10, top: 10, bottom: 22 };

// 2, 4, 6, 10, 20, 40, 60, 100 … : the smallest round number at or above n whose half is a
// whole number too (the middle grid line).
export function niceMax(n) {
  if (!(n > 2)) return 2;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 4, 6, 10]) {
    if (step * power >= n) return step * power;
  }
  return 10 * power;
}

// Local-time tick positions: every 3 hours for a day, every midnight for a week.
function ticks(from, to, step) {
  const out = [];
  const hours = step === 1 ? 3 : 24;
  const d = new Date(from * 60000);
  d.setMinutes(0, 0, 0);
  if (hours === 24) d.setHours(0);
  else d.setHours(d.getHours() - (d.getHours() % hours));
  while (d.getTime() / 60000 < to) {
    const minute = d.getTime() / 60000;
    if (minute >= from) out.push(minute);
    // setHours (not adding milliseconds) keeps local midnights across daylight-saving changes.
    d.setHours(d.getHours() + hours);
  }
  return out;
}

export function layout(series, width, height) {
  const { from, to, step, points } = series;
  const plotW = Math.max(10, width - PAD.left - PAD.right);
  const plotH = Math.max(10, height - PAD.top - PAD.bottom);
  const x = (minute) => PAD.left + ((minute + step / 2 - from) / (to - from)) * plotW;
  const top = niceMax(Math.max(0, ...points.map((p) => Math.max(p.live, p.users))));
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  const round = (n) => Math.round(n * 10) / 10;

  // Runs of consecutive points: a gap longer than a step is the supervisor being off.
  const runs = [];
  for (const p of points) {
    const run = runs[runs.length - 1];
    if (run && p.minute - run[run.length - 1].minute <= step) run.push(p);
    else runs.push([p]);
  }
  const line = (key) => runs
    .map((run) => run.map((p, i) => `${i ? 'L' : 'M'}${round(x(p.minute))},${round(y(p[key]))}`).join(''))
    .join('');
  const area = runs
    .map((run) => {
      const first = run[0], last = run[run.length - 1];
      const edge = (p) => `${round(x(p.minute))},${round(y(0))}`;
      return `M${edge(first)}${run.map((p) => `L${round(x(p.minute))},${round(y(p.live))}`).join('')}L${edge(last)}Z`;
    })
    .join('');

  return {
    width, height, top, from, to, step,
    plot: { left: PAD.left, top: PAD.top, width: plotW, height: plotH, bottom: PAD.top + plotH },
    live: line('live'),
    users: line('users'),
    area,
    yTicks: [0, top / 2, top].map((v) => ({ value: v, y: round(y(v)) })),
    xTicks: ticks(from, to, step).map((minute) => ({ minute, x: round(x(minute)) })),
    dots: runs.filter((run) => run.length === 1).map(([p]) => ({ minute: p.minute, x: round(x(p.minute)), y: round(y(p.live)) })),
    userDots: runs.filter((run) => run.length === 1).map(([p]) => ({ minute: p.minute, x: round(x(p.minute)), y: round(y(p.users)) })),
    // Every user on one session: the two lines coincide, and the legend has to say so.
    sameLines: points.some((p) => p.live > 0) && points.every((p) => p.users === p.live),
    crashes: points.filter((p) => p.crashes > 0).map((p) => ({ minute: p.minute, count: p.crashes, x: round(x(p.minute)) })),
    starts: points.filter((p) => p.starts > 0).map((p) => ({ minute: p.minute, count: p.starts, x: round(x(p.minute)) })),
    // The point under a pointer at `px` (nearest, within a few pixels of data), or null.
    pointAt(px) {
      let best = null;
      for (const p of points) {
        const d = Math.abs(x(p.minute) - px);
        if (!best || d < best.d) best = { p, d };
      }
      const slack = Math.max(6, (plotW / ((to - from) / step)) * 1.5);
      return best && best.d <= slack ? { point: best.p, x: round(x(best.p.minute)), y: round(y(best.p.live)) } : null;
    },
  };
}
