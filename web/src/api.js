// api.js — every request the UI makes goes through here.
//
// The server's config (static prefix, auth on/off, SSO login URL) comes from
// <script id="mfd-config"> that src/api/ui.c fills in. Tracking and registry
// calls go to <prefix>/ajax-api/2.0/mlflow/...; the auth-management routes
// exist only at /api/2.0/mlflow/... without prefix (auth.md §3.8).
//
// Credentials: Basic credentials typed into the login page live in
// sessionStorage and go out as `Authorization: Basic` on every fetch. Requests
// then use credentials: 'omit' so that a 401 never pops up the browser's own
// Basic dialog. Without stored credentials the page may have been opened at /
// through the browser's dialog (or, later, an SSO session cookie): then the
// browser's credentials are used ('same-origin'), except on the /static-files/
// entry, which needs none and shows our login page instead.

const configElement = typeof document !== 'undefined' && document.getElementById('mfd-config');
export const config = (() => {
  try {
    return JSON.parse(configElement?.textContent || '{}');
  } catch {
    return {};
  }
})();
export const prefix = config.prefix || '';
export const AJAX = `${prefix}/ajax-api/2.0/mlflow/`;
export const AUTH_API = '/api/2.0/mlflow/';
// mlflowd's own endpoints (who-am-i, role mappings; served once SSO support is in).
export const MLFLOWD_AJAX = `${prefix}/ajax-api/2.0/mlflowd/`;
export const ARTIFACTS_PROXY = `${prefix}/ajax-api/2.0/mlflow-artifacts/artifacts/`;
// /get-artifact is not under /ajax-api/ but, as in MLflow, under the static prefix.
export const GET_ARTIFACT = `${prefix}/get-artifact`;
const servedFromStatic = typeof location !== 'undefined' && location.pathname.includes('/static-files/');

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const CREDENTIALS_KEY = 'mlflowd.credentials';

export function getCredentials() {
  try {
    const c = JSON.parse(sessionStorage.getItem(CREDENTIALS_KEY) || 'null');
    return c && typeof c.username === 'string' ? c : null;
  } catch {
    return null;
  }
}

export function setCredentials(username, password, isAdmin) {
  sessionStorage.setItem(CREDENTIALS_KEY, JSON.stringify({ username, password, isAdmin: !!isAdmin }));
  emit('auth');
}

export function clearCredentials() {
  sessionStorage.removeItem(CREDENTIALS_KEY);
  emit('auth');
}

function base64Utf8(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function basicHeader(username, password) {
  return 'Basic ' + base64Utf8(`${username}:${password}`);
}

function authHeaders(credentials = getCredentials()) {
  return credentials ? { Authorization: basicHeader(credentials.username, credentials.password) } : {};
}

function credentialsMode(credentials = getCredentials()) {
  return credentials || servedFromStatic ? 'omit' : 'same-origin';
}

// --- events: activity (progress bar), auth changes, 401s -----------------
const listeners = new Map();
export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(fn);
  return () => listeners.get(event).delete(fn);
}
function emit(event, value) {
  for (const fn of listeners.get(event) || []) fn(value);
}
let inflight = 0;
export const activity = () => inflight;
function track(delta) {
  inflight += delta;
  emit('activity', inflight);
}

export function encodeQuery(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v));
  }
  return params.toString();
}

const statusCodes = {
  400: 'BAD_REQUEST', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'ENDPOINT_NOT_FOUND',
  409: 'RESOURCE_CONFLICT', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL_ERROR', 501: 'NOT_IMPLEMENTED',
  503: 'TEMPORARILY_UNAVAILABLE',
};

// Turns a failed response into an ApiError with the server's own words: the
// `message` of MLflow's error JSON, or the text body (auth's 401/403).
async function errorOf(response) {
  const text = await response.text().catch(() => '');
  let message = '';
  let code = statusCodes[response.status] || 'INTERNAL_ERROR';
  try {
    const body = JSON.parse(text);
    if (body && typeof body.message === 'string') message = body.message;
    if (body && typeof body.error_code === 'string') code = body.error_code;
  } catch {
    message = text.length < 300 && !/<html/i.test(text) ? text.trim() : '';
  }
  if (response.status === 401) message = 'You are not signed in, or the username or password is wrong.';
  else if (response.status === 403 && (!message || message === 'Permission denied'))
    message = 'Your account may not do this.';
  if (!message) message = `The server answered ${response.status} ${response.statusText}`.trim();
  return new ApiError(message, response.status, code);
}

