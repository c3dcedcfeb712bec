// logged_models.js — MLflow 3 logged models: the table of an experiment's
// models (its "Logged models" tab) and one model's page (info, params,
// metrics, tags, artifacts).
import { useState } from 'preact/hooks';
import { api, loggedModelArtifactUrl } from '../api.js';
import { Breadcrumbs, ErrorMessage, KeyValueTable, Loading, StatusBadge, Tabs, useAsync, useFocusHeading } from '../components.js';
import { href, setQuery } from '../router.js';
import { formatTime, formatValue, html } from '../util.js';
import { ArtifactBrowser } from './artifacts.js';

const statusLabel = (s) => String(s || '').replace(/^LOGGED_MODEL_/, '').replace(/_/g, ' ');

export function LoggedModelsTable({ experimentIds }) {
  const [pages, setPages] = useState({ items: [], next: null, key: null });
  const key = experimentIds.join(',');
  const result = useAsync(
    (signal) => api.post('logged-models/search', { experiment_ids: experimentIds, max_results: 100 }, { signal }),
    [key],
  );
  const models = [...(result.data?.models || []), ...(pages.key === key ? pages.items : [])];
  const next = pages.key === key ? pages.next : result.data?.next_page_token;
  const more = async () => {
    const r = await api.post('logged-models/search', { experiment_ids: experimentIds, max_results: 100, page_token: next });
    setPages({ key, items: [...(pages.key === key ? pages.items : []), ...(r.models || [])], next: r.next_page_token });
  };
  return html`<div>
    <${ErrorMessage} error=${result.error} />
    ${result.loading && !result.data && html`<${Loading} label="Loading logged models" />`}
    ${result.data &&
    html`<table class="grid" data-testid="logged-models-table">
      <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Type</th><th scope="col">Created</th><th scope="col">Source run</th></tr></thead>
      <tbody>
        ${models.length === 0 && html`<tr><td colspan="5" class="muted">No logged models in this experiment.</td></tr>`}
        ${models.map(
          ({ info }) => html`<tr key=${info.model_id}>
            <td><a href=${href('/logged-models', info.model_id)}>${info.name}</a></td>
            <td><${StatusBadge} status=${statusLabel(info.status)} /></td>
            <td>${info.model_type || ''}</td>
            <td>${formatTime(info.creation_timestamp_ms)}</td>
            <td>${info.source_run_id ? html`<a class="mono" href=${href('/runs', info.source_run_id)}>${info.source_run_id.slice(0, 12)}</a>` : '—'}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${next && html`<button type="button" onClick=${more}>Load more</button>`}`}
  </div>`;
}

export function LoggedModelPage({ id, query }) {
  const heading = useFocusHeading(id);
  const tab = query.tab || 'overview';
  const result = useAsync((signal) => api.get(`logged-models/${encodeURIComponent(id)}`, null, { signal }).then((r) => r.model), [id]);
  const model = result.data;
  const info = model?.info || {};
  return html`<section class="page">
    <${Breadcrumbs} items=${[['Experiments', href('/experiments')], ...(info.experiment_id ? [[`Experiment ${info.experiment_id}`, href('/experiments', info.experiment_id, 'models')]] : []), [info.name || id]]} />
    <header class="page-head">
      <h1 tabindex="-1" ref=${heading}>${info.name || id}</h1>
      ${model && html`<${StatusBadge} status=${statusLabel(info.status)} />`}
    </header>
    <${ErrorMessage} error=${result.error} />
    ${!model && !result.error && html`<${Loading} label="Loading logged model" />`}
    ${model &&
    html`<${Tabs} current=${tab} tabs=${[['overview', 'Overview'], ['artifacts', 'Artifacts']]} hrefFor=${(t) => href('/logged-models', id, { tab: t === 'overview' ? '' : t })} />
      ${tab === 'overview'
        ? html`<dl class="props">
              <dt>Model ID</dt><dd class="mono">${info.model_id}</dd>
              <dt>Created</dt><dd>${formatTime(info.creation_timestamp_ms)}</dd>
              <dt>Last updated</dt><dd>${formatTime(info.last_updated_timestamp_ms)}</dd>
              <dt>Type</dt><dd>${info.model_type || '—'}</dd>
              <dt>Source run</dt><dd>${info.source_run_id ? html`<a href=${href('/runs', info.source_run_id)}>${info.source_run_id}</a>` : '—'}</dd>
              <dt>Artifact URI</dt><dd class="mono">${info.artifact_uri}</dd>
            </dl>
            <div class="columns">
              <section><h2>Parameters</h2><${KeyValueTable} items=${model.data?.params} empty="No parameters." /></section>
              <section><h2>Metrics</h2>
                <table class="grid compact"><thead><tr><th scope="col">Metric</th><th scope="col">Value</th><th scope="col">Step</th><th scope="col">Dataset</th></tr></thead>
                <tbody>
                  ${(model.data?.metrics || []).length === 0 && html`<tr><td colspan="4" class="muted">No metrics.</td></tr>`}
                  ${(model.data?.metrics || []).map(
                    (m) => html`<tr><th scope="row" class="key">${m.key}</th><td class="num">${formatValue(m.value)}</td><td class="num">${m.step}</td><td>${m.dataset_name || ''}</td></tr>`,
                  )}
                </tbody></table>
              </section>
            </div>
            <section><h2>Tags</h2>
              <${KeyValueTable} items=${info.tags} empty="No tags."
                onAdd=${async (key, value) => (await api.patch(`logged-models/${encodeURIComponent(id)}/tags`, { tags: [{ key, value }] }), result.reload())}
                onDelete=${async (key) => (await api.del(`logged-models/${encodeURIComponent(id)}/tags/${encodeURIComponent(key)}`), result.reload())} />
            </section>`
        : html`<${ArtifactBrowser} rootUri=${info.artifact_uri} selected=${query.path || ''} onSelect=${(p) => setQuery({ path: p })}
            fileUrl=${(p) => loggedModelArtifactUrl(id, p)}
            list=${async (path) => {
              const r = await api.get(`logged-models/${encodeURIComponent(id)}/artifacts/directories`, { artifact_directory_path: path || undefined });
              return r.files || [];
            }} />`}`}
  </section>`;
}
