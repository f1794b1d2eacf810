// "Connect my YAM": pick or type a YAM folder, see what the tray will be able to do with it
// (app/server.py, the Python it would use, Flask, how sessions are kept) before anything is
// saved, then switch to it. Used by the first-start card and by Settings.

import { el } from './format.js';
import { toast, toastError } from './toast.js';

const $ = (id) => document.getElementById(id);

export class ConnectDialog {
  constructor(transport) {
    this.t = transport;
    this.checked = null;
    $('connect-browse').hidden = !transport.pickFolder;
    $('connect-browse').addEventListener('click', () => this.browse());
    $('connect-check').addEventListener('click', () => this.check());
    $('connect-folder').addEventListener('input', () => { this.checked = null; this.showUse(); });
    $('connect-folder').addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); this.check(); }
    });
  }

  showUse() {
    $('connect-use').disabled = !(this.checked && this.checked.usable);
  }

  async browse() {
    try {
      const folder = await this.t.pickFolder();
      if (folder) {
        $('connect-folder').value = folder;
        await this.check();
      }
    } catch (e) { toastError(e); }
  }

  async check() {
    const folder = $('connect-folder').value.trim();
    const list = $('connect-findings');
    if (!folder) {
      list.replaceChildren(el('li', { class: 'bad' }, 'Enter the YAM folder first.'));
      return;
    }
    const button = $('connect-check');
    button.disabled = true;
    button.classList.add('busy');
    list.replaceChildren(el('li', {}, 'Checking…'));
    try {
      this.checked = await this.t.checkYamFolder(folder);
      // Signed cookies are counted at the door: a finding, not a problem.
      const bad = (text) => !/signed cookies/.test(text) && /not |No Python|does not|no app|cannot/.test(text);
      list.replaceChildren(...this.checked.findings.map((f) => el('li', { class: bad(f) ? 'bad' : '' }, f)));
    } catch (e) {
      this.checked = null;
      list.replaceChildren(el('li', { class: 'bad' }, e.message));
    }
    button.disabled = false;
    button.classList.remove('busy');
    this.showUse();
  }

  /// Opens the dialog (prefilled with `folder`); saves the folder as the profile when used.
  async open(folder = '') {
    $('connect-folder').value = folder;
    $('connect-findings').replaceChildren();
    this.checked = null;
    this.showUse();
    const dialog = $('connect-dialog');
    const closed = new Promise((resolve) => dialog.addEventListener('close', resolve, { once: true }));
    dialog.returnValue = 'cancel';
    dialog.showModal();
    if (folder) this.check();
    await closed;
    if (dialog.returnValue !== 'ok' || !this.checked || !this.checked.usable) return false;
    try {
      const r = await this.t.saveSettings({ profile: 'python', yam_dir: this.checked.folder, setup_done: true });
      toast(r.message || `YAM Tray now runs your YAM in ${this.checked.folder}.`);
      return true;
    } catch (e) {
      toastError(e);
      return false;
    }
  }
}
