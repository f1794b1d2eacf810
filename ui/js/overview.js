// The status card, live counts, first-run password and the server controls.

import { duration, bytes } from './format.js';
import { toast, toastError } from './toast.js';
import { confirmAction } from './confirm.js';

const $ = (id) => document.getElementById(id);
const WITH_PROCESS = ['starting', 'running', 'unhealthy', 'restarting', 'stopping'];
const STARTABLE = ['stopped', 'crashed', 'crash_loop', 'port_busy', 'failed'];

export class Overview {
  constructor(transport) {
    this.t = transport;
    this.status = null;
    this.pending = null; // {button, until: (status) => bool}
    this.passwordShown = false;
    this.bind();
  }

  bind() {
    $('btn-start').addEventListener('click', () => this.run($('btn-start'), () => this.t.start(false), (s) => s.phase.phase === 'running'));
    $('btn-stop').addEventListener('click', () => this.run($('btn-stop'), () => this.t.stop(), (s) => s.phase.phase === 'stopped'));
    $('btn-restart').addEventListener('click', () => this.run($('btn-restart'), () => this.t.restart(false), restarted(this)));
    $('btn-restart-clear').addEventListener('click', async () => {
      const n = this.status ? this.status.sessions.live : 0;
      const ok = await confirmAction({
        title: 'Restart and log everyone out?',
        text: `The server restarts and all ${n} session(s) end. Everyone has to log in again.`,
        ok: 'Restart and log out',
      });
      if (ok) this.run($('btn-restart-clear'), () => this.t.restart(true), restarted(this));
    });
    $('btn-force-logout').addEventListener('click', async () => {
      const c = this.status ? this.status.sessions : { live: 0, users: 0 };
      const ok = await confirmAction({
        title: 'Log everyone out?',
        text: `This ends all ${c.live} session(s) of ${c.users} user(s). Everyone has to log in again.`,
        ok: `End ${c.live} session(s)`,
      });
      if (ok) this.run($('btn-force-logout'), () => this.t.forceLogout(), null);
    });
    $('multiple-switch').addEventListener('change', (e) => {
      const on = e.target.checked;
      this.run(e.target, () => this.t.setMultipleSessions(on), restarted(this));
    });
    $('first-run-copy').addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText($('first-run-password').textContent);
        toast('Password copied.');
      } catch {
        toast('Copying is not allowed here: select the password and copy it.', { error: true });
      }
    });
    $('first-run-done').addEventListener('click', async () => {
      try {
        await this.t.dismissFirstRunPassword();
        $('first-run').hidden = true;
        toast('The password will not be shown again; it stays in the data folder.');
      } catch (e) { toastError(e); }
    });
    for (const link of [$('url'), $('lan-url')]) {
      link.addEventListener('click', (e) => {
        if (this.t.kind === 'tauri') { e.preventDefault(); this.t.openUrl(link.href).catch(toastError); }
      });
    }
  }

  // Runs an action: the button shows progress until `until(status)` holds (or at once).
  async run(button, action, until) {
    const restart = Boolean(until && until.restart);
    button.disabled = true;
    button.classList.add('busy');
    try {
      const result = await action();
      toast(result && result.message ? result.message : 'Done.');
      if (until) {
        this.pending = { button, until, restart, started: Date.now() };
        this.render(this.status);
        return;
      }
    } catch (e) {
      toastError(e);
      if (button.type === 'checkbox' && this.status) button.checked = this.status.mode.multiple_sessions;
    }
    button.classList.remove('busy');
    this.render(this.status);
  }

  render(s) {
    if (!s) return;
    this.status = s;
    const phase = s.phase.phase;
    if (this.pending && (this.pending.until(s) || ['crash_loop', 'failed', 'port_busy'].includes(phase) || Date.now() - this.pending.started > 90000)) {
      this.pending.button.classList.remove('busy');
      const restart = this.pending.restart && s.last_switch;
      if (phase === 'running' && restart) toast(switchSentence(s));
      else if (phase === 'running') toast(`The server is running at ${s.url}.`);
      else if (['crash_loop', 'failed', 'port_busy'].includes(phase)) toast(s.phase_label, { error: true });
      this.pending = null;
    }
    document.querySelector('.status-card').dataset.tone = s.tone;
    $('phase-label').textContent = s.phase_label;
    $('url').textContent = s.url;
    $('url').href = s.url;
    $('lan-wrap').hidden = !s.lan_url;
    if (s.lan_url) { $('lan-url').textContent = s.lan_url; $('lan-url').href = s.lan_url; }
    $('process').textContent = s.pid ? `pid ${s.pid}${s.healthy === false ? ' · not answering' : ''}` : '—';
    $('uptime').textContent = s.uptime_seconds != null ? duration(s.uptime_seconds) : '—';
    $('restarts').textContent = s.last_switch
      ? `${s.restarts} · the last took ${(s.last_switch.took_ms / 1000).toFixed(1)} s${s.last_switch.held ? ', requests waited' : ''}`
      : String(s.restarts);
    $('restarts').title = s.last_switch ? switchSentence(s) : '';
    $('usage').textContent = s.usage ? `${s.usage.cpu_percent.toFixed(1)} % · ${bytes(s.usage.rss_bytes)}` : '—';
    $('mode').textContent = s.mode.multiple_sessions
      ? `Multiple sessions · ${s.mode.lifetime_hours} h, renewed by activity`
      : `Single session · ${s.mode.lifetime_hours} h`;
    $('profile').textContent = { embedded: 'Embedded yam-server', python: 'Python YAM', custom: 'Custom command' }[s.profile] || s.profile;

    const crashed = s.last_exit && ['crashed', 'crash_loop', 'failed', 'unhealthy'].includes(phase);
    $('crash').hidden = !crashed;
    if (crashed) {
      $('crash-title').textContent = `Last exit: ${s.last_exit.description}`;
      $('crash-lines').textContent = s.log_tail.slice(-12).map((l) => l.text).join('\n');
    }

    const c = s.sessions;
    $('count-live').textContent = c.live;
    $('count-users').textContent = c.users;
    $('count-soon').textContent = c.expiring_soon;
    $('count-damaged').textContent = c.damaged;
    const caps = s.capabilities || {};
    $('counts-note').textContent = caps.live_counts === false
      ? 'This profile cannot count sessions.'
      : ({
        door: 'Seen at the door: one per signed-in browser, checked with YAM\'s secret.',
        door_unverified: 'Seen at the door, unverified: YAM\'s secret key is not known (Settings).',
        folder: s.profile === 'python' ? 'Counted from the YAM folder (Flask-Session files).' : '',
        redis: 'Counted in Redis.',
      }[s.sessions_source] || '');

    this.renderControls(s, phase, caps);
    this.renderWarnings(s);
    this.renderFirstRun(s);
  }

  renderControls(s, phase, caps) {
    const busy = Boolean(this.pending);
    const set = (id, enabled, why) => {
      const b = $(id);
      if (!b.classList.contains('busy')) b.disabled = !enabled || busy;
      b.title = enabled ? '' : why;
    };
    set('btn-start', STARTABLE.includes(phase), 'The server is already running.');
    set('btn-stop', WITH_PROCESS.includes(phase) && phase !== 'stopping', 'The server is not running.');
    set('btn-restart', WITH_PROCESS.includes(phase) || STARTABLE.includes(phase), '');
    set('btn-restart-clear', caps.force_logout !== false, 'This profile cannot log everyone out.');
    set('btn-force-logout', Boolean(caps.force_logout), 'This profile has no force logout: ' + (caps.notes || []).join(' '));
    const sw = $('multiple-switch');
    if (!sw.classList.contains('busy')) {
      sw.checked = s.mode.multiple_sessions;
      sw.disabled = busy || caps.toggle_multiple_sessions === false;
    }
    $('multiple-explain').textContent = s.mode.multiple_sessions
      ? 'on: each user may be logged in on several devices; sessions last 4 h and renew with activity.'
      : 'off: one session per user (a new login ends the other); sessions last 2 h.';
    // What a restart does to open sessions is the server's own doing: say whose.
    $('multiple-after').textContent = s.profile === 'embedded'
      ? 'Changing it restarts the server; open sessions stay.'
      : (s.mode_switch ? switchEffect(s.mode_switch) : 'Changing it restarts YAM; what happens to open sessions is up to YAM itself.');
    const notes = (caps.notes || []).join(' ');
    $('controls-note').textContent = notes;
  }

  renderWarnings(s) {
    const box = $('warnings');
    box.replaceChildren(...s.warnings.map((w) => Object.assign(document.createElement('p'), { textContent: w })));
  }

  async renderFirstRun(s) {
    const show = Boolean(s.first_run_password_file);
    $('first-run').hidden = !show;
    if (show && !this.passwordShown) {
      this.passwordShown = true;
      try {
        const r = await this.t.firstRunPassword();
        $('first-run-password').textContent = r.password;
      } catch {
        $('first-run-password').textContent = `(in ${s.first_run_password_file})`;
      }
    }
  }
}

function restarted(view) {
  const before = view.status ? view.status.pid : null;
  const until = (s) => s.phase.phase === 'running' && s.pid && s.pid !== before;
  until.restart = true;
  return until;
}

// "When single-session mode started at 10:42, YAM ended 2 of the 2 open sessions."
function switchEffect(m) {
  const at = new Date(m.at_ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const mode = m.to_multiple ? 'multiple-sessions' : 'single-session';
  const open = m.open === 1 ? 'the 1 open session' : `the ${m.open} open sessions`;
  return `Changing it restarts YAM. When ${mode} mode started at ${at}, YAM ended ${m.ended} of ${open} (seen at the door).`;
}

// "Last restart took 0.4 s; the old server answered meanwhile — nobody was refused."
export function switchSentence(s) {
  const r = s.last_switch;
  const took = `${(r.took_ms / 1000).toFixed(1)} s`;
  const what = r.after_crash ? `Back ${took} after the crash` : `Last restart took ${took}`;
  const meanwhile = r.held ? 'requests waited meanwhile' : 'the old server answered meanwhile';
  const refused = s.door ? ' — nobody was refused' : '';
  return `${what}; ${meanwhile}${refused}.`;
}
