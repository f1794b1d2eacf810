// The status card, live counts, first-run password and the server controls.

import { duration, bytes, clock, plural } from './format.js';
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
    // Stopping takes YAM away from everyone: it asks first, as the logouts do.
    $('btn-stop').addEventListener('click', async () => {
      const ok = await confirmAction({
        title: 'Stop YAM?',
        text: 'Nobody can use YAM until you start it again: whoever opens it sees "YAM is unavailable".',
        ok: 'Stop YAM',
      });
      if (ok) this.run($('btn-stop'), () => this.t.stop(), (s) => s.phase.phase === 'stopped');
    });
    $('btn-restart').addEventListener('click', () => this.run($('btn-restart'), () => this.t.restart(false), restarted(this)));
    $('btn-restart-clear').addEventListener('click', async () => {
      const c = this.status ? this.status.sessions : { live: 0, users: 0 };
      const ok = await confirmAction({
        title: 'Restart and log everyone out?',
        text: `The server restarts and ${everyone(c, this.status)} Everyone has to log in again.`,
        ok: 'Restart and log out',
      });
      if (ok) this.run($('btn-restart-clear'), () => this.t.restart(true), restarted(this));
    });
    $('btn-force-logout').addEventListener('click', async () => {
      const c = this.status ? this.status.sessions : { live: 0, users: 0 };
      const ok = await confirmAction({
        title: 'Log everyone out?',
        text: `${capital(everyone(c, this.status))} Everyone has to log in again.`,
        ok: atTheDoor(this.status) ? 'Log everyone out' : c.live === 1 ? 'End 1 session' : `End ${c.live} sessions`,
      });
      if (ok) this.run($('btn-force-logout'), () => this.t.forceLogout(), null);
    });
    $('multiple-switch').addEventListener('change', async (e) => {
      const sw = e.target;
      const on = sw.checked;
      // A YAM that ends sessions itself when single-session mode starts: say so first.
      const ending = !on && this.status ? endsInSingleMode(this.status) : null;
      if (ending) {
        // The switch shows what is in force until the answer.
        sw.checked = true;
        const c = this.status.sessions;
        const why = ending.seen ? 'It did so the last time it started in that mode.' : 'YAM as shipped marks everyone offline when it starts in that mode.';
        const ok = await confirmAction({
          title: 'Turn multiple sessions off?',
          text: c.live
            ? `YAM restarts in single-session mode and logs everyone out: ${everyone(c)} ${why}`
            : `YAM restarts in single-session mode and logs everyone out (nobody is logged in now). ${why}`,
          ok: c.live ? `Turn off and end ${plural(c.live, 'session')}` : 'Turn off',
        });
        sw.focus();
        if (!ok) return;
        sw.checked = false;
      }
      this.run(sw, () => this.t.setMultipleSessions(on), restarted(this));
    });
    $('now-sessions').addEventListener('click', () => $('tab-sessions').click());
    // A busy or unavailable control keeps its focus but not its clicks.
    document.querySelector('.now').addEventListener('click', (e) => {
      const control = e.target.closest('button, input');
      if (control && control.getAttribute('aria-disabled') === 'true') {
        e.preventDefault();
        e.stopImmediatePropagation();
      }
    }, true);
    $('first-run-copy').addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText($('first-run-password').textContent);
        toast('Password copied.');
      } catch {
        toast('Copying is not allowed here: select the password and copy it.', { error: true });
      }
    });
    $('first-run-done').addEventListener('click', async () => {
      const file = this.status && this.status.first_run_password_file;
      try {
        await this.t.dismissFirstRunPassword();
        $('first-run').hidden = true;
        toast(file
          ? `The window will not show it again; it stays in ${file} until the admin password is changed.`
          : 'The window will not show it again.');
        $('tab-overview').focus();
      } catch (e) { toastError(e); }
    });
    for (const link of [$('url'), $('lan-url')]) {
      link.addEventListener('click', (e) => {
        if (this.t.kind === 'tauri') { e.preventDefault(); this.t.openUrl(link.href).catch(toastError); }
      });
    }
  }

  // Runs an action: the button shows progress until `until(status)` holds (or at once).
  // The pressed button keeps the keyboard focus: it is marked busy (aria-disabled), not
  // disabled, because a disabled button drops the focus to the page.
  async run(button, action, until) {
    const restart = Boolean(until && until.restart);
    busy(button, true);
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
    busy(button, false);
    this.render(this.status);
  }

  render(s) {
    if (!s) return;
    this.status = s;
    const phase = s.phase.phase;
    if (this.pending && (this.pending.until(s) || ['crash_loop', 'failed', 'port_busy'].includes(phase) || Date.now() - this.pending.started > 90000)) {
      busy(this.pending.button, false);
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
    const host = s.settings && s.settings.host;
    $('local-only').hidden = !['127.0.0.1', 'localhost', '::1'].includes(host);
    document.querySelector('.details-card').dataset.tone = s.tone;
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
    $('profile').textContent = PROFILE_NAMES[s.profile] || s.profile;

    const crashed = s.last_exit && ['crashed', 'crash_loop', 'failed', 'unhealthy'].includes(phase);
    $('crash').hidden = !crashed;
    if (crashed) {
      $('crash-title').textContent = `Last exit: ${s.last_exit.description}`;
      $('crash-lines').textContent = s.log_tail.slice(-12).map((l) => l.text).join('\n');
    }

    const c = s.sessions;
    $('count-live').textContent = c.live;
    $('count-live-word').textContent = c.live === 1 ? 'session' : 'sessions';
    $('count-users').textContent = c.users;
    $('count-users-word').textContent = c.users === 1 ? 'user' : 'users';
    $('now-sessions').title = 'Show the sessions';
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
      if (b.classList.contains('busy')) return;
      unavailable(b, !enabled || busy);
      b.title = enabled ? '' : why;
    };
    set('btn-start', STARTABLE.includes(phase), 'The server is already running.');
    set('btn-stop', WITH_PROCESS.includes(phase) && phase !== 'stopping', 'The server is not running.');
    // Start shows only while there is nothing running, Stop only while something is; the
    // focus moves from a button that goes away to Restart (never to the page).
    const show = (id, on) => {
      const b = $(id);
      if (!on && document.activeElement === b && !b.classList.contains('busy')) $('btn-restart').focus();
      if (!b.classList.contains('busy')) b.hidden = !on;
    };
    show('btn-start', STARTABLE.includes(phase));
    show('btn-stop', !STARTABLE.includes(phase));
    set('btn-restart', WITH_PROCESS.includes(phase) || STARTABLE.includes(phase), '');
    set('btn-restart-clear', caps.force_logout !== false, 'This profile cannot log everyone out.');
    set('btn-force-logout', Boolean(caps.force_logout), 'This profile has no force logout: ' + (caps.notes || []).join(' '));
    const sw = $('multiple-switch');
    if (!sw.classList.contains('busy')) {
      sw.checked = s.mode.multiple_sessions;
      unavailable(sw, busy || caps.toggle_multiple_sessions === false);
    }
    $('multiple-explain').textContent = s.mode.multiple_sessions
      ? 'on: each user may be logged in on several devices; sessions last 4\u00a0h and renew with activity.'
      : 'off: one session per user (a new login ends the other); sessions last 2\u00a0h.';
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
    if (show) {
      $('first-run-note').textContent = `Shown here at every start until you click “I saved it”. The password is kept in ${s.first_run_password_file} until the admin password is changed.`;
    }
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

const PROFILE_NAMES = { embedded: 'Built-in server (yam-server)', python: 'My YAM folder (Python)', custom: 'Custom command' };

// Sessions counted at the door: a browser idle since the supervisor started is not counted
// yet, and is logged out all the same.
function atTheDoor(s) {
  return Boolean(s && String(s.sessions_source || '').startsWith('door'));
}

// "all 3 sessions of 2 users." / "the 1 session of 1 user." / "no session: nobody is logged in."
function everyone(c, s) {
  if (atTheDoor(s)) {
    const seen = c.live ? `the ${plural(c.live, 'browser')} of ${plural(c.users, 'user')} seen signed in` : 'no browser seen signed in yet';
    return `${seen}, and any browser not seen since YAM Tray started, are logged out.`;
  }
  if (!c.live) return 'no session ends: nobody is logged in.';
  if (c.live === 1) return `the 1 session of ${plural(c.users, 'user')} ends.`;
  return `all ${plural(c.live, 'session')} of ${plural(c.users, 'user')} end.`;
}

// Whether turning single-session mode on ends the open sessions: the Python YAM does (it marks
// everyone offline at start; `seen` when the door saw it happen), the built-in server does not.
function endsInSingleMode(s) {
  const m = s.mode_switch;
  const seen = Boolean(m && !m.to_multiple && m.ended > 0);
  return s.profile === 'python' || seen ? { seen } : null;
}

const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);

