/* auth_admin.c — the auth-management service of auth.md §5: users, the
 * experiment / registered-model / scorer permission rows, and the /signup
 * form. Served at /api/... only, and only when the auth layer is on (404
 * otherwise, as with `mlflow server` without --app-name basic-auth).
 *
 * Who may call what is decided before the handler by the rules of
 * src/auth/rules.c; these handlers only validate, write and answer. Every
 * change of users or permissions leaves one audit line. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "core/escape.h"
#include "auth/auth.h"
#include "auth/passwords.h"
#include "message.h"
#include "store/auth_store.h"
#include "uri.h"

static mfd_err auth_off(mfd_request *req) {
    return mfd_err_new(MFD_ENDPOINT_NOT_FOUND, "No endpoint %s %s", req->method, req->path);
}

#define REQUIRE_AUTH(auth, req)                                                                    \
    mfd_auth *auth = mfd_auth_of(req);                                                             \
    if (!auth)                                                                                     \
    return auth_off(req)

static const char *const kind_json_keys[][2] = {
    [MFD_AUTH_EXPERIMENT] = {"experiment_id", NULL},
    [MFD_AUTH_REGISTERED_MODEL] = {"name", NULL},
    [MFD_AUTH_SCORER] = {"experiment_id", "scorer_name"},
};
static const char *const kind_response_keys[] = {
    [MFD_AUTH_EXPERIMENT] = "experiment_permission",
    [MFD_AUTH_REGISTERED_MODEL] = "registered_model_permission",
    [MFD_AUTH_SCORER] = "scorer_permission",
};
static const char *const kind_labels[] = {
    [MFD_AUTH_EXPERIMENT] = "experiment",
    [MFD_AUTH_REGISTERED_MODEL] = "registered_model",
    [MFD_AUTH_SCORER] = "scorer",
};

static json_t *grant_json(mfd_auth_kind kind, const mfd_auth_grant *g) {
    json_t *o = json_object();
    json_object_set_new(o, kind_json_keys[kind][0], json_string(g->key[0] ? g->key[0] : ""));
    if (kind_json_keys[kind][1])
        json_object_set_new(o, kind_json_keys[kind][1], json_string(g->key[1] ? g->key[1] : ""));
    json_object_set_new(o, "user_id", json_integer(g->user_id));
    json_object_set_new(o, "permission", json_string(g->permission ? g->permission : ""));
    return o;
}

/* All six keys: the client's User.from_json indexes every one of them. */
static mfd_err user_json(mfd_request *req, mfd_conn *conn, const mfd_auth_user *user,
                         json_t **out) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(user->id));
    json_object_set_new(o, "username", json_string(user->username));
    json_object_set_new(o, "is_admin", json_boolean(user->is_admin));
    static const char *const list_keys[] = {"experiment_permissions",
                                            "registered_model_permissions", "scorer_permissions"};
    for (int kind = 0; kind < 3; kind++) {
        mfd_auth_grant *rows = NULL;
        size_t n = 0;
        mfd_err err = conn ? mfd_auth_store_list_grants(conn, req->arena, (mfd_auth_kind)kind,
                                                        user->id, &rows, &n)
                           : NULL;
        if (err) {
            json_decref(o);
            return err;
        }
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, grant_json((mfd_auth_kind)kind, &rows[i]));
        json_object_set_new(o, list_keys[kind], list);
    }
    *out = o;
    return NULL;
}

static const char *resource_name(mfd_request *req, mfd_auth_kind kind, const char *const key[2]) {
    if (kind == MFD_AUTH_SCORER)
        return mfd_arena_sprintf(req->arena, "scorer:%s/%s", key[0], key[1]);
    return mfd_arena_sprintf(req->arena, "%s:%s", kind_labels[kind], key[0]);
}

static const char *result_of(mfd_err err) {
    return err ? mfd_code_name(err->code) : "ok";
}

/* --- users ------------------------------------------------------------- */

