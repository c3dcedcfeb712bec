// runs.js — an experiment's page: its runs in a table that stays fast at
// 100,000 runs. The server does the work: runs/search with the MLflow filter
// grammar, order_by and offset paging; the browser renders only the rows in
// view (virtual scrolling inside a page of up to 1000 runs).
// URL state: ?filter=&order=&cols=&size=&page=&view=
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import {
  Breadcrumbs, ErrorMessage, FormDialog, KeyValueTable, Loading, StatusBadge, Tabs, useAsync, useFocusHeading,
} from '../components.js';
import { href, navigate, setQuery } from '../router.js';
import { classNames, formatDuration, formatTime, formatValue, html, quoteKey, runName, stringClause } from '../util.js';
import { LoggedModelsTable } from './logged_models.js';

const VIEWS = { active: 'ACTIVE_ONLY', deleted: 'DELETED_ONLY', all: 'ALL' };
const SIZES = [50, 100, 250, 1000];
const ROW_HEIGHT = 34;
const OVERSCAN = 10;

// Offset page tokens are Base64 of Python's json.dumps({"offset": N})
// (search-grammar.md §6), so page N of size S is addressable from the URL.
export const offsetToken = (offset) => (offset > 0 ? btoa(`{"offset": ${offset}}`) : undefined);

// Free text that is not a filter expression searches run names.
export function toFilter(text) {
  const t = (text || '').trim();
  if (!t) return '';
  if (/(=|<|>|\bLIKE\b|\bILIKE\b|\bIN\b)/i.test(t)) return t;
  return stringClause('attributes.run_name', 'ILIKE', `%${t}%`);
}

const ATTRIBUTE_COLUMNS = [
  { id: 'a:run_name', label: 'Run name', order: 'attributes.run_name' },
  { id: 'a:start_time', label: 'Created', order: 'attributes.start_time' },
  { id: 'a:duration', label: 'Duration' },
  { id: 'a:status', label: 'Status', order: 'attributes.status' },
  { id: 'a:user_id', label: 'User', order: 'attributes.user_id' },
];
const KINDS = { m: ['metrics', 'Metric'], p: ['params', 'Param'], t: ['tags', 'Tag'] };

function columnOf(id) {
  const kind = id[0];
  const key = id.slice(2);
  const [entity, label] = KINDS[kind];
  return { id, kind, key, label: key, title: `${label} ${key}`, order: `${entity}.${quoteKey(key)}` };
}

const parseCols = (text) => (text ? text.split(',').map(decodeURIComponent).filter((c) => /^[mpt]:/.test(c)) : null);
const formatCols = (cols) => cols.map(encodeURIComponent).join(',');

function cellValue(run, col) {
  const { info } = run;
  switch (col.id) {
    case 'a:start_time':
      return formatTime(info.start_time);
    case 'a:duration':
      return formatDuration(info.start_time, info.end_time);
    case 'a:status':
      return html`<${StatusBadge} status=${info.status} />`;
    case 'a:user_id':
      return info.user_id;
    default:
      break;
  }
  const list = col.kind === 'm' ? run.data?.metrics : col.kind === 'p' ? run.data?.params : run.data?.tags;
  const found = (list || []).find((x) => x.key === col.key);
  return found ? formatValue(found.value) : '';
}

export function ExperimentPage({ id, tab = 'runs', query }) {
  const exp = useAsync((signal) => api.get('experiments/get', { experiment_id: id }, { signal }), [id]);
  const heading = useFocusHeading(id);
  const experiment = exp.data?.experiment;
  return html`<section class="page">
    <${Breadcrumbs} items=${[['Experiments', href('/experiments')], [experiment?.name || id]]} />
    <header class="page-head">
      <h1 tabindex="-1" ref=${heading}>${experiment ? experiment.name : `Experiment ${id}`}</h1>
      ${experiment?.lifecycle_stage === 'deleted' && html`<span class="badge st-deleted">deleted</span>`}
    </header>
    <${ErrorMessage} error=${exp.error} />
    ${experiment &&
    html`<details class="meta">
      <summary>ID ${experiment.experiment_id} · artifacts at <span class="mono">${experiment.artifact_location}</span></summary>
      <dl class="props">
        <dt>Created</dt><dd>${formatTime(experiment.creation_time)}</dd>
        <dt>Last updated</dt><dd>${formatTime(experiment.last_update_time)}</dd>
      </dl>
      <${KeyValueTable} caption="Experiment tags" items=${(experiment.tags || []).filter((t) => !t.key.startsWith('mlflow.'))}
        onAdd=${async (key, value) => {
          await api.post('experiments/set-experiment-tag', { experiment_id: id, key, value });
          exp.reload();
        }}
        onDelete=${async (key) => {
          await api.post('experiments/delete-experiment-tag', { experiment_id: id, key });
          exp.reload();
        }} />
    </details>`}
    <${Tabs} current=${tab} tabs=${[['runs', 'Runs'], ['models', 'Logged models']]}
      hrefFor=${(t) => (t === 'runs' ? href('/experiments', id) : href('/experiments', id, 'models'))} />
    ${tab === 'models' ? html`<${LoggedModelsTable} experimentIds=${[id]} />` : html`<${RunsTable} experimentId=${id} query=${query} />`}
  </section>`;
}

