// harness.mjs — what the e2e tests share: an mlflowd on a free loopback port
// with a fresh SQLite database and artifact directory (like
// tests/integration/conftest.py, same MLFLOWD_BIN), an API client speaking
// like the mlflow client, headless Chromium through playwright-core (Debian's
// /usr/bin/chromium, never a downloaded browser) and screenshots under
// build/e2e-screenshots/.
//
// When a server stops, its log is checked for sanitizer reports and a clean
// exit, so every UI test also proves no memory error happened behind it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../..');
// playwright-core is a devDependency of web/ (npm ci by the build).
const require = createRequire(join(ROOT, 'web/package.json'));
const { chromium } = require('playwright-core');

export const BIN = process.env.MLFLOWD_BIN || join(ROOT, 'build/test/mlflowd');
export const SCREENSHOTS = process.env.E2E_SCREENSHOTS || join(ROOT, 'build/e2e-screenshots');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ADMIN = { username: 'admin', password: 'password1234' };

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Server {
  // port: a port chosen beforehand (freePort), when others must know the URL first.
  constructor({ args = [], env = {}, workdir, port } = {}) {
    this.workdir = workdir || mkdtempSync(join(tmpdir(), 'mlflowd-e2e-'));
    this.fixedPort = port;
    this.args = args;
    this.env = env;
    this.auth = null; // {username, password} used by api()
  }

  get dbPath() {
    return join(this.workdir, 'mlflow.db');
  }

  async start() {
    this.port = this.fixedPort || (await freePort());
    this.url = `http://127.0.0.1:${this.port}`;
    this.logPath = join(this.workdir, 'mlflowd.log');
    const log = openSync(this.logPath, 'a');
    const cmd = ['server', '--host', '127.0.0.1', '--port', String(this.port)];
    if (!this.args.some((a) => a.startsWith('--backend-store-uri'))) cmd.push('--backend-store-uri', `sqlite:///${this.dbPath}`);
    if (!this.args.some((a) => a.startsWith('--artifacts-destination')))
      cmd.push('--artifacts-destination', join(this.workdir, 'mlartifacts'));
    cmd.push(...this.args);
    this.proc = spawn(BIN, cmd, {
      cwd: this.workdir,
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0',
        UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
        ...this.env,
      },
    });
    this.exited = new Promise((ok) => this.proc.once('exit', (code, signal) => ok({ code, signal })));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`mlflowd exited with ${this.proc.exitCode}:\n${this.log()}`);
      try {
        const r = await fetch(`${this.url}/health`);
        if (r.status === 200) return this;
      } catch {
        /* not listening yet */
      }
      await sleep(50);
    }
    throw new Error(`mlflowd did not answer /health in 30 s:\n${this.log()}`);
  }

  log() {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  async stop({ check = true } = {}) {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 60_000);
    const { code } = await this.exited;
    clearTimeout(timer);
    if (!check) return;
    const text = this.log();
    if (/(AddressSanitizer|LeakSanitizer|runtime error:)/.test(text))
      throw new Error(`sanitizer report in the mlflowd log:\n${text.slice(-20000)}`);
    if (code !== 0) throw new Error(`mlflowd exit code ${code}\n${text.slice(-5000)}`);
    // A clean run leaves nothing behind (set E2E_KEEP=1 to keep the server's files).
    if (!process.env.E2E_KEEP && !this.keep) rmSync(this.workdir, { recursive: true, force: true });
  }

  headers(extra = {}) {
    const h = { ...extra };
    if (this.auth) h.Authorization = 'Basic ' + Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64');
    return h;
  }

  // Calls /api/<version>/mlflow/<endpoint> like the mlflow client and returns the JSON.
  async api(method, endpoint, body, { expect = 200, version = '2.0', auth } = {}) {
    let url = `${this.url}/api/${version}/mlflow/${endpoint}`;
    const init = { method, headers: this.headers() };
    if (auth) init.headers.Authorization = 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
    if (method === 'GET') {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(body || {})) for (const x of [].concat(v)) q.append(k, String(x));
      if ([...q].length) url += `?${q}`;
    } else {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body || {});
    }
    const r = await fetch(url, init);
    const text = await r.text();
    if (r.status !== expect) throw new Error(`${method} ${endpoint} -> ${r.status} ${text}`);
    return text ? JSON.parse(text) : {};
  }

  async putArtifact(path, data, contentType = 'application/octet-stream') {
    const r = await fetch(`${this.url}/api/2.0/mlflow-artifacts/artifacts/${path}`, {
      method: 'PUT',
      headers: this.headers({ 'Content-Type': contentType }),
      body: data,
    });
    if (r.status !== 200) throw new Error(`PUT artifact ${path} -> ${r.status} ${await r.text()}`);
  }

  // Uploads a run artifact where the run's artifact_uri points (mlflow-artifacts:/...).
  async logArtifact(run, relPath, data, contentType) {
    const uri = run.info.artifact_uri;
    const m = uri.match(/^mlflow-artifacts:\/*(.*)$/);
    if (!m) throw new Error(`unexpected artifact uri ${uri}`);
    await this.putArtifact(`${m[1]}/${relPath}`, data, contentType);
  }
}

export function writeAuthIni(workdir, defaultPermission = 'READ') {
  mkdirSync(workdir, { recursive: true });
  const path = join(workdir, 'basic_auth.ini');
  writeFileSync(
    path,
    '[mlflow]\n' +
      `default_permission = ${defaultPermission}\n` +
      `database_uri = sqlite:///${workdir}/basic_auth.db\n` +
      `admin_username = ${ADMIN.username}\n` +
      `admin_password = ${ADMIN.password}\n`,
  );
  return path;
}

export async function startAuthServer({ defaultPermission = 'READ', args = [] } = {}) {
  const workdir = mkdtempSync(join(tmpdir(), 'mlflowd-e2e-auth-'));
  const ini = writeAuthIni(workdir, defaultPermission);
  const server = new Server({
    workdir,
    args: ['--app-name', 'basic-auth', ...args],
    env: { MLFLOW_AUTH_CONFIG_PATH: ini, MLFLOW_FLASK_SERVER_SECRET_KEY: 'e2e-secret' },
  });
  await server.start();
  server.auth = ADMIN;
  return server;
}

// --- browser -----------------------------------------------------------------
export async function launchBrowser() {
  const userDataDir = mkdtempSync(join(tmpdir(), 'mlflowd-e2e-chromium-'));
  // A persistent context is how Chromium takes a fresh --user-data-dir.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const close = context.close.bind(context);
  context.close = async () => {
    await close();
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return context;
}

// Pages being watched, and the last requests each made: when a test fails,
// what the page showed and asked for is printed, so that a failure seen once
// (a wait that timed out) can be told apart from a slow server afterwards.
const watched = new Map();
const RECENT = 30;

afterEach(async (t) => {
  if (t.passed) return;
  for (const [page, recent] of watched) {
    if (page.isClosed()) continue;
    const name = `failed-${t.name.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 60)}`;
    const text = await page.locator('body').innerText({ timeout: 2000 }).catch((e) => `(no text: ${e.message})`);
    const shot = await screenshot(page, name).catch((e) => `(no screenshot: ${e.message})`);
    console.log(`failed test "${t.name}": page at ${page.url()}, screenshot ${shot}`);
    console.log(`last requests (ms since the page opened, status, duration):\n${recent.join('\n')}`);
    console.log(`page text:\n${text.slice(0, 3000)}`);
  }
});

// Collects console errors and failed requests of a page, for assertions.
export function watchPage(page) {
  const recent = [];
  const t0 = Date.now();
  const remember = (line) => {
    recent.push(`${Date.now() - t0} ${line}`);
    if (recent.length > RECENT) recent.shift();
  };
  page.on('requestfinished', async (r) => {
    const response = await r.response().catch(() => null);
    remember(`${response?.status() ?? '-'} ${Math.round(r.timing().responseEnd)} ms ${r.method()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => remember(`FAILED ${r.failure()?.errorText} ${r.method()} ${r.url()}`));
  page.on('framenavigated', (f) => f === page.mainFrame() && remember(`navigated to ${f.url()}`));
  page.on('close', () => watched.delete(page));
  watched.set(page, recent);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // Failed requests are the server's answers the UI shows itself (tests provoke some).
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return problems;
}

// A headless browser with one page (15 s timeouts) whose errors are collected.
export async function openPage() {
  const browser = await launchBrowser();
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  return { browser, page, problems: watchPage(page) };
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

// Runs SQL through the sqlite3 command-line shell (bulk fixtures for the
// performance report are built directly in the database before the server starts).
export function sqlite(dbPath, sql) {
  const r = spawnSync('sqlite3', [dbPath], { input: sql, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
  return r.stdout;
}

export const report = [];
export function perf(line) {
  report.push(line);
  console.log(`PERF ${line}`);
}
