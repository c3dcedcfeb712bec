// models.js — the model registry: registered models (search, create),
// one model (description, tags, aliases, versions) and one version (stage,
// source run, tags, aliases, description).
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import {
  Breadcrumbs, ErrorMessage, Field, FormDialog, KeyValueTable, Loading, StatusBadge, useAsync, useFocusHeading,
} from '../components.js';
import { href, navigate, setQuery } from '../router.js';
import { formatTime, html, stringClause } from '../util.js';

const STAGES = ['None', 'Staging', 'Production', 'Archived'];

export function ModelsPage({ query }) {
  const q = query.q || '';
  const heading = useFocusHeading('models');
  const [creating, setCreating] = useState(false);
  const [extra, setExtra] = useState({ key: null, items: [], next: null });
  const result = useAsync(
    (signal) =>
      api.get('registered-models/search', { max_results: 100, filter: q ? stringClause('name', 'ILIKE', `%${q}%`) : undefined, order_by: 'name ASC' }, { signal }),
    [q],
  );
  const models = [...(result.data?.registered_models || []), ...(extra.key === q ? extra.items : [])];
  const next = extra.key === q ? extra.next : result.data?.next_page_token;
  const more = async () => {
    const r = await api.get('registered-models/search', { max_results: 100, filter: q ? stringClause('name', 'ILIKE', `%${q}%`) : undefined, page_token: next });
    setExtra({ key: q, items: [...(extra.key === q ? extra.items : []), ...(r.registered_models || [])], next: r.next_page_token });
  };
  return html`<section class="page">
    <header class="page-head">
      <h1 tabindex="-1" ref=${heading}>Registered models</h1>
      <button type="button" class="primary" onClick=${() => setCreating(true)}>New model</button>
    </header>
    <form role="search" class="search toolbar" onSubmit=${(e) => (e.preventDefault(), setQuery({ q: new FormData(e.target).get('q') }))}>
      <label for="model-q" class="sr-only">Search models by name</label>
      <input id="model-q" name="q" type="search" value=${q} placeholder="Search models by name" />
      <button type="submit">Search</button>
    </form>
    <${ErrorMessage} error=${result.error} />
    ${result.loading && !result.data && html`<${Loading} label="Loading models" />`}
    ${result.data &&
    html`<table class="grid" data-testid="models-table">
      <thead><tr><th scope="col">Name</th><th scope="col">Latest versions</th><th scope="col">Aliases</th><th scope="col">Last modified</th></tr></thead>
      <tbody>
        ${models.length === 0 && html`<tr><td colspan="4" class="muted">No registered models.</td></tr>`}
        ${models.map(
          (m) => html`<tr key=${m.name}>
            <td><a href=${href('/models', m.name)}>${m.name}</a></td>
            <td>${(m.latest_versions || []).map((v) => html`<a href=${href('/models', m.name, 'versions', v.version)} class="chip">v${v.version} ${v.current_stage !== 'None' ? v.current_stage : ''}</a> `)}</td>
            <td>${(m.aliases || []).map((a) => html`<span class="chip alias">@${a.alias} → v${a.version}</span> `)}</td>
            <td>${formatTime(m.last_updated_timestamp || m.creation_timestamp)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${next && html`<button type="button" onClick=${more}>Load more</button>`}`}
    <${FormDialog} title="New registered model" open=${creating} onClose=${() => setCreating(false)} submitLabel="Create"
      onSubmit=${async (form) => {
        const name = String(form.get('name')).trim();
        const body = { name };
        const description = String(form.get('description') || '').trim();
        if (description) body.description = description;
        await api.post('registered-models/create', body);
        navigate(href('/models', name));
      }}>
      <${Field} label="Name" name="name" required autofocus />
      <${Field} label="Description (optional)" name="description" />
    <//>
  </section>`;
}

export function ModelPage({ name }) {
  const heading = useFocusHeading(name);
  const model = useAsync((signal) => api.get('registered-models/get', { name }, { signal }).then((r) => r.registered_model), [name]);
  const versions = useAsync(
    (signal) =>
      // A name with both quote kinds is searched a little wider (stringClause): keep its own versions.
      api.get('model-versions/search', { filter: stringClause('name', '=', name), max_results: 1000, order_by: 'version_number DESC' }, { signal })
        .then((r) => (r.model_versions || []).filter((v) => v.name === name)),
    [name],
  );
  const [dialog, setDialog] = useState(null);
  const m = model.data;
  const aliasesOf = (v) => (m?.aliases || []).filter((a) => a.version === v.version).map((a) => a.alias);
  const reloadAll = () => {
    model.reload();
    versions.reload();
  };
  return html`<section class="page">
    <${Breadcrumbs} items=${[['Models', href('/models')], [name]]} />
    <header class="page-head">
      <h1 tabindex="-1" ref=${heading}>${name}</h1>
      <span class="spacer"></span>
      <button type="button" onClick=${() => setDialog('rename')} disabled=${!m}>Rename</button>
      <button type="button" class="danger" onClick=${() => setDialog('delete')} disabled=${!m}>Delete</button>
    </header>
    <${ErrorMessage} error=${model.error || versions.error} />
    ${!m && !model.error && html`<${Loading} label="Loading model" />`}
    ${m &&
    html`<dl class="props">
        <dt>Created</dt><dd>${formatTime(m.creation_timestamp)}</dd>
        <dt>Last modified</dt><dd>${formatTime(m.last_updated_timestamp)}</dd>
        <dt>Description</dt><dd>${m.description || html`<span class="muted">none</span>`} <button type="button" class="link" onClick=${() => setDialog('describe')}>Edit</button></dd>
      </dl>
      <section aria-labelledby="al-h">
        <h2 id="al-h">Aliases</h2>
        <${AliasEditor} name=${name} aliases=${m.aliases || []} versions=${versions.data || []} onChange=${reloadAll} />
      </section>
      <section aria-labelledby="v-h">
        <h2 id="v-h">Versions</h2>
        <table class="grid" data-testid="versions-table">
          <thead><tr><th scope="col">Version</th><th scope="col">Stage</th><th scope="col">Aliases</th><th scope="col">Created</th><th scope="col">Source run</th></tr></thead>
          <tbody>
            ${(versions.data || []).length === 0 && html`<tr><td colspan="5" class="muted">No versions yet. Register one from a run's artifacts.</td></tr>`}
            ${(versions.data || []).map(
              (v) => html`<tr key=${v.version}>
                <td><a href=${href('/models', name, 'versions', v.version)}>Version ${v.version}</a></td>
                <td><${StatusBadge} status=${v.current_stage} /></td>
                <td>${aliasesOf(v).map((a) => html`<span class="chip alias">@${a}</span> `)}</td>
                <td>${formatTime(v.creation_timestamp)}</td>
                <td>${v.run_id ? html`<a href=${href('/runs', v.run_id)} class="mono">${v.run_id.slice(0, 12)}</a>` : '—'}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="t-h">
        <h2 id="t-h">Tags</h2>
        <${KeyValueTable} items=${m.tags} empty="No tags."
          onAdd=${async (key, value) => (await api.post('registered-models/set-tag', { name, key, value }), model.reload())}
          onDelete=${async (key) => (await api.del('registered-models/delete-tag', { name, key }), model.reload())} />
      </section>`}
    <${FormDialog} title="Rename model" open=${dialog === 'rename'} onClose=${() => setDialog(null)} submitLabel="Rename"
      onSubmit=${async (form) => {
        const r = await api.post('registered-models/rename', { name, new_name: String(form.get('name')).trim() });
        navigate(href('/models', r.registered_model?.name || String(form.get('name')).trim()), { replace: true });
      }}>
      <${Field} label="New name" name="name" value=${name} required autofocus />
    <//>
    <${FormDialog} title="Delete model?" open=${dialog === 'delete'} onClose=${() => setDialog(null)} submitLabel="Delete" danger
      onSubmit=${async () => {
        await api.del('registered-models/delete', { name });
        navigate(href('/models'));
      }}>
      <p>“${name}” and all its versions are deleted for good.</p>
    <//>
    <${FormDialog} title="Edit description" open=${dialog === 'describe'} onClose=${() => setDialog(null)}
      onSubmit=${async (form) => (await api.patch('registered-models/update', { name, description: String(form.get('description')) }), model.reload())}>
      <${Field} label="Description" name="description">
        <textarea id="f-description" name="description" rows="5">${m?.description || ''}</textarea>
      <//>
    <//>
  </section>`;
}

function AliasEditor({ name, aliases, versions, onChange, fixedVersion }) {
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    setError(null);
    try {
      await api.post('registered-models/alias', { name, alias: String(form.get('alias')).trim(), version: String(fixedVersion || form.get('version')) });
      e.target.reset();
      onChange();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (alias) => {
    setError(null);
    try {
      await api.del('registered-models/alias', { name, alias });
      onChange();
    } catch (err) {
      setError(err);
    }
  };
  const shown = fixedVersion ? aliases.filter((a) => a.version === fixedVersion) : aliases;
  return html`<div data-testid="aliases">
    <ul class="chips">
      ${shown.length === 0 && html`<li class="muted">No aliases.</li>`}
      ${shown.map(
        (a) => html`<li class="chip alias">@${a.alias} → <a href=${href('/models', name, 'versions', a.version)}>v${a.version}</a>
          <button type="button" class="link danger" aria-label=${`Remove alias ${a.alias}`} onClick=${() => remove(a.alias)}>×</button></li>`,
      )}
    </ul>
    <form class="inline" onSubmit=${submit}>
      <label>Alias <input name="alias" required pattern="[\\w\\-]+" placeholder="champion" /></label>
      ${!fixedVersion &&
      html`<label>Version <select name="version" required>${versions.map((v) => html`<option value=${v.version}>${v.version}</option>`)}</select></label>`}
      <button type="submit" class="primary" disabled=${!fixedVersion && versions.length === 0}>Set alias</button>
    </form>
    <${ErrorMessage} error=${error} />
  </div>`;
}

export function ModelVersionPage({ name, version }) {
  const heading = useFocusHeading(`${name}/${version}`);
  const mv = useAsync((signal) => api.get('model-versions/get', { name, version }, { signal }).then((r) => r.model_version), [name, version]);
  const model = useAsync((signal) => api.get('registered-models/get', { name }, { signal }).then((r) => r.registered_model), [name]);
  const [stageError, setStageError] = useState(null);
  const [dialog, setDialog] = useState(null);
  const v = mv.data;
  const reload = () => {
    mv.reload();
    model.reload();
  };
  const transition = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    setStageError(null);
    try {
      await api.post('model-versions/transition-stage', {
        name, version, stage: form.get('stage'), archive_existing_versions: form.get('archive') === 'on',
      });
      reload();
    } catch (err) {
      setStageError(err);
    }
  };
  return html`<section class="page">
    <${Breadcrumbs} items=${[['Models', href('/models')], [name, href('/models', name)], [`Version ${version}`]]} />
    <header class="page-head">
      <h1 tabindex="-1" ref=${heading}>${name} · version ${version}</h1>
      ${v && html`<${StatusBadge} status=${v.current_stage} />`}
      <span class="spacer"></span>
      <button type="button" class="danger" onClick=${() => setDialog('delete')} disabled=${!v}>Delete version</button>
    </header>
    <${ErrorMessage} error=${mv.error} />
    ${!v && !mv.error && html`<${Loading} label="Loading version" />`}
    ${v &&
    html`<dl class="props" data-testid="version-info">
        <dt>Created</dt><dd>${formatTime(v.creation_timestamp)}</dd>
        <dt>Last modified</dt><dd>${formatTime(v.last_updated_timestamp)}</dd>
        <dt>Status</dt><dd>${v.status}${v.status_message ? ` — ${v.status_message}` : ''}</dd>
        <dt>Source</dt><dd class="mono">${v.source}</dd>
        <dt>Source run</dt><dd>${v.run_id ? html`<a href=${href('/runs', v.run_id)} data-testid="source-run">${v.run_id}</a>` : '—'}</dd>
        ${v.user_id && html`<dt>User</dt><dd>${v.user_id}</dd>`}
        <dt>Description</dt><dd>${v.description || html`<span class="muted">none</span>`} <button type="button" class="link" onClick=${() => setDialog('describe')}>Edit</button></dd>
      </dl>
      <section aria-labelledby="st-h">
        <h2 id="st-h">Stage</h2>
        <form class="inline" onSubmit=${transition}>
          <label>Move to <select name="stage">${STAGES.map((s) => html`<option value=${s} selected=${s === v.current_stage}>${s}</option>`)}</select></label>
          <label class="check"><input type="checkbox" name="archive" /> Archive other versions in that stage</label>
          <button type="submit">Transition</button>
        </form>
        <${ErrorMessage} error=${stageError} />
      </section>
      <section aria-labelledby="al-h">
        <h2 id="al-h">Aliases</h2>
        <${AliasEditor} name=${name} aliases=${model.data?.aliases || []} versions=${[]} fixedVersion=${String(version)} onChange=${reload} />
      </section>
      <section aria-labelledby="t-h">
        <h2 id="t-h">Tags</h2>
        <${KeyValueTable} items=${v.tags} empty="No tags."
          onAdd=${async (key, value) => (await api.post('model-versions/set-tag', { name, version, key, value }), mv.reload())}
          onDelete=${async (key) => (await api.del('model-versions/delete-tag', { name, version, key }), mv.reload())} />
      </section>`}
    <${FormDialog} title="Delete this version?" open=${dialog === 'delete'} onClose=${() => setDialog(null)} submitLabel="Delete" danger
      onSubmit=${async () => {
        await api.del('model-versions/delete', { name, version });
        navigate(href('/models', name));
      }}>
      <p>Version ${version} of “${name}” is deleted; its aliases are removed.</p>
    <//>
    <${FormDialog} title="Edit description" open=${dialog === 'describe'} onClose=${() => setDialog(null)}
      onSubmit=${async (form) => (await api.patch('model-versions/update', { name, version, description: String(form.get('description')) }), mv.reload())}>
      <${Field} label="Description" name="description">
        <textarea id="f-description" name="description" rows="5">${v?.description || ''}</textarea>
      <//>
    <//>
  </section>`;
}
