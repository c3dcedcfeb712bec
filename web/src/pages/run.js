// run.js — one run: overview (info, params, latest metrics, tags, inputs and
// outputs), metric charts by step or time, and the artifact browser with
// "Register model" for directories holding an MLmodel.
// URL: #/runs/<id>?tab=overview|charts|artifacts&metrics=a,b&x=step&path=...
import { useState } from 'preact/hooks';
import { api, runArtifactUrl } from '../api.js';
import { MetricChart } from '../chart.js';
import {
  Breadcrumbs, ErrorMessage, Field, FormDialog, KeyValueTable, Loading, StatusBadge, Tabs, useAsync, useFocusHeading,
} from '../components.js';
import { href, navigate, setQuery } from '../router.js';
import { formatDuration, formatTime, formatValue, html, runName, toMap } from '../util.js';
import { ArtifactBrowser } from './artifacts.js';

export function RunPage({ id, query }) {
  const tab = query.tab || 'overview';
  const heading = useFocusHeading(id);
  const run = useAsync((signal) => api.get('runs/get', { run_id: id }, { signal }).then((r) => r.run), [id]);
  const experimentId = run.data?.info?.experiment_id;
  const exp = useAsync(
    (signal) => (experimentId ? api.get('experiments/get', { experiment_id: experimentId }, { signal }) : null),
    [experimentId],
  );
  const [dialog, setDialog] = useState(null);
  if (run.error) return html`<section class="page"><h1>Run ${id}</h1><${ErrorMessage} error=${run.error} /></section>`;
  if (!run.data) return html`<section class="page"><${Loading} label="Loading run" /></section>`;
  const r = run.data;
  const info = r.info;
  const expName = exp.data?.experiment?.name || `Experiment ${experimentId}`;
  return html`<section class="page">
    <${Breadcrumbs} items=${[['Experiments', href('/experiments')], [expName, href('/experiments', experimentId)], [runName(r)]]} />
    <header class="page-head">
      <h1 tabindex="-1" ref=${heading}>${runName(r)}</h1>
      <${StatusBadge} status=${info.status} />
      ${info.lifecycle_stage === 'deleted' && html`<span class="badge st-deleted">deleted</span>`}
      <span class="spacer"></span>
      <button type="button" onClick=${() => setDialog('rename')} disabled=${info.lifecycle_stage !== 'active'}>Rename</button>
      ${info.lifecycle_stage === 'deleted'
        ? html`<button type="button" onClick=${() => setDialog('restore')}>Restore</button>`
        : html`<button type="button" class="danger" onClick=${() => setDialog('delete')}>Delete</button>`}
    </header>
    <${Tabs} current=${tab} tabs=${[['overview', 'Overview'], ['charts', 'Metric charts'], ['artifacts', 'Artifacts']]}
      hrefFor=${(t) => href('/runs', id, { tab: t === 'overview' ? '' : t })} />
    ${tab === 'overview' && html`<${Overview} run=${r} reload=${run.reload} />`}
    ${tab === 'charts' && html`<${Charts} run=${r} query=${query} />`}
    ${tab === 'artifacts' && html`<${RunArtifacts} run=${r} query=${query} />`}
    <${FormDialog} title="Rename run" open=${dialog === 'rename'} onClose=${() => setDialog(null)} submitLabel="Rename"
      onSubmit=${async (form) => {
        await api.post('runs/update', { run_id: id, run_name: String(form.get('name')).trim() });
        run.reload();
      }}>
      <${Field} label="New name" name="name" value=${runName(r)} required autofocus />
    <//>
    <${FormDialog} title="Delete run?" open=${dialog === 'delete'} onClose=${() => setDialog(null)} submitLabel="Delete" danger
      onSubmit=${async () => {
        await api.post('runs/delete', { run_id: id });
        run.reload();
      }}><p>The run can be restored later.</p><//>
    <${FormDialog} title="Restore run?" open=${dialog === 'restore'} onClose=${() => setDialog(null)} submitLabel="Restore"
      onSubmit=${async () => {
        await api.post('runs/restore', { run_id: id });
        run.reload();
      }}><p>The run becomes active again.</p><//>
  </section>`;
}

