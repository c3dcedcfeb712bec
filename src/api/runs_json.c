/* runs_json.c — the Run, RunInfo and Metric messages as protobuf JSON
 * (rest-api.md §2) and MLflow's key and length rules with upstream's
 * JSON-path wording. */
#include "runs_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

const mfd_enum_value mfd_api_run_status_values[] = {
    {"RUNNING", 1}, {"SCHEDULED", 2}, {"FINISHED", 3}, {"FAILED", 4}, {"KILLED", 5}, {NULL, 0},
};

const mfd_enum_value mfd_api_view_type_values[] = {
    {"ACTIVE_ONLY", 1},
    {"DELETED_ONLY", 2},
    {"ALL", 3},
    {NULL, 0},
};

/* ---- messages ------------------------------------------------------------------------------- */

json_t *mfd_api_run_info_json(const mfd_run_info *info) {
    json_t *o = json_object();
    mfd_json_set_str(o, "run_id", info->run_id);
    mfd_json_set_str(o, "run_uuid", info->run_id);
    mfd_json_set_str(o, "run_name", info->run_name);
    mfd_json_set_str(o, "experiment_id", info->experiment_id);
    mfd_json_set_str(o, "user_id", info->user_id);
    mfd_json_set_str(o, "status", info->status);
    if (info->has_start_time)
        mfd_json_set_int(o, "start_time", info->start_time);
    if (info->has_end_time && info->end_time != 0)
        mfd_json_set_int(o, "end_time", info->end_time);
    if (info->artifact_uri && *info->artifact_uri)
        mfd_json_set_str(o, "artifact_uri", info->artifact_uri);
    mfd_json_set_str(o, "lifecycle_stage", info->lifecycle_stage);
    return o;
}

json_t *mfd_api_metric_json(const mfd_metric *metric) {
    json_t *o = json_object();
    mfd_json_set_str(o, "key", metric->key);
    json_object_set_new(o, "value",
                        metric->is_nan ? json_string("NaN") : mfd_json_from_double(metric->value));
    mfd_json_set_int(o, "timestamp", metric->timestamp);
    mfd_json_set_int(o, "step", metric->step);
    return o;
}

static json_t *key_values(const mfd_run_tag *items, size_t n) {
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        mfd_json_set_str(o, "key", items[i].key);
        mfd_json_set_str(o, "value", items[i].value);
        json_array_append_new(list, o);
    }
    return list;
}

/* Sets `key` to `list` unless it is empty (protobuf omits empty repeated fields). */
static void set_list(json_t *obj, const char *key, json_t *list) {
    if (json_array_size(list) > 0)
        json_object_set_new(obj, key, list);
    else
        json_decref(list);
}

static json_t *dataset_json(const mfd_dataset *d) {
    json_t *o = json_object();
    mfd_json_set_str(o, "name", d->name);
    mfd_json_set_str(o, "digest", d->digest);
    mfd_json_set_str(o, "source_type", d->source_type);
    mfd_json_set_str(o, "source", d->source);
    mfd_json_set_str(o, "schema", d->schema);
    mfd_json_set_str(o, "profile", d->profile);
    return o;
}

static json_t *inputs_json(const mfd_run_io *io) {
    json_t *inputs = json_object();
    json_t *datasets = json_array();
    for (size_t i = 0; i < io->n_datasets; i++) {
        const mfd_dataset_input *in = &io->datasets[i];
        json_t *o = json_object();
        json_t *tags = json_array();
        for (size_t t = 0; t < in->n_tags; t++) {
            json_t *tag = json_object();
            mfd_json_set_str(tag, "key", in->tags[t].key);
            mfd_json_set_str(tag, "value", in->tags[t].value);
            json_array_append_new(tags, tag);
        }
        set_list(o, "tags", tags);
        json_object_set_new(o, "dataset", dataset_json(&in->dataset));
        json_array_append_new(datasets, o);
    }
    set_list(inputs, "dataset_inputs", datasets);
    json_t *models = json_array();
    for (size_t i = 0; i < io->n_model_inputs; i++) {
        json_t *o = json_object();
        mfd_json_set_str(o, "model_id", io->model_inputs[i]);
        json_array_append_new(models, o);
    }
    set_list(inputs, "model_inputs", models);
    return inputs;
}

static json_t *outputs_json(const mfd_run_io *io) {
    json_t *outputs = json_object();
    json_t *models = json_array();
    for (size_t i = 0; i < io->n_model_outputs; i++) {
        json_t *o = json_object();
        mfd_json_set_str(o, "model_id", io->model_outputs[i].model_id);
        mfd_json_set_int(o, "step", io->model_outputs[i].step);
        json_array_append_new(models, o);
    }
    set_list(outputs, "model_outputs", models);
    return outputs;
}

