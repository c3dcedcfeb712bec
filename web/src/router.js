// router.js — hash routing: the whole UI state that matters lives in the
// URL (#/experiments/1?filter=...&order=...), so every view is shareable and
// the server needs to serve just one page.
import { useEffect, useState } from 'preact/hooks';

export function parseHash(hash = location.hash) {
  const text = hash.replace(/^#/, '') || '/';
  const q = text.indexOf('?');
  const path = q < 0 ? text : text.slice(0, q);
  const query = Object.fromEntries(new URLSearchParams(q < 0 ? '' : text.slice(q + 1)));
  const segments = path.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { path, query, segments };
}

// href('/models', 'my model', {tab: 'x'}) -> '#/models/my%20model?tab=x'.
// Segments are encoded; the last argument may be a query object.
export function href(...parts) {
  let query = null;
  if (parts.length && typeof parts[parts.length - 1] === 'object' && parts[parts.length - 1] !== null)
    query = parts.pop();
  const path = parts
    .flatMap((p, i) => (i === 0 ? String(p).split('/').filter(Boolean) : [encodeURIComponent(String(p))]))
    .join('/');
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') params.set(k, v);
  const qs = params.toString();
  return `#/${path}${qs ? `?${qs}` : ''}`;
}

export function navigate(target, { replace = false } = {}) {
  if (replace) {
    history.replaceState(history.state, '', target);
    window.dispatchEvent(new Event('mfd-route'));
  } else {
    location.hash = target.replace(/^#/, '');
  }
}

// Changes some query parameters of the current route (replacing the history
// entry unless push is asked for).
export function setQuery(changes, { push = false } = {}) {
  const { segments, query } = parseHash();
  const next = { ...query, ...changes };
  navigate(href(...(segments.length ? ['/' + segments[0], ...segments.slice(1)] : ['/']), next), {
    replace: !push,
  });
}

export function useRoute() {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const update = () => setRoute(parseHash());
    window.addEventListener('hashchange', update);
    window.addEventListener('mfd-route', update);
    return () => {
      window.removeEventListener('hashchange', update);
      window.removeEventListener('mfd-route', update);
    };
  }, []);
  return route;
}
