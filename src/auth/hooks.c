/* hooks.c — the post-hooks of auth.md §4, run after a handler succeeded:
 * the creator of an experiment, registered model or scorer gets MANAGE;
 * deleting or renaming a registered model and deleting a scorer carry the
 * permission rows along; search answers lose anything the user may not read.
 *
 * Deviations from upstream, both recommended by auth.md: a deleted model's
 * rows are removed for every user (upstream removes only the sender's and
 * fails with 404 when the sender had none), and creator grants overwrite a
 * stale row instead of failing. */
#include <string.h>

#include "api/message.h"
#include "auth_internal.h"
#include "core/log.h"
#include "core/utf8.h"

static const char *json_key_text(mfd_request *req, json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        return mfd_arena_sprintf(req->arena, "%lld", (long long)json_integer_value(v));
    return NULL;
}

/* A field of the request: JSON body first, then the query string. */
static const char *request_field(mfd_request *req, const char *key) {
    const char *v = json_key_text(req, mfd_msg_body(req), key);
    for (size_t i = 0; !v && i < req->n_query; i++)
        if (!strcmp(req->query[i].key, key))
            v = req->query[i].value;
    return v;
}

static const char *const kind_names[] = {"experiment", "registered_model", "scorer"};

static mfd_err with_auth_conn(mfd_auth *auth, mfd_conn **conn) {
    return mfd_auth_db_acquire(auth, conn);
}

static mfd_err grant_creator(mfd_auth *auth, mfd_request *req, mfd_auth_kind kind, const char *key0,
                             const char *key1) {
    if (!key0 || (kind == MFD_AUTH_SCORER && !key1))
        return NULL; /* nothing to grant on: the handler answered without the id */
    const char *key[2] = {key0, key1};
    mfd_conn *conn;
    mfd_err err = with_auth_conn(auth, &conn);
    if (!err) {
        err = mfd_auth_store_set_grant(conn, kind, key, req->username, "MANAGE");
        mfd_auth_db_release(auth, conn);
    }
    const char *resource = kind == MFD_AUTH_SCORER
                               ? mfd_arena_sprintf(req->arena, "scorer:%s/%s", key0, key1)
                               : mfd_arena_sprintf(req->arena, "%s:%s", kind_names[kind], key0);
    mfd_auth_audit(req->username, "permission.grant", resource, req->username, "MANAGE (creator)",
                   err ? "error" : "ok");
    if (err && err->code == MFD_RESOURCE_DOES_NOT_EXIST) {
        /* The user was deleted (on another replica) while the request ran: the
         * resource exists, and there is no one left to grant it to. */
        mfd_log_warn("creator grant on %s skipped: user %s no longer exists", resource,
                     req->username);
        mfd_err_free(err);
        return NULL;
    }
    if (err) {
        /* The resource is committed already: an error answer would make the
         * client retry a create that succeeded (then RESOURCE_ALREADY_EXISTS).
         * It is answered as done; the missing grant is told to the operator. */
        mfd_log_error("creator grant on %s for user %s failed: %s; the resource was created, "
                      "but its creator has no MANAGE permission on it until an admin grants it",
                      resource, req->username, err->message);
        mfd_err_free(err);
    }
    return NULL;
}

static mfd_err drop_resource(mfd_auth *auth, mfd_request *req, mfd_auth_kind kind, const char *key0,
                             const char *key1) {
    if (!key0 || !*key0 || (kind == MFD_AUTH_SCORER && (!key1 || !*key1)))
        return NULL;
    const char *key[2] = {key0, key1};
    mfd_conn *conn;
    mfd_err err = with_auth_conn(auth, &conn);
    if (err)
        return err;
    err = mfd_auth_store_delete_resource(conn, kind, key,
                                         mfd_auth_request_state(auth, req)->resource_rows);
    mfd_auth_db_release(auth, conn);
    const char *resource = kind == MFD_AUTH_SCORER
                               ? mfd_arena_sprintf(req->arena, "scorer:%s/%s", key0, key1)
                               : mfd_arena_sprintf(req->arena, "%s:%s", kind_names[kind], key0);
    mfd_auth_audit(req->username, "permission.delete_all", resource, NULL, "resource deleted",
                   err ? "error" : "ok");
    return err;
}

static mfd_err rename_model(mfd_auth *auth, mfd_request *req) {
    const char *old_name = request_field(req, "name");
    const char *new_name = request_field(req, "new_name");
    if (!old_name || !new_name || !strcmp(old_name, new_name))
        return NULL;
    mfd_conn *conn;
    mfd_err err = with_auth_conn(auth, &conn);
    if (err)
        return err;
    err = mfd_auth_store_rename_model(conn, old_name, new_name,
                                      mfd_auth_request_state(auth, req)->resource_rows);
    mfd_auth_db_release(auth, conn);
    mfd_auth_audit(req->username, "permission.rename",
                   mfd_arena_sprintf(req->arena, "registered_model:%s", old_name), NULL,
                   mfd_arena_sprintf(req->arena, "to %s", new_name), err ? "error" : "ok");
    return err;
}

/* Drops the items of res.json[array] whose key (found along `path`) the
 * user may not read. */