// A control that cannot be used now. The focused one is not disabled under the user's hands
// (that would drop the focus to the page): it is marked unavailable instead.
function unavailable(control, off) {
  if (off && document.activeElement === control) control.setAttribute('aria-disabled', 'true');
  else { control.disabled = off; control.removeAttribute('aria-disabled'); }
}

// A button working on its action: shown busy, unavailable to clicks, focus kept.
function busy(button, on) {
  button.classList.toggle('busy', on);
  if (on) {
    button.setAttribute('aria-disabled', 'true');
    button.setAttribute('aria-busy', 'true');
  } else {
    button.removeAttribute('aria-disabled');
    button.removeAttribute('aria-busy');
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
  const at = clock(m.at_ms, { zone: true });
  const mode = m.to_multiple ? 'multiple-sessions' : 'single-session';
  if (!m.open) return `Changing it restarts YAM. No session was open when ${mode} mode started at ${at}.`;
  const open = m.open === 1 ? 'the 1 session open' : `the ${m.open} sessions open`;
  // YAM ends a session when its browser comes back: the count grows as they do.
  return `Changing it restarts YAM. Of ${open} when ${mode} mode started at ${at}, YAM has ended ${m.ended} so far (seen at the door as each browser comes back).`;
}

// "Last restart took 0.4 s; the old server answered meanwhile — nobody was refused."
export function switchSentence(s) {
  const r = s.last_switch;
  const took = `${(r.took_ms / 1000).toFixed(1)} s`;
  const what = r.after_crash ? `Back ${took} after the crash` : `Last restart took ${took}`;
  const meanwhile = r.held ? 'requests waited meanwhile' : 'the old server answered meanwhile';
  // A change between the built-in server and a proxied YAM closes the port for a moment.
  const refused = s.port_reopened_in_last_switch
    ? ' — the port closed for a moment while the kind of server changed, so a few connections may have been refused'
    : s.door ? ' — nobody was refused' : '';
  return `${what}; ${meanwhile}${refused}.`;
}
