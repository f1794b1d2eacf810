// The sessions table: grouped by user, filtered, paged (stays quick with 10,000 sessions),
// with a live "expires in" countdown and a revoke button per session.

import { ago, browserName, countdown, el, plural, when } from './format.js';
import { toast, toastError } from './toast.js';
import { confirmAction } from './confirm.js';

const $ = (id) => document.getElementById(id);
const ROWS_PER_PAGE = 100;
const SOON_SECONDS = 600;

export class SessionsView {
  constructor(transport) {
    this.t = transport;
    this.list = { sessions: [], total: 0, source: 'none', note: null };
    this.status = null;
    this.page = 0;
    this.filter = '';
    this.fetching = false;
    this.again = false;
    this.lastKey = '';
    $('filter').addEventListener('input', (e) => { this.filter = e.target.value.trim().toLowerCase(); this.page = 0; this.render(); });
    $('page-prev').addEventListener('click', () => { this.page -= 1; this.render(); });
    $('page-next').addEventListener('click', () => { this.page += 1; this.render(); });
    setInterval(() => this.tick(), 1000);
    // Last seen and expiry move with every request: refetch while the tab is shown.
    setInterval(() => { if (!$('panel-sessions').hidden) this.refresh(); }, 10000);
  }

  onStatus(s) {
    this.status = s;
    $('tab-sessions-count').textContent = s.sessions.live;
    // Refetch when the counts or the server's state change (not on every uptime tick).
    const key = JSON.stringify([s.sessions, s.phase.phase, s.pid, s.profile]);
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.refresh();
    }
  }

  async refresh() {
    if (this.fetching) { this.again = true; return; }
    this.fetching = true;
    try {
      this.list = await this.t.sessions();
    } catch (e) {
      this.list = { sessions: [], total: 0, source: 'none', note: e.message };
    }
    this.fetching = false;
    this.render();
    if (this.again) { this.again = false; this.refresh(); }
  }

  rows() {
    const f = this.filter;
    const all = this.list.sessions || [];
    const matching = f
      ? all.filter((r) => [r.username, r.user_id, r.ip, r.user_agent, browserName(r.user_agent)].some((v) => v && String(v).toLowerCase().includes(f)))
      : all;
    const groups = new Map();
    for (const r of matching) {
      const name = r.username || (r.user_id ? `user ${r.user_id}` : '(anonymous)');
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(r);
    }
    const flat = [];
    for (const name of [...groups.keys()].sort((a, b) => a.localeCompare(b))) {
      const items = groups.get(name).sort((a, b) => String(b.last_activity || b.expires_at).localeCompare(String(a.last_activity || a.expires_at)));
      flat.push({ group: name, count: items.length });
      for (const r of items) flat.push({ row: r, user: name });
    }
    return { flat, matching: matching.length };
  }

  render() {
    const { flat, matching } = this.rows();
    const pages = Math.max(1, Math.ceil(flat.length / ROWS_PER_PAGE));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    const slice = flat.slice(this.page * ROWS_PER_PAGE, (this.page + 1) * ROWS_PER_PAGE);
    const canRevoke = Boolean(this.status && this.status.capabilities && this.status.capabilities.revoke_session);
    const body = $('sessions-body');
    body.replaceChildren(...slice.map((item) => item.group !== undefined
      ? el('tr', { class: 'group' }, el('td', { colspan: 5 }, `${item.group} — ${plural(item.count, 'session')}`))
      : this.rowElement(item.row, item.user, canRevoke)));
    this.tick();
    $('page-info').textContent = pages > 1 ? `Page ${this.page + 1} of ${pages}` : '';
    $('page-prev').hidden = $('page-next').hidden = pages <= 1;
    $('page-prev').disabled = this.page === 0;
    $('page-next').disabled = this.page >= pages - 1;
    const total = this.list.total || 0;
    const parts = [`${matching} of ${plural(total, 'session')}`];
    // The door's note says where its rows come from ("Seen at the door: …").
    if (this.list.source && !['none', 'door'].includes(this.list.source)) parts.push(`from the ${this.list.source}`);
    if (this.list.note) parts.push(this.list.note);
    $('sessions-summary').textContent = parts.join(' · ');
    this.renderEmpty(matching);
  }

  rowElement(r, user, canRevoke) {
    const expires = r.expires_at ? Date.parse(r.expires_at) : null;
    const client = [r.ip, r.user_agent ? browserName(r.user_agent) : null].filter(Boolean).join(' · ') || '—';
    const revoke = canRevoke
      ? el('button', { type: 'button', class: 'danger', 'aria-label': `Revoke session of ${user} (${client})`, onclick: (e) => this.revoke(r, user, e.currentTarget) }, 'Revoke')
      : el('span', { class: 'muted small', title: 'This profile cannot revoke sessions.' }, '—');
    return el('tr', { 'data-key': r.key },
      el('td', { title: when(r.created_at) }, r.damaged ? 'damaged file' : r.created_at ? `created ${ago(r.created_at)}`
        : this.list.source === 'door' ? 'signed in before YAM Tray saw it' : user),
      el('td', { title: when(r.last_activity), 'data-label': 'Last seen' }, ago(r.last_activity)),
      el('td', { class: 'expires', 'data-expires': expires ?? '', title: r.expires_at ? when(r.expires_at) : 'never', 'data-label': 'Expires in' }, ''),
      el('td', { class: 'client', title: r.user_agent || '' }, client),
      el('td', { class: 'actions' }, revoke));
  }

  renderEmpty(matching) {
    const empty = $('sessions-empty');
    const s = this.status;
    let text = '';
    if (matching === 0) {
      if (this.list.source === 'none') text = this.list.note || 'This profile cannot list sessions.';
      else if (this.filter) text = 'No session matches the filter.';
      else if (this.list.source === 'door') text = 'No browser is signed in. A browser idle since YAM Tray started shows up when it comes back.';
      else if (s && s.profile === 'python') text = `No sessions in ${this.list.source === 'redis' ? 'Redis' : 'the YAM folder'}: nobody is logged in.`;
      else text = 'No one is logged in.';
    }
    empty.hidden = !text;
    empty.textContent = text;
    document.querySelector('.table-wrap').hidden = Boolean(text);
  }

  tick() {
    const now = Date.now();
    for (const cell of document.querySelectorAll('#sessions-body td.expires')) {
      const at = Number(cell.dataset.expires);
      if (!at) { cell.textContent = 'never'; continue; }
      const left = (at - now) / 1000;
      cell.textContent = countdown(left);
      cell.classList.toggle('soon', left < SOON_SECONDS);
    }
  }

  async revoke(row, user, button) {
    const ok = await confirmAction({ title: `End this session of ${user}?`, text: describeSession(row), ok: 'End session' });
    if (!ok) { if (button) button.focus(); return; }
    try {
      const r = await this.t.revoke(row.key);
      toast(r && r.message ? r.message : 'Session ended.');
      await this.refresh();
      // The row is gone: the focus goes to the filter, not the page.
      $('filter').focus();
    } catch (e) { toastError(e); }
  }
}

// "Chrome on Windows at 192.168.1.20, signed in Mon 7 Dec, 09:12 CET (2 h ago). That browser
// has to log in again; the user's other sessions stay."
function describeSession(r) {
  const browser = r.user_agent ? browserName(r.user_agent) : 'an unknown browser';
  const where = r.ip ? ` at ${r.ip}` : '';
  const since = r.created_at ? `, signed in ${when(r.created_at)} (${ago(r.created_at)})` : '';
  return `${browser}${where}${since}. That browser has to log in again; the user's other sessions stay.`;
}
