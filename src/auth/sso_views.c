/* sso_views.c — read-only views of the auth state for the REST endpoints the
 * web UI calls (who am I, the role mappings) and the admin's re-bind. */
#include <string.h>

#include "sso.h"
#include "store/sso_store.h"

static const char *const method_names[] = {
    [MFD_AUTH_METHOD_NONE] = "none",
    [MFD_AUTH_METHOD_BASIC] = "basic",
    [MFD_AUTH_METHOD_TOKEN] = "access_token",
    [MFD_AUTH_METHOD_BEARER] = "bearer",
    [MFD_AUTH_METHOD_TRUSTED_HEADER] = "trusted_header",
    [MFD_AUTH_METHOD_SESSION] = "session",
};

static const char *level_name(mfd_permission p) {
    static const char *const names[] = {"NO_PERMISSIONS", "READ", "EDIT", "MANAGE"};
    return names[p];
}

void mfd_auth_whoami_of(mfd_request *req, mfd_auth_whoami *out) {
    mfd_auth *auth = mfd_auth_of(req);
    const mfd_auth_request *st = req->auth_state;
    memset(out, 0, sizeof *out);
    out->username = req->username;
    out->is_admin = req->is_admin;
    int method = st ? st->method : MFD_AUTH_METHOD_NONE;
    out->auth_method = method_names[method >= 0 && method <= MFD_AUTH_METHOD_SESSION ? method : 0];
    out->sso = st && st->sso;
    out->permission = level_name(out->sso ? st->mapped : auth->default_permission);
    out->mapping_mode = out->sso ? (auth->sso_authoritative ? "authoritative" : "floor") : NULL;
    out->expires_at = st ? st->expires_at : 0;
    out->csrf_token = st && st->csrf && *st->csrf ? st->csrf : NULL;
    if (out->sso && st->roles && *st->roles) {
        size_t n = 1;
        for (const char *p = st->roles; *p; p++)
            n += *p == '\n';
        const char **roles = mfd_arena_calloc(req->arena, n, sizeof *roles);
        size_t i = 0;
        for (const char *p = st->roles; *p && i < n;) {
            size_t len = strcspn(p, "\n");
            roles[i++] = mfd_arena_strndup(req->arena, p, len);
            p += len + (p[len] == '\n');
        }
        out->roles = roles;
        out->n_roles = i;
    }
}

void mfd_auth_sso_view_of(mfd_request *req, mfd_auth_sso_view *out) {
    mfd_auth *auth = mfd_auth_of(req);
    const mfd_sso_settings *s = mfd_sso_settings_of(auth->sso);
    static const char *const names[MAP_LEVELS] = {"admin", "MANAGE", "EDIT", "USE", "READ"};
    memset(out, 0, sizeof *out);
    out->sso_enabled = s->enabled;
    out->basic = !s->enabled || s->basic;
    out->bearer = s->enabled && s->bearer;
    out->trusted_header = s->enabled && s->trusted_header;
    out->native = s->enabled && s->native;
    out->mapping_mode = s->authoritative ? "authoritative" : "floor";
    out->unmapped_permission = level_name(s->unmapped);
    out->create_permission = level_name(s->create_level);
    out->default_permission = level_name(auth->default_permission);
    for (int i = 0; i < MAP_LEVELS; i++) {
        out->level_names[i] = names[i];
        out->entries[i] = (const char *const *)s->mappings[i].items;
        out->n_entries[i] = s->mappings[i].n;
    }
    out->allowed_groups = (const char *const *)s->allowed_groups.items;
    out->n_allowed_groups = s->allowed_groups.n;
}

mfd_err mfd_auth_unbind(mfd_request *req, const char *username) {
    mfd_auth *auth = mfd_auth_of(req);
    if (!req->is_admin)
        return mfd_err_new(MFD_PERMISSION_DENIED, "Only admins may re-bind a user's identity");
    mfd_conn *conn;
    mfd_err err = mfd_auth_db_acquire(auth, &conn);
    if (err)
        return err;
    bool found = false;
    err = mfd_sso_store_delete_binding(conn, username, &found);
    mfd_auth_db_release(auth, conn);
    if (!err && !found)
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                          "User with username=%s has no single sign-on binding", username);
    mfd_auth_forget_user(auth, username);
    mfd_auth_audit(req->username, "user.unbind", "user", username, NULL,
                   err ? mfd_code_name(err->code) : "ok");
    return err;
}

bool mfd_auth_native_login_on(const mfd_request *req) {
    mfd_auth *auth = mfd_auth_of(req);
    const mfd_sso_settings *s = auth && auth->sso ? mfd_sso_settings_of(auth->sso) : NULL;
    return s && s->enabled && s->native;
}

bool mfd_auth_by_own_password(const mfd_request *req) {
    const mfd_auth_request *st = req->auth_state;
    return st && st->method == MFD_AUTH_METHOD_BASIC;
}

bool mfd_auth_by_access_token(const mfd_request *req) {
    const mfd_auth_request *st = req->auth_state;
    return st && st->method == MFD_AUTH_METHOD_TOKEN;
}

mfd_err mfd_auth_sso_bound(mfd_request *req, const char *username, bool *bound) {
    mfd_auth *auth = mfd_auth_of(req);
    const char *issuer = NULL, *subject = NULL;
    mfd_sso_snapshot snap;
    mfd_conn *conn;
    mfd_err err = mfd_auth_db_acquire(auth, &conn);
    if (err)
        return err;
    err = mfd_sso_store_get_binding(conn, req->arena, username, &issuer, &subject, &snap, bound);
    mfd_auth_db_release(auth, conn);
    return err;
}