static mfd_err create_user(mfd_request *req, mfd_response *res) {
    REQUIRE_AUTH(auth, req);
    const char *ct = req->header(req, "Content-Type");
    if (!ct || strcmp(ct, "application/json") != 0) {
        mfd_response_text(req, res, 400, "text/html; charset=utf-8",
                          "Invalid content type. Must be application/json");
        return NULL;
    }
    const char *username, *password;
    mfd_err err = mfd_auth_param(req, "username", &username);
    if (!err)
        err = mfd_auth_param(req, "password", &password);
    if (err)
        return err;
    if (!*username || !*password) {
        mfd_response_text(req, res, 400, "text/html; charset=utf-8",
                          "Username and password cannot be empty.");
        return NULL;
    }
    if ((err = mfd_auth_password_check_rule(password)))
        return err;
    char *hash = NULL;
    if ((err = mfd_auth_password_hash(password, &hash)))
        return err;
    mfd_conn *conn;
    mfd_auth_user user;
    if (!(err = mfd_auth_db_acquire(auth, &conn))) {
        err = mfd_auth_store_create_user(conn, req->arena, username, hash, false, &user);
        mfd_auth_db_release(auth, conn);
    }
    free(hash);
    mfd_auth_audit(req->username, "user.create", "user", username, NULL, result_of(err));
    if (err)
        return err;
    json_t *u;
    if ((err = user_json(req, NULL, &user, &u)))
        return err;
    res->json = json_object();
    json_object_set_new(res->json, "user", u);
    return NULL;
}

static mfd_err get_user(mfd_request *req, mfd_response *res) {
    REQUIRE_AUTH(auth, req);
    const char *username;
    mfd_err err = mfd_auth_param(req, "username", &username);
    if (err)
        return err;
    mfd_conn *conn;
    if ((err = mfd_auth_db_acquire(auth, &conn)))
        return err;
    mfd_auth_user user;
    json_t *u = NULL;
    err = mfd_auth_store_get_user(conn, req->arena, username, &user);
    if (!err)
        err = user_json(req, conn, &user, &u);
    mfd_auth_db_release(auth, conn);
    if (err)
        return err;
    res->json = json_object();
    json_object_set_new(res->json, "user", u);
    return NULL;
}

static mfd_err update_password(mfd_request *req, mfd_response *res) {
    REQUIRE_AUTH(auth, req);
    const char *username, *password;
    mfd_err err = mfd_auth_param(req, "username", &username);
    if (!err)
        err = mfd_auth_param(req, "password", &password);
    /* A single-sign-on user has no password (its access follows the IdP's roles); a
     * self-set one would open a second door with other rules. Admins may still set one,
     * and a local account a token was bound to still changes its own. */
    bool bound = false;
    if (!err && !req->is_admin && !mfd_auth_by_own_password(req) &&
        !(err = mfd_auth_sso_bound(req, username, &bound)) && bound)
        err = mfd_err_new(MFD_PERMISSION_DENIED,
                          "User %s signs in with single sign-on and has no password; create a "
                          "personal access token (POST /api/2.0/mlflowd/tokens/create) for API "
                          "clients",
                          username);
    /* A token that could set its user's password would outlive its own expiry and
     * revocation (the new password makes new tokens), as one that made tokens would. */
    if (!err && mfd_auth_by_access_token(req) && req->username && !strcmp(username, req->username))
        err = mfd_err_new(MFD_PERMISSION_DENIED,
                          "A personal access token cannot change its user's password: sign in "
                          "with your password");
    /* Upstream applies no rule here; auth.md recommends the same 12 characters. */
    if (!err)
        err = mfd_auth_password_check_rule(password);
    char *hash = NULL;
    if (!err)
        err = mfd_auth_password_hash(password, &hash);
    if (!err) {
        mfd_conn *conn;
        if (!(err = mfd_auth_db_acquire(auth, &conn))) {
            err = mfd_auth_store_update_password(conn, username, hash);
            mfd_auth_db_release(auth, conn);
            mfd_auth_forget_user(auth, username);
        }
        mfd_auth_audit(req->username, "user.update_password", "user", username, NULL,
                       result_of(err));
    }
    free(hash);
    if (!err)
        res->json = json_object();
    return err;
}

static mfd_err update_admin(mfd_request *req, mfd_response *res) {
    REQUIRE_AUTH(auth, req);
    const char *username;
    mfd_err err = mfd_auth_param(req, "username", &username);
    if (err)
        return err;
    json_t *v = json_object_get(mfd_msg_body(req), "is_admin");
    bool is_admin;
    if (json_is_boolean(v))
        is_admin = json_is_true(v);
    else if (json_is_string(v) && !strcasecmp(json_string_value(v), "true"))
        is_admin = true;
    else if (json_is_string(v) && !strcasecmp(json_string_value(v), "false"))
        is_admin = false;
    else if (!v || json_is_null(v))
        return mfd_missing_param("is_admin");
    else
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid value for parameter 'is_admin' supplied: expected a boolean.");
    mfd_conn *conn;
    if (!(err = mfd_auth_db_acquire(auth, &conn))) {
        err = mfd_auth_store_update_admin(conn, username, is_admin);
        mfd_auth_db_release(auth, conn);
        mfd_auth_forget_user(auth, username);
    }
    mfd_auth_audit(req->username, "user.update_admin", "user", username,
                   is_admin ? "is_admin=true" : "is_admin=false", result_of(err));
    if (!err)
        res->json = json_object();
    return err;
}

