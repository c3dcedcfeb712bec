// ui.test.mjs — the web UI in headless Chromium against a real mlflowd
// (auth off): a user creates an experiment, sees runs logged over the API
// appear, filters and sorts them, opens a run and its chart, previews
// artifacts, compares two runs, registers a model version and sets an alias.
// The steps share one browser page and run in order.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { openPage, screenshot, Server } from './harness.mjs';
import { logRun, makePng, MLMODEL } from './fixtures.mjs';

describe('web UI (auth off)', () => {
  let server;
  let browser;
  let page;
  let problems;
  const state = {};

  before(async () => {
    server = await new Server().start();
    ({ browser, page, problems } = await openPage());
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows the experiments list', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Experiments' }).waitFor();
    await page.getByTestId('experiment-row').first().waitFor(); // the Default experiment
    assert.match(await page.getByTestId('experiments-table').innerText(), /Default/);
    await screenshot(page, 'ui-01-experiments');
  });

  it('creates an experiment', async () => {
    await page.getByRole('button', { name: 'New experiment' }).click();
    await page.getByLabel('Name', { exact: true }).fill('e2e-vision');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'e2e-vision' }).waitFor();
    state.experimentId = page.url().match(/#\/experiments\/(\d+)/)[1];
    const { experiment } = await server.api('GET', 'experiments/get', { experiment_id: state.experimentId });
    assert.equal(experiment.name, 'e2e-vision');
    assert.match(await page.getByTestId('runs-range').innerText(), /No runs/);
  });

  it('sees runs logged over the API appear', async () => {
    const t0 = Date.now() - 60_000;
    state.alpha = await logRun(server, state.experimentId, { name: 'alpha', params: { lr: 0.1, depth: 3 }, metrics: { loss: 0.9, acc: 0.5 }, startTime: t0 });
    state.beta = await logRun(server, state.experimentId, { name: 'beta', params: { lr: 0.01, depth: 3 }, metrics: { loss: 0.3, acc: 0.8 }, startTime: t0 + 1000 });
    state.gamma = await logRun(server, state.experimentId, { name: 'gamma', params: { lr: 0.001, depth: 5 }, metrics: { loss: 0.2, acc: 0.85 }, tags: { team: 'vision' }, startTime: t0 + 2000 });
    await page.getByTestId('refresh-runs').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 3);
    const names = await page.locator('[data-testid=run-row] td.name').allInnerTexts();
    assert.deepEqual(names, ['gamma', 'beta', 'alpha']); // default order: newest first
    // Metric and param columns are chosen from the keys on the page.
    const header = await page.locator('.runs-table thead').innerText();
    assert.match(header, /loss/);
    assert.match(header, /lr/);
    await screenshot(page, 'ui-02-runs');
  });

  it('filters runs with the MLflow grammar', async () => {
    await page.locator('#runs-filter').fill('metrics.loss < 0.5');
    await page.locator('#runs-filter').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 2);
    assert.match(decodeURIComponent(page.url()), /filter=metrics\.loss < 0\.5|filter=metrics\.loss\+<\+0\.5/);
    const names = await page.locator('[data-testid=run-row] td.name').allInnerTexts();
    assert.deepEqual(names.sort(), ['beta', 'gamma']);
  });

  it('sorts runs by a metric column', async () => {
    const sortButton = page.locator('.runs-table thead th').filter({ hasText: 'loss' }).getByRole('button');
    await sortButton.click(); // DESC
    await page.waitForFunction(() => document.querySelector('[data-testid=run-row] td.name')?.innerText === 'beta');
    assert.equal(await page.locator('.runs-table thead th').filter({ hasText: 'loss' }).getAttribute('aria-sort'), 'descending');
    await sortButton.click(); // ASC
    await page.waitForFunction(() => document.querySelector('[data-testid=run-row] td.name')?.innerText === 'gamma');
    await screenshot(page, 'ui-03-filtered-sorted');
    // The state is in the URL: reloading shows the same view.
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 2);
    assert.equal(await page.locator('[data-testid=run-row] td.name').first().innerText(), 'gamma');
  });

  it('shows a readable message for a bad filter', async () => {
    await page.locator('#runs-filter').fill('metrics.loss <');
    await page.locator('#runs-filter').press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /Invalid parameter value/i);
    assert.doesNotMatch(text, /error_code|\{"/);
    await page.locator('#runs-filter').fill('');
    await page.locator('#runs-filter').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 3);
  });

  it('opens a run and sees its metric chart drawn', async () => {
    await page.getByRole('link', { name: 'gamma', exact: true }).click();
    await page.getByRole('heading', { name: 'gamma' }).waitFor();
    assert.match(await page.getByTestId('run-params').innerText(), /lr\s+0\.001/);
    assert.match(await page.getByTestId('run-metrics').innerText(), /loss/);
    assert.match(await page.getByTestId('run-tags').innerText(), /team\s+vision/);
    await screenshot(page, 'ui-04-run-overview');
    await page.getByRole('link', { name: 'Metric charts' }).click();
    const chart = page.locator('[data-testid=metric-chart][data-metric=loss] .chart-box[data-drawn]');
    await chart.waitFor();
    assert.equal(Number(await chart.getAttribute('data-points')), 50);
    assert.ok(await page.locator('[data-testid=metric-chart][data-metric=loss] canvas').count() >= 1);
    // Dragging across the plot zooms into a step range, fetched again from the server.
    const over = page.locator('[data-testid=metric-chart][data-metric=loss] .u-over');
    const box = await over.boundingBox();
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const lossChart = page.getByTestId('metric-chart').filter({ has: page.locator('h3', { hasText: 'loss' }) });
    await lossChart.getByRole('button', { name: 'Reset zoom' }).waitFor();
    await page.waitForFunction(() => {
      const n = Number(document.querySelector('[data-testid=metric-chart][data-metric=loss] .chart-box[data-drawn]')?.getAttribute('data-points'));
      return n > 0 && n < 50;
    });
    assert.match(await lossChart.innerText(), /steps \d+–\d+/);
    await lossChart.getByRole('button', { name: 'Reset zoom' }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid=metric-chart][data-metric=loss] .chart-box[data-drawn]')?.getAttribute('data-points') === '50');
    // By wall time too.
    await page.getByLabel('X axis').selectOption('time');
    await page.locator('[data-testid=metric-chart][data-metric=loss] .chart-box[data-drawn]').waitFor();
    assert.match(page.url(), /x=time/);
    await screenshot(page, 'ui-05-run-charts');
  });

  it('browses and previews artifacts', async () => {
    const run = state.gamma;
    await server.logArtifact(run, 'notes.txt', 'hello from the e2e test\nsecond line\n', 'text/plain');
    await server.logArtifact(run, 'eval/metrics.json', JSON.stringify({ accuracy: 0.85, classes: ['cat', 'dog'] }), 'application/json');
    await server.logArtifact(run, 'plots/gradient.png', makePng(), 'image/png');
    await server.logArtifact(run, 'model/MLmodel', MLMODEL, 'text/plain');
    await server.logArtifact(run, 'model/conda.yaml', 'name: env\ndependencies:\n  - python=3.11\n', 'text/plain');
    await page.getByRole('link', { name: 'Artifacts' }).click();
    const tree = page.getByRole('navigation', { name: 'Artifacts' });
    await tree.getByRole('button', { name: 'notes.txt' }).click();
    await page.getByTestId('artifact-text').filter({ hasText: 'hello from the e2e test' }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
    assert.equal(download.suggestedFilename(), 'notes.txt');
    assert.equal(readFileSync(await download.path(), 'utf8'), 'hello from the e2e test\nsecond line\n');
    await tree.getByRole('button', { name: 'eval' }).click();
    await tree.getByRole('button', { name: 'metrics.json' }).click();
    await page.getByTestId('artifact-text').filter({ hasText: '"accuracy": 0.85' }).waitFor();
    await tree.getByRole('button', { name: 'plots' }).click();
    await tree.getByRole('button', { name: 'gradient.png' }).click();
    const img = page.getByTestId('artifact-image');
    await img.waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid=artifact-image]')?.naturalWidth === 64);
    await screenshot(page, 'ui-06-artifact-image');
    await tree.getByRole('button', { name: 'model' }).click();
    await page.getByText('flavors:').first().waitFor();
    assert.match(await page.locator('.mlmodel-summary').innerText(), /python_function.*sklearn/s);
    await page.getByTestId('register-model').waitFor();
    await screenshot(page, 'ui-07-artifact-mlmodel');
  });

  it('registers a model version and sets an alias', async () => {
    await page.getByTestId('register-model').click();
    await page.getByLabel('Registered model (new or existing)').fill('e2e-classifier');
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await page.getByRole('heading', { name: 'e2e-classifier · version 1' }).waitFor();
    assert.equal(await page.getByTestId('source-run').innerText(), state.gamma.info.run_id);
    assert.match(await page.getByTestId('version-info').innerText(), /mlflow-artifacts:.*\/model/);
    await page.getByLabel('Alias', { exact: true }).fill('champion');
    await page.getByRole('button', { name: 'Set alias' }).click();
    await page.getByTestId('aliases').getByText('@champion').waitFor();
    const { model_version } = await server.api('GET', 'registered-models/alias', { name: 'e2e-classifier', alias: 'champion' });
    assert.equal(model_version.version, '1');
    await page.getByLabel('Move to').selectOption('Staging');
    await page.getByRole('button', { name: 'Transition' }).click();
    await page.locator('.page-head .badge').filter({ hasText: 'Staging' }).waitFor();
    await screenshot(page, 'ui-08-model-version');
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'e2e-classifier' }).click();
    await page.getByTestId('versions-table').getByText('Version 1').waitFor();
    assert.match(await page.getByTestId('aliases').innerText(), /@champion → v1/);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Models' }).click();
    await page.getByTestId('models-table').getByRole('link', { name: 'e2e-classifier' }).waitFor();
    await screenshot(page, 'ui-09-models');
  });

  it('compares two runs', async () => {
    await page.goto(`${server.url}/#/experiments/${state.experimentId}`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 3);
    await page.getByLabel('Select run alpha').check();
    await page.getByLabel('Select run gamma').check();
    await page.getByTestId('compare-runs').click();
    await page.getByRole('heading', { name: 'Compare 2 runs' }).waitFor();
    const diff = page.getByTestId('param-diff');
    await diff.locator('tr.differs').first().waitFor();
    const diffText = await diff.innerText();
    assert.match(diffText, /lr\s+0\.1\s+0\.001/);
    assert.match(diffText, /depth\s+3\s+5/);
    const charts = page.locator('[data-testid=compare-chart][data-metric=loss] .chart-box[data-drawn]');
    await charts.waitFor();
    // One uPlot series per run (plus x): the legend lists both runs.
    const legend = await page.locator('[data-testid=compare-chart][data-metric=loss] .u-legend').innerText();
    assert.match(legend, /alpha/);
    assert.match(legend, /gamma/);
    await screenshot(page, 'ui-10-compare');
  });

  it('renames, deletes and restores an experiment from the list', async () => {
    const { experiment_id: id } = await server.api('POST', 'experiments/create', { name: 'e2e-scratch' });
    await page.goto(`${server.url}/#/experiments?q=scratch`);
    await page.getByRole('button', { name: 'Rename e2e-scratch' }).click();
    await page.getByLabel('New name').fill('e2e-scratch-renamed');
    await page.getByRole('button', { name: 'Rename', exact: true }).click();
    await page.getByRole('link', { name: 'e2e-scratch-renamed' }).waitFor();
    await page.getByRole('button', { name: 'Delete e2e-scratch-renamed' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByText('No experiments matching').waitFor();
    await page.getByLabel('Show').selectOption('deleted');
    await page.getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Restore' }).click();
    await page.getByText('No experiments matching').waitFor();
    const { experiment } = await server.api('GET', 'experiments/get', { experiment_id: id });
    assert.equal(experiment.lifecycle_stage, 'active');
    assert.equal(experiment.name, 'e2e-scratch-renamed');
  });

  it('shows the server message when creating a duplicate experiment', async () => {
    await page.goto(`${server.url}/#/experiments`);
    await page.getByRole('button', { name: 'New experiment' }).click();
    await page.getByLabel('Name', { exact: true }).fill('e2e-vision');
    await page.getByRole('button', { name: 'Create' }).click();
    const alert = page.getByRole('dialog').getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /already exists/);
    await screenshot(page, 'ui-11-error');
    await page.getByRole('button', { name: 'Cancel' }).click();
  });

  it('lists logged models of an experiment and opens one', async () => {
    const { model } = await server.api('POST', 'logged-models', {
      experiment_id: state.experimentId,
      name: 'e2e-logged',
      source_run_id: state.beta.info.run_id,
      params: [{ key: 'alpha', value: '0.5' }],
      tags: [{ key: 'owner', value: 'e2e' }],
    });
    const id = model.info.model_id;
    const location = model.info.artifact_uri.replace(/^mlflow-artifacts:\/*/, '');
    await server.putArtifact(`${location}/MLmodel`, MLMODEL, 'text/plain');
    await server.api('PATCH', `logged-models/${id}`, { model_id: id, status: 'LOGGED_MODEL_READY' });
    await page.goto(`${server.url}/#/experiments/${state.experimentId}/models`);
    await page.getByTestId('logged-models-table').getByRole('link', { name: 'e2e-logged' }).click();
    await page.getByRole('heading', { name: 'e2e-logged' }).waitFor();
    assert.match(await page.locator('main').innerText(), /owner\s+e2e/);
    await page.getByRole('link', { name: 'Artifacts' }).click();
    await page.getByRole('navigation', { name: 'Artifacts' }).getByRole('button', { name: 'MLmodel' }).click();
    await page.getByTestId('artifact-text').filter({ hasText: 'flavors:' }).waitFor();
    await screenshot(page, 'ui-12-logged-model');
  });

  it('had no script errors', () => {
    assert.deepEqual(problems, []);
  });
});
