// chart.js — metric charts with uPlot. Data comes downsampled from the
// server (metrics/get-history-bulk-interval: at most ~2500 steps per call),
// so a chart of a million logged points draws a few thousand. Dragging over
// the plot zooms; the page then refetches that step range at full detail.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api } from './api.js';
import { html, PALETTE } from './util.js';

export const MAX_POINTS = 2500;

const toNumber = (v) => {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
};

// Fetches one metric of up to 100 runs, downsampled by the server.
// Returns Map run_id -> [{step, timestamp, value}] sorted by step.
export async function fetchMetricSeries(runIds, key, { range, signal, maxResults = MAX_POINTS } = {}) {
  const query = { run_ids: runIds, metric_key: key, max_results: maxResults };
  if (range) {
    query.start_step = Math.floor(range[0]);
    query.end_step = Math.ceil(range[1]);
  }
  const { metrics = [] } = await api.get('metrics/get-history-bulk-interval', query, { signal });
  const byRun = new Map(runIds.map((id) => [id, []]));
  for (const m of metrics) {
    const list = byRun.get(m.run_id) || [];
    list.push({ step: Number(m.step || 0), timestamp: Number(m.timestamp || 0), value: toNumber(m.value) });
    byRun.set(m.run_id, list);
  }
  return byRun;
}

// series: [{label, points: [{step, timestamp, value}]}]; xMode: step | time | relative.
// Joins the series on one x axis (uPlot wants aligned columns).
export function alignSeries(series, xMode) {
  const xOf =
    xMode === 'time'
      ? (p) => p.timestamp / 1000
      : xMode === 'relative'
      ? (p, first) => (p.timestamp - first) / 1000
      : (p) => p.step;
  const columns = series.map((s) => {
    const first = s.points.length ? Math.min(...s.points.map((p) => p.timestamp)) : 0;
    const m = new Map();
    for (const p of s.points) m.set(xOf(p, first), p.value);
    return m;
  });
  const xs = [...new Set(columns.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  return [xs, ...columns.map((m) => xs.map((x) => (m.has(x) ? m.get(x) : null)))];
}

export function Chart({ title, series, xMode = 'step', height = 260, onZoom, testid }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    el.removeAttribute('data-drawn');
    const started = performance.now();
    const data = alignSeries(series, xMode);
    const width = Math.max(300, el.clientWidth || 600);
    const opts = {
      width,
      height,
      title: undefined,
      scales: { x: { time: xMode === 'time' } },
      axes: [
        { label: xMode === 'step' ? 'step' : xMode === 'time' ? 'time' : 'seconds since first value', stroke: '#333' },
        { stroke: '#333', size: 60 },
      ],
      series: [
        { label: xMode === 'step' ? 'step' : xMode === 'time' ? 'time' : 'seconds' },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color || PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: true,
          points: { show: data[0].length < 60 },
        })),
      ],
      cursor: { drag: { x: true, y: false, setScale: !onZoom } },
      hooks: {
        draw: [
          (u) => {
            el.setAttribute('data-drawn', String(Math.round(performance.now() - started)));
            el.setAttribute('data-drawn-at', String(Math.round(performance.now()))); // page clock, for timings
            el.setAttribute('data-points', String(u.data[0].length));
          },
        ],
        setSelect: [
          (u) => {
            if (!onZoom || u.select.width < 3) return;
            const min = u.posToVal(u.select.left, 'x');
            const max = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
            onZoom([min, max]);
          },
        ],
      },
    };
    plot.current = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (plot.current && w > 0 && Math.abs(w - plot.current.width) > 4) plot.current.setSize({ width: w, height });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [series, xMode, height]);
  return html`<figure class="chart" data-testid=${testid}>
    ${title && html`<figcaption>${title}</figcaption>`}
    <div class="chart-box" ref=${box} role="img" aria-label=${`Chart of ${title || 'metric'} by ${xMode}`}></div>
  </figure>`;
}

// One metric of one or more runs, fetched downsampled; drag to zoom in on a
// step range (refetched at full detail), "Reset zoom" to go back.
export function MetricChart({ metricKey, runs, xMode = 'step', testid }) {
  const [range, setRange] = useState(null);
  const runIds = runs.map((r) => r.id);
  const [state, setState] = useState({ series: null, error: null, loading: true, points: 0 });
  useEffect(() => setRange(null), [metricKey, runIds.join(','), xMode]);
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true, error: null }));
    fetchMetricSeries(runIds, metricKey, { range: xMode === 'step' ? range : null, signal: controller.signal }).then(
      (byRun) => {
        const series = runs.map((r) => ({ label: r.label, color: r.color, points: byRun.get(r.id) || [] }));
        const points = series.reduce((n, s) => n + s.points.length, 0);
        setState({ series, error: null, loading: false, points });
      },
      (error) => error.name !== 'AbortError' && setState((s) => ({ ...s, error, loading: false })),
    );
    return () => controller.abort();
  }, [metricKey, runIds.join(','), range && range.join(','), xMode]);
  const zoom = xMode === 'step' ? (r) => setRange([Math.max(0, r[0]), r[1]]) : undefined;
  return html`<div class="metric-chart" data-testid=${testid} data-metric=${metricKey}>
    <div class="chart-head">
      <h3>${metricKey}</h3>
      <span class="muted">${state.loading ? 'loading…' : `${state.points} points`}${range ? ` · steps ${Math.floor(range[0])}–${Math.ceil(range[1])}` : ''}</span>
      ${range && html`<button type="button" class="link" onClick=${() => setRange(null)}>Reset zoom</button>`}
    </div>
    ${state.error && html`<div class="error" role="alert">${state.error.message}</div>`}
    ${state.series && html`<${Chart} series=${state.series} xMode=${xMode} onZoom=${zoom} />`}
  </div>`;
}
