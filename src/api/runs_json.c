/* runs_json.c — the Run, RunInfo and Metric messages as protobuf JSON
 * (rest-api.md §2) and MLflow's key and length rules with upstream's
 * JSON-path wording. */
#include "runs_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/escape.h"
#include "core/json_text.h"
#include "core/number_text.h"
#include "validate.h"

const mfd_enum_value mfd_api_run_status_values[] = {
    {"RUNNING", 1}, {"SCHEDULED", 2}, {"FINISHED", 3}, {"FAILED", 4}, {"KILLED", 5}, {NULL, 0},
};

/* ---- messages ------------------------------------------------------------------------------- */

/* The messages are written as JSON text, not built as jansson trees: a page
 * of 10,000 runs (what mlflow.search_runs asks for) spent most of its time
 * allocating, dumping and freeing ~40 tree nodes a run. Doubles come out in
 * the shortest form that reads back the same, as MLflow (Python) writes them.
 * Fields are written in a fixed order; protobuf JSON omits unset fields and
 * empty lists, and so does this. */

size_t mfd_api_format_metric_value(char out[32], double value, bool is_nan) {
    const char *special = is_nan || value != value ? "\"NaN\""
                          : value == INFINITY      ? "\"Infinity\""
                          : value == -INFINITY     ? "\"-Infinity\""
                                                   : NULL;
    if (!special)
        return mfd_double_text(out, value);
    size_t n = strlen(special);
    memcpy(out, special, n);
    return n;
}

typedef struct {
    mfd_strbuf *sb;
    bool any; /* a field was written: the next one needs a comma */
} object_writer;

static object_writer object_open(mfd_strbuf *sb) {
    mfd_strbuf_appendn(sb, "{", 1);
    return (object_writer){sb, false};
}

/* `name` is a literal field name: nothing in it needs escaping. */
static void field(object_writer *w, const char *name) {
    if (w->any)
        mfd_strbuf_appendn(w->sb, ",", 1);
    w->any = true;
    mfd_strbuf_appendn(w->sb, "\"", 1);
    mfd_strbuf_append(w->sb, name);
    mfd_strbuf_appendn(w->sb, "\":", 2);
}

/* Skips NULL, as mfd_json_set_str does. */
static void field_str(object_writer *w, const char *name, const char *value) {
    if (!value)
        return;
    field(w, name);
    mfd_json_append_string(w->sb, value);
}

static void field_int(object_writer *w, const char *name, int64_t value) {
    char digits[24];
    field(w, name);
    mfd_strbuf_appendn(w->sb, digits, mfd_int_text(digits, value));
}

static void object_close(object_writer *w) {
    mfd_strbuf_appendn(w->sb, "}", 1);
}

void mfd_api_append_run_info(mfd_strbuf *sb, const mfd_run_info *info) {
    object_writer o = object_open(sb);
    field_str(&o, "run_id", info->run_id);
    field_str(&o, "run_uuid", info->run_id);
    field_str(&o, "run_name", info->run_name);
    field_str(&o, "experiment_id", info->experiment_id);
    field_str(&o, "user_id", info->user_id);
    field_str(&o, "status", info->status);
    if (info->has_start_time)
        field_int(&o, "start_time", info->start_time);
    if (info->has_end_time && info->end_time != 0)
        field_int(&o, "end_time", info->end_time);
    if (info->artifact_uri && *info->artifact_uri)
        field_str(&o, "artifact_uri", info->artifact_uri);
    field_str(&o, "lifecycle_stage", info->lifecycle_stage);
    object_close(&o);
}

static void append_metric(mfd_strbuf *sb, const mfd_metric *metric) {
    char number[32];
    object_writer o = object_open(sb);
    field_str(&o, "key", metric->key);
    field(&o, "value");
    mfd_strbuf_appendn(sb, number,
                       mfd_api_format_metric_value(number, metric->value, metric->is_nan));
    field_int(&o, "timestamp", metric->timestamp);
    field_int(&o, "step", metric->step);
    object_close(&o);
}

static void append_key_value(mfd_strbuf *sb, const char *key, const char *value) {
    object_writer o = object_open(sb);
    field_str(&o, "key", key);
    field_str(&o, "value", value);
    object_close(&o);
}

/* `"name":[item,...]` through append(sb, items, i), nothing when n is 0. */
static void field_list(object_writer *w, const char *name, size_t n, const void *items,
                       void (*append)(mfd_strbuf *sb, const void *items, size_t i)) {
    if (n == 0)
        return;
    field(w, name);
    mfd_strbuf_appendn(w->sb, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            mfd_strbuf_appendn(w->sb, ",", 1);
        append(w->sb, items, i);
    }
    mfd_strbuf_appendn(w->sb, "]", 1);
}

static void nth_metric(mfd_strbuf *sb, const void *items, size_t i) {
    append_metric(sb, (const mfd_metric *)items + i);
}

static void nth_key_value(mfd_strbuf *sb, const void *items, size_t i) {
    const mfd_key_value *tag = (const mfd_key_value *)items + i;
    append_key_value(sb, tag->key, tag->value);
}

