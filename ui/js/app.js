// Entry point: connect, show the right screen, route status to the views, tabs.

import { connect, RefusedError } from './transport.js';
import { Overview } from './overview.js';
import { SessionsView } from './sessions.js';
import { LogsView } from './logs.js';
import { SettingsView } from './settings.js';
import { UsersView } from './users.js';
import { ConnectDialog } from './connect.js';
import { LoadChart } from './chart.js';
import { NoticeBanner } from './notices.js';
import { toast } from './toast.js';

const $ = (id) => document.getElementById(id);

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role=tab]')];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    tab.focus();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab));
    tab.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight') select(tabs[(i + 1) % tabs.length]);
      if (e.key === 'ArrowLeft') select(tabs[(i - 1 + tabs.length) % tabs.length]);
    });
  });
}

/// The first-start choice: the built-in server (running already) or an existing YAM folder.
function setupWelcome(transport, connectDialog) {
  $('welcome-builtin').addEventListener('click', async () => {
    try {
      await transport.saveSettings({ setup_done: true });
      $('welcome').hidden = true;
      $('btn-restart').focus();
      toast('YAM Tray runs the built-in server. You can connect your YAM folder later in Settings.');
    } catch (e) { toast(e.message, { error: true }); }
  });
  $('welcome-connect').addEventListener('click', () => connectDialog.open());
}

async function main() {
  let transport;
  try {
    transport = await connect();
  } catch (e) {
    $('refused').hidden = false;
    $('refused-reason').textContent = e instanceof RefusedError ? e.message : `The supervisor could not be reached: ${e.message}`;
    document.body.dataset.ready = 'refused';
    return;
  }
  $('app').hidden = false;
  setupTabs();
  const overview = new Overview(transport);
  const sessions = new SessionsView(transport);
  const logs = new LogsView(transport);
  const settings = new SettingsView(transport);
  const users = new UsersView(transport);
  const connectDialog = new ConnectDialog(transport);
  const chart = new LoadChart(transport);
  const notices = new NoticeBanner();
  setupWelcome(transport, connectDialog);
  $('settings-check-folder').addEventListener('click', () => connectDialog.open(document.querySelector('#settings-form input[name=yam_dir]').value.trim()));
  const apply = (status) => {
    $('top-phase').textContent = status.phase_label;
    document.querySelector('.brand').dataset.tone = status.tone;
    document.title = `YAM — ${status.phase_label}`;
    overview.render(status);
    $('welcome').hidden = Boolean(status.settings.setup_done);
    sessions.onStatus(status);
    users.onStatus(status);
    logs.onStatus(status);
    settings.onStatus(status);
    chart.onStatus(status);
    notices.onStatus(status);
  };
  apply(await transport.status());
  transport.onStatus(apply, (connected) => {
    $('lost').hidden = connected;
    if (!connected) $('top-phase').textContent = 'Not connected';
  });
  // Actions from the tray menu: sent as events to an open window, or handed over by
  // ui_ready when the menu had to open the window first.
  const carryOut = (action) => {
    if (action === 'force-logout') {
      $('tab-overview').click();
      $('btn-force-logout').click();
    }
  };
  transport.onUiAction(carryOut);
  document.body.dataset.ready = 'true';
  transport.uiReady().then((pending) => pending && carryOut(pending)).catch(() => {});
}

main();
