/* logged_models.c — the MLflow 3 logged-model endpoints (rest-api.md §6):
 * create, get, finalize, delete, search, tags and params, and the LoggedModel
 * JSON shape of §2. Artifact listing of a model lives in artifacts.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "search/search.h"
#include "message.h"
#include "store/experiments.h"
#include "store/logged_models.h"
#include "store/runs.h"
#include "validate.h"

/* Column sizes of schema.md: longer values are refused with a 400 here rather
 * than failing inside a database that enforces VARCHAR lengths. */
enum {
    NAME_LIMIT = 500,
    MODEL_TYPE_LIMIT = 500,
    SOURCE_RUN_ID_LIMIT = 32,
    KEY_LIMIT = 255,
};

static const mfd_enum_value status_values[] = {
    {"LOGGED_MODEL_STATUS_UNSPECIFIED", MFD_LOGGED_MODEL_STATUS_UNSPECIFIED},
    {"LOGGED_MODEL_PENDING", MFD_LOGGED_MODEL_PENDING},
    {"LOGGED_MODEL_READY", MFD_LOGGED_MODEL_READY},
    {"LOGGED_MODEL_UPLOAD_FAILED", MFD_LOGGED_MODEL_UPLOAD_FAILED},
    {NULL, 0},
};

static const char *status_name(int status) {
    for (const mfd_enum_value *e = status_values; e->name; e++)
        if (e->number == status)
            return e->name;
    return status_values[0].name;
}

/* ---- response shape -------------------------------------------------------------------------- */

static json_t *metric_json(const mfd_logged_model_metric *m) {
    json_t *metric = json_object();
    mfd_json_set_str(metric, "key", m->key);
    /* SQLite stores a NaN written through a driver as NULL. */
    json_object_set_new(metric, "value",
                        m->value_is_null ? json_string("NaN") : mfd_json_from_double(m->value));
    mfd_json_set_int(metric, "timestamp", m->timestamp);
    mfd_json_set_int(metric, "step", m->step);
    const char *optional[][2] = {{"dataset_name", m->dataset_name},
                                 {"dataset_digest", m->dataset_digest},
                                 {"model_id", m->model_id},
                                 {"run_id", m->run_id}};
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++)
        if (optional[i][1] && *optional[i][1])
            mfd_json_set_str(metric, optional[i][0], optional[i][1]);
    return metric;
}

static json_t *model_json(const mfd_logged_model *m) {
    json_t *info = json_object();
    mfd_json_set_str(info, "model_id", m->model_id);
    mfd_json_set_str(info, "experiment_id", m->experiment_id);
    mfd_json_set_str(info, "name", m->name);
    mfd_json_set_int(info, "creation_timestamp_ms", m->creation_timestamp_ms);
    mfd_json_set_int(info, "last_updated_timestamp_ms", m->last_updated_timestamp_ms);
    mfd_json_set_str(info, "artifact_uri", m->artifact_location);
    mfd_json_set_str(info, "status", status_name(m->status));
    mfd_json_set_str(info, "model_type", m->model_type);
    mfd_json_set_str(info, "source_run_id", m->source_run_id);
    if (m->n_tags)
        json_object_set_new(info, "tags", mfd_json_key_values(m->tags, m->n_tags));

    json_t *data = json_object();
    if (m->n_params)
        json_object_set_new(data, "params", mfd_json_key_values(m->params, m->n_params));
    if (m->n_metrics) {
        json_t *metrics = json_array();
        for (size_t i = 0; i < m->n_metrics; i++)
            json_array_append_new(metrics, metric_json(&m->metrics[i]));
        json_object_set_new(data, "metrics", metrics);
    }
    json_t *model = json_object();
    json_object_set_new(model, "info", info);
    json_object_set_new(model, "data", data);
    return model;
}

static void respond_model(mfd_response *res, const mfd_logged_model *m) {
    res->json = json_object();
    json_object_set_new(res->json, "model", model_json(m));
}

/* ---- request decoding ------------------------------------------------------------------------ */

/* A repeated LoggedModelTag / LoggedModelParameter field: `key` required
 * (at most 255 characters), an absent `value` is "". */
