// The one place that knows how the UI reaches the supervisor: Tauri IPC inside the desktop
// app, HTTP + Server-Sent Events in a browser (`yamctl up`). Both give the same JSON shapes.

export class RefusedError extends Error {}

export class ActionError extends Error {
  constructor(message, errors = []) {
    super(message);
    this.errors = errors; // [{field, message}] for settings
  }
}

export async function connect() {
  if (window.__TAURI__ && window.__TAURI__.core) return tauriTransport(window.__TAURI__);
  return httpTransport();
}

function errorFrom(body, fallback) {
  if (body && Array.isArray(body.errors) && body.errors.length) {
    const text = body.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    return new ActionError(text || fallback, body.errors);
  }
  const message = body && body.error && body.error.message;
  return new ActionError(message || (body && body.message) || fallback);
}

// The link's token, for this tab only: session storage belongs to this origin (this port),
// where a cookie would reach every program listening on 127.0.0.1.
const TOKEN_KEY = 'yamctl-token';

async function httpTransport() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    const token = decodeURIComponent(match[1]);
    history.replaceState(null, '', location.pathname + location.search);
    const r = await fetch('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    if (!r.ok) throw new RefusedError('The token in this link is wrong or out of date: open the newest link printed in the terminal.');
    sessionStorage.setItem(TOKEN_KEY, token);
  }
  const probe = await fetch('/api/status');
  if (probe.status === 401 || probe.status === 403) {
    throw new RefusedError('Open the dashboard with the link printed in the terminal that started it (it ends with #token=…).');
  }

  // owner: 'no' (the cookie is enough), 'if-known' (send the token when this tab has it),
  // 'ask' (also ask for it when the supervisor says the cookie is not enough).
  async function call(method, path, body, owner = 'no') {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (owner !== 'no' && token) init.headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ActionError('The supervisor did not answer. Is `yamctl up` still running?');
    }
    let json = null;
    try { json = await response.json(); } catch { /* not JSON */ }
    if (response.status === 403 && owner === 'ask' && !token) {
      const entered = window.prompt(`${(json && json.error && json.error.message) || 'This change needs the control token.'}\n\nControl token:`);
      if (entered && entered.trim()) {
        sessionStorage.setItem(TOKEN_KEY, entered.trim());
        return call(method, path, body, owner);
      }
    }
    if (!response.ok) throw errorFrom(json, `The request failed (HTTP ${response.status}).`);
    return json;
  }

  return {
    kind: 'http',
    status: () => call('GET', '/api/status'),
    sessions: () => call('GET', '/api/sessions'),
    history: (span) => call('GET', `/api/history?span=${encodeURIComponent(span)}`),
    users: () => call('GET', '/api/users'),
    checkYamFolder: async (path) => (await call('POST', '/api/yam-folder/check', { path }, 'ask')).check,
    // A browser cannot open the server's folder picker: the folder is typed.
    pickFolder: null,
    addUser: async (user) => (await call('POST', '/api/users', user, 'ask')).result,
    updateUser: async (name, patch) => (await call('PATCH', `/api/users/${encodeURIComponent(name)}`, patch, 'ask')).result,
    removeUser: async (name) => (await call('DELETE', `/api/users/${encodeURIComponent(name)}`, undefined, 'ask')).result,
    start: (clear = false) => call('POST', '/api/start', { clear }),
    stop: () => call('POST', '/api/stop', {}),
    restart: (clear = false) => call('POST', '/api/restart', { clear }),
    forceLogout: () => call('POST', '/api/force-logout', {}),
    revoke: (key) => call('DELETE', `/api/sessions/${encodeURIComponent(key)}`),
    saveSettings: (changes) => call('POST', '/api/settings', changes, 'ask'),
    setMultipleSessions: (on) => call('POST', '/api/multiple-sessions', { on }),
    logs: (since) => call('GET', `/api/logs?since=${since}`),
    firstRunPassword: () => call('GET', '/api/first-run-password', undefined, 'if-known'),
    dismissFirstRunPassword: () => call('POST', '/api/first-run-password/seen', {}),
    // `connected(false)` when the supervisor stops answering for 3 s (yamctl stopped, the
    // machine asleep), `connected(true)` when its events flow again.
    onStatus(callback, connected = () => {}) {
      const events = new EventSource('/api/events');
      let timer = null;
      const up = () => { clearTimeout(timer); timer = null; connected(true); };
      events.addEventListener('open', up);
      events.addEventListener('status', (e) => { up(); callback(JSON.parse(e.data)); });
      events.addEventListener('error', () => {
        if (timer === null && events.readyState !== EventSource.OPEN) {
          timer = setTimeout(() => { if (events.readyState !== EventSource.OPEN) connected(false); }, 3000);
        }
      });
      return () => events.close();
    },
    onUiAction: () => () => {},
    openUrl: (url) => window.open(url, '_blank', 'noopener'),
    openLogFile: null,
    // A browser downloads the file instead.
    saveLog: null,
    openSessionsFolder: null,
    uiReady: () => Promise.resolve(),
  };
}

function tauriTransport(tauri) {
  async function invoke(command, args) {
    try {
      return await tauri.core.invoke(command, args);
    } catch (e) {
      throw errorFrom(typeof e === 'object' ? e : { message: String(e) }, String(e));
    }
  }
  return {
    kind: 'tauri',
    status: () => invoke('status'),
    sessions: () => invoke('sessions'),
    history: (span) => invoke('history', { span }),
    users: () => invoke('users'),
    checkYamFolder: (path) => invoke('check_yam_folder', { path }),
    pickFolder: () => invoke('pick_folder'),
    addUser: (user) => invoke('add_user', { user }),
    updateUser: (name, patch) => invoke('update_user', { name, patch }),
    removeUser: (name) => invoke('remove_user', { name }),
    start: (clear = false) => invoke('start', { clear }),
    stop: () => invoke('stop'),
    restart: (clear = false) => invoke('restart', { clear }),
    forceLogout: () => invoke('force_logout'),
    revoke: (key) => invoke('revoke_session', { key }),
    saveSettings: (changes) => invoke('save_settings', { changes }),
    setMultipleSessions: (on) => invoke('set_multiple_sessions', { on }),
    logs: (since) => invoke('logs', { since }),
    firstRunPassword: () => invoke('first_run_password'),
    dismissFirstRunPassword: () => invoke('dismiss_first_run_password'),
    onStatus(callback) {
      const unlisten = tauri.event.listen('status', (e) => callback(e.payload));
      return () => unlisten.then((f) => f());
    },
    // Actions the tray menu asks the window to carry out (with the window's confirmation).
    onUiAction(callback) {
      const unlisten = tauri.event.listen('ui-action', (e) => callback(e.payload));
      return () => unlisten.then((f) => f());
    },
    openUrl: (url) => invoke('open_url', { url }),
    openLogFile: () => invoke('open_logs'),
    saveLog: (suggestedName, text) => invoke('save_log', { suggestedName, text }),
    openSessionsFolder: () => invoke('open_sessions_folder'),
    uiReady: () => invoke('ui_ready'),
  };
}
