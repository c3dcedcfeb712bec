// links.test.mjs — the UI where names and URLs are unusual: a server run with
// --static-prefix and basic-auth opened at its public /static-files/ sign-in
// page (the page must load, sign in, and fetch artifacts through
// <prefix>/get-artifact), a deep link straight to an artifact directory, and
// names holding both ' and " (the filter grammar has no escapes).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, openPage, screenshot, Server, startAuthServer } from './harness.mjs';
import { logRun, MLMODEL } from './fixtures.mjs';

const PREFIX = '/mlflow';

async function logModelDir(server, run) {
  await server.logArtifact(run, 'model/MLmodel', MLMODEL, 'text/plain');
  await server.logArtifact(run, 'model/conda.yaml', 'name: env\n', 'text/plain');
}

describe('web UI under --static-prefix with basic-auth', () => {
  let server;
  let browser;
  let page;
  let problems;
  const requested = [];
  const state = {};

  before(async () => {
    server = await startAuthServer({ args: ['--static-prefix', PREFIX] });
    state.experimentId = (await server.api('POST', 'experiments/create', { name: 'prefixed-exp' })).experiment_id;
    state.run = await logRun(server, state.experimentId, { name: 'prefixed-run', metrics: { loss: 0.5 }, steps: 3 });
    await logModelDir(server, state.run);
    ({ browser, page, problems } = await openPage());
    page.on('response', (r) => requested.push([new URL(r.url()).pathname, r.status()]));
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows the sign-in page at the public /static-files/ entry', async () => {
    await page.goto(`${server.url}/static-files/#/experiments`);
    await page.getByRole('heading', { name: 'Sign in to mlflowd' }).waitFor();
    // the favicon is fetched on its own schedule, not before the page shows (up to 5 s)
    for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 25))) {
      if (requested.some(([path]) => path === '/static-files/favicon.svg')) break;
    }
    const assets = requested.filter(([path]) => /\/static-files\/.+/.test(path));
    assert.deepEqual(assets.map(([path]) => path).sort(), ['/static-files/app.css', '/static-files/app.js', '/static-files/favicon.svg']);
    assert.ok(assets.every(([, status]) => status === 200), JSON.stringify(assets));
    await screenshot(page, 'links-01-prefix-login');
  });

  it('signs in and works against the prefixed API', async () => {
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('experiments-table').getByRole('link', { name: 'prefixed-exp' }).waitFor();
    assert.ok(requested.some(([path, status]) => path === `${PREFIX}/ajax-api/2.0/mlflow/experiments/search` && status === 200));
  });

  it('opens a deep link to an artifact directory with its files and MLmodel', async () => {
    await page.goto(`${server.url}/static-files/#/runs/${state.run.info.run_id}?tab=artifacts&path=model`);
    const tree = page.getByRole('navigation', { name: 'Artifacts' });
    // The directory itself is open (its files listed) without a click ...
    await tree.getByRole('button', { name: 'conda.yaml' }).waitFor();
    assert.equal(await tree.getByRole('button', { name: 'model', exact: true }).getAttribute('aria-expanded'), 'true');
    // ... and its MLmodel previewed, fetched through <prefix>/get-artifact with the stored credentials.
    await page.locator('.mlmodel-summary').waitFor();
    assert.match(await page.locator('.mlmodel-summary').innerText(), /python_function.*sklearn/s);
    await page.getByTestId('register-model').waitFor();
    assert.ok(requested.some(([path, status]) => path === `${PREFIX}/get-artifact` && status === 200), JSON.stringify(requested.slice(-10)));
    assert.ok(!requested.some(([path]) => path === '/get-artifact'));
    await screenshot(page, 'links-02-deep-link-directory');
  });

  it('had no script errors', () => {
    assert.deepEqual(problems, []);
  });
});

describe('web UI with names holding both quote kinds', () => {
  let server;
  let browser;
  let page;
  let problems;
  const state = {};
  // Both quotes (no literal holds them) and an _ (a wildcard in the LIKE
  // clauses the UI falls back to), so the search also finds the decoy.
  const MODEL = `q'x"y_1`;
  const DECOY = `q'x"yZ1`;
  const RUN = `it's "quoted"`;

  before(async () => {
    server = await new Server().start();
    state.experimentId = (await server.api('POST', 'experiments/create', { name: `exp 'one' "two"` })).experiment_id;
    await server.api('POST', 'experiments/create', { name: 'exp _one_ _two_' });
    state.run = await logRun(server, state.experimentId, { name: RUN, steps: 2, metrics: { loss: 1 } });
    await logRun(server, state.experimentId, { name: 'its _quoted_', steps: 2, metrics: { loss: 1 } });
    await logRun(server, state.experimentId, { name: 'plain', steps: 2, metrics: { loss: 1 } });
    for (const name of [MODEL, DECOY]) {
      await server.api('POST', 'registered-models/create', { name });
      await server.api('POST', 'model-versions/create', { name, source: `${state.run.info.artifact_uri}/model`, run_id: state.run.info.run_id });
    }
    await server.api('POST', 'model-versions/create', { name: DECOY, source: `${state.run.info.artifact_uri}/model`, run_id: state.run.info.run_id });
    ({ browser, page, problems } = await openPage());
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("lists a model's own versions", async () => {
    await page.goto(`${server.url}/#/models/${encodeURIComponent(MODEL)}`);
    const table = page.getByTestId('versions-table');
    await table.getByRole('link', { name: 'Version 1' }).waitFor();
    // The decoy's two versions matched the wider search too; only the model's own one shows.
    assert.equal(await table.getByRole('link').filter({ hasText: /^Version/ }).count(), 1);
    assert.doesNotMatch(await table.innerText(), /No versions yet/);
    await screenshot(page, 'links-03-model-quotes');
  });

  it('finds the model, experiment and run by a name part with both quotes', async () => {
    await page.goto(`${server.url}/#/models?q=${encodeURIComponent(`'x"`)}`);
    await page.getByTestId('models-table').getByRole('link', { name: MODEL }).waitFor();
    await page.goto(`${server.url}/#/experiments?q=${encodeURIComponent(`'one' "`)}`);
    const experiments = page.getByTestId('experiments-table');
    await experiments.getByRole('link', { name: `exp 'one' "two"` }).waitFor();
    await page.goto(`${server.url}/#/experiments/${state.experimentId}`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 3);
    await page.locator('#runs-filter').fill(`'s "quoted"`);
    await page.locator('#runs-filter').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 1);
    assert.deepEqual(await page.locator('[data-testid=run-row] td.name').allInnerTexts(), [RUN]);
    await screenshot(page, 'links-04-run-quotes');
  });

  it('had no script errors', () => {
    assert.deepEqual(problems, []);
  });
});