function RunsTable({ experimentId, query }) {
  const filterText = query.filter || '';
  const order = query.order || '';
  const view = query.view || 'active';
  const size = SIZES.includes(Number(query.size)) ? Number(query.size) : 100;
  const page = Math.max(0, Number.parseInt(query.page || '0', 10) || 0);
  const [selected, setSelected] = useState(() => new Set());
  const [dialog, setDialog] = useState(null);
  const [actionError, setActionError] = useState(null);
  const started = useRef(0);

  const result = useAsync(
    (signal) => {
      started.current = performance.now();
      const body = {
        experiment_ids: [experimentId],
        max_results: size,
        run_view_type: VIEWS[view] || 'ACTIVE_ONLY',
      };
      const filter = toFilter(filterText);
      if (filter) body.filter = filter;
      if (order) body.order_by = [order];
      const token = offsetToken(page * size);
      if (token) body.page_token = token;
      return api.post('runs/search', body, { signal }).then((r) => ({ ...r, page, size }));
    },
    [experimentId, filterText, order, view, size, page],
  );
  useEffect(() => setSelected(new Set()), [experimentId, filterText, order, view, size, page]);

  const runs = result.data?.runs || [];
  const hasNext = !!result.data?.next_page_token && runs.length === size;

  // Keys seen on this page, for the column chooser and the default columns.
  const seen = useMemo(() => {
    const keys = { m: new Set(), p: new Set(), t: new Set() };
    for (const r of runs) {
      for (const x of r.data?.metrics || []) keys.m.add(x.key);
      for (const x of r.data?.params || []) keys.p.add(x.key);
      for (const x of r.data?.tags || []) if (!x.key.startsWith('mlflow.')) keys.t.add(x.key);
    }
    return keys;
  }, [runs]);
  const chosen = parseCols(query.cols) ||
    [...[...seen.m].sort().slice(0, 4).map((k) => `m:${k}`), ...[...seen.p].sort().slice(0, 4).map((k) => `p:${k}`)];
  const columns = [...ATTRIBUTE_COLUMNS, ...chosen.map(columnOf)];

  const sortBy = (col) => {
    if (!col.order) return;
    const [current, dir] = order.split(/\s+(?=(?:ASC|DESC)$)/i);
    const nextDir = current === col.order && (dir || 'ASC').toUpperCase() === 'DESC' ? 'ASC' : 'DESC';
    setQuery({ order: `${col.order} ${nextDir}`, page: '' });
  };
  const sortState = (col) => {
    if (!col.order) return undefined;
    const m = order.match(/^(.*?)\s*(ASC|DESC)?$/i);
    if (!m || m[1] !== col.order) return col.id === 'a:start_time' && !order ? 'descending' : undefined;
    return (m[2] || 'ASC').toUpperCase() === 'DESC' ? 'descending' : 'ascending';
  };

  const toggle = (runId) => {
    const s = new Set(selected);
    if (s.has(runId)) s.delete(runId);
    else s.add(runId);
    setSelected(s);
  };
  const allSelected = runs.length > 0 && runs.every((r) => selected.has(r.info.run_id));

  const onFilter = (e) => {
    e.preventDefault();
    setQuery({ filter: new FormData(e.target).get('filter'), page: '' });
  };

  // While the next page loads the previous one stays on screen (dimmed), with its own range.
  const firstRow = (result.data?.page ?? page) * (result.data?.size ?? size) + 1;
  return html`<div class="runs">
    <div class="toolbar">
      <form role="search" class="search wide" onSubmit=${onFilter}>
        <label for="runs-filter" class="sr-only">Filter runs</label>
        <input id="runs-filter" name="filter" type="search" value=${filterText} spellcheck="false"
          placeholder="metrics.rmse < 1 and params.model = 'tree' — or part of a run name" aria-describedby="filter-help" />
        <button type="submit">Search</button>
      </form>
      <details class="help" id="filter-help">
        <summary>Filter syntax</summary>
        <p>Clauses joined by <code>and</code>: <code>metrics.loss &lt; 0.5</code>, <code>params.lr = '0.01'</code>,
          <code>tags.team = 'vision'</code>, <code>attributes.status = 'FINISHED'</code>,
          <code>attributes.run_name LIKE 'bert%'</code>. Keys with spaces or dashes go in backticks:
          <code>metrics.\`val loss\` &gt; 1</code>. Plain text matches run names.</p>
      </details>
    </div>
    <div class="toolbar">
      <label>Show
        <select value=${view} onChange=${(e) => setQuery({ view: e.target.value === 'active' ? '' : e.target.value, page: '' })}>
          <option value="active">Active runs</option><option value="deleted">Deleted runs</option><option value="all">All runs</option>
        </select>
      </label>
      <label>Per page
        <select value=${size} onChange=${(e) => setQuery({ size: e.target.value === '100' ? '' : e.target.value, page: '' })}>
          ${SIZES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </label>
      <${ColumnChooser} seen=${seen} chosen=${chosen} onChange=${(cols) => setQuery({ cols: formatCols(cols) })} />
      <button type="button" onClick=${result.reload} data-testid="refresh-runs">Refresh</button>
      <span class="spacer"></span>
      <span class="muted" aria-live="polite">${selected.size ? `${selected.size} selected` : ''}</span>
      <button type="button" disabled=${selected.size < 2} data-testid="compare-runs"
        onClick=${() => navigate(href('/compare', { runs: [...selected].join(','), experiment: experimentId }))}>Compare</button>
      ${view === 'deleted'
        ? html`<button type="button" disabled=${!selected.size} onClick=${() => setDialog('restore')}>Restore</button>`
        : html`<button type="button" class="danger" disabled=${!selected.size} onClick=${() => setDialog('delete')}>Delete</button>`}
    </div>
    <${ErrorMessage} error=${result.error || actionError} onDismiss=${actionError ? () => setActionError(null) : null} />
    ${result.loading && !result.data ? html`<${Loading} label="Loading runs" />` : null}
    ${result.data &&
    html`<${VirtualTable} runs=${runs} columns=${columns} selected=${selected} toggle=${toggle}
        allSelected=${allSelected} sortBy=${sortBy} sortState=${sortState} stale=${result.loading}
        toggleAll=${() => setSelected(allSelected ? new Set() : new Set(runs.map((r) => r.info.run_id)))} />
      <nav class="pager" aria-label="Pages of runs">
        <button type="button" disabled=${page === 0} onClick=${() => setQuery({ page: page > 1 ? String(page - 1) : '' })}>← Previous</button>
        <span data-testid="runs-range" aria-live="polite">${runs.length ? `Runs ${firstRow}–${firstRow + runs.length - 1}` : result.data.page ? 'No more runs' : 'No runs'}</span>
        <button type="button" disabled=${!hasNext} onClick=${() => setQuery({ page: String(page + 1) })}>Next →</button>
      </nav>`}
    <${FormDialog} title=${`Delete ${selected.size} run(s)?`} open=${dialog === 'delete'} onClose=${() => setDialog(null)} submitLabel="Delete" danger
      onSubmit=${async () => {
        for (const runId of selected) await api.post('runs/delete', { run_id: runId });
        result.reload();
      }}>
      <p>Deleted runs can be restored from the “Deleted runs” view.</p>
    <//>
    <${FormDialog} title=${`Restore ${selected.size} run(s)?`} open=${dialog === 'restore'} onClose=${() => setDialog(null)} submitLabel="Restore"
      onSubmit=${async () => {
        for (const runId of selected) await api.post('runs/restore', { run_id: runId });
        result.reload();
      }}>
      <p>The runs become active again.</p>
    <//>
  </div>`;
}

