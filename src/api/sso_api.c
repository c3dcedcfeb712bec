/* sso_api.c — mlflowd's own auth endpoints next to MLflow's (README.md,
 * Authentication): personal access tokens, who-am-i and the role mappings
 * for the web UI, the admin's SSO re-bind, and the native login
 * routes. Served only when the auth layer is on (404 otherwise).
 *
 *   POST   /api/2.0/mlflowd/tokens/create      {name, username?, expires_in_days?}
 *   GET    /api/2.0/mlflowd/tokens/list        ?username=
 *   DELETE /api/2.0/mlflowd/tokens/delete      {id}
 *   GET    /api/2.0/mlflowd/auth/whoami
 *   GET    /api/2.0/mlflowd/auth/role-mappings
 *   DELETE /api/2.0/mlflowd/users/sso-binding  {username}          (admins)
 *   GET /oidc/login?next=  GET /oidc/callback  POST /oidc/logout  GET /oidc/info
 *
 * The /api/2.0/mlflowd/... routes are also served under ajax-api. Who may
 * call them is decided by the auth layer (a user manages their own tokens,
 * an admin anyone's); these handlers decode, call it and answer. */
#include <string.h>

#include "api.h"
#include "auth/auth.h"
#include "message.h"

static mfd_err auth_off(mfd_request *req, mfd_auth **auth) {
    *auth = mfd_auth_of(req);
    if (!*auth || !req->username)
        return mfd_err_new(MFD_ENDPOINT_NOT_FOUND, "No endpoint %s %s", req->method, req->path);
    return NULL;
}

static json_t *token_json(const mfd_auth_token_info *t) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(t->id));
    json_object_set_new(o, "name", json_string(t->name));
    json_object_set_new(o, "username", json_string(t->username));
    json_object_set_new(o, "created_at", json_integer(t->created_at));
    if (t->expires_at)
        json_object_set_new(o, "expires_at", json_integer(t->expires_at));
    return o;
}

static mfd_err create_token(mfd_request *req, mfd_response *res) {
    mfd_auth *auth;
    mfd_err err = auth_off(req, &auth);
    const char *name = NULL, *username = NULL;
    bool has_days = false;
    int64_t days = 0;
    if (!err)
        err = mfd_msg_required_string(req, "name", &name);
    if (!err)
        err = mfd_msg_string(req, "username", &username);
    if (!err)
        err = mfd_msg_int64(req, "expires_in_days", &has_days, &days);
    mfd_auth_token_info info;
    const char *token = NULL;
    if (!err)
        err = mfd_auth_token_create(req, username, name, has_days ? days : 0, &info, &token);
    if (err)
        return err;
    res->json = json_object();
    json_object_set_new(res->json, "token", json_string(token));
    json_object_set_new(res->json, "access_token", token_json(&info));
    return NULL;
}

static mfd_err list_tokens(mfd_request *req, mfd_response *res) {
    mfd_auth *auth;
    mfd_err err = auth_off(req, &auth);
    const char *username = NULL;
    if (!err)
        err = mfd_msg_string(req, "username", &username);
    mfd_auth_token_info *tokens = NULL;
    size_t n = 0;
    if (!err)
        err = mfd_auth_token_list(req, username, &tokens, &n);
    if (err)
        return err;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, token_json(&tokens[i]));
    res->json = json_object();
    json_object_set_new(res->json, "access_tokens", list);
    return NULL;
}

static mfd_err delete_token(mfd_request *req, mfd_response *res) {
    mfd_auth *auth;
    mfd_err err = auth_off(req, &auth);
    const char *id = NULL;
    if (!err)
        err = mfd_msg_required_string(req, "id", &id);
    if (!err)
        err = mfd_auth_token_delete(req, id);
    if (!err)
        res->json = json_object();
    return err;
}

