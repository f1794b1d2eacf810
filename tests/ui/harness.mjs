// Starts `yamctl up` (real supervisor, real yam-server) in a temp folder and Debian's
// Chromium through playwright-core.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
export const artifacts = resolve(repo, 'artifacts/ui');
const BIN_ENV = { 'yam-server': 'YAM_SERVER_BIN', yamctl: 'YAM_YAMCTL_BIN' };
const bin = (name) => process.env[BIN_ENV[name]] || join(repo, 'target/debug', name);

export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
    s.on('error', fail);
  });
}

/** The test venv's Python (Flask, Flask-Session), exported by `cargo xtask test`. */
export const testPython = () => process.env.YAM_TEST_PYTHON || join(repo, 'target/test-venv/bin/python');

/** `files`: paths under the config folder (e.g. `data/history.csv`) written before start. */
export async function startYamctl({ settings = '', files = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'yam-ui-'));
  const config = join(dir, 'config');
  mkdirSync(config, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(config, path)), { recursive: true });
    writeFileSync(join(config, path), content);
  }
  const port = await freePort();
  writeFileSync(join(config, 'settings.toml'), `host = "127.0.0.1"\nport = ${port}\n${settings}`);
  // YAM_UI_DIR: another copy of ui/ (an older commit's, to see a test fail against it).
  const ui = process.env.YAM_UI_DIR || join(repo, 'ui');
  const child = spawn(bin('yamctl'), ['--config', config, 'up', '--listen', '127.0.0.1:0', '--ui', ui], {
    env: { ...process.env, YAM_SERVER_BIN: bin('yam-server') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const dashboard = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`yamctl up printed no dashboard URL:\n${output}`)), 30000);
    const check = () => {
      const m = output.match(/Dashboard: (\S+)/);
      if (m) { clearTimeout(timer); ok(m[1]); }
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => fail(new Error(`yamctl up exited (${code}):\n${output}`)));
  });
  const base = dashboard.split('/#token=')[0];
  const token = decodeURIComponent(dashboard.split('#token=')[1]);
  return {
    dir,
    dashboard,
    base,
    /** The control API as the owner (the link's token). */
    async api(method, path, body) {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = await r.json().catch(() => null);
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
      return json;
    },
    serverUrl: `http://127.0.0.1:${port}`,
    dataDir: join(config, 'data'),
    output: () => output,
    password: () => readFileSync(join(config, 'data', 'initial-admin-password.txt'), 'utf8').trim(),
    /** SIGTERM, as an admin's Ctrl+C: yamctl must stop its server and exit (a hang fails the
     * test, with yamctl's output); the temp folder goes with it. */
    async stop() {
      const exited = new Promise((ok) => {
        if (child.exitCode !== null || child.signalCode !== null) ok();
        else child.once('exit', ok);
      });
      child.kill('SIGTERM');
      let timer;
      const inTime = await Promise.race([
        exited.then(() => true),
        new Promise((ok) => { timer = setTimeout(() => ok(false), 20000); }),
      ]);
      clearTimeout(timer);
      if (!inTime) {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`yamctl up still ran 20 s after SIGTERM; its output:\n${output.slice(-4000)}`);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `yamctl up` and Chromium for test `t`, both stopped when it ends (yamctl even when the
 * browser cannot start). */
export async function startWithBrowser(t, options) {
  const yam = await startYamctl(options);
  let browser;
  t.after(async () => { await browser?.close(); await yam.stop(); });
  browser = await launchBrowser();
  return { yam, browser };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** Logs in to the YAM server over HTTP as a browser would; returns the session cookie. */
export async function login(serverUrl, password, user = 'admin') {
  const r = await fetch(`${serverUrl}/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'User-Agent': 'Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 Safari/537.36' },
    body: JSON.stringify({ login_id: user, password }),
  });
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${await r.text()}`);
  return r.headers.get('set-cookie').split(';')[0];
}

export async function shot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