export async function request(method, url, { query, body, signal, raw, credentials, quiet } = {}) {
  const target = query ? `${url}?${encodeQuery(query)}` : url;
  const headers = authHeaders(credentials);
  const init = { method, headers, credentials: credentialsMode(credentials), signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  track(1);
  let response;
  try {
    response = await fetch(target, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`Cannot reach the server: ${e.message}`, 0, 'NETWORK_ERROR');
  } finally {
    track(-1);
  }
  if (!response.ok) {
    if (response.status === 401 && !credentials && !quiet) emit('unauthenticated');
    throw await errorOf(response);
  }
  if (raw) return response;
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}

const verbs = (base) => ({
  get: (path, query, opts) => request('GET', base + path, { ...opts, query }),
  post: (path, body, opts) => request('POST', base + path, { ...opts, body: body || {} }),
  patch: (path, body, opts) => request('PATCH', base + path, { ...opts, body: body || {} }),
  del: (path, body, opts) => request('DELETE', base + path, { ...opts, body: body || {} }),
});
export const api = verbs(AJAX);
export const authApi = verbs(AUTH_API);
export const mlflowdApi = verbs(MLFLOWD_AJAX);

// For endpoints a server may not have (older builds, auth off): null instead
// of an error when the answer is 401/403/404, and no redirect to the login page.
export async function optional(call) {
  try {
    return await call({ quiet: true });
  } catch (e) {
    if (e instanceof ApiError && [401, 403, 404].includes(e.status)) return null;
    throw e;
  }
}

// The signed-in user as the server sees it (mlflowd/auth/whoami), or null. A
// single sign-on cookie session also has its sign-out: `logout` is
// {url, csrfToken} (POST url with the form field csrf_token).
export const whoami = () =>
  optional((o) => mlflowdApi.get('auth/whoami', null, o)).then((r) =>
    r?.user
      ? { ...r.user, logout: r.logout_url && r.csrf_token ? { url: r.logout_url, csrfToken: r.csrf_token } : null }
      : null,
  );

// Native SSO login offered by the server (its /oidc/info): {login_url} or null.
export async function ssoLogin() {
  try {
    const r = await fetch('/oidc/info', { credentials: 'omit' });
    const info = r.ok ? await r.json() : null;
    return info?.native_login && info.login_url ? info : null;
  } catch {
    return null;
  }
}

// --- artifacts -------------------------------------------------------------
export function runArtifactUrl(runId, path) {
  return `${GET_ARTIFACT}?${encodeQuery({ run_id: runId, path })}`;
}
export function loggedModelArtifactUrl(modelId, path) {
  return `${AJAX}logged-models/${encodeURIComponent(modelId)}/artifacts/files?${encodeQuery({
    artifact_file_path: path,
  })}`;
}

// Fetches a file (with our credentials) as a Blob.
export async function fetchBlob(url, { signal } = {}) {
  const response = await request('GET', url, { signal, raw: true });
  return response.blob();
}

// Starts a browser download of `url` as `filename`. With stored credentials
// the file is fetched first (an <a href> cannot carry the Authorization header).
export async function download(url, filename) {
  let href = url;
  let revoke = null;
  if (getCredentials()) {
    href = URL.createObjectURL(await fetchBlob(url));
    revoke = href;
  }
  const a = document.createElement('a');
  a.href = href;
  a.download = filename || '';
  document.body.appendChild(a);
  a.click();
  a.remove();
  if (revoke) setTimeout(() => URL.revokeObjectURL(revoke), 60_000);
}

// --- paging helpers --------------------------------------------------------
// Loads every page of a search (for small lists: experiments in a picker).
export async function searchAll(fetchPage, limit = 5000) {
  const items = [];
  let token;
  do {
    const { items: page, next } = await fetchPage(token);
    items.push(...page);
    token = next;
  } while (token && items.length < limit);
  return items;
}
