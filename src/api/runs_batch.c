/* runs_batch.c — runs/log-batch, runs/log-inputs and runs/outputs
 * (rest-api.md §5.10, §5.12, §5.13).
 *
 * log-batch is the hot path of training loops: the 1000 metrics of a request
 * are read straight from the parsed JSON (no copies, no per-metric
 * allocation) and validated in upstream's order — required fields, then
 * run id, names and values, then batch limits, then unique param keys —
 * before one store transaction writes them. */
#include <stdio.h>
#include <string.h>

#include "runs_internal.h"
#include "store/inputs.h"
#include "validate.h"

enum {
    MAX_METRICS_PER_BATCH = 1000,
    MAX_PARAMS_TAGS_PER_BATCH = 100,
    MAX_ENTITIES_PER_BATCH = 1000,
};

enum { NO_INDEX = -1 };

/* "list[i].field", or "list.field" for a nested object (i == NO_INDEX). */
static const char *item_path(mfd_request *req, const char *list, long i, const char *field) {
    if (i == NO_INDEX)
        return mfd_arena_sprintf(req->arena, "%s.%s", list, field);
    return mfd_arena_sprintf(req->arena, "%s[%ld].%s", list, i, field);
}

/* A required non-empty string field of a list item. */
static mfd_err item_string(mfd_request *req, json_t *item, const char *list, long i,
                           const char *field, bool required, const char **out) {
    json_t *v = json_object_get(item, field);
    if (json_is_string(v) && (json_string_length(v) > 0 || !required)) {
        *out = json_string_value(v);
        if (strlen(*out) != json_string_length(v)) /* a "\u0000" inside: refused there */
            return mfd_json_string(req, item, field, item_path(req, list, i, field), out);
        return NULL;
    }
    if (!v || json_is_null(v) || json_is_string(v)) {
        *out = json_is_string(v) ? json_string_value(v) : NULL;
        return required ? mfd_missing_param(item_path(req, list, i, field)) : NULL;
    }
    return mfd_json_string(req, item, field, item_path(req, list, i, field), out);
}

static mfd_err read_metric(mfd_request *req, json_t *item, size_t i, mfd_metric_log *m) {
    mfd_err err;
    if ((err = item_string(req, item, "metrics", i, "key", true, &m->key)))
        return err;
    json_t *value = json_object_get(item, "value");
    bool present;
    if (json_is_real(value)) {
        m->value = json_real_value(value);
    } else if (json_is_integer(value)) {
        m->value = (double)json_integer_value(value);
    } else if (!value || json_is_null(value) ||
               (json_is_string(value) && json_string_length(value) == 0)) {
        return mfd_missing_param(item_path(req, "metrics", i, "value"));
    } else if ((err = mfd_json_double(item, "value", item_path(req, "metrics", i, "value"),
                                      &present, &m->value))) {
        return err;
    }
    json_t *timestamp = json_object_get(item, "timestamp");
    if (json_is_integer(timestamp)) {
        m->timestamp = json_integer_value(timestamp);
    } else if (!timestamp || json_is_null(timestamp) ||
               (json_is_string(timestamp) && json_string_length(timestamp) == 0)) {
        return mfd_missing_param(item_path(req, "metrics", i, "timestamp"));
    } else if ((err = mfd_json_int64(item, "timestamp", item_path(req, "metrics", i, "timestamp"),
                                     &present, &m->timestamp))) {
        return err;
    }
    json_t *step = json_object_get(item, "step");
    m->step = 0;
    if (json_is_integer(step))
        m->step = json_integer_value(step);
    else if (step && (err = mfd_json_int64(item, "step", item_path(req, "metrics", i, "step"),
                                           &present, &m->step)))
        return err;
    if ((err = item_string(req, item, "metrics", i, "model_id", false, &m->model_id)) ||
        (err = item_string(req, item, "metrics", i, "dataset_name", false, &m->dataset_name)) ||
        (err = item_string(req, item, "metrics", i, "dataset_digest", false, &m->dataset_digest)))
        return err;
    return NULL;
}

static mfd_err read_pairs(mfd_request *req, json_t *list, const char *name, mfd_key_value **out,
                          size_t *n) {
    size_t count = json_array_size(list);
    mfd_key_value *pairs = mfd_arena_calloc(req->arena, count + 1, sizeof *pairs);
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get(list, i);
        mfd_err err;
        if ((err = item_string(req, item, name, i, "key", true, &pairs[i].key)) ||
            (err = item_string(req, item, name, i, "value", false, &pairs[i].value)))
            return err;
        if (!pairs[i].value)
            pairs[i].value = "";
    }
    *out = pairs;
    *n = count;
    return NULL;
}

