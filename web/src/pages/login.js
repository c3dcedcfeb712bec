// login.js — the sign-in page for servers run with basic-auth. Credentials
// are checked with users/get on the user themself (allowed for everyone,
// auth.md §3.8), then kept in sessionStorage for this tab (api.js).
// "Sign in with SSO" appears only when the server offers native OIDC login
// (the page's config, or /oidc/info); that session lives in a cookie, so it
// comes back to <prefix>/ rather than to this /static-files/ entry.
import { useState } from 'preact/hooks';
import { ApiError, authApi, clearCredentials, getCredentials, prefix, setCredentials, ssoLogin } from '../api.js';
import { ErrorMessage, Field, useAsync, useFocusHeading } from '../components.js';
import { href, navigate } from '../router.js';
import { html } from '../util.js';

export async function checkCredentials(username, password) {
  try {
    const r = await authApi.get('users/get', { username }, { credentials: { username, password } });
    return { ok: true, isAdmin: !!r.user?.is_admin };
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && e.code === 'ENDPOINT_NOT_FOUND') return { ok: true, authOff: true };
    throw e;
  }
}

export function LoginPage({ query }) {
  const heading = useFocusHeading('login');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const current = getCredentials();
  const sso = useAsync(() => ssoLogin(), []);
  const next = query.next && query.next.startsWith('#/') && !query.next.startsWith('#/login') ? query.next : href('/experiments');
  const submit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const username = String(form.get('username')).trim();
    const password = String(form.get('password'));
    setBusy(true);
    setError(null);
    try {
      const r = await checkCredentials(username, password);
      if (r.authOff) clearCredentials();
      else setCredentials(username, password, r.isAdmin);
      navigate(next);
    } catch (err) {
      setError(err.status === 401 ? new ApiError('Wrong username or password.', 401, 'UNAUTHENTICATED') : err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="page login">
    <h1 tabindex="-1" ref=${heading}>Sign in to mlflowd</h1>
    ${current && html`<p>Signed in as <strong>${current.username}</strong>. <button type="button" class="link" onClick=${() => clearCredentials()}>Sign out</button></p>`}
    <form onSubmit=${submit} class="card" aria-describedby="login-note">
      <${Field} label="Username" name="username" required autofocus autocomplete="username" />
      <${Field} label="Password" name="password" type="password" required autocomplete="current-password" />
      <${ErrorMessage} error=${error} />
      <div class="actions"><button type="submit" class="primary" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button></div>
      <p id="login-note" class="hint">Your credentials stay in this browser tab only and are sent with each request.</p>
    </form>
    ${sso.data &&
    html`<p><a class="button" data-testid="sso-login"
      href=${`${sso.data.login_url}?${new URLSearchParams({ next: `${prefix}/${next}` })}`}>Sign in with SSO</a></p>`}
    <p class="muted">No account? An administrator creates accounts on the <a href="/signup">sign-up page</a> or in the Access area.</p>
  </section>`;
}
