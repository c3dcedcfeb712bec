// main.js — the app shell: top navigation, the progress bar, sign-in state
// and the route table (hash routes, see router.js).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { clearCredentials, config, getCredentials, on, whoami } from './api.js';
import { ProgressBar } from './components.js';
import { href, navigate, parseHash, useRoute } from './router.js';
import { classNames, html } from './util.js';
import { AdminPage } from './pages/admin.js';
import { ComparePage } from './pages/compare.js';
import { ExperimentsPage } from './pages/experiments.js';
import { LoggedModelPage } from './pages/logged_models.js';
import { LoginPage } from './pages/login.js';
import { ModelPage, ModelsPage, ModelVersionPage } from './pages/models.js';
import { RunPage } from './pages/run.js';
import { ExperimentPage } from './pages/runs.js';

function page({ segments, query }) {
  const [first, a, b, c] = segments;
  switch (first) {
    case undefined:
    case 'experiments':
      if (a === undefined) return ['experiments', html`<${ExperimentsPage} query=${query} />`];
      return ['experiments', html`<${ExperimentPage} key=${a} id=${a} tab=${b === 'models' ? 'models' : 'runs'} query=${query} />`];
    case 'runs':
      return ['experiments', html`<${RunPage} key=${a} id=${a} query=${query} />`];
    case 'compare':
      return ['experiments', html`<${ComparePage} query=${query} />`];
    case 'models':
      if (a === undefined) return ['models', html`<${ModelsPage} query=${query} />`];
      if (b === 'versions' && c !== undefined)
        return ['models', html`<${ModelVersionPage} key=${`${a}/${c}`} name=${a} version=${c} />`];
      return ['models', html`<${ModelPage} key=${a} name=${a} />`];
    case 'logged-models':
      return ['experiments', html`<${LoggedModelPage} key=${a} id=${a} query=${query} />`];
    case 'login':
      return ['login', html`<${LoginPage} query=${query} />`];
    case 'admin':
      return ['admin', html`<${AdminPage} query=${query} />`];
    default:
      return [null, html`<section class="page"><h1>Page not found</h1><p><a href=${href('/experiments')}>Go to the experiments</a></p></section>`];
  }
}

// Ends a single sign-on session: a form POST (not fetch) to the server's
// logout with the session's CSRF token as the form field it expects, so the
// browser follows its redirect to the provider's end-session page, and from
// there back to the sign-in.
function SignOutForm({ logout }) {
  return html`<form method="post" action=${logout.url} class="sign-out" data-testid="sso-sign-out">
    <input type="hidden" name="csrf_token" value=${logout.csrfToken} />
    <button type="submit" class="link on-dark">Sign out</button>
  </form>`;
}

function App() {
  const route = useRoute();
  const [user, setUser] = useState(getCredentials);
  useEffect(() => on('auth', () => setUser(getCredentials())), []);
  // Signed in by the browser (its Basic dialog at /) or an SSO session: ask the server who.
  const [sessionUser, setSessionUser] = useState(null);
  useEffect(() => {
    if (config.auth && !user) whoami().then(setSessionUser, () => setSessionUser(null));
  }, [user]);
  useEffect(
    () =>
      on('unauthenticated', () => {
        const current = parseHash();
        if (current.segments[0] !== 'login') navigate(href('/login', { next: location.hash || '#/' }));
      }),
    [],
  );
  const [section, content] = page(route);
  const link = (id, label, target) =>
    html`<a href=${target} class=${classNames('nav-link', section === id && 'active')} aria-current=${section === id ? 'page' : undefined}>${label}</a>`;
  return html`
    <a class="skip" href="#main" onClick=${(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>Skip to content</a>
    <${ProgressBar} />
    <header class="topbar">
      <a class="brand" href=${href('/experiments')} aria-label="mlflowd home"><span class="logo" aria-hidden="true"></span>mlflowd</a>
      <nav aria-label="Main">
        ${link('experiments', 'Experiments', href('/experiments'))}
        ${link('models', 'Models', href('/models'))}
        ${config.auth && link('admin', 'Access', href('/admin'))}
      </nav>
      <span class="spacer"></span>
      ${config.auth &&
      (user
        ? html`<span class="user" data-testid="signed-in-as">${user.username}${user.isAdmin ? ' (admin)' : ''}</span>
            <button type="button" class="link on-dark" onClick=${() => (clearCredentials(), navigate(href('/login')))}>Sign out</button>`
        : sessionUser
        ? html`<span class="user" data-testid="signed-in-as">${sessionUser.username}${sessionUser.is_admin ? ' (admin)' : ''}</span>
            ${sessionUser.logout && html`<${SignOutForm} logout=${sessionUser.logout} />`}`
        : section !== 'login' && html`<a class="nav-link" href=${href('/login', { next: location.hash })}>Sign in</a>`)}
    </header>
    <main id="main" tabindex="-1">${content}</main>
    <footer class="foot">mlflowd ${config.version || ''} · MLflow ${config.mlflow_version || ''} API</footer>
  `;
}

if (config.auth && !getCredentials() && location.pathname.includes('/static-files/') && parseHash().segments[0] !== 'login')
  history.replaceState(null, '', href('/login', { next: location.hash || '#/' }));
render(html`<${App} />`, document.getElementById('app'));
