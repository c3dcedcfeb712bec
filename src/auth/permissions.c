/* permissions.c — authorization (auth.md §2.2–§2.3, §3) and the post-hooks
 * of §4: reads the resource id the way MLflow does, resolves runs, logged
 * models and traces to their experiment, compares the user's level with the
 * rule's, and keeps permission rows in step with creates, renames, deletes.
 *
 * Search results are limited to readable resources inside the SQL
 * (mfd_auth_readable_sql, used by the search handlers) so pages come back
 * full; the post-hook filter below is a safety net that drops anything a
 * search still returned that the user may not read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/message.h"
#include "auth_internal.h"
#include "search/search.h"
#include "core/log.h"

/* --- reading the request (§2.2) ---------------------------------------- */

const char *mfd_auth_query_first(const mfd_request *req, const char *name) {
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

/* DELETE: the JSON body when the request says it is JSON (auth.md §2.2),
 * and also whenever the body is a JSON object with members: the handlers
 * read a DELETE's body whatever its Content-Type (rest-api.md §1.1), so
 * checking the query string then would authorise one resource and act on
 * another (`?name=mine` with `{"name": "theirs"}` as text/plain; MLflow
 * 3.5 has that hole). */
static param_source source_of(mfd_request *req) {
    if (!strcmp(req->method, "GET")) /* as the handlers read a GET (rest-api.md §1.1) */
        return req->n_query > 0 ? FROM_QUERY : FROM_BODY;
    if (!strcmp(req->method, "POST") || !strcmp(req->method, "PATCH"))
        return FROM_BODY;
    if (!strcmp(req->method, "DELETE"))
        return body_is_json(req) || json_object_size(mfd_msg_body(req)) ? FROM_BODY : FROM_QUERY;
    return FROM_NOWHERE;
}

bool mfd_auth_params_may_be_in_body(const mfd_request *req) {
    return !strcmp(req->method, "POST") || !strcmp(req->method, "PATCH") ||
           !strcmp(req->method, "DELETE") || (!strcmp(req->method, "GET") && req->n_query == 0);
}

/* A JSON scalar as the string the permission tables hold. */
mfd_err mfd_auth_json_text(mfd_request *req, json_t *v, const char *name, const char **out) {
    *out = NULL;
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return strlen(*out) == json_string_length(v) ? NULL : mfd_nul_param(name);
    }
    if (json_is_integer(v)) {
        *out = mfd_arena_sprintf(req->arena, "%lld", (long long)json_integer_value(v));
        return NULL;
    }
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "Invalid value for parameter '%s' supplied: expected a string.", name);
}

const char *mfd_auth_experiment_key(mfd_arena *arena, const char *id) {
    if (!id)
        return NULL;
    size_t digits = strspn(id, "0123456789");
    if (digits && !id[digits] && (id[0] != '0' || digits == 1))
        return id; /* already decimal: the usual case, on every request */
    char *end;
    errno = 0;
    long long number = strtoll(id, &end, 10);
    if (end == id || *end || errno)
        return id;
    return mfd_arena_sprintf(arena, "%lld", number);
}

