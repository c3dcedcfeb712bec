// components.js — building blocks shared by the pages: async loading with
// readable errors, the progress bar, dialogs, tabs and key/value tables.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { activity, on } from './api.js';
import { html, classNames } from './util.js';

// Runs `load(signal)` whenever deps change; keeps the last data while reloading.
export function useAsync(load, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve()
      .then(() => load(controller.signal))
      .then(
        (data) => !controller.signal.aborted && setState({ data, error: null, loading: false }),
        (error) => {
          if (controller.signal.aborted || error?.name === 'AbortError') return;
          setState((s) => ({ ...s, error, loading: false }));
        },
      );
    return () => controller.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function ErrorMessage({ error, onDismiss }) {
  if (!error) return null;
  const text = typeof error === 'string' ? error : error.message || String(error);
  return html`<div class="error" role="alert">
    <strong>${error.code && error.code !== 'INTERNAL_ERROR' ? humanCode(error.code) : 'Error'}:</strong> ${text}
    ${onDismiss && html`<button class="link" type="button" onClick=${onDismiss} aria-label="Dismiss">×</button>`}
  </div>`;
}

const humanCode = (code) => code.charAt(0) + code.slice(1).toLowerCase().replace(/_/g, ' ');

export function Loading({ label = 'Loading' }) {
  return html`<div class="loading" role="status" aria-live="polite"><span class="spinner" aria-hidden="true"></span>${label}…</div>`;
}

// A thin bar at the top while requests are in flight for more than 150 ms.
export function ProgressBar() {
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let timer = null;
    const update = (n) => {
      if (n > 0 && !timer && !busy) timer = setTimeout(() => setBusy(activity() > 0), 150);
      if (n === 0) {
        clearTimeout(timer);
        timer = null;
        setBusy(false);
      }
    };
    const off = on('activity', update);
    return () => {
      off();
      clearTimeout(timer);
    };
  }, []);
  return html`<div class=${classNames('progress', busy && 'busy')} role="progressbar" aria-hidden=${!busy} aria-label="Loading"></div>`;
}

// A modal <dialog>: focus moves in, Escape closes it.
export function Dialog({ title, open, onClose, children }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} class="dialog" aria-label=${title} onClose=${onClose} onCancel=${onClose}>
    ${open && html`<h2>${title}</h2>${children}`}
  </dialog>`;
}

// A form inside a dialog: one submit handler, errors shown inline, busy state.
export function FormDialog({ title, open, onClose, onSubmit, submitLabel = 'Save', children, danger }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setError(null), [open]);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit(new FormData(e.target));
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Dialog} title=${title} open=${open} onClose=${onClose}>
    <form onSubmit=${submit}>
      ${children}
      <${ErrorMessage} error=${error} />
      <div class="actions">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class=${danger ? 'danger' : 'primary'} disabled=${busy}>${busy ? 'Working…' : submitLabel}</button>
      </div>
    </form>
  <//>`;
}

export function Field({ label, name, value, type = 'text', required, autofocus, placeholder, hint, children, ...rest }) {
  const id = `f-${name}`;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${children ||
    html`<input id=${id} name=${name} type=${type} value=${value} required=${required} autofocus=${autofocus}
        placeholder=${placeholder} ...${rest} />`}
    ${hint && html`<div class="hint">${hint}</div>`}
  </div>`;
}

export function Tabs({ tabs, current, hrefFor }) {
  return html`<nav class="tabs" aria-label="Sections">
    ${tabs.map(
      ([id, label]) => html`<a href=${hrefFor(id)} class=${classNames('tab', id === current && 'active')}
          aria-current=${id === current ? 'page' : undefined}>${label}</a>`,
    )}
  </nav>`;
}

// A key/value list with optional add and delete (tags, params).
export function KeyValueTable({ items, caption, onDelete, onAdd, empty = 'None', keyLabel = 'Key', valueLabel = 'Value', addLabel = 'Add tag', testid }) {
  const [error, setError] = useState(null);
  const [adding, setAdding] = useState(false);
  const act = async (fn) => {
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e);
    }
  };
  const add = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    await act(async () => {
      await onAdd(String(form.get('key')).trim(), String(form.get('value')));
      e.target.reset();
      setAdding(false);
    });
  };
  return html`<div class="kv" data-testid=${testid}>
    <table class="grid compact">
      ${caption && html`<caption>${caption}</caption>`}
      <thead><tr><th scope="col">${keyLabel}</th><th scope="col">${valueLabel}</th>${onDelete && html`<th><span class="sr-only">Actions</span></th>`}</tr></thead>
      <tbody>
        ${(items || []).length === 0 && html`<tr><td colspan="3" class="muted">${empty}</td></tr>`}
        ${(items || []).map(
          (t) => html`<tr key=${t.key}>
            <th scope="row" class="key">${t.key}</th>
            <td class="value">${t.value}</td>
            ${onDelete &&
            html`<td><button type="button" class="link danger" aria-label=${`Delete ${t.key}`} onClick=${() => act(() => onDelete(t.key))}>Delete</button></td>`}
          </tr>`,
        )}
      </tbody>
    </table>
    <${ErrorMessage} error=${error} />
    ${onAdd &&
    (adding
      ? html`<form class="inline" onSubmit=${add}>
          <label>${keyLabel} <input name="key" required autofocus /></label>
          <label>${valueLabel} <input name="value" /></label>
          <button type="submit" class="primary">Add</button>
          <button type="button" onClick=${() => setAdding(false)}>Cancel</button>
        </form>`
      : html`<button type="button" onClick=${() => setAdding(true)}>${addLabel}</button>`)}
  </div>`;
}

export function Breadcrumbs({ items }) {
  return html`<nav class="crumbs" aria-label="Breadcrumb"><ol>
    ${items.map(([label, link], i) =>
      html`<li>${link && i < items.length - 1 ? html`<a href=${link}>${label}</a>` : html`<span aria-current="page">${label}</span>`}</li>`,
    )}
  </ol></nav>`;
}

export function StatusBadge({ status }) {
  const s = String(status || '').toLowerCase();
  return html`<span class=${classNames('badge', `st-${s.replace(/[^a-z_]/g, '')}`)}>${status}</span>`;
}

// Focuses the page heading after navigation, for keyboard and screen-reader users.
export function useFocusHeading(key) {
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current && document.activeElement === document.body) ref.current.focus({ preventScroll: true });
  }, [key]);
  return ref;
}
