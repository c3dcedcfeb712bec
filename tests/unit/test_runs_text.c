/* The runs service's text rules: doubles written by Grisu2 read back as the
 * same value, integers and metric values as JSON, MLflow's key rules with
 * JSON-path names, and value truncation by characters. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/runs_internal.h"
#include "core/number_text.h"
#include "test.h"

static const char *fmt_double(char *buf, double v) {
    buf[mfd_double_text(buf, v)] = '\0';
    return buf;
}

static void test_double_forms(void) {
    char buf[40];
    CHECK_STR(fmt_double(buf, 1.0), "1.0");
    CHECK_STR(fmt_double(buf, 0.1), "0.1");
    CHECK_STR(fmt_double(buf, -2.5), "-2.5");
    CHECK_STR(fmt_double(buf, 0.0), "0.0");
    CHECK_STR(fmt_double(buf, 100.0), "100.0");
    CHECK_STR(fmt_double(buf, 0.001), "0.001");
    CHECK_STR(fmt_double(buf, 1e-7), "1e-7");
    CHECK_STR(fmt_double(buf, 1e21), "1e+21");
    CHECK_STR(fmt_double(buf, 2.0 / 3), "0.6666666666666666");
    CHECK_STR(fmt_double(buf, 1.7976931348623157e308), "1.7976931348623157e+308");
    CHECK_STR(fmt_double(buf, -1.7976931348623157e308), "-1.7976931348623157e+308");
    CHECK_STR(fmt_double(buf, 5e-324), "5e-324");
}

static const char *python_repr(char *buf, double v) {
    buf[mfd_double_python_repr(buf, v)] = '\0';
    return buf;
}

/* Expected values: repr() in CPython 3.11. */
static void test_python_repr(void) {
    char buf[40];
    CHECK_STR(python_repr(buf, 0.1), "0.1");
    CHECK_STR(python_repr(buf, 1.0), "1.0");
    CHECK_STR(python_repr(buf, -0.0), "-0.0");
    CHECK_STR(python_repr(buf, 100.0), "100.0");
    CHECK_STR(python_repr(buf, 123.45), "123.45");
    CHECK_STR(python_repr(buf, 0.0001), "0.0001");
    CHECK_STR(python_repr(buf, 0.00001), "1e-05");
    CHECK_STR(python_repr(buf, 1.5e-7), "1.5e-07");
    CHECK_STR(python_repr(buf, 1e15), "1000000000000000.0");
    CHECK_STR(python_repr(buf, 1e16), "1e+16");
    CHECK_STR(python_repr(buf, 1.2345e16), "1.2345e+16");
    CHECK_STR(python_repr(buf, -2.5e300), "-2.5e+300");
    CHECK_STR(python_repr(buf, 5e-324), "5e-324");
    CHECK_STR(python_repr(buf, 1.7976931348623157e308), "1.7976931348623157e+308");
    CHECK_STR(python_repr(buf, 2.0 / 3), "0.6666666666666666");
    CHECK_STR(python_repr(buf, 0.10000000000000001), "0.1");
    CHECK_STR(python_repr(buf, NAN), "nan");
    CHECK_STR(python_repr(buf, -INFINITY), "-inf");
}

static uint64_t state = 0x9E3779B97F4A7C15u;
static uint64_t next_random(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static void test_double_round_trips(void) {
    char buf[40];
    int bad = 0;
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = next_random();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (i % 3 == 1)
            v = (double)(next_random() % 2000001) / 1000.0 - 1000.0;
        if (i % 3 == 2)
            v = (double)next_random() / (double)UINT64_MAX;
        if (!isfinite(v))
            continue;
        fmt_double(buf, v);
        if (strtod(buf, NULL) != v && bad++ < 5)
            fprintf(stderr, "%.17g written as %s\n", v, buf);
    }
    CHECK_INT(bad, 0);
}

static void test_integers_and_metric_values(void) {
    char buf[40];
    buf[mfd_int_text(buf, INT64_MIN)] = '\0';
    CHECK_STR(buf, "-9223372036854775808");
    buf[mfd_int_text(buf, 0)] = '\0';
    CHECK_STR(buf, "0");
    buf[mfd_int_text(buf, 1700000000000)] = '\0';
    CHECK_STR(buf, "1700000000000");
    buf[mfd_api_format_metric_value(buf, 0, true)] = '\0';
    CHECK_STR(buf, "\"NaN\"");
    buf[mfd_api_format_metric_value(buf, NAN, false)] = '\0';
    CHECK_STR(buf, "\"NaN\"");
    buf[mfd_api_format_metric_value(buf, -INFINITY, false)] = '\0';
    CHECK_STR(buf, "\"-Infinity\"");
    buf[mfd_api_format_metric_value(buf, 0.25, false)] = '\0';
    CHECK_STR(buf, "0.25");
}