static void nth_input_tag(mfd_strbuf *sb, const void *items, size_t i) {
    const mfd_key_value *tag = (const mfd_key_value *)items + i;
    append_key_value(sb, tag->key, tag->value);
}

static void nth_dataset_input(mfd_strbuf *sb, const void *items, size_t i) {
    const mfd_dataset_input *in = (const mfd_dataset_input *)items + i;
    object_writer o = object_open(sb);
    field_list(&o, "tags", in->n_tags, in->tags, nth_input_tag);
    field(&o, "dataset");
    object_writer d = object_open(sb);
    field_str(&d, "name", in->dataset.name);
    field_str(&d, "digest", in->dataset.digest);
    field_str(&d, "source_type", in->dataset.source_type);
    field_str(&d, "source", in->dataset.source);
    field_str(&d, "schema", in->dataset.schema);
    field_str(&d, "profile", in->dataset.profile);
    object_close(&d);
    object_close(&o);
}

static void nth_model_input(mfd_strbuf *sb, const void *items, size_t i) {
    object_writer o = object_open(sb);
    field_str(&o, "model_id", ((const char *const *)items)[i]);
    object_close(&o);
}

static void nth_model_output(mfd_strbuf *sb, const void *items, size_t i) {
    const mfd_model_output *out = (const mfd_model_output *)items + i;
    object_writer o = object_open(sb);
    field_str(&o, "model_id", out->model_id);
    field_int(&o, "step", out->step);
    object_close(&o);
}

void mfd_api_append_run(mfd_strbuf *sb, const mfd_run *run, bool with_outputs) {
    object_writer o = object_open(sb);
    field(&o, "info");
    mfd_api_append_run_info(sb, &run->info);
    field(&o, "data");
    object_writer data = object_open(sb);
    field_list(&data, "metrics", run->n_metrics, run->metrics, nth_metric);
    field_list(&data, "params", run->n_params, run->params, nth_key_value);
    field_list(&data, "tags", run->n_tags, run->tags, nth_key_value);
    object_close(&data);
    const mfd_run_io *io = &run->io;
    field(&o, "inputs");
    object_writer inputs = object_open(sb);
    field_list(&inputs, "dataset_inputs", io->n_datasets, io->datasets, nth_dataset_input);
    field_list(&inputs, "model_inputs", io->n_model_inputs, io->model_inputs, nth_model_input);
    object_close(&inputs);
    if (with_outputs) {
        field(&o, "outputs");
        object_writer outputs = object_open(sb);
        field_list(&outputs, "model_outputs", io->n_model_outputs, io->model_outputs,
                   nth_model_output);
        object_close(&outputs);
    }
    object_close(&o);
}

/* ---- validation ----------------------------------------------------------------------------- */

mfd_err mfd_api_invalid_value(const char *path, json_t *value, const char *detail) {
    char *text = mfd_json_dumps_python(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
    mfd_err err =
        mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid value %s for parameter '%s' supplied%s%s",
                    text ? text : "?", path, detail ? ": " : ".", detail ? detail : "");
    free(text);
    json_decref(value);
    return err;
}

static mfd_err key_length(const char *key, const char *length_name) {
    if (mfd_utf8_chars(key) <= MFD_RUNS_MAX_KEY_LENGTH)
        return NULL;
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "'%s' exceeds the maximum length of %d characters", length_name,
                       MFD_RUNS_MAX_KEY_LENGTH);
}

mfd_err mfd_api_check_key(const char *key, const char *path, const char *length_name) {
    if (!mfd_key_chars_ok(key))
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
    if (!mfd_key_resolves_to_itself(key, norm)) {
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
    return err || !length_name ? err : key_length(key, length_name);
}

mfd_err mfd_api_check_metric(mfd_arena *arena, const mfd_metric_log *m, const char *name_path,
                             const char *timestamp_path) {
    mfd_err err = mfd_api_check_key(m->key, name_path, NULL);
    if (err)
        return err;
    if (m->timestamp < 0) {
        char value[40];
        value[mfd_double_python_repr(value, m->value)] = '\0';
        const char *detail = mfd_arena_sprintf(arena,
                                               "metric '%s' (value=%s). Timestamp must be a "
                                               "nonnegative long (64-bit integer) ",
                                               m->key, value);
        return mfd_api_invalid_value(timestamp_path, json_integer(m->timestamp), detail);
    }
    return key_length(m->key, "Metric name");
}

mfd_err mfd_api_limit_value(mfd_arena *arena, bool truncate, const char *what, size_t limit,
                            const char **value) {
    const char *v = *value ? *value : "";
    size_t bytes = mfd_utf8_prefix_bytes(v, limit);
    if (!v[bytes]) {
        *value = v;
        return NULL;
    }
    if (!truncate)
        return mfd_validate_max_length(v, limit, what);
    *value = mfd_arena_strndup(arena, v, bytes);
    return NULL;
}
