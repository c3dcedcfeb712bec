// artifacts.js — the artifact browser of runs and logged models: a lazily
// loaded tree on the left, a preview on the right (text, JSON, images,
// MLmodel), and download. The selected path lives in the URL (?path=).
import { useEffect, useRef, useState } from 'preact/hooks';
import { download, fetchBlob } from '../api.js';
import { ErrorMessage, Loading } from '../components.js';
import { basename, classNames, formatBytes, html } from '../util.js';

const IMAGE = /\.(png|jpe?g|gif|svg|webp|bmp|ico)$/i;
const TEXT =
  /(\.(txt|log|err|out|md|rst|csv|tsv|ya?ml|py|r|sql|sh|ini|cfg|conf|toml|xml|html?|js|ts|css|properties|jsonl|ipynb|lock)$)|(^|\/)(MLmodel|MLproject|requirements[^/]*|Dockerfile|README[^/]*|LICENSE)$/i;
const JSON_FILE = /\.json$/i;
const PREVIEW_LIMIT = 2 * 1024 * 1024;

export function previewKind(path) {
  if (IMAGE.test(path)) return 'image';
  if (JSON_FILE.test(path)) return 'json';
  if (/(^|\/)MLmodel$/.test(path)) return 'mlmodel';
  if (TEXT.test(path)) return 'text';
  return 'unknown';
}

// list(path) -> Promise<FileInfo[]> with paths relative to the artifact root.
export function ArtifactBrowser({ list, fileUrl, rootUri, selected, onSelect, actions }) {
  const [tree, setTree] = useState({}); // dir path -> {files, error}
  const [open, setOpen] = useState(() => new Set(['']));
  const load = async (dir) => {
    try {
      const files = (await list(dir)).slice().sort((a, b) => (b.is_dir - a.is_dir) || a.path.localeCompare(b.path));
      setTree((t) => ({ ...t, [dir]: { files } }));
    } catch (error) {
      setTree((t) => ({ ...t, [dir]: { error } }));
    }
  };
  // The path the page was opened at (a deep link): whether it is a directory is
  // known only once its parent's listing is in; then it is opened too.
  const linked = useRef(null);
  useEffect(() => {
    setTree({});
    // Open the ancestors of the selected path.
    const dirs = [''];
    const parts = (selected || '').split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) dirs.push(parts.slice(0, i).join('/'));
    setOpen(new Set(dirs));
    linked.current = selected || null;
    dirs.forEach(load);
  }, [rootUri]);
  const toggle = (dir) => {
    const s = new Set(open);
    if (s.has(dir)) s.delete(dir);
    else {
      s.add(dir);
      if (!tree[dir]) load(dir);
    }
    setOpen(s);
  };
  const entryOf = (path) => {
    const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    return tree[parent]?.files?.find((f) => f.path === path);
  };
  const current = selected ? entryOf(selected) : null;
  const isDir = current ? current.is_dir : !selected || !!tree[selected];
  useEffect(() => {
    if (!linked.current) return;
    if (linked.current !== selected) linked.current = null; // moved on before the listing came
    else if (current) {
      linked.current = null;
      if (current.is_dir && !tree[selected]) {
        setOpen((s) => new Set(s).add(selected));
        load(selected);
      }
    }
  }, [selected, current]);

  const renderDir = (dir, depth) => {
    const node = tree[dir];
    if (!node) return html`<li class="muted" style=${`padding-left:${depth * 14 + 8}px`}>loading…</li>`;
    if (node.error) return html`<li><${ErrorMessage} error=${node.error} /></li>`;
    if (node.files.length === 0 && depth === 0) return html`<li class="muted">No artifacts.</li>`;
    return node.files.map(
      (f) => html`<li key=${f.path}>
        <button type="button" class=${classNames('tree-item', selected === f.path && 'active')} style=${`padding-left:${depth * 14 + 8}px`}
          aria-expanded=${f.is_dir ? open.has(f.path) : undefined}
          onClick=${() => {
            if (f.is_dir) toggle(f.path);
            onSelect(f.path);
          }}>
          <span aria-hidden="true" class="icon">${f.is_dir ? (open.has(f.path) ? '▾' : '▸') : '·'}</span>${basename(f.path)}
        </button>
        ${f.is_dir && open.has(f.path) && html`<ul>${renderDir(f.path, depth + 1)}</ul>`}
      </li>`,
    );
  };

  return html`<div class="artifacts" data-testid="artifact-browser">
    <nav class="tree" aria-label="Artifacts"><ul>${renderDir('', 0)}</ul></nav>
    <div class="preview">
      <div class="preview-head">
        <span class="mono path">${selected ? `${rootUri}/${selected}` : rootUri}</span>
        ${selected && !isDir && html`<button type="button" onClick=${() => download(fileUrl(selected), basename(selected))}>Download</button>`}
      </div>
      ${actions && actions(selected || '', isDir, tree[selected || '']?.files || [])}
      ${selected && !isDir && html`<${Preview} key=${selected} path=${selected} size=${current?.file_size} url=${fileUrl(selected)} />`}
      ${isDir && selected && tree[selected]?.files?.some((f) => basename(f.path) === 'MLmodel') &&
      html`<${Preview} key=${`${selected}/MLmodel`} path=${`${selected}/MLmodel`} url=${fileUrl(`${selected}/MLmodel`)} />`}
      ${isDir && !selected && html`<p class="muted">Select a file to preview it.</p>`}
    </div>
  </div>`;
}