/* The parameter or NULL when absent. */
static mfd_err param_optional(mfd_request *req, const char *name, const char **out) {
    *out = NULL;
    switch (source_of(req)) {
    case FROM_QUERY:
        *out = mfd_auth_query_first(req, name);
        return NULL;
    case FROM_BODY:
        return mfd_auth_json_text(req, json_object_get(mfd_msg_body(req), name), name, out);
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

mfd_err mfd_auth_param_optional(mfd_request *req, const char *name, const char **out) {
    return param_optional(req, name, out);
}

mfd_err mfd_auth_param(mfd_request *req, const char *name, const char **out) {
    return param_required(req, name, out);
}

mfd_err mfd_auth_param_run_id(mfd_request *req, const char **out) {
    mfd_err err = param_optional(req, "run_id", out);
    if (!err && (!*out || !**out))
        err = param_required(req, "run_uuid", out);
    return err;
}

/* --- levels (§2.3) ------------------------------------------------------ */

mfd_permission mfd_auth_level_of(const char *name) {
    mfd_permission p;
    if (mfd_auth_parse_permission(name, &p))
        return p;
    mfd_log_warn("auth db holds an unknown permission '%s'; treated as NO_PERMISSIONS", name);
    return MFD_PERM_NO_PERMISSIONS;
}

mfd_permission mfd_auth_effective(const mfd_auth *auth, const mfd_auth_request *st, bool found,
                                  mfd_permission row) {
    if (st && st->sso) {
        if (auth->sso_authoritative || !found || row < st->mapped)
            return st->mapped;
        return row;
    }
    return found ? row : auth->default_permission;
}

/* --- readable sets (search filtering) ----------------------------------- */

mfd_err mfd_auth_list_grants(mfd_conn *conn, mfd_request *req, mfd_auth_kind kind,
                             mfd_grant_set *set) {
    int64_t user_id = req->auth_state ? req->auth_state->user_id : 0;
    mfd_err err = NULL;
    if (user_id <= 0) {
        mfd_auth_user user;
        bool found = false;
        err = mfd_auth_store_find_user(conn, req->arena, req->username, &user, &found);
        if (err || !found)
            return err;
        user_id = user.id;
    }
    return mfd_auth_store_list_grants(conn, req->arena, kind, user_id, &set->rows, &set->n);
}

mfd_err mfd_auth_load_grants(mfd_auth *auth, mfd_request *req, mfd_auth_kind kind,
                             mfd_grant_set *set) {
    const mfd_auth_request *st = req->auth_state;
    memset(set, 0, sizeof *set);
    set->default_readable =
        mfd_auth_effective(auth, st, false, MFD_PERM_NO_PERMISSIONS) >= MFD_PERM_READ;
    set->rows_only_raise = st && st->sso;
    /* Rows cannot change the answer: authoritative SSO, or floor with the
     * mapped level already readable. */
    set->rows_ignored = st && st->sso && (auth->sso_authoritative || set->default_readable);
    if (set->rows_ignored)
        return NULL;
    mfd_conn *conn;
    mfd_err err = mfd_db_acquire(auth->db, &conn);
    if (err)
        return err;
    err = mfd_auth_list_grants(conn, req, kind, set);
    mfd_db_release(auth->db, conn);
    return err;
}

/* Whether an explicit row makes its resource readable under this set's rule. */
static bool row_readable(const mfd_grant_set *set, const mfd_auth_grant *row) {
    bool readable = mfd_auth_level_of(row->permission) >= MFD_PERM_READ;
    return set->rows_only_raise ? readable || set->default_readable : readable;
}

bool mfd_auth_grant_readable(const mfd_grant_set *set, const char *key) {
    for (size_t i = 0; key && !set->rows_ignored && i < set->n; i++)
        if (!strcmp(set->rows[i].key[0], key))
            return row_readable(set, &set->rows[i]);
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
        bool readable = row_readable(&set, &set.rows[i]);
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

mfd_err mfd_auth_restrict_search(mfd_request *req, mfd_auth_kind kind, const char *column,
                                 mfd_search_sql *sql) {
    const char *predicate = NULL;
    mfd_sql_params params = {0};
    mfd_err err = mfd_auth_readable_sql(req, kind, column, &predicate, &params);
    if (err || !predicate)
        return err;
    if (!strcmp(predicate, "1=0")) {
        sql->match_nothing = true;
        return NULL;
    }
    /* The predicate's values go first: it comes first in the new WHERE. */
    size_t n_auth = params.count;
    sql->where = mfd_arena_sprintf(req->arena, "(%s) AND (%s)", predicate,
                                   sql->where && *sql->where ? sql->where : "1=1");
    /* Layout is joins, where, order_by: the predicate's values go after the joins'. */
    mfd_sql_params merged = {0};
    mfd_sql_params joins = {sql->params.values, sql->n_join_params, 0};
    mfd_sql_params rest = {sql->params.values + sql->n_join_params,
                           sql->params.count - sql->n_join_params, 0};
    mfd_sql_params_append(&merged, req->arena, &joins);
    mfd_sql_params_append(&merged, req->arena, &params);
    mfd_sql_params_append(&merged, req->arena, &rest);
    sql->params = merged;
    sql->n_where_params += n_auth;
    return NULL;
}

/* Keeps the readable experiment ids of the body's experiment_ids; answers
 * `{}` itself when none is left (runs/search, logged-models/search). */
mfd_err mfd_auth_reduce_experiment_ids(mfd_request *req, const mfd_grant_set *set,
                                       mfd_response *res, bool *answered) {
    json_t *body = mfd_msg_body(req);
    json_t *ids = json_object_get(body, "experiment_ids");
    if (!json_is_array(ids) || json_array_size(ids) == 0)
        return NULL;
    mfd_err err = NULL;
    json_t *kept = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        const char *id = NULL;
        err = mfd_auth_json_text(req, v, "experiment_ids", &id);
        if (err)
            break;
        if (mfd_auth_grant_readable(set, mfd_auth_experiment_key(req->arena, id)))
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
