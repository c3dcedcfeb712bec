// auth.test.mjs — the UI on a server started with --app-name basic-auth
// (auth.md): sign-in page, the admin area creating a user and granting READ
// on one experiment, and that user seeing that experiment only and being
// refused when editing it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ADMIN, openPage, screenshot, startAuthServer } from './harness.mjs';
import { logRun } from './fixtures.mjs';

const BOB = { username: 'bob-e2e', password: 'bob-password-1234' };

async function signIn(page, server, { username, password }) {
  await page.goto(`${server.url}/static-files/#/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').filter({ hasText: username }).waitFor();
}

describe('web UI with basic-auth', () => {
  let server;
  let browser;
  let page;
  let problems;
  const state = {};

  before(async () => {
    server = await startAuthServer({ defaultPermission: 'NO_PERMISSIONS' });
    state.shared = (await server.api('POST', 'experiments/create', { name: 'team-shared' })).experiment_id;
    state.secret = (await server.api('POST', 'experiments/create', { name: 'admin-only' })).experiment_id;
    const run = await logRun(server, state.shared, { name: 'shared-run', params: { lr: 0.1 }, metrics: { loss: 0.4 }, steps: 10 });
    await server.logArtifact(run, 'readme.md', '# shared notes\n', 'text/plain');
    ({ browser, page, problems } = await openPage());
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('asks for credentials before showing anything', async () => {
    // The page at / is protected like everything but /static… (auth.md §2): the
    // browser would show its own Basic dialog there. /static-files/ is the way in.
    assert.equal((await fetch(`${server.url}/`)).status, 401);
    assert.equal((await fetch(`${server.url}/static-files/`)).status, 200);
    await page.goto(`${server.url}/static-files/#/experiments`);
    await page.getByRole('heading', { name: 'Sign in to mlflowd' }).waitFor();
    assert.match(page.url(), /#\/login\?next=/);
    await screenshot(page, 'auth-01-login');
  });

  it('refuses a wrong password with a readable message', async () => {
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Wrong username or password/);
  });

  it('signs the admin in and lands where they were going', async () => {
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Experiments' }).waitFor();
    await page.getByTestId('experiments-table').getByRole('link', { name: 'admin-only' }).waitFor();
    assert.match(await page.getByTestId('signed-in-as').innerText(), /admin \(admin\)/);
  });

  it('lets the admin create a user and grant READ on one experiment', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Access' }).click();
    await page.getByTestId('my-account').getByText('every permission on everything').waitFor();
    await page.getByRole('button', { name: 'New user' }).click();
    await page.getByLabel('Username').fill(BOB.username);
    await page.getByLabel('Password (at least 12 characters)').fill(BOB.password);
    await page.getByRole('button', { name: 'Create' }).click();
    const card = page.getByTestId('user-card');
    await card.getByRole('heading', { name: BOB.username }).waitFor();
    const grant = page.getByTestId('grant-experiment');
    await grant.getByLabel('Experiment').selectOption(state.shared);
    await grant.getByLabel('Permission').selectOption('READ');
    await grant.getByRole('button', { name: 'Grant' }).click();
    await card.getByRole('link', { name: `team-shared (${state.shared})` }).waitFor();
    const { experiment_permission } = await server.api('GET', 'experiments/permissions/get', {
      experiment_id: state.shared,
      username: BOB.username,
    });
    assert.equal(experiment_permission.permission, 'READ');
    await screenshot(page, 'auth-02-admin-grant');
  });

  it('shows the reader that experiment only, read-only', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to mlflowd' }).waitFor();
    await signIn(page, server, BOB);
    await page.goto(`${server.url}/static-files/#/experiments`);
    const table = page.getByTestId('experiments-table');
    await table.getByRole('link', { name: 'team-shared' }).waitFor();
    assert.doesNotMatch(await table.innerText(), /admin-only/);
    await table.getByRole('link', { name: 'team-shared' }).click();
    await page.getByTestId('run-row').first().waitFor();
    assert.match(await page.getByTestId('runs-table').innerText(), /shared-run/);
    // Artifacts are fetched with the stored credentials: preview and download.
    await page.getByRole('link', { name: 'shared-run' }).click();
    await page.getByRole('link', { name: 'Artifacts' }).click();
    await page.getByRole('navigation', { name: 'Artifacts' }).getByRole('button', { name: 'readme.md' }).click();
    await page.getByTestId('artifact-text').filter({ hasText: '# shared notes' }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
    assert.equal(readFileSync(await download.path(), 'utf8'), '# shared notes\n');
    // Editing is refused with the server's answer shown.
    await page.goto(`${server.url}/static-files/#/experiments`);
    await page.getByRole('button', { name: 'Rename team-shared' }).click();
    await page.getByLabel('New name').fill('hijacked');
    await page.getByRole('button', { name: 'Rename', exact: true }).click();
    const alert = page.getByRole('dialog').getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Permission denied/);
    await screenshot(page, 'auth-03-reader-denied');
    await page.getByRole('button', { name: 'Cancel' }).click();
    const { experiment } = await server.api('GET', 'experiments/get', { experiment_id: state.shared });
    assert.equal(experiment.name, 'team-shared');
    // The other experiment cannot be opened either.
    await page.goto(`${server.url}/static-files/#/experiments/${state.secret}`);
    await page.getByRole('alert').filter({ hasText: /Permission denied/ }).waitFor();
  });

  it('shows the reader their own account and permissions', async () => {
    await page.goto(`${server.url}/static-files/#/admin`);
    const mine = page.getByTestId('my-account');
    await mine.getByRole('link', { name: `team-shared (${state.shared})` }).waitFor();
    assert.match(await mine.innerText(), /READ/);
    assert.equal(await page.getByRole('button', { name: 'New user' }).count(), 0);
    // Role mappings: the server's own (mlflowd/auth/role-mappings) when it has them.
    await page.getByTestId('role-mappings').getByRole('heading', { name: 'Role mappings' }).waitFor();
    await screenshot(page, 'auth-04-reader-account');
  });

  it('had no script errors', () => {
    assert.deepEqual(problems, []);
  });
});
