/* auth.h — the basic-auth layer (auth.md): the whole face the HTTP server,
 * main and the handlers see.
 *
 * Pipeline per request (http/server_request.c calls these in order):
 *   mfd_auth_authenticate  — Basic credentials; refuses with 401
 *   mfd_auth_authorize     — the endpoint's rule (rules.c); refuses with 403
 *                            or answers an MLflow error (404/400)
 *   mfd_auth_before        — what a post-hook will need checked before the
 *                            handler writes anything (admins included)
 *   handler
 *   mfd_auth_after         — post-hooks for responses < 400: creator grants,
 *                            renames/deletes carried to permission rows,
 *                            search results filtered
 * A refusal fills the mfd_response (text body and headers of auth.md §2.1)
 * and sets *refused; the server sends it as it is. */
#ifndef MFD_AUTH_H
#define MFD_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "core/sql_params.h"
#include "store/auth_store.h"

typedef struct mfd_auth mfd_auth;

typedef enum mfd_permission {
    MFD_PERM_NO_PERMISSIONS,
    MFD_PERM_READ,
    MFD_PERM_EDIT,
    MFD_PERM_MANAGE,
} mfd_permission;

/* Reads the INI (cfg->auth_config_path or built-in defaults), opens and
 * upgrades the auth DB, creates the admin user if missing. */
mfd_err mfd_auth_open(const mfd_config *cfg, mfd_auth **out);
void mfd_auth_close(mfd_auth *auth);
/* The auth database (for start-up checks of where it lives). */
const struct mfd_db *mfd_auth_database(const mfd_auth *auth);

/* /static-files/…, /favicon.ico, /health, /ready and the native login's
 * /oidc/login, /oidc/callback, /oidc/info need no credentials; under the
 * static prefix ("" or "/x") only <prefix>/health, as in MLflow. */
bool mfd_auth_is_unprotected(const char *static_prefix, const char *path);

/* Sets req->username and req->is_admin, or fills a 401 and sets *refused. */
mfd_err mfd_auth_authenticate(mfd_auth *auth, mfd_request *req, mfd_response *res, bool *refused);
/* True when the rule for this request reads its resource id from the JSON
 * body, so authorization must wait for the body (else it runs as soon as
 * the headers are in, before an upload is read). */
bool mfd_auth_needs_body(mfd_auth *auth, mfd_request *req);
/* Admins pass. Otherwise applies the endpoint's rule: fills a 403 and sets
 * *refused, or returns an MLflow error from the resource lookup. May also
 * answer directly (e.g. runs/search over no readable experiment → `{}`). */
mfd_err mfd_auth_authorize(mfd_auth *auth, mfd_request *req, mfd_response *res, bool *refused);
/* Checks, for every user, what the post-hooks will write: a registered
 * model's name (created or renamed) must fit the permission table's
 * VARCHAR(255), or the model would exist without its permission row. */
mfd_err mfd_auth_before(mfd_auth *auth, mfd_request *req);
/* Post-hooks; call only when the handler succeeded (status < 400). */
mfd_err mfd_auth_after(mfd_auth *auth, mfd_request *req, mfd_response *res);

/* --- for search handlers: permission filtering inside the SQL ----------
 * Produces a boolean SQL predicate over `column` that keeps only the
 * resources the request's user may READ (explicit rows, else the default
 * permission) and appends its bound values to `params`. *predicate is NULL
 * when nothing is restricted (auth off, admin) and "1=0" when nothing is
 * readable. kind: MFD_AUTH_EXPERIMENT (column holds the integer experiment
 * id, e.g. "e.experiment_id" or "lm.experiment_id") or
 * MFD_AUTH_REGISTERED_MODEL (column holds the model name, e.g. "rm.name").
 * AND it into the WHERE of the page query (and of any count query). */
mfd_err mfd_auth_readable_sql(mfd_request *req, mfd_auth_kind kind, const char *column,
                              const char **predicate, mfd_sql_params *params);

/* The same, applied to a compiled search: ANDs the predicate in front of
 * sql->where (its values first, n_where_params adjusted) or sets
 * match_nothing. No-op when auth is off or the user is an admin. Call it
 * right after mfd_search_experiments / _registered_models / _logged_models
 * / _model_versions, e.g.
 *   mfd_auth_restrict_search(req, MFD_AUTH_EXPERIMENT, "e.experiment_id", &sql)
 *   mfd_auth_restrict_search(req, MFD_AUTH_REGISTERED_MODEL, "rm.name", &sql) */
struct mfd_search_sql;
mfd_err mfd_auth_restrict_search(mfd_request *req, mfd_auth_kind kind, const char *column,
                                 struct mfd_search_sql *sql);

/* --- for handlers that act on what their route's rule does not name ----
 * Whether the request's user has `need` on the resource `key` of `kind`
 * (NULL: what the default permission allows, for files outside every
 * experiment). Refused: the gate's 403 is written to `res` and *refused set;
 * the handler then returns NULL. Auth off and admins: always allowed. */
mfd_err mfd_auth_require(mfd_request *req, mfd_response *res, mfd_auth_kind kind, const char *key,
                         mfd_permission need, bool *refused);
/* The same for the file at `path` in the artifact destination, by the
 * proxy's rule (the experiment its first segment names, else the default). */
mfd_err mfd_auth_require_artifact(mfd_request *req, mfd_response *res, const char *path,
                                  mfd_permission need, bool *refused);