function ColumnChooser({ seen, chosen, onChange }) {
  const [text, setText] = useState('');
  const groups = Object.entries(KINDS).map(([kind, [, label]]) => {
    const keys = new Set([...seen[kind], ...chosen.filter((c) => c[0] === kind).map((c) => c.slice(2))]);
    return [kind, label, [...keys].sort().filter((k) => k.toLowerCase().includes(text.toLowerCase()))];
  });
  const toggle = (id) => onChange(chosen.includes(id) ? chosen.filter((c) => c !== id) : [...chosen, id]);
  return html`<details class="dropdown" data-testid="column-chooser">
    <summary>Columns (${chosen.length})</summary>
    <div class="dropdown-body">
      <label class="sr-only" for="col-filter">Find a column</label>
      <input id="col-filter" type="search" placeholder="Find a key" value=${text} onInput=${(e) => setText(e.target.value)} />
      ${groups.map(
        ([kind, label, keys]) => html`<fieldset>
          <legend>${label}s</legend>
          ${keys.length === 0 && html`<div class="muted">none on this page</div>`}
          ${keys.map(
            (k) => html`<label class="check"><input type="checkbox" checked=${chosen.includes(`${kind}:${k}`)}
                onChange=${() => toggle(`${kind}:${k}`)} /> ${k}</label>`,
          )}
        </fieldset>`,
      )}
    </div>
  </details>`;
}

