/* permissions.c — authorization (auth.md §2.2–§2.3, §3) and the post-hooks
 * of §4: reads the resource id the way MLflow does, resolves runs, logged
 * models and traces to their experiment, compares the user's level with the
 * rule's, and keeps permission rows in step with creates, renames, deletes.
 *
 * Search results are limited to readable resources inside the SQL
 * (mfd_auth_readable_sql, used by the search handlers) so pages come back
 * full; the post-hook filter below is a safety net that drops anything a
 * search still returned that the user may not read. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/message.h"
#include "auth_internal.h"
#include "core/log.h"

/* --- reading the request (§2.2) ---------------------------------------- */

static const char *query_first(const mfd_request *req, const char *name) {
    for (size_t i = 0; i < req->n_query; i++)
        if (!strcmp(req->query[i].key, name))
            return req->query[i].value;
    return NULL;
}

static bool body_is_json(const mfd_request *req) {
    const char *ct = req->header ? req->header(req, "Content-Type") : NULL;
    if (!ct)
        return false;
    size_t media = strcspn(ct, ";");
    while (media > 0 && (ct[media - 1] == ' ' || ct[media - 1] == '\t'))
        media--;
    return (media == 16 && !strncasecmp(ct, "application/json", 16)) ||
           (media > 17 && !strncasecmp(ct, "application/", 12) &&
            !strncasecmp(ct + media - 5, "+json", 5));
}

/* Where the validator's parameters come from for this method. */
typedef enum { FROM_QUERY, FROM_BODY, FROM_NOWHERE } param_source;

static param_source source_of(const mfd_request *req) {
    if (!strcmp(req->method, "GET"))
        return FROM_QUERY;
    if (!strcmp(req->method, "POST") || !strcmp(req->method, "PATCH"))
        return FROM_BODY;
    if (!strcmp(req->method, "DELETE"))
        return body_is_json(req) ? FROM_BODY : FROM_QUERY;
    return FROM_NOWHERE;
}

/* A JSON scalar as the string the permission tables hold. */
static mfd_err json_text(mfd_request *req, json_t *v, const char *name, const char **out) {
    *out = NULL;
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return NULL;
    }
    if (json_is_integer(v)) {
        *out = mfd_arena_sprintf(req->arena, "%lld", (long long)json_integer_value(v));
        return NULL;
    }
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "Invalid value for parameter '%s' supplied: expected a string.", name);
}

/* The parameter or NULL when absent. */
static mfd_err param_optional(mfd_request *req, const char *name, const char **out) {
    *out = NULL;
    switch (source_of(req)) {
    case FROM_QUERY:
        *out = query_first(req, name);
        return NULL;
    case FROM_BODY:
        return json_text(req, json_object_get(mfd_msg_body(req), name), name, out);
    case FROM_NOWHERE:
        break;
    }
    return mfd_err_new(MFD_BAD_REQUEST, "Unsupported HTTP method '%s'", req->method);
}

/* The parameter; 400 "Missing value for required parameter" when absent. */
static mfd_err param_required(mfd_request *req, const char *name, const char **out) {
    mfd_err err = param_optional(req, name, out);
    if (!err && !*out)
        err = mfd_missing_param(name);
    return err;
}

mfd_err mfd_auth_param(mfd_request *req, const char *name, const char **out) {
    return param_required(req, name, out);
}

static mfd_err param_run_id(mfd_request *req, const char **out) {
    mfd_err err = param_optional(req, "run_id", out);
    if (!err && (!*out || !**out))
        err = param_required(req, "run_uuid", out);
    return err;
}

/* --- levels (§2.3) ------------------------------------------------------ */

static mfd_permission level_of(const char *name) {
    mfd_permission p;
    if (mfd_auth_parse_permission(name, &p))
        return p;
    mfd_log_warn("auth db holds an unknown permission '%s'; treated as NO_PERMISSIONS", name);
    return MFD_PERM_NO_PERMISSIONS;
}

mfd_err mfd_auth_effective(mfd_auth *auth, mfd_auth_kind kind, const char *const key[2],
                           const char *username, mfd_permission *out) {
    mfd_conn *conn;
    mfd_err err = mfd_db_acquire(auth->db, &conn);
    if (err)
        return err;
    char name[64];
    bool found = false;
    err = mfd_auth_store_lookup(conn, kind, key, username, name, sizeof name, &found);
    mfd_db_release(auth->db, conn);
    if (!err)
        *out = found ? level_of(name) : auth->default_permission;
    return err;
}

