// sso.test.mjs — the UI with the native single sign-on login (README "Single
// sign-on"): a real OpenID provider (tests/tools-oidc/oidc-provider.mjs, the
// one of the integration tests, installed by scripts/oidc-test-tools.sh), a
// browser signing in through it, the header's Sign out ending the cookie
// session (POST /oidc/logout with the session's CSRF token) and the provider's
// session, and the way back leading to the login page.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, freePort, openPage, ROOT, screenshot, Server } from './harness.mjs';

const CLIENT_ID = 'mlflow';
const CLIENT_SECRET = 'client-secret';
const TOOLS = join(ROOT, 'tests/tools-oidc');

async function startProvider(workdir, port, serverUrl) {
  const install = spawnSync(join(ROOT, 'scripts/oidc-test-tools.sh'), ['install'], { stdio: 'inherit' });
  if (install.status !== 0) throw new Error('scripts/oidc-test-tools.sh install failed');
  const logPath = join(workdir, 'oidc-provider.log');
  const log = openSync(logPath, 'a');
  const proc = spawn(
    'node',
    [join(TOOLS, 'oidc-provider.mjs'), String(port), CLIENT_ID, CLIENT_SECRET, `${serverUrl}/oidc/callback`, `${serverUrl}/`],
    { cwd: TOOLS, stdio: ['ignore', log, log] },
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`oidc-provider exited: ${readFileSync(logPath, 'utf8')}`);
    try {
      if ((await fetch(`${base}/.well-known/openid-configuration`)).ok) return { proc, base };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGTERM');
  throw new Error('oidc-provider did not answer in 30 s');
}

describe('web UI with single sign-on', () => {
  let server;
  let provider;
  let browser;
  let page;
  let problems;

  before(async () => {
    const workdir = mkdtempSync(join(tmpdir(), 'mlflowd-e2e-sso-'));
    const port = await freePort();
    const serverUrl = `http://127.0.0.1:${port}`;
    provider = await startProvider(workdir, await freePort(), serverUrl);
    const ini = join(workdir, 'auth.ini');
    writeFileSync(
      ini,
      '[mlflow]\ndefault_permission = READ\n' +
        `database_uri = sqlite:///${workdir}/basic_auth.db\n` +
        `admin_username = ${ADMIN.username}\nadmin_password = ${ADMIN.password}\n` +
        'authorization_function = mlflowd:sso\n\n' +
        '[role_mappings]\nadmin = mlflow-admin\nEDIT = editor\nREAD = viewer\n\n' +
        `[sso]\nissuer = ${provider.base}\nmodes = native, bearer\nclient_id = ${CLIENT_ID}\n` +
        `client_secret = ${CLIENT_SECRET}\nscopes = openid profile email groups roles\n` +
        `audiences = ${CLIENT_ID}\nexternal_url = ${serverUrl}\n`,
    );
    server = new Server({
      workdir,
      port,
      args: ['--auth'],
      env: { MLFLOW_AUTH_CONFIG_PATH: ini, MLFLOW_FLASK_SERVER_SECRET_KEY: 'k'.repeat(32) },
    });
    await server.start();
    server.auth = ADMIN;
    await server.api('POST', 'experiments/create', { name: 'sso-visible' });
    ({ browser, page, problems } = await openPage());
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    provider?.proc.kill('SIGTERM');
  });

  // The provider's development login form, then its consent page when it asks.
  async function signInAtProvider(username) {
    await page.locator('input[name=login]').fill(username);
    await page.locator('input[name=password]').fill('any');
    await page.locator('button[type=submit]').click();
    await page.waitForURL((url) => url.origin === server.url || /\/interaction\//.test(url.pathname));
    if (new URL(page.url()).origin !== server.url) {
      await page.locator('button[type=submit]').click(); // consent
      await page.waitForURL((url) => url.origin === server.url);
    }
  }

  const whoamiStatus = () =>
    page.evaluate(async () => (await fetch('/ajax-api/2.0/mlflowd/auth/whoami', { credentials: 'same-origin' })).status);

  it('signs in through the provider and shows the user with a Sign out', async () => {
    await page.goto(`${server.url}/`);
    await page.waitForURL((url) => url.origin === provider.base);
    await signInAtProvider('oidc-editor');
    await page.getByTestId('experiments-table').getByRole('link', { name: 'sso-visible' }).waitFor();
    assert.equal(await page.getByTestId('signed-in-as').innerText(), 'oidc-editor');
    await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).waitFor();
    assert.equal(await whoamiStatus(), 200);
    await screenshot(page, 'sso-01-signed-in');
  });

  it('signs out: the session ends and the way back is the login page', async () => {
    const cookie = (await browser.cookies(server.url)).map((c) => `${c.name}=${c.value}`).join('; ');
    const whoamiWith = async () => (await fetch(`${server.url}/ajax-api/2.0/mlflowd/auth/whoami`, { headers: { Cookie: cookie } })).status;
    assert.equal(await whoamiWith(), 200);
    const logout = page.waitForRequest((r) => r.url() === `${server.url}/oidc/logout` && r.method() === 'POST');
    await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).click();
    const request = await logout;
    assert.match(request.postData() || '', /^csrf_token=[A-Za-z0-9_-]{40,}$/);
    // The server ended the session and sent the browser on to the provider's end-session page.
    await page.waitForURL((url) => url.origin === provider.base);
    assert.equal(await whoamiWith(), 401);
    assert.deepEqual((await browser.cookies(server.url)).filter((c) => /mlflowd_session/.test(c.name)), []);
    // Confirm at the provider (when it asks): back to mlflowd, which, without a
    // session, sends the browser to sign in again at the provider.
    if (/\/session\/end/.test(new URL(page.url()).pathname)) await page.locator('button[type=submit]').first().click();
    await page.locator('input[name=login]').waitFor();
    assert.equal(new URL(page.url()).origin, provider.base);
    await screenshot(page, 'sso-02-signed-out');
  });

  it('had no script errors', () => {
    assert.deepEqual(problems, []);
  });
});