static mfd_err delete_user(mfd_request *req, mfd_response *res) {
    REQUIRE_AUTH(auth, req);
    const char *username;
    mfd_err err = mfd_auth_param(req, "username", &username);
    if (err)
        return err;
    mfd_conn *conn;
    /* Upstream fails with 500 when the user still has permission rows;
     * auth.md recommends deleting them in the same transaction. */
    if (!(err = mfd_auth_db_acquire(auth, &conn))) {
        err = mfd_auth_store_delete_user(conn, username);
        mfd_auth_db_release(auth, conn);
        mfd_auth_forget_user(auth, username);
    }
    mfd_auth_audit(req->username, "user.delete", "user", username, NULL, result_of(err));
    if (!err)
        res->json = json_object();
    return err;
}

/* --- permission rows ---------------------------------------------------- */

typedef enum { GRANT_CREATE, GRANT_GET, GRANT_UPDATE, GRANT_DELETE } grant_op;

static mfd_err grant_call(mfd_request *req, mfd_response *res, mfd_auth_kind kind, grant_op op) {
    REQUIRE_AUTH(auth, req);
    const char *key[2] = {NULL, NULL}, *username = NULL, *permission = NULL;
    mfd_err err = mfd_auth_param(req, kind_json_keys[kind][0], &key[0]);
    if (!err && kind_json_keys[kind][1])
        err = mfd_auth_param(req, kind_json_keys[kind][1], &key[1]);
    if (!err)
        err = mfd_auth_param(req, "username", &username);
    if (!err && (op == GRANT_CREATE || op == GRANT_UPDATE) &&
        !(err = mfd_auth_param(req, "permission", &permission)))
        err = mfd_auth_check_permission_name(permission);
    if (err)
        return err;
    if (kind == MFD_AUTH_EXPERIMENT || kind == MFD_AUTH_SCORER)
        key[0] = mfd_auth_experiment_key(req->arena, key[0]); /* as the checks read it */
    mfd_conn *conn;
    mfd_auth_grant grant;
    static const char *const actions[] = {"create", "get", "update", "delete"};
    if (!(err = mfd_auth_db_acquire(auth, &conn))) {
        switch (op) {
        case GRANT_CREATE:
            err = mfd_auth_store_create_grant(conn, req->arena, kind, key, username, permission,
                                              &grant);
            break;
        case GRANT_GET:
            err = mfd_auth_store_get_grant(conn, req->arena, kind, key, username, &grant);
            break;
        case GRANT_UPDATE:
            err = mfd_auth_store_update_grant(conn, kind, key, username, permission);
            break;
        case GRANT_DELETE:
            err = mfd_auth_store_delete_grant(conn, kind, key, username);
            break;
        }
        mfd_auth_db_release(auth, conn);
    }
    if (op != GRANT_GET)
        mfd_auth_audit(
            req->username,
            mfd_arena_sprintf(req->arena, "%s_permission.%s", kind_labels[kind], actions[op]),
            resource_name(req, kind, key), username, permission, result_of(err));
    if (err)
        return err;
    res->json = json_object();
    if (op == GRANT_CREATE || op == GRANT_GET)
        json_object_set_new(res->json, kind_response_keys[kind], grant_json(kind, &grant));
    return NULL;
}

#define GRANT_HANDLER(name, kind, op)                                                              \
    static mfd_err name(mfd_request *req, mfd_response *res) {                                     \
        return grant_call(req, res, kind, op);                                                     \
    }