static mfd_err check(mfd_auth *auth, mfd_request *req, mfd_auth_kind kind, const char *key0,
                     const char *key1, mfd_permission need, bool *allowed) {
    const char *key[2] = {key0, key1};
    mfd_permission have;
    mfd_err err = mfd_auth_effective(auth, kind, key, req->username, &have);
    if (!err)
        *allowed = have >= need && have != MFD_PERM_NO_PERMISSIONS;
    return err;
}

static mfd_err check_run(mfd_auth *auth, mfd_request *req, const char *run_id, mfd_permission need,
                         bool *allowed) {
    mfd_conn *conn;
    const char *experiment_id;
    mfd_err err = mfd_api_conn(req, &conn);
    if (!err)
        err = mfd_auth_store_run_experiment(conn, req->arena, run_id, &experiment_id);
    if (!err)
        err = check(auth, req, MFD_AUTH_EXPERIMENT, experiment_id, NULL, need, allowed);
    return err;
}

/* The experiment of an artifact path: its leading digits before a '/'. */
static mfd_err check_artifact_path(mfd_auth *auth, mfd_request *req, const char *path,
                                   mfd_permission need, bool *allowed) {
    size_t digits = 0;
    while (path && path[digits] >= '0' && path[digits] <= '9')
        digits++;
    if (digits == 0 || path[digits] != '/') {
        *allowed = auth->default_permission >= need;
        return NULL;
    }
    return check(auth, req, MFD_AUTH_EXPERIMENT, mfd_arena_strndup(req->arena, path, digits), NULL,
                 need, allowed);
}

/* --- readable sets (search filtering) ----------------------------------- */

mfd_err mfd_auth_load_grants(mfd_auth *auth, mfd_request *req, mfd_auth_kind kind,
                             mfd_grant_set *set) {
    set->rows = NULL;
    set->n = 0;
    set->default_readable = auth->default_permission >= MFD_PERM_READ;
    mfd_conn *conn;
    mfd_err err = mfd_db_acquire(auth->db, &conn);
    if (err)
        return err;
    mfd_auth_user user;
    bool found = false;
    err = mfd_auth_store_find_user(conn, req->arena, req->username, &user, &found);
    if (!err && found)
        err = mfd_auth_store_list_grants(conn, req->arena, kind, user.id, &set->rows, &set->n);
    mfd_db_release(auth->db, conn);
    return err;
}

bool mfd_auth_grant_readable(const mfd_grant_set *set, const char *key) {
    for (size_t i = 0; key && i < set->n; i++)
        if (!strcmp(set->rows[i].key[0], key))
            return level_of(set->rows[i].permission) >= MFD_PERM_READ;
    return set->default_readable;
}

mfd_err mfd_auth_readable_sql(mfd_request *req, mfd_auth_kind kind, const char *column,
                              const char **predicate, mfd_sql_params *params) {
    *predicate = NULL;
    mfd_auth *auth = mfd_auth_of(req);
    if (!auth || !req->username || req->is_admin)
        return NULL;
    mfd_grant_set set;
    mfd_err err = mfd_auth_load_grants(auth, req, kind, &set);
    if (err)
        return err;
    /* Default readable: exclude the explicit non-readable rows; else: only
     * the explicit readable ones. Experiment ids bind as integers. */
    mfd_strbuf sql;
    mfd_strbuf_init(&sql, req->arena);
    size_t listed = 0;
    for (size_t i = 0; i < set.n; i++) {
        bool readable = level_of(set.rows[i].permission) >= MFD_PERM_READ;
        if (readable == set.default_readable)
            continue;
        int64_t id = 0;
        if (kind == MFD_AUTH_EXPERIMENT && !mfd_parse_int64(set.rows[i].key[0], &id))
            continue; /* no experiment has that id */
        mfd_strbuf_append(&sql, listed++ ? ", ?" : "?");
        if (kind == MFD_AUTH_EXPERIMENT)
            mfd_sql_params_int64(params, req->arena, id);
        else
            mfd_sql_params_text(params, req->arena, set.rows[i].key[0]);
    }
    if (listed == 0)
        *predicate = set.default_readable ? NULL : "1=0";
    else
        *predicate = mfd_arena_sprintf(req->arena, "%s %s (%s)", column,
                                       set.default_readable ? "NOT IN" : "IN", sql.data);
    return NULL;
}

