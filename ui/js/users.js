// The Users tab (built-in server): the list with roles, live sessions and last login; add a
// user (a generated password shown once, or one typed twice); per user: reset the password,
// make or unmake an administrator, disable or enable, remove. What ends sessions says so.

import { ago, el, plural, when } from './format.js';
import { confirmAction } from './confirm.js';
import { toast, toastError } from './toast.js';

const $ = (id) => document.getElementById(id);
const MIN_PASSWORD = 8;

export class UsersView {
  constructor(transport) {
    this.t = transport;
    this.users = [];
    this.status = null;
    this.lastKey = '';
    this.current = null;
    $('user-add').addEventListener('click', () => this.add());
    // Users change elsewhere too (another window, the command line): fetch again when the
    // tab is shown, and now and then while it is.
    $('tab-users').addEventListener('click', () => this.refresh());
    setInterval(() => { if (!$('panel-users').hidden) this.refresh(); }, 15000);
    const form = $('user-form');
    form.addEventListener('change', () => this.showTyped());
    $('manage-password').addEventListener('click', () => this.resetPassword(this.current));
    $('manage-admin').addEventListener('click', () => this.toggleAdmin(this.current));
    $('manage-disable').addEventListener('click', () => this.toggleDisabled(this.current));
    $('manage-remove').addEventListener('click', () => this.remove(this.current));
    $('secret-copy').addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText($('secret-value').textContent);
        toast('Copied.');
      } catch { toast('Select the password and copy it.', { error: true }); }
    });
  }

  supported() {
    return Boolean(this.status && this.status.profile === 'embedded');
  }

  onStatus(s) {
    this.status = s;
    const key = JSON.stringify([s.profile, s.phase.phase, s.pid, s.sessions.per_user]);
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.refresh();
    }
  }

  async refresh() {
    if (!this.supported()) {
      this.users = [];
      this.note = 'Users are managed here for the built-in server. A Python YAM keeps its own users.';
    } else if (this.status.phase.phase !== 'running') {
      this.users = [];
      this.note = 'Start the server to manage its users.';
    } else {
      try {
        this.users = (await this.t.users()).users || [];
        this.note = '';
      } catch (e) {
        this.users = [];
        this.note = e.message;
      }
    }
    this.render();
  }

  render() {
    const list = $('users-list');
    list.replaceChildren(...this.users.map((u) => this.item(u)));
    list.hidden = this.users.length === 0;
    $('users-empty').hidden = this.users.length > 0;
    $('users-empty').textContent = this.note || 'No users.';
    const admins = this.users.filter((u) => u.admin && !u.disabled).length;
    $('users-summary').textContent = this.users.length
      ? `${plural(this.users.length, 'user')}, ${plural(admins, 'active administrator')}`
      : '';
    $('user-add').disabled = !this.supported() || Boolean(this.note);
  }

  item(u) {
    const tags = [];
    if (u.admin) tags.push(el('span', { class: 'tag admin' }, 'admin'));
    if (u.disabled) tags.push(el('span', { class: 'tag disabled' }, 'disabled'));
    const sessions = plural(u.live_sessions, 'session');
    return el('li', { 'data-user': u.username },
      el('div', { class: 'who' }, el('strong', {}, u.username), ' ', ...tags,
        u.email ? el('span', { class: 'muted small' }, u.email) : ''),
      el('div', { class: 'meta' }, el('span', {}, sessions),
        el('span', { title: when(u.last_login) }, u.last_login ? `last login ${ago(u.last_login)}` : 'never logged in')),
      el('button', { type: 'button', 'aria-label': `Manage ${u.username}`, onclick: () => this.manage(u) }, 'Manage…'));
  }

  manage(u) {
    this.current = u;
    $('manage-title').textContent = `Manage ${u.username}`;
    const sessions = plural(u.live_sessions, 'live session');
    $('manage-facts').textContent = [u.admin ? 'Administrator' : 'User', u.disabled ? 'disabled' : 'active', sessions].join(' · ');
    $('manage-admin').textContent = u.admin ? 'Remove administrator rights' : 'Make administrator';
    $('manage-disable').textContent = u.disabled ? 'Enable account' : 'Disable account…';
    $('manage-dialog').showModal();
  }

  closeManage() {
    const d = $('manage-dialog');
    if (d.open) d.close();
  }

  showTyped() {
    const typed = $('user-form').elements.password_mode.value === 'type';
    for (const l of $('user-form').querySelectorAll('[data-typed]')) l.hidden = !typed;
  }

  /// Opens the add/reset dialog; resolves to its values, or null when cancelled.
  passwordDialog({ title, ok, adding }) {
    const dialog = $('user-dialog');
    const form = $('user-form');
    form.reset();
    $('user-dialog-title').textContent = title;
    $('user-form-ok').textContent = ok;
    for (const l of form.querySelectorAll('[data-for=add]')) l.hidden = !adding;
    this.showTyped();
    const error = $('user-form-error');
    error.hidden = true;
    return new Promise((resolve) => {
      const onClose = () => {
        form.removeEventListener('submit', onSubmit);
        resolve(dialog.returnValue === 'ok' ? this.values : null);
      };
      const onSubmit = (e) => {
        if (e.submitter && e.submitter.value !== 'ok') return;
        const problem = this.check(form, adding);
        if (problem) {
          e.preventDefault();
          error.textContent = problem;
          error.hidden = false;
        }
      };
      form.addEventListener('submit', onSubmit);
      dialog.addEventListener('close', onClose, { once: true });
      dialog.returnValue = 'cancel';
      dialog.showModal();
      (adding ? form.elements.username : form.elements.password_mode[0]).focus();
    });
  }

  check(form, adding) {
    const f = form.elements;
    const typed = f.password_mode.value === 'type';
    if (adding && !f.username.value.trim()) return 'Enter a username.';
    if (typed && f.password.value.length < MIN_PASSWORD) return `The password needs at least ${MIN_PASSWORD} characters.`;
    if (typed && f.password.value !== f.password2.value) return 'The two passwords differ.';
    this.values = {
      username: f.username.value.trim(),
      email: f.email.value.trim(),
      admin: f.admin.checked,
      password: typed ? f.password.value : null,
    };
    return '';
  }

  showSecret(user, password) {
    $('secret-title').textContent = `Password for ${user}`;
    $('secret-text').textContent = `${user} can log in to YAM with:`;
    $('secret-value').textContent = password;
    $('secret-dialog').showModal();
  }

  async add() {
    const v = await this.passwordDialog({ title: 'Add a user', ok: 'Add', adding: true });
    if (!v) return;
    const user = { username: v.username, admin: v.admin };
    if (v.email) user.email = v.email;
    if (v.password) user.password = v.password;
    try {
      const r = await this.t.addUser(user);
      toast(`Added ${v.username}.`);
      if (r.generated_password) this.showSecret(v.username, r.generated_password);
      this.refresh();
    } catch (e) { toastError(e); }
  }

  async change(u, patch, done) {
    try {
      const r = await this.t.updateUser(u.username, patch);
      const ended = r.sessions_ended ? ` ${plural(r.sessions_ended, 'session')} ended.` : '';
      toast(`${done}${ended}`);
      if (r.generated_password) this.showSecret(u.username, r.generated_password);
      this.refresh();
    } catch (e) { toastError(e); }
  }

  async resetPassword(u) {
    this.closeManage();
    const v = await this.passwordDialog({ title: `New password for ${u.username}`, ok: 'Set password', adding: false });
    if (!v) return;
    await this.change(u, v.password ? { password: v.password } : { generate_password: true }, `Password of ${u.username} changed.`);
  }

  async toggleAdmin(u) {
    this.closeManage();
    await this.change(u, { admin: !u.admin }, u.admin ? `${u.username} is no longer an administrator.` : `${u.username} is an administrator.`);
  }

  async toggleDisabled(u) {
    this.closeManage();
    if (!u.disabled) {
      const ok = await confirmAction({
        title: `Disable ${u.username}?`,
        text: `${u.username} can no longer log in${u.live_sessions ? `, and their ${plural(u.live_sessions, 'session')} end now` : ''}. You can enable the account again.`,
        ok: 'Disable',
      });
      if (!ok) return;
    }
    await this.change(u, { disabled: !u.disabled }, u.disabled ? `${u.username} can log in again.` : `${u.username} is disabled.`);
  }

  async remove(u) {
    this.closeManage();
    const ok = await confirmAction({
      title: `Remove ${u.username}?`,
      text: `The account is deleted${u.live_sessions ? ` and its ${plural(u.live_sessions, 'session')} end now` : ''}. This cannot be undone.`,
      ok: 'Remove',
    });
    if (!ok) return;
    try {
      await this.t.removeUser(u.username);
      toast(`Removed ${u.username}.`);
      this.refresh();
    } catch (e) { toastError(e); }
  }
}