static bool fails_with(mfd_err err, const char *part) {
    bool ok = err && err->code == MFD_INVALID_PARAMETER_VALUE && strstr(err->message, part);
    if (err && !ok)
        fprintf(stderr, "message: %s\n", err->message);
    mfd_err_free(err);
    return ok;
}

static void test_key_rules(void) {
    CHECK(mfd_api_check_key("loss", "name", "Metric name") == NULL);
    CHECK(mfd_api_check_key("a/b.c d-e_f:g", "name", "Metric name") == NULL);
    CHECK(mfd_api_check_key("größe", "name", "Metric name") == NULL);
    CHECK(fails_with(mfd_api_check_key("a!b", "metrics[2].name", "Metric name"),
                     "Invalid value \"a!b\" for parameter 'metrics[2].name' supplied: Names may "
                     "only contain"));
    CHECK(fails_with(mfd_api_check_key("a//b", "key", "Param key"), "would resolve to 'a/b'"));
    CHECK(fails_with(mfd_api_check_key("a/./b", "key", "Param key"), "would resolve to 'a/b'"));
    CHECK(fails_with(mfd_api_check_key("a/../b", "key", "Param key"), "would resolve to 'b'"));
    CHECK(fails_with(mfd_api_check_key("/a", "key", "Param key"), "would resolve to '/a'"));
    CHECK(fails_with(mfd_api_check_key("a/", "key", "Param key"), "would resolve to 'a'"));
    CHECK(fails_with(mfd_api_check_key(".", "key", "Param key"), "would resolve to '.'"));
    CHECK(fails_with(mfd_api_check_key("..x", "key", "Param key"), "would resolve to '..x'"));
    char long_key[252];
    memset(long_key, 'k', 251);
    long_key[251] = '\0';
    CHECK(fails_with(mfd_api_check_key(long_key, "tags[0].key", "tags[0].key"),
                     "'tags[0].key' exceeds the maximum length of 250 characters"));
    long_key[250] = '\0';
    CHECK(mfd_api_check_key(long_key, "key", "Param key") == NULL);
}

static const char *limited(mfd_arena *arena, bool truncate, const char *value, size_t limit) {
    mfd_err err = mfd_api_limit_value(arena, truncate, "Param value", limit, &value);
    if (err) {
        fprintf(stderr, "refused: %s\n", err->message);
        mfd_err_free(err);
        return "(refused)";
    }
    return value;
}

static void test_truncation_counts_characters(void) {
    mfd_arena *arena = mfd_arena_new();
    CHECK_STR(limited(arena, true, "short", 6000), "short");
    CHECK_STR(limited(arena, true, "\xc3\xa9\xc3\xa9\xc3\xa9", 2), "\xc3\xa9\xc3\xa9");
    CHECK_STR(limited(arena, true, NULL, 2), "");
    CHECK_STR(limited(arena, true, "abc", 2), "ab");
    /* MLFLOW_TRUNCATE_LONG_VALUES=false: refused with MLflow's wording */
    CHECK_STR(limited(arena, false, "ab", 2), "ab");
    const char *value = "abc";
    mfd_err err = mfd_api_limit_value(arena, false, "Tag value", 2, &value);
    CHECK(err && err->code == MFD_INVALID_PARAMETER_VALUE &&
          strcmp(err->message, "Tag value 'abc' had length 3, which exceeded length limit of 2") ==
              0);
    mfd_err_free(err);
    mfd_arena_free(arena);
}

static json_t *run_as_json(mfd_arena *arena, const mfd_run *run, bool with_outputs) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_api_append_run(&sb, run, with_outputs);
    json_error_t error;
    json_t *parsed = json_loads(sb.data, 0, &error);
    if (!parsed)
        fprintf(stderr, "not JSON (%s): %s\n", error.text, sb.data);
    return parsed;
}

/* A bare run: unset fields and empty lists are left out, as protobuf JSON
 * leaves them out; inputs (and outputs when asked for) are empty objects. */
static void test_run_message_omits_what_is_unset(void) {
    mfd_arena *arena = mfd_arena_new();
    mfd_run run = {.info = {.run_id = "r1",
                            .experiment_id = "0",
                            .status = "RUNNING",
                            .lifecycle_stage = "active",
                            .has_end_time = true,
                            .end_time = 0}};
    json_t *got = run_as_json(arena, &run, false);
    json_t *expected = json_pack("{s:{s:s,s:s,s:s,s:s,s:s},s:{},s:{}}", "info", "run_id", "r1",
                                 "run_uuid", "r1", "experiment_id", "0", "status", "RUNNING",
                                 "lifecycle_stage", "active", "data", "inputs");
    CHECK(got && json_equal(got, expected));
    json_decref(got);
    json_decref(expected);
    got = run_as_json(arena, &run, true);
    CHECK(got && json_is_object(json_object_get(got, "outputs")) &&
          json_object_size(json_object_get(got, "outputs")) == 0);
    json_decref(got);
    mfd_arena_free(arena);
}