static json_t *string_array(const char *const *items, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

static mfd_err whoami(mfd_request *req, mfd_response *res) {
    mfd_auth *auth;
    mfd_err err = auth_off(req, &auth);
    if (err)
        return err;
    mfd_auth_whoami w;
    mfd_auth_whoami_of(req, &w);
    json_t *u = json_object();
    json_object_set_new(u, "username", json_string(w.username));
    json_object_set_new(u, "is_admin", json_boolean(w.is_admin));
    json_object_set_new(u, "auth_method", json_string(w.auth_method));
    json_object_set_new(u, "sso", json_boolean(w.sso));
    json_object_set_new(u, "permission", json_string(w.permission));
    mfd_json_set_str(u, "mapping_mode", w.mapping_mode);
    if (w.sso)
        json_object_set_new(u, "roles", string_array(w.roles, w.n_roles));
    if (w.expires_at)
        json_object_set_new(u, "expires_at", json_integer(w.expires_at));
    res->json = json_object();
    json_object_set_new(res->json, "user", u);
    mfd_json_set_str(res->json, "csrf_token", w.csrf_token);
    if (w.csrf_token)
        json_object_set_new(res->json, "logout_url", json_string("/oidc/logout"));
    return NULL;
}

static mfd_err role_mappings(mfd_request *req, mfd_response *res) {
    mfd_auth *auth;
    mfd_err err = auth_off(req, &auth);
    if (err)
        return err;
    mfd_auth_sso_view v;
    mfd_auth_sso_view_of(req, &v);
    json_t *mappings = json_object();
    for (int i = 0; i < 5; i++)
        json_object_set_new(mappings, v.level_names[i], string_array(v.entries[i], v.n_entries[i]));
    json_t *modes = json_array();
    const char *names[] = {"basic", "bearer", "trusted_header", "native"};
    bool on[] = {v.basic, v.bearer, v.trusted_header, v.native};
    for (int i = 0; i < 4; i++)
        if (on[i])
            json_array_append_new(modes, json_string(names[i]));
    res->json = json_object();
    json_object_set_new(res->json, "sso_enabled", json_boolean(v.sso_enabled));
    json_object_set_new(res->json, "modes", modes);
    json_object_set_new(res->json, "role_mappings", mappings);
    json_object_set_new(res->json, "mapping_mode", json_string(v.mapping_mode));
    json_object_set_new(res->json, "unmapped_permission", json_string(v.unmapped_permission));
    json_object_set_new(res->json, "create_permission", json_string(v.create_permission));
    json_object_set_new(res->json, "default_permission", json_string(v.default_permission));
    json_object_set_new(res->json, "allowed_groups",
                        string_array(v.allowed_groups, v.n_allowed_groups));
    return NULL;
}

static mfd_err delete_binding(mfd_request *req, mfd_response *res) {
    mfd_auth *auth;
    mfd_err err = auth_off(req, &auth);
    const char *username = NULL;
    if (!err)
        err = mfd_auth_param(req, "username", &username);
    if (!err)
        err = mfd_auth_unbind(req, username);
    if (!err)
        res->json = json_object();
    return err;
}

/* --- the native login's routes (no credentials needed but for logout) -------------- */

static mfd_err oidc_info(mfd_request *req, mfd_response *res) {
    bool on = mfd_auth_native_login_on(req);
    res->json = json_object();
    json_object_set_new(res->json, "native_login", json_boolean(on));
    if (on) {
        json_object_set_new(res->json, "login_url", json_string("/oidc/login"));
        json_object_set_new(res->json, "logout_url", json_string("/oidc/logout"));
    }
    return NULL;
}

const mfd_route mfd_api_sso_routes[] = {
    {"POST", "2.0/mlflowd/tokens/create", create_token, 0, NULL},
    {"GET", "2.0/mlflowd/tokens/list", list_tokens, 0, NULL},
    {"DELETE", "2.0/mlflowd/tokens/delete", delete_token, 0, NULL},
    {"GET", "2.0/mlflowd/auth/whoami", whoami, 0, NULL},
    {"GET", "2.0/mlflowd/auth/role-mappings", role_mappings, 0, NULL},
    {"DELETE", "2.0/mlflowd/users/sso-binding", delete_binding, MFD_ROUTE_NO_AJAX, NULL},
    {"GET", "/oidc/login", mfd_auth_oidc_login, MFD_ROUTE_BARE, NULL},
    {"GET", "/oidc/callback", mfd_auth_oidc_callback, MFD_ROUTE_BARE, NULL},
    {"POST", "/oidc/logout", mfd_auth_oidc_logout, MFD_ROUTE_BARE | MFD_ROUTE_OWN_CONTENT_TYPE,
     NULL},
    {"GET", "/oidc/info", oidc_info, MFD_ROUTE_BARE, NULL},
    {0},
};