GRANT_HANDLER(create_experiment_permission, MFD_AUTH_EXPERIMENT, GRANT_CREATE)
GRANT_HANDLER(get_experiment_permission, MFD_AUTH_EXPERIMENT, GRANT_GET)
GRANT_HANDLER(update_experiment_permission, MFD_AUTH_EXPERIMENT, GRANT_UPDATE)
GRANT_HANDLER(delete_experiment_permission, MFD_AUTH_EXPERIMENT, GRANT_DELETE)
GRANT_HANDLER(create_model_permission, MFD_AUTH_REGISTERED_MODEL, GRANT_CREATE)
GRANT_HANDLER(get_model_permission, MFD_AUTH_REGISTERED_MODEL, GRANT_GET)
GRANT_HANDLER(update_model_permission, MFD_AUTH_REGISTERED_MODEL, GRANT_UPDATE)
GRANT_HANDLER(delete_model_permission, MFD_AUTH_REGISTERED_MODEL, GRANT_DELETE)
GRANT_HANDLER(create_scorer_permission, MFD_AUTH_SCORER, GRANT_CREATE)
GRANT_HANDLER(get_scorer_permission, MFD_AUTH_SCORER, GRANT_GET)
GRANT_HANDLER(update_scorer_permission, MFD_AUTH_SCORER, GRANT_UPDATE)
GRANT_HANDLER(delete_scorer_permission, MFD_AUTH_SCORER, GRANT_DELETE)

/* --- the signup form ---------------------------------------------------- */

static mfd_err signup(mfd_request *req, mfd_response *res) {
    REQUIRE_AUTH(auth, req);
    const char *page = mfd_arena_sprintf(
        req->arena,
        "<!DOCTYPE html>\n<html><head><title>MLflow sign up</title>\n<style>\n"
        "form{background-color:#F5F5F5;border:1px solid #CCCCCC;border-radius:4px;padding:20px;"
        "max-width:400px;margin:0 auto;font-family:Arial,sans-serif;font-size:14px;"
        "line-height:1.5}\n"
        "input[type=text],input[type=password]{width:100%%;padding:10px;margin-bottom:10px;"
        "border:1px solid #CCCCCC;border-radius:4px;box-sizing:border-box}\n"
        "input[type=submit]{background-color:rgb(34,114,180);color:#FFFFFF;border:none;"
        "border-radius:4px;padding:10px 20px;cursor:pointer;font-size:16px;font-weight:bold}\n"
        "</style></head><body>\n"
        "<form action=\"/api/2.0/mlflow/users/create-ui\" method=\"post\">\n"
        "  <input type=\"hidden\" name=\"csrf_token\" value=\"%s\"/>\n"
        "  <label for=\"username\">Username:</label><br>\n"
        "  <input type=\"text\" id=\"username\" name=\"username\" minlength=\"4\"><br>\n"
        "  <label for=\"password\">Password:</label><br>\n"
        "  <input type=\"password\" id=\"password\" name=\"password\" minlength=\"12\"><br><br>\n"
        "  <input type=\"submit\" value=\"Sign up\">\n"
        "</form>\n</body></html>\n",
        mfd_markup_escape(req->arena, mfd_auth_csrf_token(auth, req)));
    mfd_response_text(req, res, 200, "text/html; charset=utf-8", page);
    return NULL;
}

static const char *alert_page(mfd_request *req, const char *message, const char *href) {
    return mfd_arena_sprintf(req->arena,
                             "\n<script type = \"text/javascript\">\n\n"
                             "      alert(\"%s\");\n\n"
                             "      window.location.href = \"%s\";\n</script>\n",
                             mfd_markup_escape(req->arena, message), href);
}

/* The value of `key` in an application/x-www-form-urlencoded body. */
static const char *form_value(mfd_request *req, const char *key) {
    size_t key_len = strlen(key);
    for (const char *p = req->body; p && *p;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (eq && (size_t)(eq - p) == key_len && !strncmp(p, key, key_len))
            return mfd_uri_unquote(
                req->arena, mfd_arena_strndup(req->arena, eq + 1, len - (size_t)(eq + 1 - p)), true,
                NULL);
        p += len + (p[len] == '&');
    }
    return NULL;
}

