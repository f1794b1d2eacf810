// Small formatting helpers: durations, relative times, bytes, browser names.

/** "1 session", "3 sessions"; `many` for irregular plurals ("crashes"). */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

export function duration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min ${sec} s`;
  return `${sec} s`;
}

export function countdown(seconds) {
  if (seconds <= 0) return 'expired';
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

export function ago(iso) {
  if (!iso) return '—';
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  if (seconds < 45) return 'just now';
  return `${duration(seconds).split(' ').slice(0, 2).join(' ')} ago`;
}

export function bytes(n) {
  if (n == null) return '—';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0, v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function browserName(ua) {
  if (!ua) return 'unknown client';
  const rules = [
    [/Edg\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\//, 'Firefox'], [/Chrome\//, 'Chrome'],
    [/Safari\//, 'Safari'], [/python-requests/i, 'Python script'], [/curl\//i, 'curl'],
    [/yam-testkit/, 'Test client'],
  ];
  const found = rules.find(([re]) => re.test(ua));
  const os = /Windows/.test(ua) ? ' on Windows' : /Mac OS X/.test(ua) ? ' on macOS' : /Android/.test(ua) ? ' on Android' : /Linux/.test(ua) ? ' on Linux' : '';
  return found ? found[1] + os : ua.slice(0, 40);
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// Times on screen are the viewer's local time, with the zone named ("14:03 CET"), never raw UTC.
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const CLOCK_SECONDS = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const WHEN = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });

/** The local zone's short name ("CET", "GMT+1", "UTC"). */
export function zone(at = new Date()) {
  const part = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' }).formatToParts(at).find((p) => p.type === 'timeZoneName');
  return part ? part.value : '';
}

/** "14:03" (or "14:03:12"), local; `zone: true` adds the zone's name. */
export function clock(at, { seconds = false, zone: withZone = false } = {}) {
  const d = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(d.getTime())) return '—';
  const text = (seconds ? CLOCK_SECONDS : CLOCK).format(d);
  return withZone ? `${text} ${zone(d)}` : text;
}

/** "Mon 7 Dec, 14:03 CET": a full local time for tooltips and dialogs. */
export function when(at) {
  if (!at) return '';
  const d = at instanceof Date ? at : new Date(at);
  return Number.isNaN(d.getTime()) ? '' : WHEN.format(d);
}