static mfd_err read_kv_list(mfd_request *req, const char *field, const char *what,
                            mfd_key_value **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    json_t *array;
    mfd_err err = mfd_msg_array(req, field, &array);
    if (err || !array)
        return err;
    size_t n = json_array_size(array);
    mfd_key_value *items = mfd_arena_calloc(req->arena, n + 1, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        json_t *obj = json_array_get(array, i);
        char *key_name = mfd_arena_sprintf(req->arena, "%s[%zu].key", field, i);
        char *value_name = mfd_arena_sprintf(req->arena, "%s[%zu].value", field, i);
        if ((err = mfd_json_string(req, obj, "key", key_name, &items[i].key)) ||
            (err = mfd_json_string(req, obj, "value", value_name, &items[i].value)))
            return err;
        if (!items[i].key || !*items[i].key)
            return mfd_missing_param(key_name);
        if ((err = mfd_validate_max_length(items[i].key, KEY_LIMIT, what)))
            return err;
        if (!items[i].value)
            items[i].value = "";
    }
    *out = items;
    *n_out = n;
    return NULL;
}

/* The model id a body must repeat (finalize, params): required there. */
static mfd_err body_model_id(mfd_request *req, const char **model_id) {
    return mfd_msg_required_string(req, "model_id", model_id);
}

static mfd_err validate_name(const char *name) {
    if (strpbrk(name, "/:.%\"'")) {
        /* Python's repr() quoting of the name */
        char quote = strchr(name, '\'') && !strchr(name, '"') ? '"' : '\'';
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid model name (%c%s%c) provided. Model name must be a non-empty "
                           "string and cannot contain the following characters: ('/', ':', '.', "
                           "'%%', '\"', \"'\")",
                           quote, name, quote);
    }
    return mfd_validate_max_length(name, NAME_LIMIT, "Logged model name");
}

/* ---- handlers -------------------------------------------------------------------------------- */

static mfd_err create_logged_model(mfd_request *req, mfd_response *res) {
    mfd_logged_model_new in = {0};
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "experiment_id", &in.experiment_id)) ||
        (err = mfd_msg_string(req, "name", &in.name)) ||
        (err = mfd_msg_string(req, "model_type", &in.model_type)) ||
        (err = mfd_msg_string(req, "source_run_id", &in.source_run_id)))
        return err;
    mfd_key_value *params, *tags;
    if ((err = read_kv_list(req, "params", "Param key", &params, &in.n_params)) ||
        (err = read_kv_list(req, "tags", "Tag key", &tags, &in.n_tags)))
        return err;
    in.params = params;
    in.tags = tags;
    /* Upstream passes `name or None`: an empty name gets a generated one too. */
    if (in.name && *in.name) {
        if ((err = validate_name(in.name)))
            return err;
    } else {
        in.name = mfd_runs_random_name(req->arena);
    }
    if ((err = mfd_validate_max_length(in.model_type, MODEL_TYPE_LIMIT, "Model type")) ||
        (err = mfd_validate_max_length(in.source_run_id, SOURCE_RUN_ID_LIMIT, "Source run ID")))
        return err;
    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)))
        return err;
    mfd_logged_model model;
    if ((err = mfd_logged_models_create(conn, req->arena, &in, &model)))
        return err;
    respond_model(res, &model);
    return NULL;
}

static mfd_err get_logged_model(mfd_request *req, mfd_response *res) {
    /* Newer clients may ask for deleted models explicitly. */
    bool present = false, allow_deleted = false;
    mfd_err err = mfd_msg_bool(req, "allow_deleted", &present, &allow_deleted);
    if (err)
        return err;
    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)))
        return err;
    mfd_logged_model model;
    if ((err = mfd_logged_models_get(conn, req->arena, req->path_params[0], allow_deleted, &model)))
        return err;
    respond_model(res, &model);
    return NULL;
}

/* The body's model_id is required, as upstream requires it, and must be the
 * path's: upstream acts on the body's while its permission check reads the
 * path's, so one model could be authorised and another finalized. */
static mfd_err finalize_logged_model(mfd_request *req, mfd_response *res) {
    const char *model_id;
    bool present;
    int status;
    mfd_err err;
    if ((err = body_model_id(req, &model_id)) ||
        (err = mfd_msg_enum(req, "status", status_values, &present, &status)))
        return err;
    if (strcmp(model_id, req->path_params[0]) != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "The model_id in the request body ('%s') is not the one in the path "
                           "('%s')",
                           model_id, req->path_params[0]);
    if (!present)
        return mfd_missing_param("status");
    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)))
        return err;
    mfd_logged_model model;
    if ((err = mfd_logged_models_finalize(conn, req->arena, model_id, status, &model)))
        return err;
    respond_model(res, &model);
    return NULL;
}

