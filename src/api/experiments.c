/* experiments.c — the experiments service (rest-api.md §4): create, get,
 * get-by-name, search, update (rename), delete, restore and experiment tags.
 *
 * Decoding and validation happen here, in MLflow's order; the store
 * (store/experiments.c) owns the SQL and the transactions. */
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "auth/auth.h"
#include "message.h"
#include "search/search.h"
#include "store/experiments.h"
#include "uri.h"
#include "validate.h"

enum {
    MAX_EXPERIMENT_NAME = 500,
    MAX_EXPERIMENT_TAG_VALUE = 5000,
    MAX_SEARCH_RESULTS = 50000,
};

/* ---- the Experiment message ------------------------------------------------------------------ */

static json_t *experiment_json(const mfd_experiment *e) {
    json_t *o = json_object();
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)e->experiment_id);
    mfd_json_set_str(o, "experiment_id", id);
    mfd_json_set_str(o, "name", e->name);
    mfd_json_set_str(o, "artifact_location", e->artifact_location ? e->artifact_location : "");
    mfd_json_set_str(o, "lifecycle_stage", e->lifecycle_stage);
    if (e->last_update_time)
        mfd_json_set_int(o, "last_update_time", e->last_update_time);
    if (e->creation_time)
        mfd_json_set_int(o, "creation_time", e->creation_time);
    if (e->n_tags)
        json_object_set_new(o, "tags", mfd_json_key_values(e->tags, e->n_tags));
    return o;
}

static json_t *experiment_item(const void *item) {
    return experiment_json(item);
}

static mfd_err answer_experiment(mfd_response *res, const mfd_experiment *e) {
    res->json = json_object();
    json_object_set_new(res->json, "experiment", experiment_json(e));
    return NULL;
}

/* ---- artifact_location (handlers._create_experiment + resolve_uri_if_local) ------------------ */

/* resolve_uri_if_local: a relative local path becomes absolute against the
 * working directory (decoded, as pathlib sees it); anything else is kept. */
static mfd_err resolve_local(mfd_request *req, const char *location, const mfd_uri *url,
                             const char **out) {
    *out = location;
    if (!mfd_uri_is_local(url))
        return NULL;
    bool is_file = url->scheme[0] != '\0';
    if (mfd_uri_has_remote_host(url))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "%s is not a valid remote uri. For remote access on windows, please "
                           "consider using a different scheme such as SMB (e.g. "
                           "smb://<hostname>/<path>).",
                           location);
    const char *local = mfd_uri_unquote(req->arena, is_file ? url->path : location, false, NULL);
    if (local[0] == '/')
        return NULL; /* absolute: kept as written */
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot read the working directory");
    const char *absolute =
        mfd_uri_normalise_path(req->arena, mfd_arena_sprintf(req->arena, "%s/%s", cwd, local));
    if (!is_file)
        *out = absolute;
    else
        *out = mfd_arena_sprintf(req->arena, "file://%s%s%s", absolute, url->query[0] ? "?" : "",
                                 url->query);
    return NULL;
}

static mfd_err validate_artifact_location(mfd_request *req, const char *location,
                                          const char **resolved) {
    mfd_uri url;
    mfd_uri_parse(req->arena, location, &url);
    if (url.fragment[0] || url.params[0])
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "'artifact_location' URL can't include fragments or params.");
    /* validate_query_string: decode until stable (at most 10 rounds), no "..". */
    const char *query = url.query;
    for (int round = 0; round < 10; round++) {
        const char *decoded = mfd_uri_unquote(req->arena, query, false, NULL);
        if (strcmp(decoded, query) == 0)
            break;
        query = decoded;
    }
    if (strstr(query, ".."))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid query string");
    mfd_err err = resolve_local(req, location, &url, resolved);
    if (err)
        return err;
    size_t max_length = req->app->config->artifact_location_max_length;
    if (mfd_utf8_chars(*resolved) > max_length)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid artifact path length. The length of the artifact path cannot "
                           "be greater than %zu characters. To configure this limit, please set "
                           "the MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable.",
                           max_length);
    return NULL;
}

/* ---- handlers -------------------------------------------------------------------------------- */

static mfd_err create_experiment(mfd_request *req, mfd_response *res) {
    const char *name, *location;
    json_t *tag_array;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) ||
        (err = mfd_msg_string(req, "artifact_location", &location)) ||
        (err = mfd_msg_array(req, "tags", &tag_array)) ||
        (err = mfd_validate_max_length(name, MAX_EXPERIMENT_NAME, "Experiment name")))
        return err;
    size_t n_tags = tag_array ? json_array_size(tag_array) : 0;
    mfd_key_value *tags = mfd_arena_calloc(req->arena, n_tags + 1, sizeof *tags);
    for (size_t i = 0; i < n_tags; i++) {
        json_t *t = json_array_get(tag_array, i);
        const char *key_path = mfd_arena_sprintf(req->arena, "tags[%zu].key", i);
        const char *value_path = mfd_arena_sprintf(req->arena, "tags[%zu].value", i);
        if ((err = mfd_json_string(req, t, "key", key_path, &tags[i].key)) ||
            (err = mfd_json_string(req, t, "value", value_path, &tags[i].value)))
            return err;
        if (!tags[i].key)
            return mfd_missing_param(key_path);
    }
    const char *resolved = NULL;
    if (location && *location && (err = validate_artifact_location(req, location, &resolved)))
        return err;
    mfd_conn *conn;
    int64_t id;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_experiments_create(conn, name, resolved, req->app->config->default_artifact_root,
                                      tags, n_tags, &id)))
        return err;
    res->json = json_object();
    json_object_set_new(res->json, "experiment_id",
                        json_string(mfd_arena_sprintf(req->arena, "%lld", (long long)id)));
    return NULL;
}

