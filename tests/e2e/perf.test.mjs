// perf.test.mjs — the performance report (printed, not asserted on time):
//   * the runs table of an experiment with 100,000 runs shows its first page
//     (target ≤ 1 s);
//   * a metric chart of a run with 1,000,000 points draws, downsampled by
//     the server through get-history-bulk-interval (target ≤ 500 ms);
//   * the bundled UI gzipped (target ≤ 300 KB; this one is asserted, it is
//     not a timing).
// The rows are written straight into the SQLite database with the sqlite3
// shell before the server starts (minutes over HTTP, seconds this way).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, launchBrowser, perf, report, screenshot, SCREENSHOTS, Server, sqlite } from './harness.mjs';

const RUNS = 100_000;
const POINTS = 1_000_000;
const BIG_RUN = 'f'.repeat(31) + '1';

function populate(dbPath, exp, bigExp) {
  const uuid = "printf('%032x', i)";
  const cte = (n) => `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n})`;
  sqlite(
    dbPath,
    `PRAGMA journal_mode = WAL;
BEGIN;
${cte(RUNS)} INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status,
  start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)
  SELECT ${uuid}, 'run-' || i, 'LOCAL', 'perf.py', '', 'perf', CASE WHEN i % 10 = 0 THEN 'FAILED' ELSE 'FINISHED' END,
    1700000000000 + i * 1000, 1700000000000 + i * 1000 + 60000 + i % 5000, '', 'active',
    'mlflow-artifacts:/${exp}/' || ${uuid} || '/artifacts', ${exp} FROM c;
${cte(RUNS)} INSERT INTO tags (key, value, run_uuid) SELECT 'mlflow.runName', 'run-' || i, ${uuid} FROM c;
${cte(RUNS)} INSERT INTO tags (key, value, run_uuid) SELECT 'team', CASE i % 3 WHEN 0 THEN 'vision' WHEN 1 THEN 'nlp' ELSE 'tabular' END, ${uuid} FROM c;
${cte(RUNS)} INSERT INTO params (key, value, run_uuid) SELECT 'lr', printf('%.4f', (i % 100) / 1000.0), ${uuid} FROM c;
${cte(RUNS)} INSERT INTO params (key, value, run_uuid) SELECT 'model', CASE i % 3 WHEN 0 THEN 'tree' WHEN 1 THEN 'linear' ELSE 'mlp' END, ${uuid} FROM c;
${cte(RUNS)} INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)
  SELECT 'loss', (i % 1000) / 1000.0, 1700000000000 + i * 1000, 10, 0, ${uuid} FROM c;
${cte(RUNS)} INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)
  SELECT 'loss', (i % 1000) / 1000.0, 1700000000000 + i * 1000, ${uuid}, 10, 0 FROM c;
${cte(RUNS)} INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)
  SELECT 'accuracy', 1 - (i % 997) / 1000.0, 1700000000000 + i * 1000, 10, 0, ${uuid} FROM c;
${cte(RUNS)} INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)
  SELECT 'accuracy', 1 - (i % 997) / 1000.0, 1700000000000 + i * 1000, ${uuid}, 10, 0 FROM c;
INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status,
  start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)
  VALUES ('${BIG_RUN}', 'million-points', 'LOCAL', 'perf.py', '', 'perf', 'FINISHED', 1700000000000, 1700010000000, '',
    'active', 'mlflow-artifacts:/${bigExp}/${BIG_RUN}/artifacts', ${bigExp});
INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', 'million-points', '${BIG_RUN}');
${cte(POINTS)} INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)
  SELECT 'loss', 1.0 / (1 + i / 20000.0) + (i % 97) / 5000.0, 1700000000000 + i * 10, '${BIG_RUN}', i, 0 FROM c;
INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)
  VALUES ('loss', 1.0 / (1 + ${POINTS} / 20000.0), 1700000000000 + ${POINTS} * 10, ${POINTS}, 0, '${BIG_RUN}');
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
ANALYZE;`,
  );
}

