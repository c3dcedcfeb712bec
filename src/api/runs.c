/* runs.c — the runs service (rest-api.md §5.1–§5.13): run create, update,
 * delete/restore and get, params and tags, the legacy log-model, and the
 * route table of every runs endpoint (log-batch, inputs and outputs live in
 * runs_batch.c, search in runs_search.c, metric logging in metrics.c). */
#include <stdlib.h>
#include <string.h>

#include "runs_internal.h"
#include "store/runs.h"

/* A RunTag[] field; absent keys and values read as "", long values are cut
 * (or refused) as runs/set-tag's are. */
static mfd_err read_tags(mfd_request *req, const char *field, mfd_key_value **out, size_t *n) {
    json_t *list;
    *out = NULL;
    *n = 0;
    mfd_err err = mfd_msg_array(req, field, &list);
    if (err || !list)
        return err;
    size_t count = json_array_size(list);
    mfd_key_value *tags = mfd_arena_calloc(req->arena, count + 1, sizeof *tags);
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get(list, i);
        const char *key_path = mfd_arena_sprintf(req->arena, "%s[%zu].key", field, i);
        const char *value_path = mfd_arena_sprintf(req->arena, "%s[%zu].value", field, i);
        if ((err = mfd_json_string(req, item, "key", key_path, &tags[i].key)) ||
            (err = mfd_json_string(req, item, "value", value_path, &tags[i].value)))
            return err;
        if (!tags[i].key)
            tags[i].key = "";
        if ((err = mfd_api_limit_value(req->arena, req->app->config->truncate_long_values,
                                       "Tag value", MFD_RUNS_MAX_TAG_VALUE_LENGTH, &tags[i].value)))
            return err;
    }
    *out = tags;
    *n = count;
    return NULL;
}

/* {"run": <run>} as text (runs_json.c). */
static void answer_run(mfd_request *req, mfd_response *res, const mfd_run *run, bool with_outputs) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, req->arena);
    mfd_strbuf_append(&sb, "{\"run\":");
    mfd_api_append_run(&sb, run, with_outputs);
    mfd_strbuf_append(&sb, "}");
    mfd_msg_text_body(res, &sb);
}

/* POST runs/create */
static mfd_err create_run(mfd_request *req, mfd_response *res) {
    mfd_run_create in = {0};
    mfd_key_value *tags;
    bool has_start;
    mfd_err err;
    if ((err = mfd_msg_string(req, "experiment_id", &in.experiment_id)) ||
        (err = mfd_msg_string(req, "user_id", &in.user_id)) ||
        (err = mfd_msg_string(req, "run_name", &in.run_name)) ||
        (err = mfd_msg_int64(req, "start_time", &has_start, &in.start_time)) ||
        (err = read_tags(req, "tags", &tags, &in.n_tags)))
        return err;
    in.tags = tags;
    in.experiment_id = mfd_api_new_run_experiment(in.experiment_id);
    in.default_artifact_root = req->app->config->default_artifact_root;
    if (!has_start)
        in.start_time = 0;
    mfd_conn *conn;
    mfd_run run;
    if ((err = mfd_api_conn(req, &conn)) || (err = mfd_runs_create(conn, req->arena, &in, &run)))
        return err;
    answer_run(req, res, &run, false);
    return NULL;
}

/* POST runs/update */
static mfd_err update_run(mfd_request *req, mfd_response *res) {
    const char *run_id, *run_name;
    bool has_status, has_end_time;
    int status = 0;
    int64_t end_time = 0;
    mfd_err err;
    if ((err = mfd_msg_run_id(req, &run_id)) ||
        (err = mfd_msg_enum(req, "status", mfd_api_run_status_values, &has_status, &status)) ||
        (err = mfd_msg_int64(req, "end_time", &has_end_time, &end_time)) ||
        (err = mfd_msg_string(req, "run_name", &run_name)))
        return err;
    const char *status_name = NULL;
    for (const mfd_enum_value *v = mfd_api_run_status_values; has_status && v->name; v++)
        if (v->number == status)
            status_name = v->name;
    mfd_conn *conn;
    mfd_run_info info;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_runs_update(conn, req->arena, run_id, status_name, has_end_time, end_time,
                               run_name, &info)))
        return err;
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, req->arena);
    mfd_strbuf_append(&sb, "{\"run_info\":");
    mfd_api_append_run_info(&sb, &info);
    mfd_strbuf_append(&sb, "}");
    mfd_msg_text_body(res, &sb);
    return NULL;
}

static mfd_err set_deleted(mfd_request *req, mfd_response *res, bool deleted) {
    const char *run_id;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "run_id", &run_id)) ||
        (err = mfd_api_conn(req, &conn)) || (err = mfd_runs_set_deleted(conn, run_id, deleted)))
        return err;
    res->json = json_object();
    return NULL;
}

/* POST runs/delete */
static mfd_err delete_run(mfd_request *req, mfd_response *res) {
    return set_deleted(req, res, true);
}

/* POST runs/restore */
static mfd_err restore_run(mfd_request *req, mfd_response *res) {
    return set_deleted(req, res, false);
}

