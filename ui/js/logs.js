// The log tab: a live tail that can be paused, copied, and opened as a file.

import { toast, toastError } from './toast.js';

const $ = (id) => document.getElementById(id);
const KEEP = 2000;

export class LogsView {
  constructor(transport) {
    this.t = transport;
    this.lines = [];
    this.lastSeq = 0;
    this.paused = false;
    this.fetching = false;
    this.file = null;
    $('logs-pause').addEventListener('click', () => {
      this.paused = !this.paused;
      $('logs-pause').textContent = this.paused ? 'Resume' : 'Pause';
      $('logs-pause').setAttribute('aria-pressed', String(this.paused));
      if (!this.paused) this.draw();
    });
    $('logs-copy').addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(this.lines.map(format).join('\n'));
        toast(`Copied ${this.lines.length} log lines.`);
      } catch {
        toast('Copying is not allowed here: select the text and copy it.', { error: true });
      }
    });
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

  draw() {
    const pre = $('logs');
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
    pre.replaceChildren(...this.lines.map((l) => {
      const span = document.createElement('span');
      span.className = l.stream === 'stderr' ? 'err' : l.stream === 'supervisor' ? 'yam' : '';
      span.textContent = format(l) + '\n';
      return span;
    }));
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }
}

function format(l) {
  return `${l.at.slice(11, 19)} ${l.text}`;
}
