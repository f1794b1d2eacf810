// The settings form: filled from the status until edited, errors shown next to each field,
// and a clear message about what restarts.

import { toast, toastError } from './toast.js';

const $ = (id) => document.getElementById(id);
const TEXT = ['yam_dir', 'python', 'yam_secret_key', 'custom_command', 'custom_health_url', 'sessions_dir', 'session_store', 'session_key_prefix', 'port'];
const CHECKS = ['multiple_sessions', 'conflict_resolution', 'clear_sessions_on_restart', 'start_on_launch', 'autostart', 'debug'];
const SELECTS = ['profile', 'host', 'restart_mode'];

export class SettingsView {
  constructor(transport) {
    this.t = transport;
    this.form = $('settings-form');
    this.dirty = false;
    this.ownConflict = false;
    this.form.addEventListener('input', (e) => {
      this.dirty = true;
      if (e.target.name === 'conflict_resolution') this.ownConflict = e.target.checked;
      this.showProfileFields();
      this.showConflictResolution();
    });
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.save(); });
  }

  field(name) {
    return this.form.elements.namedItem(name);
  }

  onStatus(s) {
    if (this.dirty) return;
    const v = s.settings;
    for (const name of TEXT) this.field(name).value = v[name] ?? '';
    for (const name of CHECKS) this.field(name).checked = Boolean(v[name]);
    this.ownConflict = Boolean(v.conflict_resolution);
    const host = this.field('host');
    if (![...host.options].some((o) => o.value === v.host)) host.append(new Option(`${v.host} (this address only)`, v.host));
    host.value = v.host;
    this.field('profile').value = v.profile;
    this.field('restart_mode').value = v.restart_mode || 'overlap';
    this.showProfileFields();
    this.showConflictResolution();
  }

  // Multiple sessions bring conflict resolution with them (as YAM's --allow-multiple-sessions
  // does): the box then shows it on, and says why, instead of a setting that is not in force.
  showConflictResolution() {
    const implied = this.field('multiple_sessions').checked;
    const box = this.field('conflict_resolution');
    box.checked = implied || this.ownConflict;
    box.disabled = implied;
    $('conflict-why').textContent = implied
      ? 'On: multiple sessions include it (as YAM’s --allow-multiple-sessions does).'
      : 'Rebuilds a session whose file or record is damaged instead of logging its user out.';
  }

  showProfileFields() {
    const profile = this.field('profile').value;
    for (const label of this.form.querySelectorAll('[data-profile]')) label.hidden = label.dataset.profile !== profile;
  }

  clearErrors() {
    for (const e of this.form.querySelectorAll('.field-error')) e.remove();
    for (const i of this.form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
  }

  showErrors(errors) {
    for (const { field, message } of errors) {
      const input = this.field(field);
      if (!input) continue;
      input.setAttribute('aria-invalid', 'true');
      const note = document.createElement('span');
      note.className = 'field-error';
      note.id = `error-${field}`;
      note.textContent = message;
      input.setAttribute('aria-describedby', note.id);
      input.closest('label').append(note);
    }
    const first = errors.map((e) => this.field(e.field)).find(Boolean);
    if (first) first.focus();
  }

  async save() {
    this.clearErrors();
    const changes = {};
    for (const name of [...TEXT, ...SELECTS]) changes[name] = this.field(name).value.trim();
    for (const name of CHECKS) changes[name] = this.field(name).checked;
    // The user's own choice, not the box that shows what multiple sessions imply.
    changes.conflict_resolution = this.ownConflict;
    const button = this.form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const r = await this.t.saveSettings(changes);
      this.dirty = false;
      toast(r.message || 'Saved.');
    } catch (e) {
      if (e.errors && e.errors.length) {
        this.showErrors(e.errors);
        toast('Some settings need attention (see the form).', { error: true });
      } else {
        toastError(e);
      }
    }
    button.disabled = false;
  }
}