json_t *mfd_api_run_json(const mfd_run *run, bool with_outputs) {
    json_t *o = json_object();
    json_object_set_new(o, "info", mfd_api_run_info_json(&run->info));
    json_t *data = json_object();
    json_t *metrics = json_array();
    for (size_t i = 0; i < run->n_metrics; i++)
        json_array_append_new(metrics, mfd_api_metric_json(&run->metrics[i]));
    set_list(data, "metrics", metrics);
    set_list(data, "params", key_values(run->params, run->n_params));
    set_list(data, "tags", key_values(run->tags, run->n_tags));
    json_object_set_new(o, "data", data);
    json_object_set_new(o, "inputs", inputs_json(&run->io));
    if (with_outputs)
        json_object_set_new(o, "outputs", outputs_json(&run->io));
    return o;
}

/* ---- validation ----------------------------------------------------------------------------- */

mfd_err mfd_api_invalid_value(const char *path, json_t *value, const char *detail) {
    char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
    mfd_err err =
        mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid value %s for parameter '%s' supplied%s%s",
                    text ? text : "?", path, detail ? ": " : ".", detail ? detail : "");
    free(text);
    json_decref(value);
    return err;
}

/* ^[/\w.\- :]*$ with \w taken as any non-ASCII byte, ASCII letters, digits, _ */
static bool key_chars_ok(const char *key) {
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        unsigned char c = *p;
        bool ok = c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '/' || c == '.' || c == '-' ||
                  c == ' ' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}

/* posixpath.normpath into `out` (at least strlen(path) + 2 bytes). */
static void normpath(const char *path, char *out) {
    size_t n_lead = path[0] == '/' ? (path[1] == '/' && path[2] != '/' ? 2 : 1) : 0;
    const char *segments[512];
    size_t lengths[512], n = 0;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - start);
        if (len == 0 || (len == 1 && start[0] == '.'))
            continue;
        if (len == 2 && start[0] == '.' && start[1] == '.' &&
            (n > 0 && !(lengths[n - 1] == 2 && !strncmp(segments[n - 1], "..", 2)))) {
            n--;
            continue;
        }
        if (len == 2 && start[0] == '.' && start[1] == '.' && n == 0 && n_lead)
            continue;
        if (n < 512) {
            segments[n] = start;
            lengths[n++] = len;
        }
    }
    char *w = out;
    for (size_t i = 0; i < n_lead; i++)
        *w++ = '/';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = '/';
        memcpy(w, segments[i], lengths[i]);
        w += lengths[i];
    }
    if (w == out)
        *w++ = '.';
    *w = '\0';
}

/* posixpath.normpath(key) == key and not ".", "..*" or "/...". Keys without
 * '/' (nearly all) need no normalisation to tell. */
static bool is_unique_path(const char *key, char *norm) {
    if (!strchr(key, '/'))
        return strcmp(key, ".") != 0 && strncmp(key, "..", 2) != 0;
    normpath(key, norm);
    return strcmp(norm, key) == 0 && strncmp(norm, "..", 2) != 0 && norm[0] != '/';
}

mfd_err mfd_api_check_key(const char *key, const char *path, const char *length_name) {
    if (!key_chars_ok(key))
        return mfd_api_invalid_value(
            path, json_string(key),
            "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), "
            "spaces ( ), colon(:) and slashes (/).");
    char small[512];
    size_t need = strlen(key) + 2;
    char *norm = need <= sizeof small ? small : malloc(need);
    if (!norm)
        return mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    mfd_err err = NULL;
    if (!is_unique_path(key, norm)) {
        if (!strchr(key, '/'))
            normpath(key, norm);
        char *detail = NULL;
        if (asprintf(&detail,
                     "Names may be treated as files in certain cases, and must not resolve to "
                     "other names when treated as such. This name would resolve to '%s'",
                     norm) < 0)
            detail = NULL;
        err = mfd_api_invalid_value(path, json_string(key), detail);
        free(detail);
    }
    if (norm != small)
        free(norm);
    if (!err && mfd_utf8_length(key) > MFD_RUNS_MAX_KEY_LENGTH)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                          "'%s' exceeds the maximum length of %d characters", length_name,
                          MFD_RUNS_MAX_KEY_LENGTH);
    return err;
}

const char *mfd_api_truncate(mfd_arena *arena, const char *value, size_t limit) {
    if (!value)
        return "";
    size_t bytes = mfd_utf8_prefix_bytes(value, limit);
    return value[bytes] ? mfd_arena_strndup(arena, value, bytes) : value;
}