function Overview({ run, reload }) {
  const { info, data = {}, inputs = {}, outputs = {} } = run;
  const tags = toMap(data.tags);
  const [showSystem, setShowSystem] = useState(false);
  const visibleTags = (data.tags || []).filter((t) => showSystem || !t.key.startsWith('mlflow.'));
  const parent = tags['mlflow.parentRunId'];
  const active = info.lifecycle_stage === 'active';
  return html`<div class="overview">
    <dl class="props" data-testid="run-info">
      <dt>Run ID</dt><dd class="mono">${info.run_id}</dd>
      <dt>Started</dt><dd>${formatTime(info.start_time)}</dd>
      <dt>Ended</dt><dd>${formatTime(info.end_time)}</dd>
      <dt>Duration</dt><dd>${formatDuration(info.start_time, info.end_time)}</dd>
      <dt>User</dt><dd>${info.user_id || '—'}</dd>
      <dt>Source</dt><dd>${tags['mlflow.source.name'] || '—'}${tags['mlflow.source.git.commit'] ? html` <span class="mono">@ ${tags['mlflow.source.git.commit'].slice(0, 10)}</span>` : ''}</dd>
      ${parent && html`<dt>Parent run</dt><dd><a href=${href('/runs', parent)}>${parent}</a></dd>`}
      <dt>Artifact URI</dt><dd class="mono">${info.artifact_uri || '—'}</dd>
    </dl>
    <div class="columns">
      <section aria-labelledby="params-h">
        <h2 id="params-h">Parameters (${(data.params || []).length})</h2>
        <${KeyValueTable} items=${data.params} empty="No parameters." testid="run-params" />
      </section>
      <section aria-labelledby="metrics-h">
        <h2 id="metrics-h">Metrics (${(data.metrics || []).length})</h2>
        <table class="grid compact" data-testid="run-metrics">
          <thead><tr><th scope="col">Metric</th><th scope="col">Latest value</th><th scope="col">Step</th><th scope="col">Logged</th></tr></thead>
          <tbody>
            ${(data.metrics || []).length === 0 && html`<tr><td colspan="4" class="muted">No metrics.</td></tr>`}
            ${(data.metrics || []).map(
              (m) => html`<tr key=${m.key}>
                <th scope="row" class="key"><a href=${href('/runs', info.run_id, { tab: 'charts', metrics: m.key })}>${m.key}</a></th>
                <td class="num">${formatValue(m.value)}</td><td class="num">${m.step}</td><td>${formatTime(m.timestamp)}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </section>
    </div>
    <section aria-labelledby="tags-h">
      <h2 id="tags-h">Tags</h2>
      <label class="check"><input type="checkbox" checked=${showSystem} onChange=${(e) => setShowSystem(e.target.checked)} /> Show system tags (mlflow.*)</label>
      <${KeyValueTable} items=${visibleTags} empty="No tags." testid="run-tags"
        onAdd=${active ? async (key, value) => (await api.post('runs/set-tag', { run_id: info.run_id, key, value }), reload()) : null}
        onDelete=${active ? async (key) => (await api.post('runs/delete-tag', { run_id: info.run_id, key }), reload()) : null} />
    </section>
    ${(inputs.dataset_inputs || []).length > 0 &&
    html`<section aria-labelledby="ds-h"><h2 id="ds-h">Datasets</h2>
      <table class="grid compact"><thead><tr><th scope="col">Name</th><th scope="col">Digest</th><th scope="col">Source type</th><th scope="col">Context</th></tr></thead>
      <tbody>${inputs.dataset_inputs.map(
        (d) => html`<tr><td>${d.dataset?.name}</td><td class="mono">${d.dataset?.digest}</td><td>${d.dataset?.source_type}</td>
          <td>${toMap(d.tags)['mlflow.data.context'] || ''}</td></tr>`,
      )}</tbody></table></section>`}
    ${((outputs.model_outputs || []).length > 0 || (inputs.model_inputs || []).length > 0) &&
    html`<section aria-labelledby="lm-h"><h2 id="lm-h">Logged models</h2><ul>
      ${(outputs.model_outputs || []).map((m) => html`<li>output: <a href=${href('/logged-models', m.model_id)}>${m.model_id}</a> (step ${m.step})</li>`)}
      ${(inputs.model_inputs || []).map((m) => html`<li>input: <a href=${href('/logged-models', m.model_id)}>${m.model_id}</a></li>`)}
    </ul></section>`}
  </div>`;
}

function Charts({ run, query }) {
  const keys = (run.data?.metrics || []).map((m) => m.key).sort();
  const chosen = query.metrics ? query.metrics.split(',').filter((k) => keys.includes(k)) : keys.slice(0, 6);
  const xMode = ['step', 'time', 'relative'].includes(query.x) ? query.x : 'step';
  if (keys.length === 0) return html`<p class="muted">This run has no metrics.</p>`;
  const toggle = (k) => {
    const next = chosen.includes(k) ? chosen.filter((c) => c !== k) : [...chosen, k];
    setQuery({ metrics: next.join(',') });
  };
  const runs = [{ id: run.info.run_id, label: runName(run) }];
  return html`<div class="charts-page">
    <div class="toolbar">
      <label>X axis
        <select value=${xMode} onChange=${(e) => setQuery({ x: e.target.value === 'step' ? '' : e.target.value })}>
          <option value="step">Step</option><option value="time">Wall time</option><option value="relative">Relative time</option>
        </select>
      </label>
      <details class="dropdown"><summary>Metrics (${chosen.length} of ${keys.length})</summary>
        <div class="dropdown-body">
          ${keys.map((k) => html`<label class="check"><input type="checkbox" checked=${chosen.includes(k)} onChange=${() => toggle(k)} /> ${k}</label>`)}
        </div>
      </details>
      ${xMode === 'step' && html`<span class="muted">Drag across a chart to zoom into a step range.</span>`}
    </div>
    <div class="chart-grid">
      ${chosen.map((k) => html`<${MetricChart} key=${k} metricKey=${k} runs=${runs} xMode=${xMode} testid="metric-chart" />`)}
    </div>
  </div>`;
}

function RunArtifacts({ run, query }) {
  const info = run.info;
  const [register, setRegister] = useState(null);
  const list = async (path) => {
    const r = await api.get('artifacts/list', { run_id: info.run_id, path: path || undefined });
    return r.files || [];
  };
  const actions = (path, isDir, entries) => {
    const dir = isDir ? path : /(^|\/)MLmodel$/.test(path) ? path.replace(/\/?MLmodel$/, '') : null;
    const hasModel = isDir ? entries.some((f) => f.path === (path ? `${path}/MLmodel` : 'MLmodel')) : dir !== null;
    if (!hasModel || info.lifecycle_stage !== 'active') return null;
    return html`<div class="callout">This directory holds an MLflow model.
      <button type="button" class="primary" data-testid="register-model" onClick=${() => setRegister(dir)}>Register model</button></div>`;
  };
  return html`<div>
    <${ArtifactBrowser} list=${list} rootUri=${info.artifact_uri} selected=${query.path || ''}
      fileUrl=${(p) => runArtifactUrl(info.run_id, p)} onSelect=${(p) => setQuery({ path: p })} actions=${actions} />
    <${RegisterDialog} run=${run} dir=${register} onClose=${() => setRegister(null)} />
  </div>`;
}

function RegisterDialog({ run, dir, onClose }) {
  const models = useAsync(
    (signal) => (dir === null ? [] : api.get('registered-models/search', { max_results: 1000 }, { signal }).then((r) => r.registered_models || [])),
    [dir],
  );
  const source = `${run.info.artifact_uri}${dir ? `/${dir}` : ''}`;
  return html`<${FormDialog} title="Register model" open=${dir !== null} onClose=${onClose} submitLabel="Register"
    onSubmit=${async (form) => {
      const name = String(form.get('model')).trim();
      try {
        await api.post('registered-models/create', { name });
      } catch (e) {
        if (e.code !== 'RESOURCE_ALREADY_EXISTS') throw e;
      }
      const r = await api.post('model-versions/create', { name, source, run_id: run.info.run_id });
      navigate(href('/models', name, 'versions', r.model_version.version));
    }}>
    <p>Source: <span class="mono">${source}</span></p>
    <${Field} label="Registered model (new or existing)" name="model" required autofocus list="model-names" autocomplete="off" />
    <datalist id="model-names">${(models.data || []).map((m) => html`<option value=${m.name} />`)}</datalist>
  <//>`;
}