static mfd_err batch_limit(const char *entity, size_t limit, size_t length) {
    if (length <= limit)
        return NULL;
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "A batch logging request can contain at most %zu %s. Got %zu %s. Please "
                       "split up %s across multiple requests and try again.",
                       limit, entity, length, entity, entity);
}

static mfd_err unique_param_keys(mfd_request *req, const mfd_key_value *params, size_t n) {
    mfd_strbuf dupes;
    mfd_strbuf_init(&dupes, req->arena);
    for (size_t i = 1; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(params[i].key, params[j].key) == 0;
        if (!seen)
            continue;
        json_t *key = json_string(params[i].key);
        char *text = key ? json_dumps(key, JSON_ENCODE_ANY) : NULL;
        /* Python's list repr quotes with ' */
        mfd_strbuf_appendf(&dupes, "%s'%.*s'", dupes.len ? ", " : "",
                           text ? (int)strlen(text) - 2 : 0, text ? text + 1 : "");
        free(text);
        json_decref(key);
    }
    if (!dupes.len)
        return NULL;
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "Duplicate parameter keys have been submitted: [%s]. Please ensure the "
                       "request contains only one param value per param key.",
                       dupes.data);
}

/* POST runs/log-batch */
mfd_err mfd_api_runs_log_batch(mfd_request *req, mfd_response *res) {
    const char *run_id;
    json_t *metric_list, *param_list, *tag_list;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "run_id", &run_id)) ||
        (err = mfd_msg_array(req, "metrics", &metric_list)) ||
        (err = mfd_msg_array(req, "params", &param_list)) ||
        (err = mfd_msg_array(req, "tags", &tag_list)))
        return err;
    size_t n_metrics = json_array_size(metric_list), n_params, n_tags;
    mfd_metric_log *metrics = mfd_arena_alloc(req->arena, (n_metrics + 1) * sizeof *metrics);
    for (size_t i = 0; i < n_metrics; i++)
        if ((err = read_metric(req, json_array_get(metric_list, i), i, &metrics[i])))
            return err;
    mfd_key_value *params, *tags;
    if ((err = read_pairs(req, param_list, "params", &params, &n_params)) ||
        (err = read_pairs(req, tag_list, "tags", &tags, &n_tags)))
        return err;

    if (!mfd_valid_run_id(run_id))
        return mfd_api_invalid_value("run_id", json_string(run_id), NULL);
    for (size_t i = 0; i < n_metrics; i++)
        if ((err =
                 mfd_api_check_metric(req->arena, &metrics[i], item_path(req, "metrics", i, "name"),
                                      item_path(req, "metrics", i, "timestamp"))))
            return err;
    for (size_t i = 0; i < n_params; i++) {
        if ((err =
                 mfd_api_check_key(params[i].key, item_path(req, "params", i, "key"), "Param key")))
            return err;
        if ((err = mfd_api_limit_value(req->arena, req->app->config->truncate_long_values,
                                       "Param value", MFD_RUNS_MAX_PARAM_VALUE_LENGTH,
                                       &params[i].value)))
            return err;
    }
    for (size_t i = 0; i < n_tags; i++) {
        const char *path = item_path(req, "tags", i, "key");
        if ((err = mfd_api_check_key(tags[i].key, path, path)))
            return err;
        if ((err = mfd_api_limit_value(req->arena, req->app->config->truncate_long_values,
                                       "Tag value", MFD_RUNS_MAX_TAG_VALUE_LENGTH, &tags[i].value)))
            return err;
    }
    if ((err = batch_limit("metrics", MAX_METRICS_PER_BATCH, n_metrics)) ||
        (err = batch_limit("params", MAX_PARAMS_TAGS_PER_BATCH, n_params)) ||
        (err = batch_limit("tags", MAX_PARAMS_TAGS_PER_BATCH, n_tags)) ||
        (err = batch_limit("metrics, params, and tags", MAX_ENTITIES_PER_BATCH,
                           n_metrics + n_params + n_tags)) ||
        (err = unique_param_keys(req, params, n_params)))
        return err;

    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_runs_log_batch(conn, req->arena, run_id, metrics, n_metrics, params, n_params,
                                  tags, n_tags)))
        return err;
    res->json = json_object();
    return NULL;
}

/* ---- inputs and outputs --------------------------------------------------------------------- */

static mfd_err too_long(const char *name, size_t limit) {
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "'%s' exceeds the maximum length of %zu characters", name, limit);
}

static bool longer(const char *s, size_t limit) {
    return s && mfd_utf8_chars(s) > limit;
}