static mfd_err create_user_ui(mfd_request *req, mfd_response *res) {
    REQUIRE_AUTH(auth, req);
    const char *ct = req->header(req, "Content-Type");
    bool form = ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33) &&
                (ct[33] == '\0' || ct[33] == ';');
    const char *token = form ? form_value(req, "csrf_token") : NULL;
    if (!token)
        token = req->header(req, "X-CSRFToken");
    if (!token) {
        mfd_response_text(req, res, 400, "text/html; charset=utf-8",
                          "Bad Request: The CSRF token is missing.");
        return NULL;
    }
    if (!mfd_auth_csrf_valid(auth, req, token)) {
        mfd_response_text(req, res, 400, "text/html; charset=utf-8",
                          "Bad Request: The CSRF token is invalid.");
        return NULL;
    }
    if (!form || strcmp(ct, "application/x-www-form-urlencoded") != 0) {
        mfd_response_text(req, res, 400, "text/html; charset=utf-8",
                          "Invalid content type. Must be application/x-www-form-urlencoded");
        return NULL;
    }
    const char *username = form_value(req, "username");
    const char *password = form_value(req, "password");
    if (!username || !password) {
        mfd_response_text(req, res, 400, "text/html; charset=utf-8",
                          "Bad Request: the form needs username and password.");
        return NULL;
    }
    if (!*username || !*password) {
        mfd_response_text(req, res, 400, "text/html; charset=utf-8",
                          "Username and password cannot be empty.");
        return NULL;
    }
    mfd_err err = mfd_auth_password_check_rule(password);
    char *hash = NULL;
    if (!err)
        err = mfd_auth_password_hash(password, &hash);
    if (!err) {
        mfd_conn *conn;
        mfd_auth_user user;
        if (!(err = mfd_auth_db_acquire(auth, &conn))) {
            err = mfd_auth_store_create_user(conn, req->arena, username, hash, false, &user);
            mfd_auth_db_release(auth, conn);
        }
        mfd_auth_audit(req->username, "user.create", "user", username, "signup form",
                       result_of(err));
        if (err && err->code == MFD_RESOURCE_ALREADY_EXISTS) {
            mfd_err_free(err);
            err = NULL;
            mfd_response_text(
                req, res, 200, "text/html; charset=utf-8",
                alert_page(
                    req,
                    mfd_arena_sprintf(req->arena, "Username has already been taken: %s", username),
                    "/signup"));
        } else if (!err) {
            mfd_response_text(
                req, res, 200, "text/html; charset=utf-8",
                alert_page(
                    req, mfd_arena_sprintf(req->arena, "Successfully signed up user: %s", username),
                    "/"));
        }
    }
    free(hash);
    return err;
}

#define AUTH_ROUTE(method, pattern, handler)                                                       \
    { method, pattern, handler, MFD_ROUTE_NO_AJAX, NULL }

const mfd_route mfd_api_auth_routes[] = {
    {"GET", "/signup", signup, MFD_ROUTE_BARE, NULL},
    {"POST", "2.0/mlflow/users/create", create_user, MFD_ROUTE_NO_AJAX | MFD_ROUTE_OWN_CONTENT_TYPE,
     NULL},
    {"POST", "2.0/mlflow/users/create-ui", create_user_ui,
     MFD_ROUTE_NO_AJAX | MFD_ROUTE_OWN_CONTENT_TYPE, NULL},
    AUTH_ROUTE("GET", "2.0/mlflow/users/get", get_user),
    AUTH_ROUTE("PATCH", "2.0/mlflow/users/update-password", update_password),
    AUTH_ROUTE("PATCH", "2.0/mlflow/users/update-admin", update_admin),
    AUTH_ROUTE("DELETE", "2.0/mlflow/users/delete", delete_user),
    AUTH_ROUTE("POST", "2.0/mlflow/experiments/permissions/create", create_experiment_permission),
    AUTH_ROUTE("GET", "2.0/mlflow/experiments/permissions/get", get_experiment_permission),
    AUTH_ROUTE("PATCH", "2.0/mlflow/experiments/permissions/update", update_experiment_permission),
    AUTH_ROUTE("DELETE", "2.0/mlflow/experiments/permissions/delete", delete_experiment_permission),
    AUTH_ROUTE("POST", "2.0/mlflow/registered-models/permissions/create", create_model_permission),
    AUTH_ROUTE("GET", "2.0/mlflow/registered-models/permissions/get", get_model_permission),
    AUTH_ROUTE("PATCH", "2.0/mlflow/registered-models/permissions/update", update_model_permission),
    AUTH_ROUTE("DELETE", "2.0/mlflow/registered-models/permissions/delete",
               delete_model_permission),
    AUTH_ROUTE("POST", "3.0/mlflow/scorers/permissions/create", create_scorer_permission),
    AUTH_ROUTE("GET", "3.0/mlflow/scorers/permissions/get", get_scorer_permission),
    AUTH_ROUTE("PATCH", "3.0/mlflow/scorers/permissions/update", update_scorer_permission),
    AUTH_ROUTE("DELETE", "3.0/mlflow/scorers/permissions/delete", delete_scorer_permission),
    {0},
};