// Renders only the rows in view; the header stays put (position: sticky).
function VirtualTable({ runs, columns, selected, toggle, toggleAll, allSelected, sortBy, sortState, stale }) {
  const scroller = useRef(null);
  const [viewport, setViewport] = useState({ top: 0, height: 600 });
  useEffect(() => {
    const el = scroller.current;
    if (!el) return undefined;
    const update = () => setViewport({ top: el.scrollTop, height: el.clientHeight || 600 });
    update();
    el.addEventListener('scroll', update, { passive: true });
    const ro = new ResizeObserver(update);
    ro.observe(el);
    return () => {
      el.removeEventListener('scroll', update);
      ro.disconnect();
    };
  }, []);
  useEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [runs]);
  const first = Math.max(0, Math.floor(viewport.top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(runs.length, Math.ceil((viewport.top + viewport.height) / ROW_HEIGHT) + OVERSCAN);
  const visible = runs.slice(first, last);
  const colSpan = columns.length + 1;
  return html`<div class=${classNames('table-scroll', stale && 'stale')} ref=${scroller} tabindex="0" aria-label="Runs">
    <table class="grid runs-table" data-testid="runs-table" aria-rowcount=${runs.length + 1} aria-busy=${stale}>
      <thead><tr>
        <th scope="col" class="sel"><input type="checkbox" aria-label="Select all runs on this page" checked=${allSelected} onChange=${toggleAll} /></th>
        ${columns.map(
          (c) => html`<th scope="col" aria-sort=${sortState(c)} title=${c.title || c.label} class=${c.kind ? `col-${c.kind}` : ''}>
            ${c.order
              ? html`<button type="button" class="sort" onClick=${() => sortBy(c)}>${c.kind && html`<span class="kind">${c.kind}</span>`}${c.label}
                  <span aria-hidden="true">${sortState(c) === 'descending' ? '↓' : sortState(c) === 'ascending' ? '↑' : ''}</span></button>`
              : c.label}
          </th>`,
        )}
      </tr></thead>
      <tbody>
        ${runs.length === 0 && html`<tr><td colspan=${colSpan} class="muted">No runs match.</td></tr>`}
        ${first > 0 && html`<tr class="spacer" style=${`height:${first * ROW_HEIGHT}px`} aria-hidden="true"><td colspan=${colSpan}></td></tr>`}
        ${visible.map((run, i) => {
          const id = run.info.run_id;
          return html`<tr key=${id} data-testid="run-row" aria-rowindex=${first + i + 2} class=${selected.has(id) ? 'selected' : ''}>
            <td class="sel"><input type="checkbox" aria-label=${`Select run ${runName(run)}`} checked=${selected.has(id)} onChange=${() => toggle(id)} /></td>
            <td class="name"><a href=${href('/runs', id)}>${runName(run)}</a></td>
            ${columns.slice(1).map((c) => html`<td class=${c.kind === 'm' ? 'num' : ''}>${cellValue(run, c)}</td>`)}
          </tr>`;
        })}
        ${last < runs.length && html`<tr class="spacer" style=${`height:${(runs.length - last) * ROW_HEIGHT}px`} aria-hidden="true"><td colspan=${colSpan}></td></tr>`}
      </tbody>
    </table>
  </div>`;
}