static mfd_err filter_items(mfd_auth *auth, mfd_request *req, mfd_response *res, mfd_auth_kind kind,
                            const char *array, const char *inner, const char *key) {
    json_t *items = json_object_get(res->json, array);
    if (!json_is_array(items) || json_array_size(items) == 0)
        return NULL;
    mfd_grant_set set;
    mfd_err err = mfd_auth_load_grants(auth, req, kind, &set);
    if (err)
        return err;
    for (size_t i = json_array_size(items); i-- > 0;) {
        json_t *item = json_array_get(items, i);
        json_t *holder = inner ? json_object_get(item, inner) : item;
        if (!mfd_auth_grant_readable(&set, json_key_text(req, holder, key)))
            json_array_remove(items, i);
    }
    return NULL;
}

enum { MAX_PERMISSION_NAME = 255 }; /* registered_model_permissions.name */

/* Before a model or scorer is deleted or renamed, the highest id of its
 * permission rows: the post-hook moves or deletes those rows only. Another
 * user may make the name again between the handler and the post-hook; that
 * creator's grant (a newer row) must neither go with a rename nor with a
 * delete. */
static mfd_err snapshot_resource_rows(mfd_auth *auth, mfd_request *req, int after) {
    const char *key[2] = {NULL, NULL};
    mfd_auth_kind kind = MFD_AUTH_REGISTERED_MODEL;
    if (after == MFD_AFTER_DELETE_MODEL || after == MFD_AFTER_RENAME_MODEL) {
        key[0] = request_field(req, "name");
    } else if (after == MFD_AFTER_DELETE_SCORER) {
        kind = MFD_AUTH_SCORER;
        key[0] = request_field(req, "experiment_id");
        key[1] = request_field(req, "name");
    }
    if (!key[0] || (kind == MFD_AUTH_SCORER && !key[1]))
        return NULL;
    mfd_conn *conn;
    mfd_err err = with_auth_conn(auth, &conn);
    if (err)
        return err;
    err = mfd_auth_store_resource_rows(conn, kind, key,
                                       &mfd_auth_request_state(auth, req)->resource_rows);
    mfd_auth_db_release(auth, conn);
    return err;
}

mfd_err mfd_auth_before(mfd_auth *auth, mfd_request *req) {
    if (!req->username)
        return NULL;
    const mfd_rule_match *m = &mfd_auth_request_state(auth, req)->match;
    if (!m->rule)
        return NULL;
    const char *field = m->rule->after == MFD_AFTER_GRANT_MODEL    ? "name"
                        : m->rule->after == MFD_AFTER_RENAME_MODEL ? "new_name"
                                                                   : NULL;
    const char *name = field ? request_field(req, field) : NULL;
    if (name && mfd_utf8_chars(name) > MAX_PERMISSION_NAME)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "A registered model name of %zu characters is too long: with "
                           "authentication on, names are limited to %d (the permission table's)",
                           mfd_utf8_chars(name), MAX_PERMISSION_NAME);
    return snapshot_resource_rows(auth, req, m->rule->after);
}

mfd_err mfd_auth_after(mfd_auth *auth, mfd_request *req, mfd_response *res) {
    if (!req->username)
        return NULL;
    const mfd_rule_match *m = &mfd_auth_request_state(auth, req)->match;
    if (!m->rule)
        return NULL;
    json_t *out = res->json;
    switch ((mfd_rule_after)m->rule->after) {
    case MFD_AFTER_NONE:
        return NULL;
    case MFD_AFTER_GRANT_EXPERIMENT:
        return grant_creator(auth, req, MFD_AUTH_EXPERIMENT,
                             json_key_text(req, out, "experiment_id"), NULL);
    case MFD_AFTER_GRANT_MODEL:
        return grant_creator(auth, req, MFD_AUTH_REGISTERED_MODEL,
                             json_key_text(req, json_object_get(out, "registered_model"), "name"),
                             NULL);
    case MFD_AFTER_GRANT_SCORER:
        return grant_creator(auth, req, MFD_AUTH_SCORER, json_key_text(req, out, "experiment_id"),
                             json_key_text(req, out, "name"));
    case MFD_AFTER_DELETE_MODEL:
        return drop_resource(auth, req, MFD_AUTH_REGISTERED_MODEL, request_field(req, "name"),
                             NULL);
    case MFD_AFTER_RENAME_MODEL:
        return rename_model(auth, req);
    case MFD_AFTER_DELETE_SCORER:
        return drop_resource(auth, req, MFD_AUTH_SCORER, request_field(req, "experiment_id"),
                             request_field(req, "name"));
    case MFD_AFTER_FILTER_EXPERIMENTS:
    case MFD_AFTER_FILTER_MODELS:
    case MFD_AFTER_FILTER_MODEL_VERSIONS:
    case MFD_AFTER_FILTER_LOGGED_MODELS:
        break;
    }
    if (req->is_admin || !out)
        return NULL;
    switch ((mfd_rule_after)m->rule->after) {
    case MFD_AFTER_FILTER_EXPERIMENTS:
        return filter_items(auth, req, res, MFD_AUTH_EXPERIMENT, "experiments", NULL,
                            "experiment_id");
    case MFD_AFTER_FILTER_MODELS:
        return filter_items(auth, req, res, MFD_AUTH_REGISTERED_MODEL, "registered_models", NULL,
                            "name");
    case MFD_AFTER_FILTER_MODEL_VERSIONS:
        return filter_items(auth, req, res, MFD_AUTH_REGISTERED_MODEL, "model_versions", NULL,
                            "name");
    case MFD_AFTER_FILTER_LOGGED_MODELS:
        return filter_items(auth, req, res, MFD_AUTH_EXPERIMENT, "models", "info", "experiment_id");
    default:
        return NULL;
    }
}