function Preview({ path, size, url }) {
  const kind = previewKind(path);
  const [state, setState] = useState({ loading: true });
  useEffect(() => {
    const controller = new AbortController();
    let objectUrl = null;
    if (size > PREVIEW_LIMIT && kind !== 'image') {
      setState({ tooLarge: true });
      return undefined;
    }
    fetchBlob(url, { signal: controller.signal })
      .then(async (blob) => {
        if (kind === 'image') {
          objectUrl = URL.createObjectURL(blob);
          return { image: objectUrl };
        }
        const buffer = await blob.slice(0, PREVIEW_LIMIT).arrayBuffer();
        let text;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(buffer);
        } catch {
          return { binary: true };
        }
        if (kind === 'unknown' && /\u0000/.test(text)) return { binary: true };
        if (kind === 'json') {
          try {
            return { text: JSON.stringify(JSON.parse(text), null, 2), json: true };
          } catch {
            return { text };
          }
        }
        if (kind === 'mlmodel') return { text, flavors: mlmodelFlavors(text) };
        return { text };
      })
      .then(
        (s) => !controller.signal.aborted && setState(s),
        (error) => error.name !== 'AbortError' && setState({ error }),
      );
    return () => {
      controller.abort();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [url]);
  if (state.loading) return html`<${Loading} label="Loading preview" />`;
  if (state.error) return html`<${ErrorMessage} error=${state.error} />`;
  if (state.tooLarge) return html`<p class="muted">${formatBytes(size)} is too large to preview; download it instead.</p>`;
  if (state.binary) return html`<p class="muted">No preview for this file type.</p>`;
  if (state.image) return html`<img class="artifact-image" src=${state.image} alt=${basename(path)} data-testid="artifact-image" />`;
  return html`<div>
    ${state.flavors &&
    html`<p class="mlmodel-summary"><strong>MLmodel</strong> · flavors: ${state.flavors.map((f) => html`<span class="badge">${f}</span> `)}</p>`}
    <pre class=${classNames('file', state.json && 'json')} data-testid="artifact-text" tabindex="0">${state.text}</pre>
  </div>`;
}

// The flavor names of an MLmodel file (the keys under `flavors:`).
export function mlmodelFlavors(text) {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^flavors:\s*$/.test(l));
  if (start < 0) return [];
  const out = [];
  for (const line of lines.slice(start + 1)) {
    if (/^\S/.test(line)) break;
    const m = line.match(/^ {2}([\w.-]+):/);
    if (m) out.push(m[1]);
  }
  return out;
}