/* Keeps the readable experiment ids of the body's experiment_ids; answers
 * `{}` itself when none is left (runs/search, logged-models/search). */
static mfd_err reduce_experiment_ids(mfd_auth *auth, mfd_request *req, mfd_response *res,
                                     bool *answered) {
    json_t *body = mfd_msg_body(req);
    json_t *ids = json_object_get(body, "experiment_ids");
    if (!json_is_array(ids) || json_array_size(ids) == 0)
        return NULL;
    mfd_grant_set set;
    mfd_err err = mfd_auth_load_grants(auth, req, MFD_AUTH_EXPERIMENT, &set);
    if (err)
        return err;
    json_t *kept = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        const char *id = NULL;
        err = json_text(req, v, "experiment_ids", &id);
        if (err)
            break;
        if (mfd_auth_grant_readable(&set, id))
            json_array_append(kept, v);
    }
    if (!err && json_array_size(kept) == 0) {
        res->json = json_object();
        *answered = true;
    } else if (!err && json_array_size(kept) != json_array_size(ids)) {
        json_object_set(body, "experiment_ids", kept);
    }
    json_decref(kept);
    return err;
}

/* --- the gate ------------------------------------------------------------ */

static mfd_err check_each_run(mfd_auth *auth, mfd_request *req, mfd_permission need,
                              bool *allowed) {
    size_t n = 0;
    for (size_t i = 0; i < req->n_query && *allowed; i++) {
        if (strcmp(req->query[i].key, "run_id") != 0 && strcmp(req->query[i].key, "run_ids") != 0)
            continue;
        n++;
        mfd_err err = check_run(auth, req, req->query[i].value, need, allowed);
        if (err)
            return err;
    }
    if (n == 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "GetMetricHistoryBulk request must specify at least one run_id.");
    return NULL;
}

static mfd_err check_each_experiment(mfd_auth *auth, mfd_request *req, mfd_permission need,
                                     bool *allowed) {
    const char **ids = NULL;
    size_t n = 0;
    mfd_err err = mfd_msg_string_list(req, "experiment_ids", &ids, &n);
    if (!err && n == 0)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                          "SearchDatasets request must specify at least one experiment_id.");
    for (size_t i = 0; !err && i < n && *allowed; i++)
        err = check(auth, req, MFD_AUTH_EXPERIMENT, ids[i], NULL, need, allowed);
    return err;
}

static mfd_err query_required(const mfd_request *req, const char *name, const char *alt,
                              const char *message, const char **out) {
    *out = query_first(req, name);
    if ((!*out || !**out) && alt)
        *out = query_first(req, alt);
    if (!*out || !**out)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "%s", message);
    return NULL;
}