/* Every part of a full run, with values that need escaping and the metric
 * values protobuf JSON writes as strings. */
static void test_run_message_carries_everything(void) {
    mfd_arena *arena = mfd_arena_new();
    mfd_metric metrics[] = {{.key = "acc", .value = 0.1, .timestamp = 5, .step = -1},
                            {.key = "bad", .is_nan = true, .timestamp = 6, .step = 2},
                            {.key = "big", .value = INFINITY, .timestamp = 7, .step = 3}};
    mfd_key_value params[] = {{"p\"q", "line\nbreak"}};
    mfd_key_value tags[] = {{"mlflow.runName", "caf\xc3\xa9"}, {"t", ""}};
    mfd_key_value input_tags[] = {{"mlflow.data.context", "train"}};
    mfd_dataset_input datasets[] = {
        {{"ds", "d1", "local", "{\"uri\": \"x\"}", NULL, "{}"}, input_tags, 1}};
    const char *model_inputs[] = {"m-1"};
    mfd_model_output model_outputs[] = {{"m-2", 9}};
    mfd_run run = {.info = {.run_id = "r2",
                            .run_name = "caf\xc3\xa9",
                            .experiment_id = "4",
                            .user_id = "u",
                            .status = "FINISHED",
                            .has_start_time = true,
                            .start_time = 1700000000000,
                            .has_end_time = true,
                            .end_time = 1700000000001,
                            .artifact_uri = "s3://b/r2",
                            .lifecycle_stage = "deleted"},
                   .metrics = metrics,
                   .n_metrics = 3,
                   .params = params,
                   .n_params = 1,
                   .tags = tags,
                   .n_tags = 2,
                   .io = {.datasets = datasets,
                          .n_datasets = 1,
                          .model_inputs = model_inputs,
                          .n_model_inputs = 1,
                          .model_outputs = model_outputs,
                          .n_model_outputs = 1}};
    json_t *got = run_as_json(arena, &run, true);
    json_t *expected = json_pack(
        "{s:{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s},"
        " s:{s:[{s:s,s:f,s:i,s:i},{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i}],"
        "    s:[{s:s,s:s}], s:[{s:s,s:s},{s:s,s:s}]},"
        " s:{s:[{s:[{s:s,s:s}],s:{s:s,s:s,s:s,s:s,s:s}}], s:[{s:s}]},"
        " s:{s:[{s:s,s:i}]}}",
        "info", "run_id", "r2", "run_uuid", "r2", "run_name", "caf\xc3\xa9", "experiment_id", "4",
        "user_id", "u", "status", "FINISHED", "start_time", (json_int_t)1700000000000, "end_time",
        (json_int_t)1700000000001, "artifact_uri", "s3://b/r2", "lifecycle_stage", "deleted",
        "data", "metrics", "key", "acc", "value", 0.1, "timestamp", 5, "step", -1, "key", "bad",
        "value", "NaN", "timestamp", 6, "step", 2, "key", "big", "value", "Infinity", "timestamp",
        7, "step", 3, "params", "key", "p\"q", "value", "line\nbreak", "tags", "key",
        "mlflow.runName", "value", "caf\xc3\xa9", "key", "t", "value", "", "inputs",
        "dataset_inputs", "tags", "key", "mlflow.data.context", "value", "train", "dataset", "name",
        "ds", "digest", "d1", "source_type", "local", "source", "{\"uri\": \"x\"}", "profile", "{}",
        "model_inputs", "model_id", "m-1", "outputs", "model_outputs", "model_id", "m-2", "step",
        9);
    CHECK(expected != NULL);
    CHECK(got && json_equal(got, expected));
    json_decref(got);
    json_decref(expected);
    /* run_info alone, as runs/update answers */
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_api_append_run_info(&sb, &run.info);
    json_t *info = json_loads(sb.data, 0, NULL);
    CHECK(info && json_integer_value(json_object_get(info, "end_time")) == 1700000000001);
    json_decref(info);
    mfd_arena_free(arena);
}

MFD_TEST_MAIN(MFD_TEST(test_double_forms), MFD_TEST(test_python_repr),
              MFD_TEST(test_double_round_trips), MFD_TEST(test_integers_and_metric_values),
              MFD_TEST(test_key_rules), MFD_TEST(test_truncation_counts_characters),
              MFD_TEST(test_run_message_omits_what_is_unset),
              MFD_TEST(test_run_message_carries_everything))
