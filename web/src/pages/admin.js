// admin.js — access management for servers run with basic-auth (auth.md §5):
// your own account and explicit permissions; for administrators, creating
// users, the admin flag, and per-experiment / per-model permissions.
// MLflow's auth API has no "list users" call, so a user is opened by name
// (?user=<name>, shareable). Who-am-i (auth method, level from SSO roles)
// and the role mappings come from mlflowd's own endpoints when the server
// has them; without them the page shows what MLflow's API tells.
import { useState } from 'preact/hooks';
import { api, authApi, config, getCredentials, mlflowdApi, optional, searchAll, setCredentials, whoami } from '../api.js';
import { ErrorMessage, Field, FormDialog, Loading, useAsync, useFocusHeading } from '../components.js';
import { href, setQuery } from '../router.js';
import { html } from '../util.js';
import { searchExperiments } from './experiments.js';

const LEVELS = ['READ', 'EDIT', 'MANAGE', 'NO_PERMISSIONS'];

export function AdminPage({ query }) {
  const heading = useFocusHeading('admin');
  const stored = getCredentials();
  const who = useAsync(() => (config.auth ? whoami() : null), [stored?.username]);
  const me = stored || (who.data ? { username: who.data.username, isAdmin: who.data.is_admin } : null);
  if (!config.auth)
    return html`<section class="page"><h1 tabindex="-1" ref=${heading}>Access</h1>
      <p>This server runs without authentication: everyone may do everything. Start it with
      <code>--app-name basic-auth</code> to manage users and permissions here.</p></section>`;
  if (!me && who.loading) return html`<section class="page"><${Loading} label="Loading your account" /></section>`;
  if (!me)
    return html`<section class="page"><h1 tabindex="-1" ref=${heading}>Access</h1>
      <p><a href=${href('/login', { next: location.hash })}>Sign in</a> to see your account and permissions.</p></section>`;
  return html`<section class="page admin">
    <h1 tabindex="-1" ref=${heading}>Access</h1>
    <${MyAccount} me=${me} who=${who.data} canChangePassword=${!!stored} />
    ${me.isAdmin && html`<${Users} selected=${query.user || ''} />`}
    <${RoleMappings} />
  </section>`;
}