// Bytes on the wire of a gzip answer (fetch would decompress it).
function gzipBytes(url) {
  return new Promise((ok, fail) => {
    const req = request(url, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => ok({ bytes: n, encoding: res.headers['content-encoding'] }));
    });
    req.on('error', fail);
    req.end();
  });
}

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}

describe('performance report', () => {
  let server;
  let browser;
  let page;
  let exp;
  let bigExp;

  before(async () => {
    const setup = await new Server().start();
    exp = (await setup.api('POST', 'experiments/create', { name: 'perf-100k-runs' })).experiment_id;
    bigExp = (await setup.api('POST', 'experiments/create', { name: 'perf-1m-points' })).experiment_id;
    setup.keep = true; // its database is reused below
    await setup.stop();
    const [ms] = await timed(async () => populate(setup.dbPath, exp, bigExp));
    perf(`fixture: ${RUNS} runs and ${POINTS} metric points written in ${(ms / 1000).toFixed(1)} s (binary ${BIN})`);
    server = await new Server({ workdir: setup.workdir }).start();
    browser = await launchBrowser();
    page = await browser.newPage();
    page.setDefaultTimeout(60_000);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    const text = ['mlflowd web UI performance report', ...report.map((l) => `  ${l}`)].join('\n');
    console.log(`\n${text}\n`);
    writeFileSync(join(SCREENSHOTS, 'perf-report.txt'), `${text}\n`);
  });

  it('shows the first page of a 100,000-run experiment', async () => {
    const [apiMs, r] = await timed(() =>
      fetch(`${server.url}/ajax-api/2.0/mlflow/runs/search`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ experiment_ids: [exp], max_results: 100 }),
      }).then((x) => x.json()),
    );
    assert.equal(r.runs.length, 100);
    perf(`runs/search, first 100 of ${RUNS} runs (API alone): ${apiMs.toFixed(0)} ms`);

    const [uiMs] = await timed(async () => {
      await page.goto(`${server.url}/#/experiments/${exp}`);
      await page.getByTestId('run-row').first().waitFor();
    });
    perf(`runs table, first page visible after a fresh page load: ${uiMs.toFixed(0)} ms (target ≤ 1000 ms)`);
    assert.equal(await page.locator('[data-testid=run-row] td.name').first().innerText(), `run-${RUNS}`);
    await screenshot(page, 'perf-01-runs-100k');
    await page.goto('about:blank');
    const [warmMs] = await timed(async () => {
      await page.goto(`${server.url}/#/experiments/${exp}`);
      await page.getByTestId('run-row').first().waitFor();
    });
    perf(`runs table, first page visible after loading the page again: ${warmMs.toFixed(0)} ms (target ≤ 1000 ms)`);

    const [sortMs] = await timed(async () => {
      await page.goto(`${server.url}/#/experiments/${exp}?order=metrics.loss+DESC&filter=params.model+%3D+%27tree%27`);
      await page.waitForFunction(() => /run-/.test(document.querySelector('[data-testid=run-row] td.name')?.innerText || '') && !document.querySelector('.table-scroll.stale'));
    });
    perf(`runs table, filtered (params.model = 'tree') and sorted by metrics.loss: ${sortMs.toFixed(0)} ms`);

    const [deepMs] = await timed(async () => {
      await page.goto(`${server.url}/#/experiments/${exp}?page=499`);
      await page.getByTestId('runs-range').filter({ hasText: 'Runs 49901–50000' }).waitFor();
      await page.locator('.table-scroll:not(.stale)').waitFor();
    });
    assert.equal(await page.locator('[data-testid=run-row] td.name').first().innerText(), `run-${RUNS - 49_900}`);
    perf(`runs table, page 500 (offset 49,900): ${deepMs.toFixed(0)} ms`);

    // 1000 rows per page stay smooth: only the rows in view are in the DOM.
    const [bigPageMs] = await timed(async () => {
      await page.goto(`${server.url}/#/experiments/${exp}?size=1000`);
      await page.getByTestId('runs-range').filter({ hasText: 'Runs 1–1000' }).waitFor();
      await page.locator('.table-scroll:not(.stale)').waitFor();
    });
    const rows = await page.getByTestId('run-row').count();
    const scrollMs = await page.evaluate(async () => {
      const el = document.querySelector('.table-scroll');
      const frames = [];
      let last = performance.now();
      for (let i = 0; i < 30; i++) {
        el.scrollTop += 900;
        await new Promise((r) => requestAnimationFrame(r));
        const now = performance.now();
        frames.push(now - last);
        last = now;
      }
      return Math.max(...frames);
    });
    perf(`runs table, 1000-run page: ${bigPageMs.toFixed(0)} ms, ${rows} rows in the DOM, slowest scroll frame ${scrollMs.toFixed(0)} ms`);
    assert.ok(rows < 200, `virtual scrolling keeps the DOM small (${rows} rows)`);
  });

  it('draws a chart of 1,000,000 points through server-side downsampling', async () => {
    const q = new URLSearchParams({ run_ids: BIG_RUN, metric_key: 'loss', max_results: '2500' });
    const [apiMs, r] = await timed(() =>
      fetch(`${server.url}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?${q}`).then((x) => x.json()),
    );
    assert.ok(r.metrics.length > 1000 && r.metrics.length <= 2600, `${r.metrics.length} points`);
    perf(`get-history-bulk-interval over ${POINTS} points -> ${r.metrics.length} (API alone): ${apiMs.toFixed(0)} ms`);

    await page.goto(`${server.url}/#/runs/${BIG_RUN}`);
    await page.getByRole('heading', { name: 'million-points' }).waitFor();
    // Timed on the page's own clock, from the click to uPlot's draw hook: the locator's
    // waitFor polls with a back-off and would add its own few hundred milliseconds.
    const clickedAt = await page.evaluate(() => performance.now());
    await page.getByRole('link', { name: 'Metric charts' }).click();
    await page.locator('[data-testid=metric-chart] .chart-box[data-drawn]').waitFor();
    const box = page.locator('[data-testid=metric-chart] .chart-box[data-drawn]');
    const chartMs = Number(await box.getAttribute('data-drawn-at')) - clickedAt;
    const points = Number(await box.getAttribute('data-points'));
    const drawMs = Number(await box.getAttribute('data-drawn'));
    const fetchMs = await page.evaluate(() =>
      Math.max(...performance.getEntriesByType('resource').filter((e) => e.name.includes('bulk-interval')).map((e) => e.duration)),
    );
    perf(`metric chart of ${POINTS} points: drawn ${chartMs.toFixed(0)} ms after opening the tab (server answer ${fetchMs.toFixed(0)} ms, ${points} points plotted, uPlot draw ${drawMs} ms; target ≤ 500 ms)`);
    assert.ok(points <= 2600);
    await screenshot(page, 'perf-02-chart-1m');
  });

  it('keeps the bundled UI small', async () => {
    const index = await fetch(`${server.url}/`).then((x) => x.text());
    const assets = [...index.matchAll(/(?:src|href)="([^"]*\/static-files\/[^"]+)"/g)].map((m) => m[1]);
    let total = 0;
    const parts = [];
    for (const asset of assets) {
      const { bytes, encoding } = await gzipBytes(`${server.url}${asset}`);
      total += bytes;
      parts.push(`${asset.replace(/\?.*/, '').replace(/.*\//, '')} ${(bytes / 1024).toFixed(1)} KB${encoding === 'gzip' ? ' gz' : ''}`);
    }
    perf(`bundled UI: ${(total / 1024).toFixed(1)} KB gzipped (${parts.join(', ')}; target ≤ 300 KB)`);
    assert.ok(total <= 300 * 1024, `${total} bytes`);
  });
});