static mfd_err apply_rule(mfd_auth *auth, mfd_request *req, const mfd_rule_match *m,
                          mfd_response *res, bool *allowed, bool *answered) {
    mfd_permission need = (mfd_permission)m->rule->need;
    const char *a = NULL, *b = NULL;
    mfd_conn *conn;
    mfd_err err = NULL;
    *allowed = true;
    switch ((mfd_rule_resource)m->rule->resource) {
    case MFD_RES_NONE:
        return NULL;
    case MFD_RES_NOBODY:
        *allowed = false;
        return NULL;
    case MFD_RES_SELF:
        err = param_required(req, "username", &a);
        if (!err)
            *allowed = !strcmp(a, req->username);
        return err;
    case MFD_RES_EXPERIMENT_ID:
        if (!(err = param_required(req, "experiment_id", &a)))
            err = check(auth, req, MFD_AUTH_EXPERIMENT, a, NULL, need, allowed);
        return err;
    case MFD_RES_EXPERIMENT_NAME:
        if (!(err = param_required(req, "experiment_name", &a)) &&
            !(err = mfd_api_conn(req, &conn)))
            err = mfd_auth_store_experiment_by_name(conn, req->arena, a, &b);
        if (!err)
            err = check(auth, req, MFD_AUTH_EXPERIMENT, b, NULL, need, allowed);
        return err;
    case MFD_RES_RUN:
        if (!(err = param_run_id(req, &a)))
            err = check_run(auth, req, a, need, allowed);
        return err;
    case MFD_RES_RUN_QUERY:
        if (!(err = query_required(req, "run_id", "run_uuid",
                                   "Request must specify run_id or run_uuid parameter", &a)))
            err = check_run(auth, req, a, need, allowed);
        return err;
    case MFD_RES_RUN_IDS_QUERY:
        return check_each_run(auth, req, need, allowed);
    case MFD_RES_MODEL_NAME:
        if (!(err = param_required(req, "name", &a)))
            err = check(auth, req, MFD_AUTH_REGISTERED_MODEL, a, NULL, need, allowed);
        return err;
    case MFD_RES_MODEL_NAME_QUERY:
        if (!(err = query_required(req, "name", NULL, "Request must specify name parameter", &a)))
            err = check(auth, req, MFD_AUTH_REGISTERED_MODEL, a, NULL, need, allowed);
        return err;
    case MFD_RES_LOGGED_MODEL:
        if (!(err = mfd_api_conn(req, &conn)))
            err = mfd_auth_store_logged_model_experiment(conn, req->arena, m->segment, &b);
        if (!err)
            err = check(auth, req, MFD_AUTH_EXPERIMENT, b, NULL, need, allowed);
        return err;
    case MFD_RES_SCORER:
    case MFD_RES_SCORER_GRANT:
        if (!(err = param_required(req, "experiment_id", &a)))
            err = param_required(req, m->rule->resource == MFD_RES_SCORER ? "name" : "scorer_name",
                                 &b);
        if (!err)
            err = check(auth, req, MFD_AUTH_SCORER, a, b, need, allowed);
        return err;
    case MFD_RES_ARTIFACT_PATH:
        return check_artifact_path(auth, req, m->tail, need, allowed);
    case MFD_RES_ARTIFACT_QUERY:
        return check_artifact_path(auth, req, query_first(req, "path"), need, allowed);
    case MFD_RES_EXPERIMENT_IDS:
        return check_each_experiment(auth, req, need, allowed);
    case MFD_RES_PROMPTLAB:
        err = json_text(req, json_object_get(mfd_msg_body(req), "experiment_id"), "experiment_id",
                        &a);
        if (!err && (!a || !*a))
            err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                              "CreatePromptlabRun request must specify experiment_id.");
        if (!err)
            err = check(auth, req, MFD_AUTH_EXPERIMENT, a, NULL, need, allowed);
        return err;
    case MFD_RES_TRACE_QUERY:
        if (!(err = query_required(req, "request_id", NULL,
                                   "Request must specify request_id parameter", &a)) &&
            !(err = mfd_api_conn(req, &conn)))
            err = mfd_auth_store_trace_experiment(conn, req->arena, a, &b);
        if (!err)
            err = check(auth, req, MFD_AUTH_EXPERIMENT, b, NULL, need, allowed);
        return err;
    case MFD_RES_RUNS_SEARCH:
    case MFD_RES_LOGGED_MODELS_SEARCH:
        return reduce_experiment_ids(auth, req, res, answered);
    }
    return NULL;
}

bool mfd_auth_needs_body(const mfd_auth *auth, const mfd_request *req) {
    mfd_rule_match m;
    mfd_auth_rule_find(req, auth->config->static_prefix, &m);
    if (!m.rule)
        return false;
    switch ((mfd_rule_resource)m.rule->resource) {
    case MFD_RES_SELF:
    case MFD_RES_EXPERIMENT_ID:
    case MFD_RES_EXPERIMENT_NAME:
    case MFD_RES_RUN:
    case MFD_RES_MODEL_NAME:
    case MFD_RES_SCORER:
    case MFD_RES_SCORER_GRANT:
    case MFD_RES_EXPERIMENT_IDS:
        return source_of(req) == FROM_BODY;
    case MFD_RES_PROMPTLAB:
    case MFD_RES_RUNS_SEARCH:
    case MFD_RES_LOGGED_MODELS_SEARCH:
        return true;
    default:
        return false;
    }
}

mfd_err mfd_auth_authorize(mfd_auth *auth, mfd_request *req, mfd_response *res, bool *refused) {
    *refused = false;
    if (req->is_admin)
        return NULL;
    mfd_rule_match m;
    mfd_auth_rule_find(req, auth->config->static_prefix, &m);
    if (!m.rule)
        return NULL;
    bool allowed = true;
    mfd_err err = apply_rule(auth, req, &m, res, &allowed, refused);
    if (!err && !allowed) {
        mfd_auth_refuse_forbidden(req, res);
        *refused = true;
    }
    return err;
}