/* GET runs/get */
static mfd_err get_run(mfd_request *req, mfd_response *res) {
    const char *run_id;
    mfd_conn *conn;
    mfd_run run;
    mfd_err err;
    if ((err = mfd_msg_run_id(req, &run_id)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_runs_get(conn, req->arena, run_id, &run)))
        return err;
    answer_run(req, res, &run, true);
    return NULL;
}

/* POST runs/log-parameter */
static mfd_err log_param(mfd_request *req, mfd_response *res) {
    const char *run_id, *key, *value;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_run_id(req, &run_id)) || (err = mfd_msg_required_string(req, "key", &key)) ||
        (err = mfd_msg_string(req, "value", &value)) ||
        (err = mfd_api_check_key(key, "key", "Param key")) ||
        (err = mfd_api_limit_value(req->arena, req->app->config->truncate_long_values,
                                   "Param value", MFD_RUNS_MAX_PARAM_VALUE_LENGTH, &value)))
        return err;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_runs_log_param(conn, req->arena, run_id, key, value)))
        return err;
    res->json = json_object();
    return NULL;
}

/* POST runs/set-tag */
static mfd_err set_tag(mfd_request *req, mfd_response *res) {
    const char *run_id, *key, *value;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_run_id(req, &run_id)) || (err = mfd_msg_required_string(req, "key", &key)) ||
        (err = mfd_msg_string(req, "value", &value)) ||
        (err = mfd_api_check_key(key, "key", "key")) ||
        (err = mfd_api_limit_value(req->arena, req->app->config->truncate_long_values, "Tag value",
                                   MFD_RUNS_MAX_TAG_VALUE_LENGTH, &value)))
        return err;
    if ((err = mfd_api_conn(req, &conn)) || (err = mfd_runs_set_tag(conn, run_id, key, value)))
        return err;
    res->json = json_object();
    return NULL;
}

/* POST runs/delete-tag */
static mfd_err delete_tag(mfd_request *req, mfd_response *res) {
    const char *run_id, *key;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "run_id", &run_id)) ||
        (err = mfd_msg_required_string(req, "key", &key)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_runs_delete_tag(conn, run_id, key)))
        return err;
    res->json = json_object();
    return NULL;
}

/* The entry upstream appends for a logged model (Model.get_tags_dict()):
 * run_id, artifact_path, utc_time_created, model_uuid, and the flavors with
 * each flavor's `config` removed. */
static json_t *logged_model_entry(json_t *model) {
    static const char *const kept[] = {"run_id", "artifact_path", "utc_time_created", "model_uuid"};
    json_t *entry = json_object();
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        json_t *v = json_object_get(model, kept[i]);
        if (v && !json_is_null(v))
            json_object_set(entry, kept[i], v);
    }
    json_t *flavors = json_object_get(model, "flavors");
    json_t *reduced = json_object();
    const char *name;
    json_t *config;
    json_object_foreach(flavors, name, config) {
        if (json_is_object(config)) {
            json_t *copy = json_copy(config);
            json_object_del(copy, "config");
            json_object_set_new(reduced, name, copy);
        } else {
            json_object_set(reduced, name, config);
        }
    }
    json_object_set_new(entry, "flavors", reduced);
    return entry;
}

/* POST runs/log-model (legacy) */
static mfd_err log_model(mfd_request *req, mfd_response *res) {
    const char *run_id, *model_json;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "run_id", &run_id)) ||
        (err = mfd_msg_required_string(req, "model_json", &model_json)))
        return err;
    json_t *model = json_loads(model_json, 0, NULL);
    if (!json_is_object(model)) {
        json_decref(model);
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Malformed model info. \n %s \n is not a valid JSON.", model_json);
    }
    static const char *const required[] = {"artifact_path", "flavors", "utc_time_created",
                                           "run_id"};
    mfd_strbuf missing;
    mfd_strbuf_init(&missing, req->arena);
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!json_object_get(model, required[i]))
            mfd_strbuf_appendf(&missing, "%s'%s'", missing.len ? ", " : "", required[i]);
    if (missing.len) {
        json_decref(model);
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Model json is missing mandatory fields: {%s}", missing.data);
    }
    json_t *entry = logged_model_entry(model);
    json_decref(model);
    char *text = json_dumps(entry, JSON_PRESERVE_ORDER);
    json_decref(entry);
    if (!text)
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot encode the logged model");
    mfd_conn *conn;
    if (!(err = mfd_api_conn(req, &conn)))
        err = mfd_runs_append_logged_model(conn, req->arena, run_id, text);
    free(text);
    if (err)
        return err;
    res->json = json_object();
    return NULL;
}

const mfd_route mfd_api_runs_routes[] = {
    {"POST", "2.0/mlflow/runs/create", create_run, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/runs/update", update_run, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/runs/delete", delete_run, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/runs/restore", restore_run, MFD_ROUTE_TRACKING, NULL},
    {"GET", "2.0/mlflow/runs/get", get_run, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/runs/search", mfd_api_runs_search, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/runs/log-parameter", log_param, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/runs/set-tag", set_tag, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/runs/delete-tag", delete_tag, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/runs/log-batch", mfd_api_runs_log_batch, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/runs/log-model", log_model, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/runs/log-inputs", mfd_api_runs_log_inputs, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflow/runs/outputs", mfd_api_runs_log_outputs, MFD_ROUTE_TRACKING, NULL},
    {0},
};