static mfd_err delete_logged_model(mfd_request *req, mfd_response *res) {
    mfd_conn *conn;
    mfd_err err = mfd_api_conn(req, &conn);
    if (!err)
        err = mfd_logged_models_delete(conn, req->path_params[0]);
    if (!err)
        res->json = json_object();
    return err;
}

static mfd_err set_logged_model_tags(mfd_request *req, mfd_response *res) {
    mfd_key_value *tags;
    size_t n_tags;
    mfd_err err = read_kv_list(req, "tags", "Tag key", &tags, &n_tags);
    if (err)
        return err;
    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_logged_models_set_tags(conn, req->path_params[0], tags, n_tags)))
        return err;
    res->json = json_object();
    return NULL;
}

static mfd_err delete_logged_model_tag(mfd_request *req, mfd_response *res) {
    mfd_conn *conn;
    mfd_err err = mfd_api_conn(req, &conn);
    if (!err)
        err = mfd_logged_models_delete_tag(conn, req->arena, req->path_params[0],
                                           req->path_params[1]);
    if (!err)
        res->json = json_object();
    return err;
}

/* Upstream checks the body's model_id is there but writes to the path's. */
static mfd_err log_logged_model_params(mfd_request *req, mfd_response *res) {
    const char *model_id;
    mfd_key_value *params;
    size_t n_params;
    mfd_err err;
    if ((err = body_model_id(req, &model_id)) ||
        (err = read_kv_list(req, "params", "Param key", &params, &n_params)))
        return err;
    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_logged_models_log_params(conn, req->path_params[0], params, n_params)))
        return err;
    res->json = json_object();
    return NULL;
}

/* ---- search --------------------------------------------------------------------------------- */

enum {
    SEARCH_DEFAULT_MAX_RESULTS = 50, /* the proto default, when the field is absent */
    SEARCH_ZERO_MAX_RESULTS = 100,   /* the store default, when the field is 0 */
};

static mfd_err read_datasets(mfd_request *req, mfd_logged_model_dataset **out, size_t *n_out) {
    json_t *array;
    mfd_err err = mfd_msg_array(req, "datasets", &array);
    *out = NULL;
    *n_out = 0;
    if (err || !array)
        return err;
    size_t n = json_array_size(array);
    mfd_logged_model_dataset *items = mfd_arena_calloc(req->arena, n + 1, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        json_t *obj = json_array_get(array, i);
        mfd_logged_model_dataset *d = &items[i];
        if ((err = mfd_json_string(req, obj, "dataset_name",
                                   mfd_arena_sprintf(req->arena, "datasets[%zu].dataset_name", i),
                                   &d->dataset_name)) ||
            (err = mfd_json_string(req, obj, "dataset_digest",
                                   mfd_arena_sprintf(req->arena, "datasets[%zu].dataset_digest", i),
                                   &d->dataset_digest)))
            return err;
        if (!d->dataset_name || !*d->dataset_name)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "`dataset_name` in the `datasets` clause must be specified.");
        if (d->dataset_digest && !*d->dataset_digest)
            d->dataset_digest = NULL;
    }
    *out = items;
    *n_out = n;
    return NULL;
}

static mfd_err read_order_by(mfd_request *req, mfd_logged_model_order **out, size_t *n_out) {
    json_t *array;
    mfd_err err = mfd_msg_array(req, "order_by", &array);
    *out = NULL;
    *n_out = 0;
    if (err || !array)
        return err;
    size_t n = json_array_size(array);
    mfd_logged_model_order *items = mfd_arena_calloc(req->arena, n + 1, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        json_t *obj = json_array_get(array, i);
        mfd_logged_model_order *o = &items[i];
        bool present;
        const char *field = mfd_arena_sprintf(req->arena, "order_by[%zu].", i);
        if ((err = mfd_json_string(req, obj, "field_name",
                                   mfd_arena_sprintf(req->arena, "%sfield_name", field),
                                   &o->field_name)) ||
            (err = mfd_json_bool(obj, "ascending",
                                 mfd_arena_sprintf(req->arena, "%sascending", field), &present,
                                 &o->ascending)) ||
            (err = mfd_json_string(req, obj, "dataset_name",
                                   mfd_arena_sprintf(req->arena, "%sdataset_name", field),
                                   &o->dataset_name)) ||
            (err = mfd_json_string(req, obj, "dataset_digest",
                                   mfd_arena_sprintf(req->arena, "%sdataset_digest", field),
                                   &o->dataset_digest)))
            return err;
        if (!present)
            o->ascending = true;
        /* The handler hands the store `x or None`: "" is the same as absent. */
        if (o->dataset_name && !*o->dataset_name)
            o->dataset_name = NULL;
        if (o->dataset_digest && !*o->dataset_digest)
            o->dataset_digest = NULL;
    }
    *out = items;
    *n_out = n;
    return NULL;
}