static mfd_err get_experiment(mfd_request *req, mfd_response *res) {
    const char *id;
    mfd_conn *conn;
    mfd_experiment e;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "experiment_id", &id)) ||
        (err = mfd_api_conn(req, &conn)) || (err = mfd_experiments_get(conn, req->arena, id, &e)))
        return err;
    return answer_experiment(res, &e);
}

static mfd_err get_experiment_by_name(mfd_request *req, mfd_response *res) {
    const char *name;
    mfd_conn *conn;
    mfd_experiment e;
    bool found = false;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "experiment_name", &name)) ||
        (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_experiments_get_by_name(conn, req->arena, name, &found, &e)))
        return err;
    if (!found)
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Could not find experiment with name '%s'",
                           name);
    return answer_experiment(res, &e);
}

static mfd_err search_experiments(mfd_request *req, mfd_response *res) {
    bool has_max = false, has_view = false;
    int64_t max_results = 0;
    int view_type = MFD_VIEW_ACTIVE_ONLY;
    const char *filter, *page_token;
    const char **order_by;
    size_t n_order_by;
    mfd_err err;
    if ((err = mfd_msg_enum(req, "view_type", mfd_msg_view_types, &has_view, &view_type)) ||
        (err = mfd_msg_int64(req, "max_results", &has_max, &max_results)) ||
        (err = mfd_msg_string_list(req, "order_by", &order_by, &n_order_by)) ||
        (err = mfd_msg_string(req, "filter", &filter)) ||
        (err = mfd_msg_string(req, "page_token", &page_token)))
        return err;
    if (!has_view)
        view_type = MFD_VIEW_ACTIVE_ONLY;
    if (max_results < 1)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid value %lld for parameter 'max_results' supplied. It must be "
                           "a positive integer",
                           (long long)max_results);
    if (max_results > MAX_SEARCH_RESULTS)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid value %lld for parameter 'max_results' supplied. It must be at "
                           "most %d",
                           (long long)max_results, MAX_SEARCH_RESULTS);
    mfd_search_input in = {filter, order_by, n_order_by};
    mfd_search_sql sql;
    int64_t offset = 0;
    if ((err = mfd_search_experiments(req->arena, &in, &sql)) ||
        (err = mfd_auth_restrict_search(req, MFD_AUTH_EXPERIMENT, "e.experiment_id", &sql)) ||
        (err = mfd_page_token_decode(page_token, &offset)))
        return err;
    mfd_conn *conn;
    mfd_experiment *items;
    size_t n;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_experiments_search(conn, req->arena, &sql, view_type, offset, max_results + 1,
                                      &items, &n)))
        return err;
    mfd_msg_search_page(req, res, "experiments", items, sizeof *items, n, offset, max_results,
                        experiment_item);
    return NULL;
}

static mfd_err update_experiment(mfd_request *req, mfd_response *res) {
    const char *id, *new_name;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "experiment_id", &id)) ||
        (err = mfd_msg_required_string(req, "new_name", &new_name)) ||
        (err = mfd_validate_max_length(new_name, MAX_EXPERIMENT_NAME, "Experiment name")) ||
        (err = mfd_api_conn(req, &conn)) || (err = mfd_experiments_rename(conn, id, new_name)))
        return err;
    res->json = json_object();
    return NULL;
}

static mfd_err delete_experiment(mfd_request *req, mfd_response *res) {
    const char *id;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "experiment_id", &id)) ||
        (err = mfd_api_conn(req, &conn)) || (err = mfd_experiments_delete(conn, id)))
        return err;
    res->json = json_object();
    return NULL;
}

static mfd_err restore_experiment(mfd_request *req, mfd_response *res) {
    const char *id;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "experiment_id", &id)) ||
        (err = mfd_api_conn(req, &conn)) || (err = mfd_experiments_restore(conn, id)))
        return err;
    res->json = json_object();
    return NULL;
}

static mfd_err set_experiment_tag(mfd_request *req, mfd_response *res) {
    const char *id, *key, *value;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "experiment_id", &id)) ||
        (err = mfd_msg_required_string(req, "key", &key)) ||
        (err = mfd_msg_string(req, "value", &value)) || (err = mfd_validate_key(key, "tag")) ||
        (err = mfd_validate_max_length(value, MAX_EXPERIMENT_TAG_VALUE, "Tag value")) ||
        (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_experiments_set_tag(conn, id, key, value ? value : "")))
        return err;
    res->json = json_object();
    return NULL;
}

static mfd_err delete_experiment_tag(mfd_request *req, mfd_response *res) {
    const char *id, *key;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "experiment_id", &id)) ||
        (err = mfd_msg_required_string(req, "key", &key)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_experiments_delete_tag(conn, id, key)))
        return err;
    res->json = json_object();
    return NULL;
}

const mfd_route mfd_api_experiments_routes[] = {
    {"POST", "2.0/mlflow/experiments/create", create_experiment, MFD_ROUTE_TRACKING, NULL},
    {"GET", "2.0/mlflow/experiments/get", get_experiment, MFD_ROUTE_TRACKING, NULL},
    {"GET", "2.0/mlflow/experiments/get-by-name", get_experiment_by_name, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/experiments/search", search_experiments, MFD_ROUTE_TRACKING, NULL},
    {"GET", "2.0/mlflow/experiments/search", search_experiments, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/experiments/update", update_experiment, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/experiments/delete", delete_experiment, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/experiments/restore", restore_experiment, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/experiments/set-experiment-tag", set_experiment_tag, MFD_ROUTE_TRACKING,
     NULL},
    {"POST", "2.0/mlflow/experiments/delete-experiment-tag", delete_experiment_tag,
     MFD_ROUTE_TRACKING, NULL},
    {0},
};
