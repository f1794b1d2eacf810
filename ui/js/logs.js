// The log tab: a live tail coloured by level (read from each line by the supervisor, not from
// the stream it came on), filtered by level and text, paused, copied, saved, or opened.

import { toast, toastError } from './toast.js';
import { clock } from './format.js';

const $ = (id) => document.getElementById(id);
const KEEP = 2000;
const RANK = { debug: 0, info: 1, warn: 2, error: 3 };

export class LogsView {
  constructor(transport) {
    this.t = transport;
    this.lines = [];
    this.lastSeq = 0;
    this.paused = false;
    this.fetching = false;
    this.file = null;
    this.minLevel = 'debug';
    this.search = '';
    // Following the tail: the view stays at the newest line until the user scrolls up.
    this.following = true;
    const pre = $('logs');
    pre.addEventListener('scroll', () => {
      if (this.drawing) return;
      this.following = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      $('logs-newest').hidden = this.following;
    });
    $('logs-newest').addEventListener('click', () => this.jumpToNewest());
    window.addEventListener('resize', () => this.fit());
    $('tab-logs').addEventListener('click', () => requestAnimationFrame(() => { this.fit(); if (this.following) this.toNewest(); }));
    $('logs-pause').addEventListener('click', () => {
      this.paused = !this.paused;
      $('logs-pause').textContent = this.paused ? 'Resume' : 'Pause';
      $('logs-pause').setAttribute('aria-pressed', String(this.paused));
      if (!this.paused) this.draw();
    });
    $('logs-level').addEventListener('change', (e) => { this.minLevel = e.target.value; this.draw(); });
    $('logs-search').addEventListener('input', (e) => { this.search = e.target.value.trim().toLowerCase(); this.draw(); });
    $('logs-copy').addEventListener('click', async () => {
      const shown = this.shown();
      try {
        await navigator.clipboard.writeText(shown.map(format).join('\n'));
        toast(`Copied ${shown.length} log lines.`);
      } catch {
        toast('Copying is not allowed here: select the text and copy it.', { error: true });
      }
    });
    $('logs-save').addEventListener('click', () => this.save());
    $('logs-open').addEventListener('click', async () => {
      if (this.t.openLogFile) {
        try { await this.t.openLogFile(); } catch (e) { toastError(e); }
        return;
      }
      try {
        await navigator.clipboard.writeText(this.file || '');
        toast(`The log file is ${this.file}; its path was copied.`);
      } catch {
        toast(`The log file is ${this.file}.`);
      }
    });
  }

  onStatus(s) {
    this.file = s.log_file;
    $('logs-file').textContent = s.log_file || '';
    if (!this.t.openLogFile) $('logs-open').textContent = 'Copy log file path';
    const newest = s.log_tail.length ? s.log_tail[s.log_tail.length - 1].seq : 0;
    if (newest > this.lastSeq) this.fetch();
  }

  async fetch() {
    if (this.fetching) return;
    this.fetching = true;
    try {
      const r = await this.t.logs(this.lastSeq);
      if (r.lines.length) {
        this.lines.push(...r.lines);
        if (this.lines.length > KEEP) this.lines.splice(0, this.lines.length - KEEP);
        this.lastSeq = r.lines[r.lines.length - 1].seq;
        if (!this.paused) this.draw();
      }
    } catch { /* the next status brings another chance */ }
    this.fetching = false;
  }

  // The lines the filters let through.
  shown() {
    const min = RANK[this.minLevel];
    return this.lines.filter((l) => RANK[l.level] >= min && (!this.search || l.text.toLowerCase().includes(this.search)));
  }

  // The lines shown, as a file: the browser downloads it, the tray asks where to save it.
  async save() {
    const shown = this.shown();
    const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');
    const name = `yam-server-${stamp}.log`;
    const text = shown.map((l) => `${l.at} ${l.level.toUpperCase().padEnd(5)} [${l.stream}] ${l.text}`).join('\n') + '\n';
    if (this.t.saveLog) {
      try {
        const path = await this.t.saveLog(name, text);
        if (path) toast(`Saved ${shown.length} lines to ${path}.`);
      } catch (e) { toastError(e); }
      return;
    }
    const link = Object.assign(document.createElement('a'), {
      href: URL.createObjectURL(new Blob([text], { type: 'text/plain' })),
      download: name,
    });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    toast(`Saved ${shown.length} lines as ${name}.`);
  }

  // The pane reaches down to the bottom of the window (never shorter than 10 rem).
  fit() {
    const wrap = document.querySelector('.logs-wrap');
    if (!wrap.offsetParent) return;
    const top = wrap.getBoundingClientRect().top + window.scrollY;
    wrap.style.height = `${Math.max(160, Math.floor(window.innerHeight - top - 12))}px`;
  }

  // Scrolls the log to `top` without taking it for the user's own scrolling.
  scrollTo(top) {
    this.drawing = true;
    $('logs').scrollTop = top;
    this.drawing = false;
  }

  toNewest() {
    this.scrollTo($('logs').scrollHeight);
  }

  jumpToNewest() {
    this.following = true;
    $('logs-newest').hidden = true;
    if (this.paused) $('logs-pause').click();
    this.toNewest();
    $('logs').focus();
  }

  draw() {
    const pre = $('logs');
    const top = pre.scrollTop;
    const shown = this.shown();
    pre.replaceChildren(...shown.map((l) => {
      const span = document.createElement('span');
      span.className = `lvl-${l.level}${l.stream === 'supervisor' ? ' yam' : ''}`;
      span.textContent = format(l) + '\n';
      return span;
    }));
    const hidden = this.lines.length - shown.length;
    $('logs-count').textContent = hidden ? `${shown.length} of ${this.lines.length} lines` : `${this.lines.length} lines`;
    if (this.following) this.toNewest();
    else this.scrollTo(top);
  }
}

// Our time first; a server line's own timestamp after it would only repeat it.
const OWN_TIMESTAMP = /^\d{4}-\d\d-\d\dT[\d:.]+Z?\s+/;

function format(l) {
  return `${clock(l.at, { seconds: true })} ${l.text.replace(OWN_TIMESTAMP, '')}`;
}
