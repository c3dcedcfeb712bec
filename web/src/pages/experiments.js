// experiments.js — the experiments list: search by name, create, rename,
// delete and restore. State in the URL: ?q=<name part>&view=active|deleted|all.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorMessage, FormDialog, Field, Loading, useAsync, useFocusHeading } from '../components.js';
import { href, navigate, setQuery } from '../router.js';
import { formatTime, html, stringClause } from '../util.js';

const VIEWS = { active: 'ACTIVE_ONLY', deleted: 'DELETED_ONLY', all: 'ALL' };
const PAGE = 100;

export async function searchExperiments({ q, view = 'active', token, maxResults = PAGE, signal }) {
  const body = { max_results: maxResults, view_type: VIEWS[view] || 'ACTIVE_ONLY', order_by: ['name ASC'] };
  if (q) body.filter = stringClause('name', 'ILIKE', `%${q}%`);
  if (token) body.page_token = token;
  const r = await api.post('experiments/search', body, { signal });
  return { items: r.experiments || [], next: r.next_page_token };
}

export function ExperimentsPage({ query }) {
  const q = query.q || '';
  const view = query.view || 'active';
  const heading = useFocusHeading('experiments');
  const [pages, setPages] = useState({ key: '', extra: [], next: null });
  const [dialog, setDialog] = useState(null); // {kind: create|rename|delete|restore, experiment}
  const [actionError, setActionError] = useState(null);
  const key = `${q}|${view}`;
  const { data, error, loading, reload } = useAsync(
    (signal) => searchExperiments({ q, view, signal }).then((r) => (setPages({ key, extra: [], next: r.next }), r)),
    [q, view],
  );
  const experiments = [...(data?.items || []), ...(pages.key === key ? pages.extra : [])];
  const next = pages.key === key ? pages.next : data?.next;

  const loadMore = async () => {
    try {
      const r = await searchExperiments({ q, view, token: next });
      setPages({ key, extra: [...(pages.key === key ? pages.extra : []), ...r.items], next: r.next });
    } catch (e) {
      setActionError(e);
    }
  };
  const onSearch = (e) => {
    e.preventDefault();
    setQuery({ q: new FormData(e.target).get('q') });
  };
  const close = () => setDialog(null);
  const after = () => {
    setPages({ key: '', extra: [], next: null });
    reload();
  };

  return html`<section class="page">
    <header class="page-head">
      <h1 tabindex="-1" ref=${heading}>Experiments</h1>
      <button type="button" class="primary" onClick=${() => setDialog({ kind: 'create' })}>New experiment</button>
    </header>
    <div class="toolbar">
      <form role="search" class="search" onSubmit=${onSearch}>
        <label for="exp-q" class="sr-only">Search experiments by name</label>
        <input id="exp-q" name="q" type="search" value=${q} placeholder="Search experiments by name" />
        <button type="submit">Search</button>
      </form>
      <label>Show
        <select value=${view} onChange=${(e) => setQuery({ view: e.target.value === 'active' ? '' : e.target.value })}>
          <option value="active">Active</option>
          <option value="deleted">Deleted</option>
          <option value="all">All</option>
        </select>
      </label>
    </div>
    <${ErrorMessage} error=${error || actionError} onDismiss=${actionError ? () => setActionError(null) : null} />
    ${loading && !data ? html`<${Loading} label="Loading experiments" />` : null}
    ${data &&
    html`<table class="grid" data-testid="experiments-table">
      <thead><tr><th scope="col">Name</th><th scope="col">ID</th><th scope="col">Created</th><th scope="col">Last updated</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>
        ${experiments.length === 0 && html`<tr><td colspan="5" class="muted">No experiments${q ? ` matching “${q}”` : ''}.</td></tr>`}
        ${experiments.map(
          (e) => html`<tr key=${e.experiment_id} data-testid="experiment-row">
            <td><a href=${href('/experiments', e.experiment_id)}>${e.name}</a>${e.lifecycle_stage === 'deleted' && html` <span class="badge st-deleted">deleted</span>`}</td>
            <td class="mono">${e.experiment_id}</td>
            <td>${formatTime(e.creation_time)}</td>
            <td>${formatTime(e.last_update_time)}</td>
            <td class="row-actions">
              ${e.lifecycle_stage === 'deleted'
                ? html`<button type="button" class="link" onClick=${() => setDialog({ kind: 'restore', experiment: e })}>Restore</button>`
                : html`<button type="button" class="link" onClick=${() => setDialog({ kind: 'rename', experiment: e })} aria-label=${`Rename ${e.name}`}>Rename</button>
                  <button type="button" class="link danger" onClick=${() => setDialog({ kind: 'delete', experiment: e })} aria-label=${`Delete ${e.name}`}>Delete</button>`}
            </td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${next && html`<button type="button" onClick=${loadMore}>Load more</button>`}`}

    <${FormDialog} title="New experiment" open=${dialog?.kind === 'create'} onClose=${close} submitLabel="Create"
      onSubmit=${async (form) => {
        const body = { name: String(form.get('name')).trim() };
        const location = String(form.get('artifact_location') || '').trim();
        if (location) body.artifact_location = location;
        const r = await api.post('experiments/create', body);
        navigate(href('/experiments', r.experiment_id));
      }}>
      <${Field} label="Name" name="name" required autofocus />
      <${Field} label="Artifact location (optional)" name="artifact_location" hint="Leave empty for the server's default." />
    <//>
    <${FormDialog} title="Rename experiment" open=${dialog?.kind === 'rename'} onClose=${close} submitLabel="Rename"
      onSubmit=${async (form) => {
        await api.post('experiments/update', { experiment_id: dialog.experiment.experiment_id, new_name: String(form.get('name')).trim() });
        after();
      }}>
      <${Field} label="New name" name="name" value=${dialog?.experiment?.name} required autofocus />
    <//>
    <${FormDialog} title="Delete experiment?" open=${dialog?.kind === 'delete'} onClose=${close} submitLabel="Delete" danger
      onSubmit=${async () => {
        await api.post('experiments/delete', { experiment_id: dialog.experiment.experiment_id });
        after();
      }}>
      <p>“${dialog?.experiment?.name}” and all its runs move to the deleted experiments, from where they can be restored.</p>
    <//>
    <${FormDialog} title="Restore experiment?" open=${dialog?.kind === 'restore'} onClose=${close} submitLabel="Restore"
      onSubmit=${async () => {
        await api.post('experiments/restore', { experiment_id: dialog.experiment.experiment_id });
        after();
      }}>
      <p>“${dialog?.experiment?.name}” and its runs become active again.</p>
    <//>
  </section>`;
}
