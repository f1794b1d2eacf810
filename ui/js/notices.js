// The in-page banner for the supervisor's notices (crash, crash loop, port busy, back
// healthy…): one banner, updated in place by repeats, shown once per event until dismissed.

const $ = (id) => document.getElementById(id);
// The same colours as the status: red for a server that is down, orange for one in trouble.
const BAD = ['crashed', 'crash_loop', 'failed'];
const WARN = ['port_busy', 'unhealthy', 'switch_failed'];
// A notice older than this is history, not news, when the page opens.
const FRESH_MS = 10 * 60 * 1000;
const DISMISSED_KEY = 'yam-dismissed-notice';

import { clock } from './format.js';

export class NoticeBanner {
  constructor() {
    this.seq = null;
    $('notice-dismiss').addEventListener('click', () => {
      $('notice').hidden = true;
      if (this.seq !== null) sessionStorage.setItem(DISMISSED_KEY, String(this.seq));
    });
  }

  onStatus(s) {
    const n = s.notice;
    // Force logout reports to the one who asked (a toast); the banner is for what happens.
    if (!n || n.kind === 'force_logout' || n.seq === this.seq) return;
    const first = this.seq === null;
    this.seq = n.seq;
    if (first && (Date.now() - Date.parse(n.at) > FRESH_MS || sessionStorage.getItem(DISMISSED_KEY) === String(n.seq))) return;
    const box = $('notice');
    box.dataset.tone = BAD.includes(n.kind) ? 'bad' : WARN.includes(n.kind) ? 'warn' : n.kind === 'recovered' ? 'ok' : 'busy';
    box.dataset.kind = n.kind;
    $('notice-text').textContent = n.message;
    $('notice-time').textContent = clock(n.at, { seconds: true, zone: true });
    box.hidden = false;
  }
}