// Read-only: how SSO roles and groups map to levels (mlflowd/auth/role-mappings).
function RoleMappings() {
  const view = useAsync(() => optional((o) => mlflowdApi.get('auth/role-mappings', null, o)), []);
  const v = view.data;
  return html`<section aria-labelledby="roles-h" data-testid="role-mappings">
    <h2 id="roles-h">Role mappings</h2>
    <${ErrorMessage} error=${view.error} />
    ${!view.loading && !v &&
    html`<p class="muted">This server does not report single sign-on role mappings: levels come from the explicit
      permissions above and the server's default permission for everything else.</p>`}
    ${v &&
    html`<dl class="props">
        <dt>Single sign-on</dt><dd>${v.sso_enabled ? `on (${(v.modes || []).join(', ')})` : 'off'}</dd>
        ${v.default_permission && html`<dt>Default permission</dt><dd>${v.default_permission}</dd>`}
        ${v.sso_enabled && html`<dt>Mapping mode</dt><dd>${v.mapping_mode}</dd>`}
        ${v.sso_enabled && html`<dt>Unmapped users get</dt><dd>${v.unmapped_permission}</dd>`}
        ${(v.allowed_groups || []).length > 0 && html`<dt>Allowed groups</dt><dd>${v.allowed_groups.join(', ')}</dd>`}
      </dl>
      <table class="grid compact perms">
        <caption>Roles and groups per level</caption>
        <thead><tr><th scope="col">Level</th><th scope="col">Roles / groups</th></tr></thead>
        <tbody>${Object.entries(v.role_mappings || {}).map(
          ([level, entries]) => html`<tr><th scope="row">${level}</th><td>${(entries || []).join(', ') || html`<span class="muted">none</span>`}</td></tr>`,
        )}</tbody>
      </table>`}
  </section>`;
}

function useNames() {
  const experiments = useAsync(() => searchAll((token) => searchExperiments({ view: 'all', token, maxResults: 1000 })), []);
  const models = useAsync(
    () =>
      searchAll((token) =>
        api.get('registered-models/search', { max_results: 1000, page_token: token }).then((r) => ({
          items: r.registered_models || [],
          next: r.next_page_token,
        })),
      ),
    [],
  );
  return { experiments: experiments.data || [], models: models.data || [] };
}

function MyAccount({ me, who, canChangePassword }) {
  const user = useAsync(() => authApi.get('users/get', { username: me.username }).then((r) => r.user), [me.username]);
  const names = useNames();
  const [changing, setChanging] = useState(false);
  const u = user.data;
  return html`<section aria-labelledby="me-h" data-testid="my-account">
    <h2 id="me-h">Your account</h2>
    <${ErrorMessage} error=${user.error} />
    ${u &&
    html`<dl class="props">
        <dt>Username</dt><dd>${u.username}</dd>
        <dt>Administrator</dt><dd>${u.is_admin ? 'yes — every permission on everything' : 'no'}</dd>
        ${who?.auth_method && html`<dt>Signed in with</dt><dd>${who.auth_method}</dd>`}
        ${who?.sso && html`<dt>Level from your roles</dt><dd data-testid="effective-level">${who.permission}${who.mapping_mode ? ` (${who.mapping_mode})` : ''}</dd>`}
        ${who?.sso && (who.roles || []).length > 0 && html`<dt>Roles and groups</dt><dd>${who.roles.join(', ')}</dd>`}
      </dl>
      <${PermissionTable} caption="Your experiment permissions" rows=${u.experiment_permissions} idKey="experiment_id"
        nameOf=${(id) => names.experiments.find((e) => e.experiment_id === id)?.name} linkOf=${(id) => href('/experiments', id)} />
      <${PermissionTable} caption="Your registered model permissions" rows=${u.registered_model_permissions} idKey="name"
        linkOf=${(name) => href('/models', name)} />
      <p class="hint">Everything not listed here gets the server's default permission.</p>
      ${canChangePassword && html`<button type="button" onClick=${() => setChanging(true)}>Change password</button>`}`}
    <${FormDialog} title="Change password" open=${changing} onClose=${() => setChanging(false)}
      onSubmit=${async (form) => {
        const password = String(form.get('password'));
        await authApi.patch('users/update-password', { username: me.username, password });
        setCredentials(me.username, password, me.isAdmin);
      }}>
      <${Field} label="New password (at least 12 characters)" name="password" type="password" minlength="12" required autofocus autocomplete="new-password" />
    <//>
  </section>`;
}

function PermissionTable({ caption, rows, idKey, nameOf, linkOf, onChange, onDelete }) {
  return html`<table class="grid compact perms">
    <caption>${caption}</caption>
    <thead><tr><th scope="col">${idKey === 'name' ? 'Model' : 'Experiment'}</th><th scope="col">Permission</th>${onDelete && html`<th><span class="sr-only">Actions</span></th>`}</tr></thead>
    <tbody>
      ${(rows || []).length === 0 && html`<tr><td colspan="3" class="muted">None.</td></tr>`}
      ${(rows || []).map((r) => {
        const id = r[idKey];
        const label = nameOf?.(id) ? `${nameOf(id)} (${id})` : id;
        return html`<tr key=${id}>
          <td><a href=${linkOf(id)}>${label}</a></td>
          <td>${onChange
            ? html`<select aria-label=${`Permission on ${label}`} value=${r.permission} onChange=${(e) => onChange(id, e.target.value)}>
                ${LEVELS.map((l) => html`<option value=${l}>${l}</option>`)}</select>`
            : r.permission}</td>
          ${onDelete && html`<td><button type="button" class="link danger" onClick=${() => onDelete(id)}>Revoke</button></td>`}
        </tr>`;
      })}
    </tbody>
  </table>`;
}

function Users({ selected }) {
  const [creating, setCreating] = useState(false);
  const find = (e) => {
    e.preventDefault();
    setQuery({ user: String(new FormData(e.target).get('username')).trim() });
  };
  return html`<section aria-labelledby="users-h">
    <div class="section-head">
      <h2 id="users-h">Users</h2>
      <button type="button" class="primary" onClick=${() => setCreating(true)}>New user</button>
    </div>
    <form class="inline" role="search" onSubmit=${find}>
      <label>Open user <input name="username" value=${selected} required placeholder="username" /></label>
      <button type="submit">Open</button>
    </form>
    ${selected && html`<${UserCard} key=${selected} username=${selected} />`}
    <${FormDialog} title="New user" open=${creating} onClose=${() => setCreating(false)} submitLabel="Create"
      onSubmit=${async (form) => {
        const username = String(form.get('username')).trim();
        await authApi.post('users/create', { username, password: String(form.get('password')) });
        setQuery({ user: username });
      }}>
      <${Field} label="Username" name="username" required autofocus autocomplete="off" />
      <${Field} label="Password (at least 12 characters)" name="password" type="password" minlength="12" required autocomplete="new-password" />
    <//>
  </section>`;
}

function UserCard({ username }) {
  const user = useAsync(() => authApi.get('users/get', { username }).then((r) => r.user), [username]);
  const names = useNames();
  const [error, setError] = useState(null);
  const [deleting, setDeleting] = useState(false);
  const act = async (fn) => {
    setError(null);
    try {
      await fn();
      user.reload();
    } catch (e) {
      setError(e);
    }
  };
  const u = user.data;
  if (user.error) return html`<${ErrorMessage} error=${user.error} />`;
  if (!u) return html`<${Loading} label="Loading user" />`;
  const grant = (kind) => async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const key = kind === 'experiments' ? { experiment_id: String(form.get('resource')) } : { name: String(form.get('resource')) };
    await act(() => authApi.post(`${kind}/permissions/create`, { ...key, username, permission: form.get('permission') }));
  };
  return html`<article class="card user-card" data-testid="user-card" aria-label=${`User ${username}`}>
    <h3>${u.username}</h3>
    <label class="check"><input type="checkbox" checked=${u.is_admin}
      onChange=${(e) => act(() => authApi.patch('users/update-admin', { username, is_admin: e.target.checked }))} /> Administrator</label>
    <${ErrorMessage} error=${error} onDismiss=${() => setError(null)} />
    <${PermissionTable} caption="Experiment permissions" rows=${u.experiment_permissions} idKey="experiment_id"
      nameOf=${(id) => names.experiments.find((e) => e.experiment_id === id)?.name} linkOf=${(id) => href('/experiments', id)}
      onChange=${(id, permission) => act(() => authApi.patch('experiments/permissions/update', { experiment_id: id, username, permission }))}
      onDelete=${(id) => act(() => authApi.del('experiments/permissions/delete', { experiment_id: id, username }))} />
    <form class="inline" onSubmit=${grant('experiments')} data-testid="grant-experiment">
      <label>Experiment <select name="resource" required>
        ${names.experiments.map((e) => html`<option value=${e.experiment_id}>${e.name} (${e.experiment_id})</option>`)}
      </select></label>
      <label>Permission <select name="permission">${LEVELS.map((l) => html`<option value=${l}>${l}</option>`)}</select></label>
      <button type="submit">Grant</button>
    </form>
    <${PermissionTable} caption="Registered model permissions" rows=${u.registered_model_permissions} idKey="name"
      linkOf=${(name) => href('/models', name)}
      onChange=${(name, permission) => act(() => authApi.patch('registered-models/permissions/update', { name, username, permission }))}
      onDelete=${(name) => act(() => authApi.del('registered-models/permissions/delete', { name, username }))} />
    <form class="inline" onSubmit=${grant('registered-models')} data-testid="grant-model">
      <label>Model <select name="resource" required>${names.models.map((m) => html`<option value=${m.name}>${m.name}</option>`)}</select></label>
      <label>Permission <select name="permission">${LEVELS.map((l) => html`<option value=${l}>${l}</option>`)}</select></label>
      <button type="submit" disabled=${names.models.length === 0}>Grant</button>
    </form>
    <p><button type="button" class="danger" onClick=${() => setDeleting(true)}>Delete user</button></p>
    <${FormDialog} title=${`Delete user ${username}?`} open=${deleting} onClose=${() => setDeleting(false)} submitLabel="Delete" danger
      onSubmit=${async () => {
        await authApi.del('users/delete', { username });
        setQuery({ user: '' });
      }}>
      <p>The user and all their permissions are deleted.</p>
    <//>
  </article>`;
}