/* --- for the auth admin handlers (api/auth_admin.c) --------------------- */
/* A request parameter read as MLflow's auth layer reads it (auth.md §2.2):
 * GET query, POST/PATCH JSON body, DELETE body if JSON else query; numbers
 * become their decimal text; 400 "Missing value for required parameter". */
mfd_err mfd_auth_param(mfd_request *req, const char *name, const char **out);
/* NULL when auth is off. */
mfd_auth *mfd_auth_of(const mfd_request *req);
mfd_err mfd_auth_db_acquire(mfd_auth *auth, struct mfd_conn **out);
void mfd_auth_db_release(mfd_auth *auth, struct mfd_conn *conn);
/* Drops the user's verified credentials (password/admin change, delete). */
void mfd_auth_forget_user(mfd_auth *auth, const char *username);
/* "READ" … → level; false for any other string (case-sensitive). */
bool mfd_auth_parse_permission(const char *name, mfd_permission *out);
/* 400 "Invalid permission '<p>'. Valid permissions are: (...)" or NULL. */
mfd_err mfd_auth_check_permission_name(const char *name);
/* An experiment id as permission rows hold it: text the stores read as an
 * integer ("01", "+1", " 1" are experiment 1 to them) in its decimal form,
 * other text unchanged (the stores refuse it). A row on "1" must apply to
 * every spelling the stores serve as experiment 1, and a grant written as
 * "01" is stored as "1". */
const char *mfd_auth_experiment_key(mfd_arena *arena, const char *id);
/* One audit line on stderr: who did what to which resource, and the result.
 * Values are quoted and escaped; never pass a password. */
void mfd_auth_audit(const char *actor, const char *action, const char *resource,
                    const char *target_user, const char *detail, const char *result);
/* The signup form's CSRF token for this user (HMAC of the server secret),
 * valid for an hour; and its check. Arena string. */
char *mfd_auth_csrf_token(mfd_auth *auth, mfd_request *req);
bool mfd_auth_csrf_valid(mfd_auth *auth, const mfd_request *req, const char *token);

/* --- single sign-on, for api/sso_api.c (README.md, Authentication) ------
 * Personal access tokens of the request's user (an admin: of anyone);
 * `token` (arena) is the secret, shown once. */
typedef struct mfd_auth_token_info {
    const char *id, *name, *username;
    int64_t created_at, expires_at; /* ms; expires_at 0 = never */
} mfd_auth_token_info;
mfd_err mfd_auth_token_create(mfd_request *req, const char *username, const char *name,
                              int64_t expires_in_days, mfd_auth_token_info *info,
                              const char **token);
mfd_err mfd_auth_token_list(mfd_request *req, const char *username, mfd_auth_token_info **out,
                            size_t *n);
mfd_err mfd_auth_token_delete(mfd_request *req, const char *token_id);

/* Who the request's user is and how their level was decided. */
typedef struct mfd_auth_whoami {
    const char *username;
    bool is_admin;
    const char *auth_method;  /* basic, access_token, bearer, trusted_header, session */
    bool sso;                 /* the level comes from the role mapping */
    const char *permission;   /* mapped level (sso) or default_permission */
    const char *mapping_mode; /* authoritative, floor; NULL for local users */
    const char *const *roles; /* sso: the roles/groups seen */
    size_t n_roles;
    int64_t expires_at;     /* unix seconds: token exp / session end; 0 = none */
    const char *csrf_token; /* session: the token logout (and forms) send */
} mfd_auth_whoami;
void mfd_auth_whoami_of(mfd_request *req, mfd_auth_whoami *out);

/* The [role_mappings] and how SSO is set up (read-only, for the UI). */
typedef struct mfd_auth_sso_view {
    bool sso_enabled, basic, bearer, trusted_header, native;
    const char *mapping_mode, *unmapped_permission, *create_permission, *default_permission;
    const char *level_names[5];    /* admin, MANAGE, EDIT, USE, READ */
    const char *const *entries[5]; /* role names and /group/paths */
    size_t n_entries[5];
    const char *const *allowed_groups;
    size_t n_allowed_groups;
} mfd_auth_sso_view;
void mfd_auth_sso_view_of(mfd_request *req, mfd_auth_sso_view *out);

/* Whether the user signs in with single sign-on (has an (iss, sub) binding). */
mfd_err mfd_auth_sso_bound(mfd_request *req, const char *username, bool *bound);
/* Whether the request was authenticated by the user's own password (Basic,
 * not an access token, a bearer token, proxy headers or a session). */
bool mfd_auth_by_own_password(const mfd_request *req);
/* Whether the request was authenticated by a personal access token. */
bool mfd_auth_by_access_token(const mfd_request *req);
/* Removes the SSO binding of a username (admins; the next sign-in binds
 * anew). 404 when it has none. */
mfd_err mfd_auth_unbind(mfd_request *req, const char *username);

/* The native login's endpoints (GET /oidc/login, GET /oidc/callback, POST
 * /oidc/logout); 404 when the native mode is off. */
mfd_err mfd_auth_oidc_login(mfd_request *req, mfd_response *res);
mfd_err mfd_auth_oidc_callback(mfd_request *req, mfd_response *res);
mfd_err mfd_auth_oidc_logout(mfd_request *req, mfd_response *res);
bool mfd_auth_native_login_on(const mfd_request *req);

#endif
