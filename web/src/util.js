// util.js — formatting and small helpers shared by the views.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);

export function formatTime(ms) {
  if (ms === undefined || ms === null || ms === '' || Number(ms) === 0) return '—';
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return String(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(
    d.getMinutes(),
  )}:${pad(d.getSeconds())}`;
}

export function formatDuration(start, end) {
  if (!start || !end) return '—';
  let s = Math.max(0, (Number(end) - Number(start)) / 1000);
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  s = Math.round(s % 60);
  if (m < 60) return `${m}m ${s}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatRelative(ms) {
  if (!ms) return '—';
  const diff = (Date.now() - Number(ms)) / 1000;
  if (diff < 60) return 'just now';
  if (diff < 3600) return `${Math.floor(diff / 60)} min ago`;
  if (diff < 86400) return `${Math.floor(diff / 3600)} h ago`;
  if (diff < 86400 * 30) return `${Math.floor(diff / 86400)} d ago`;
  return formatTime(ms).slice(0, 10);
}

export function formatValue(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e7)) return v.toExponential(4);
    return String(Number(v.toPrecision(6)));
  }
  return String(v);
}

export function formatBytes(n) {
  if (n === undefined || n === null) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export const toMap = (list) => Object.fromEntries((list || []).map((x) => [x.key, x.value]));

export function runName(run) {
  const info = run?.info || {};
  return info.run_name || toMap(run?.data?.tags)['mlflow.runName'] || info.run_id || '';
}

// An MLflow search identifier for a key: backticks when it is not a plain name.
export function quoteKey(key) {
  return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(key) ? key : '`' + key.replace(/`/g, '') + '`';
}

// A filter clause `<identifier> <comparator> <text>` (comparator =, LIKE or
// ILIKE) for any text. A string literal of the filter grammar has no escapes
// (search-grammar.md §1): '…' cannot hold ' and "…" cannot hold ", so text with
// both quotes has no literal. It becomes two clauses, each with the quote its
// literal cannot hold replaced by `_` (LIKE's one-character wildcard; = turns
// into the equally case-sensitive LIKE): every match of the text matches both,
// and the server may answer a few more (a % or _ of the text read as a
// wildcard; with %, the two clauses matching at different places): where that
// matters, the caller keeps only the exact text (a model's versions).
export function stringClause(identifier, comparator, text) {
  const t = String(text);
  if (!t.includes("'")) return `${identifier} ${comparator} '${t}'`;
  if (!t.includes('"')) return `${identifier} ${comparator} "${t}"`;
  const op = comparator === '=' ? 'LIKE' : comparator;
  const noDouble = t.replace(/"/g, '_');
  const noSingle = t.replace(/'/g, '_');
  return `${identifier} ${op} "${noDouble}" AND ${identifier} ${op} '${noSingle}'`;
}

export function basename(path) {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

export function classNames(...names) {
  return names.filter(Boolean).join(' ');
}

// Distinct colours for chart series, readable on white.
export const PALETTE = [
  '#1f6fb2', '#d9480f', '#2b8a3e', '#ae3ec9', '#c92a2a', '#0c8599', '#e67700', '#5f3dc4',
  '#862e9c', '#364fc7', '#087f5b', '#a61e4d',
];