static mfd_err read_dataset_input(mfd_request *req, json_t *item, size_t i,
                                  mfd_dataset_input *out) {
    memset(out, 0, sizeof *out);
    json_t *dataset = json_object_get(item, "dataset");
    const char *prefix = mfd_arena_sprintf(req->arena, "datasets[%zu].dataset", i);
    mfd_dataset *d = &out->dataset;
    mfd_err err;
    if (dataset && !json_is_null(dataset) && !json_is_object(dataset))
        return mfd_api_invalid_value(prefix, json_incref(dataset), "expected a Dataset object");
    if ((err = item_string(req, dataset, prefix, NO_INDEX, "name", false, &d->name)) ||
        (err = item_string(req, dataset, prefix, NO_INDEX, "digest", false, &d->digest)) ||
        (err =
             item_string(req, dataset, prefix, NO_INDEX, "source_type", false, &d->source_type)) ||
        (err = item_string(req, dataset, prefix, NO_INDEX, "source", false, &d->source)) ||
        (err = item_string(req, dataset, prefix, NO_INDEX, "schema", false, &d->schema)) ||
        (err = item_string(req, dataset, prefix, NO_INDEX, "profile", false, &d->profile)))
        return err;
    if (longer(d->name, 500))
        return too_long("name", 500);
    if (longer(d->digest, 36))
        return too_long("digest", 36);
    if (longer(d->source, 65535))
        return too_long("source", 65535);
    if (longer(d->schema, 1048575))
        return too_long("schema", 1048575);
    if (longer(d->profile, 16777215))
        return too_long("profile", 16777215);
    json_t *tag_list = json_object_get(item, "tags");
    const char *tags_name = mfd_arena_sprintf(req->arena, "datasets[%zu].tags", i);
    if (tag_list && !json_is_null(tag_list) && !json_is_array(tag_list))
        return mfd_api_invalid_value(tags_name, json_incref(tag_list), "expected a list");
    size_t n = json_array_size(tag_list);
    mfd_key_value *tags = mfd_arena_calloc(req->arena, n + 1, sizeof *tags);
    for (size_t t = 0; t < n; t++) {
        json_t *tag = json_array_get(tag_list, t);
        if ((err = item_string(req, tag, tags_name, (long)t, "key", false, &tags[t].key)) ||
            (err = item_string(req, tag, tags_name, (long)t, "value", false, &tags[t].value)))
            return err;
        if (!tags[t].key)
            tags[t].key = "";
        if (!tags[t].value)
            tags[t].value = "";
        if (longer(tags[t].key, 255))
            return too_long("key", 255);
        if (longer(tags[t].value, 500))
            return too_long("value", 500);
    }
    out->tags = tags;
    out->n_tags = n;
    return NULL;
}

/* POST runs/log-inputs */
mfd_err mfd_api_runs_log_inputs(mfd_request *req, mfd_response *res) {
    const char *run_id;
    json_t *dataset_list, *model_list;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "run_id", &run_id)) ||
        (err = mfd_msg_array(req, "datasets", &dataset_list)) ||
        (err = mfd_msg_array(req, "models", &model_list)))
        return err;
    if (!mfd_valid_run_id(run_id))
        return mfd_api_invalid_value("run_id", json_string(run_id), NULL);
    size_t n_datasets = json_array_size(dataset_list), n_models = json_array_size(model_list);
    mfd_dataset_input *datasets = mfd_arena_calloc(req->arena, n_datasets + 1, sizeof *datasets);
    for (size_t i = 0; i < n_datasets; i++)
        if ((err = read_dataset_input(req, json_array_get(dataset_list, i), i, &datasets[i])))
            return err;
    const char **models = mfd_arena_calloc(req->arena, n_models + 1, sizeof *models);
    for (size_t i = 0; i < n_models; i++)
        if ((err = item_string(req, json_array_get(model_list, i), "models", i, "model_id", true,
                               &models[i])))
            return err;
    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_inputs_log(conn, req->arena, run_id, datasets, n_datasets, models, n_models)))
        return err;
    res->json = json_object();
    return NULL;
}

/* POST runs/outputs */
mfd_err mfd_api_runs_log_outputs(mfd_request *req, mfd_response *res) {
    const char *run_id;
    json_t *model_list;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "run_id", &run_id)) ||
        (err = mfd_msg_array(req, "models", &model_list)))
        return err;
    if (!model_list)
        return mfd_missing_param("models");
    size_t n = json_array_size(model_list);
    mfd_model_output *models = mfd_arena_calloc(req->arena, n + 1, sizeof *models);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(model_list, i);
        bool has_step;
        if ((err = item_string(req, item, "models", i, "model_id", true, &models[i].model_id)) ||
            (err = mfd_json_int64(item, "step", item_path(req, "models", i, "step"), &has_step,
                                  &models[i].step)))
            return err;
        if (!has_step)
            models[i].step = 0;
    }
    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_inputs_log_outputs(conn, req->arena, run_id, models, n)))
        return err;
    res->json = json_object();
    return NULL;
}