static mfd_err read_max_results(mfd_request *req, int64_t *max_results) {
    bool present;
    mfd_err err = mfd_msg_int64(req, "max_results", &present, max_results);
    if (err)
        return err;
    if (!present)
        *max_results = SEARCH_DEFAULT_MAX_RESULTS;
    else if (*max_results == 0)
        *max_results = SEARCH_ZERO_MAX_RESULTS;
    else if (*max_results < 0 || *max_results > INT32_MAX)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid value %lld for parameter 'max_results' supplied. It must be "
                           "a positive integer",
                           (long long)*max_results);
    return NULL;
}

static mfd_err search_logged_models(mfd_request *req, mfd_response *res) {
    mfd_logged_model_page page = {0};
    mfd_logged_model_search_input in = {0};
    const char **experiment_ids;
    const char *page_token;
    int64_t max_results, offset;
    mfd_logged_model_order *order_by;
    mfd_logged_model_dataset *datasets;
    mfd_err err;
    if ((err =
             mfd_msg_string_list(req, "experiment_ids", &experiment_ids, &page.n_experiment_ids)) ||
        (err = mfd_msg_string(req, "filter", &in.filter)) ||
        (err = read_datasets(req, &datasets, &in.n_datasets)) ||
        (err = read_max_results(req, &max_results)) ||
        (err = read_order_by(req, &order_by, &in.n_order_by)) ||
        (err = mfd_msg_string(req, "page_token", &page_token)))
        return err;
    if (!experiment_ids)
        return mfd_missing_param("experiment_ids");
    in.datasets = datasets;
    in.order_by = order_by;
    page.experiment_ids = experiment_ids;
    page.filter = in.filter;
    page.order_by = order_by;
    page.n_order_by = in.n_order_by;
    if ((err = mfd_logged_model_token_decode(page_token, &page, &offset)))
        return err;
    mfd_search_sql sql;
    if ((err = mfd_search_logged_models(req->arena, &in, &sql)))
        return err;

    int64_t *ids;
    size_t n_ids;
    if ((err = mfd_search_experiment_ids(req->arena, mfd_db_dialect(req->app->tracking_db),
                                         experiment_ids, page.n_experiment_ids, &ids, &n_ids)))
        return err;
    mfd_logged_models_query query = {
        .experiment_ids = ids,
        .n_experiment_ids = n_ids,
        .sql = &sql,
        .offset = offset,
        .limit = max_results,
    };
    mfd_conn *conn;
    mfd_logged_model *models;
    size_t n_models;
    bool more;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_logged_models_search(conn, req->arena, &query, &models, &n_models, &more)))
        return err;

    res->json = json_object();
    if (n_models) {
        json_t *array = json_array();
        for (size_t i = 0; i < n_models; i++)
            json_array_append_new(array, model_json(&models[i]));
        json_object_set_new(res->json, "models", array);
    }
    if (more) {
        int64_t next = offset > INT64_MAX - max_results ? INT64_MAX : offset + max_results;
        mfd_json_set_str(res->json, "next_page_token",
                         mfd_logged_model_token_encode(req->arena, &page, next));
    }
    return NULL;
}

const mfd_route mfd_api_logged_models_routes[] = {
    {"POST", "2.0/mlflow/logged-models", create_logged_model, MFD_ROUTE_TRACKING, NULL},
    {"GET", "2.0/mlflow/logged-models/{model_id}", get_logged_model, MFD_ROUTE_TRACKING, NULL},
    {"PATCH", "2.0/mlflow/logged-models/{model_id}", finalize_logged_model, MFD_ROUTE_TRACKING,
     NULL},
    {"DELETE", "2.0/mlflow/logged-models/{model_id}", delete_logged_model, MFD_ROUTE_TRACKING,
     NULL},
    {"POST", "2.0/mlflow/logged-models/search", search_logged_models, MFD_ROUTE_TRACKING, NULL},
    {"PATCH", "2.0/mlflow/logged-models/{model_id}/tags", set_logged_model_tags, MFD_ROUTE_TRACKING,
     NULL},
    {"DELETE", "2.0/mlflow/logged-models/{model_id}/tags/{tag_key}", delete_logged_model_tag,
     MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/logged-models/{model_id}/params", log_logged_model_params,
     MFD_ROUTE_TRACKING, NULL},
    {0},
};
