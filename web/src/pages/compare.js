// compare.js — several runs side by side: overlaid metric charts (one
// downsampled bulk-interval call per metric for all runs), a parameter diff
// table and the latest metrics. URL: #/compare?runs=a,b,c&x=step&diff=1
import { api } from '../api.js';
import { MetricChart } from '../chart.js';
import { Breadcrumbs, ErrorMessage, Loading, useAsync, useFocusHeading } from '../components.js';
import { href, setQuery } from '../router.js';
import { formatValue, html, PALETTE, runName, toMap } from '../util.js';

export function ComparePage({ query }) {
  const ids = (query.runs || '').split(',').filter(Boolean).slice(0, 100);
  const heading = useFocusHeading(query.runs);
  const xMode = ['step', 'time', 'relative'].includes(query.x) ? query.x : 'step';
  const onlyDiff = query.diff !== '0';
  const runs = useAsync(
    (signal) => Promise.all(ids.map((id) => api.get('runs/get', { run_id: id }, { signal }).then((r) => r.run))),
    [ids.join(',')],
  );
  const experimentId = query.experiment || runs.data?.[0]?.info?.experiment_id;
  const crumbs = [['Experiments', href('/experiments')]];
  if (experimentId) crumbs.push([`Experiment ${experimentId}`, href('/experiments', experimentId)]);
  crumbs.push([`Compare ${ids.length} runs`]);
  if (ids.length < 2)
    return html`<section class="page"><h1>Compare runs</h1><p>Select two or more runs in an experiment's run table, then press Compare.</p></section>`;
  const list = runs.data || [];
  const series = list.map((r, i) => ({ id: r.info.run_id, label: runName(r), color: PALETTE[i % PALETTE.length] }));
  const params = list.map((r) => toMap(r.data?.params));
  const metrics = list.map((r) => toMap(r.data?.metrics));
  const paramKeys = [...new Set(params.flatMap(Object.keys))].sort();
  const metricKeys = [...new Set(metrics.flatMap(Object.keys))].sort();
  const differs = (maps, k) => new Set(maps.map((m) => (k in m ? String(m[k]) : '\u0000'))).size > 1;
  const shownParams = onlyDiff ? paramKeys.filter((k) => differs(params, k)) : paramKeys;
  const chosen = query.metrics ? query.metrics.split(',').filter((k) => metricKeys.includes(k)) : metricKeys.slice(0, 8);

  return html`<section class="page">
    <${Breadcrumbs} items=${crumbs} />
    <header class="page-head"><h1 tabindex="-1" ref=${heading}>Compare ${ids.length} runs</h1></header>
    <${ErrorMessage} error=${runs.error} />
    ${runs.loading && !runs.data && html`<${Loading} label="Loading runs" />`}
    ${runs.data &&
    html`
      <ul class="legend" aria-label="Runs">
        ${series.map((s) => html`<li><span class="swatch" style=${`background:${s.color}`}></span><a href=${href('/runs', s.id)}>${s.label}</a></li>`)}
      </ul>
      <section aria-labelledby="pd-h">
        <div class="section-head">
          <h2 id="pd-h">Parameters</h2>
          <label class="check"><input type="checkbox" checked=${onlyDiff} onChange=${(e) => setQuery({ diff: e.target.checked ? '' : '0' })} /> Only differences</label>
        </div>
        <div class="table-wrap"><table class="grid compact diff" data-testid="param-diff">
          <thead><tr><th scope="col">Parameter</th>${series.map((s) => html`<th scope="col">${s.label}</th>`)}</tr></thead>
          <tbody>
            ${shownParams.length === 0 && html`<tr><td colspan=${series.length + 1} class="muted">${onlyDiff ? 'No parameter differs.' : 'No parameters.'}</td></tr>`}
            ${shownParams.map(
              (k) => html`<tr class=${differs(params, k) ? 'differs' : ''}><th scope="row" class="key">${k}</th>
                ${params.map((p) => html`<td>${k in p ? p[k] : html`<span class="muted">—</span>`}</td>`)}</tr>`,
            )}
          </tbody>
        </table></div>
      </section>
      <section aria-labelledby="md-h">
        <h2 id="md-h">Latest metrics</h2>
        <div class="table-wrap"><table class="grid compact" data-testid="metric-diff">
          <thead><tr><th scope="col">Metric</th>${series.map((s) => html`<th scope="col">${s.label}</th>`)}</tr></thead>
          <tbody>${metricKeys.map(
            (k) => html`<tr><th scope="row" class="key">${k}</th>${metrics.map((m) => html`<td class="num">${k in m ? formatValue(m[k]) : '—'}</td>`)}</tr>`,
          )}</tbody>
        </table></div>
      </section>
      <section aria-labelledby="ch-h">
        <div class="section-head">
          <h2 id="ch-h">Charts</h2>
          <label>X axis
            <select value=${xMode} onChange=${(e) => setQuery({ x: e.target.value === 'step' ? '' : e.target.value })}>
              <option value="step">Step</option><option value="time">Wall time</option><option value="relative">Relative time</option>
            </select>
          </label>
        </div>
        <div class="chart-grid">
          ${chosen.map((k) => html`<${MetricChart} key=${k} metricKey=${k} runs=${series} xMode=${xMode} testid="compare-chart" />`)}
        </div>
      </section>`}
  </section>`;
}
