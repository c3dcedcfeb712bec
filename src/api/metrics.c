/* metrics.c — the metrics service: runs/log-metric and the metric history
 * readers (rest-api.md §5.4, §5.14, §5.15 and the UI's get-history-bulk).
 *
 * Histories can hold 100,000s of points, so they are not built as jansson
 * trees: the store streams rows into a text buffer that becomes the body. */
#include <string.h>

#include "core/escape.h"
#include "core/hash.h"
#include "core/number_text.h"
#include "runs_internal.h"
#include "search/search.h"
#include "store/metrics.h"

enum {
    MAX_RUNS_PER_BULK_REQUEST = 100,
    MAX_RESULTS_PER_RUN = 2500,             /* get-history-bulk-interval */
    MAX_RESULTS_GET_METRIC_HISTORY = 25000, /* rows per run, and the bulk cap */
};

/* POST runs/log-metric */
static mfd_err log_metric(mfd_request *req, mfd_response *res) {
    mfd_metric_log m = {0};
    const char *run_id;
    bool has_value, has_timestamp, has_step;
    mfd_err err;
    if ((err = mfd_msg_run_id(req, &run_id)) ||
        (err = mfd_msg_required_string(req, "key", &m.key)) ||
        (err = mfd_msg_double(req, "value", &has_value, &m.value)))
        return err;
    if (!has_value)
        return mfd_missing_param("value");
    if ((err = mfd_msg_int64(req, "timestamp", &has_timestamp, &m.timestamp)))
        return err;
    if (!has_timestamp)
        return mfd_missing_param("timestamp");
    if ((err = mfd_msg_int64(req, "step", &has_step, &m.step)) ||
        (err = mfd_msg_string(req, "model_id", &m.model_id)) ||
        (err = mfd_msg_string(req, "dataset_name", &m.dataset_name)) ||
        (err = mfd_msg_string(req, "dataset_digest", &m.dataset_digest)))
        return err;
    if (!has_step)
        m.step = 0;
    if ((err = mfd_api_check_metric(req->arena, &m, "name", "timestamp")))
        return err;
    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_metrics_log(conn, req->arena, run_id, &m, 1)))
        return err;
    res->json = json_object();
    return NULL;
}

/* ---- streamed histories --------------------------------------------------------------------- */

typedef struct history_writer {
    mfd_strbuf body;
    mfd_strbuf key_prefix; /* {"key":<key>,"value": — the key JSON-encoded once */
    bool with_run_id;
    const char *last_run_id;
    mfd_strbuf run_json; /* ,"run_id":<id>} of the current run */
    size_t rows;
    mfd_metric_position last; /* of the last row written: get-history's next seek */
} history_writer;

static void writer_init(history_writer *w, mfd_arena *arena, const char *key, bool with_run_id) {
    memset(w, 0, sizeof *w);
    mfd_strbuf_init(&w->body, arena);
    mfd_strbuf_init(&w->run_json, arena);
    mfd_strbuf_init(&w->key_prefix, arena);
    mfd_strbuf_append(&w->key_prefix, "{\"key\":");
    mfd_json_append_string(&w->key_prefix, key);
    mfd_strbuf_append(&w->key_prefix, ",\"value\":");
    w->with_run_id = with_run_id;
    mfd_strbuf_append(&w->body, "{\"metrics\":[");
}

/* One row per call, in three appends: the key prefix, the numbers composed
 * on the stack, and the run id part (or the closing brace). */
static void write_row(void *ctx, const char *run_id, int64_t timestamp, int64_t step, double value,
                      bool is_nan) {
    history_writer *w = ctx;
    if (w->rows++)
        mfd_strbuf_appendn(&w->body, ",", 1);
    w->last = (mfd_metric_position){timestamp, step, value, is_nan};
    mfd_strbuf_appendn(&w->body, w->key_prefix.data, w->key_prefix.len);
    char numbers[128];
    size_t n = mfd_api_format_metric_value(numbers, value, is_nan);
    memcpy(numbers + n, ",\"timestamp\":", 13);
    n += 13;
    n += mfd_int_text(numbers + n, timestamp);
    memcpy(numbers + n, ",\"step\":", 8);
    n += 8;
    n += mfd_int_text(numbers + n, step);
    if (!w->with_run_id) {
        numbers[n++] = '}';
        mfd_strbuf_appendn(&w->body, numbers, n);
        return;
    }
    mfd_strbuf_appendn(&w->body, numbers, n);
    if (!w->last_run_id || strcmp(w->last_run_id, run_id) != 0) {
        w->run_json.len = 0;
        mfd_strbuf_append(&w->run_json, ",\"run_id\":");
        mfd_json_append_string(&w->run_json, run_id);
        mfd_strbuf_append(&w->run_json, "}");
        w->last_run_id = mfd_arena_strdup(w->body.arena, run_id);
    }
    mfd_strbuf_appendn(&w->body, w->run_json.data, w->run_json.len);
}

/* Ends the body: {"metrics":[...] [, "next_page_token": ...]}, or {} when empty. */
static void writer_finish(history_writer *w, mfd_response *res, const char *next_page_token) {
    if (w->rows == 0) {
        res->body = "{}";
        res->body_len = 2;
    } else {
        mfd_strbuf_append(&w->body, "]");
        if (next_page_token) {
            mfd_strbuf_append(&w->body, ",\"next_page_token\":");
            mfd_json_append_string(&w->body, next_page_token);
        }
        mfd_strbuf_append(&w->body, "}");
        res->body = w->body.data;
        res->body_len = w->body.len;
    }
    res->content_type = "application/json";
}

/* get-history's page tokens are offset tokens ({"offset": N}, what MLflow
 * makes and what a client may hold) plus, in ours, "after": [timestamp,
 * step, value, is_nan] of the page's last row. The next page seeks past that
 * position, so paging through a history costs one read of it in all rather
 * than re-skipping the earlier pages on each; an offset-only token still
 * pages by offset. The offset keeps counting so that both agree. The
 * position holds only for the history it came from ("of": a hash of run and
 * key); handed to another, the token is the offset alone, as MLflow's
 * tokens are not bound to a query (search-grammar.md §6). */
static const char *history_id(mfd_arena *arena, const char *run_id, const char *key) {
    uint64_t h = mfd_hash_str(mfd_hash_str(MFD_HASH_INIT, run_id), key);
    return mfd_arena_sprintf(arena, "%016llx", (unsigned long long)h);
}

static json_t *position_json(const mfd_metric_position *p, const char *of) {
    json_t *fields = json_object();
    json_object_set_new(fields, "after",
                        json_pack("[I, I, f, b]", (json_int_t)p->timestamp, (json_int_t)p->step,
                                  p->value, (int)p->is_nan));
    json_object_set_new(fields, "of", json_string(of));
    return fields;
}

/* *has_after is false for a token without "after", or one made for another
 * history; a malformed one is a 400. */
static mfd_err position_from_token(json_t *fields, const char *of, mfd_metric_position *after,
                                   bool *has_after) {
    json_t *value = json_object_get(fields, "after");
    *has_after = value != NULL;
    if (!value)
        return NULL;
    json_t *timestamp = json_array_get(value, 0), *step = json_array_get(value, 1),
           *number = json_array_get(value, 2), *is_nan = json_array_get(value, 3);
    if (!json_is_array(value) || json_array_size(value) != 4 || !json_is_integer(timestamp) ||
        !json_is_integer(step) || !json_is_number(number) || !json_is_boolean(is_nan))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid page token: \"after\" must be [timestamp, step, value, "
                           "is_nan] as the server wrote it");
    *after = (mfd_metric_position){json_integer_value(timestamp), json_integer_value(step),
                                   json_number_value(number), json_is_true(is_nan)};
    const char *made_for = json_string_value(json_object_get(fields, "of"));
    *has_after = made_for && strcmp(made_for, of) == 0;
    return NULL;
}

/* GET metrics/get-history */
static mfd_err get_history(mfd_request *req, mfd_response *res) {
    const char *run_id, *key, *page_token;
    bool has_max, has_after = false;
    int64_t max_results = 0, offset;
    mfd_metric_position after = {0};
    json_t *token_fields = NULL;
    mfd_err err;
    if ((err = mfd_msg_run_id(req, &run_id)) ||
        (err = mfd_msg_required_string(req, "metric_key", &key)) ||
        (err = mfd_msg_int64(req, "max_results", &has_max, &max_results)) ||
        (err = mfd_msg_string(req, "page_token", &page_token)) ||
        (err = mfd_page_token_decode_fields(page_token, &offset, &token_fields)))
        return err;
    const char *of = history_id(req->arena, run_id, key);
    err = position_from_token(token_fields, of, &after, &has_after);
    json_decref(token_fields);
    if (err)
        return err;
    if (offset < 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid page token: the offset must not be negative");
    if (has_max && max_results < 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid value %lld for parameter 'max_results' supplied. It must be a "
                           "positive integer",
                           (long long)max_results);
    /* absent or 0 = the whole history in one answer */
    int64_t limit = has_max && max_results > 0 ? max_results : -1;
    if (limit > 0 && offset > INT64_MAX - limit) /* the next token's offset must fit */
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid page token: the offset is too large");
    history_writer w;
    writer_init(&w, req->arena, key, false);
    mfd_conn *conn;
    bool more;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_metrics_history(conn, req->arena, run_id, key, has_after ? &after : NULL, offset,
                                   limit, write_row, &w, &more)))
        return err;
    const char *next_token = NULL;
    if (more) {
        json_t *fields = position_json(&w.last, of);
        next_token = mfd_page_token_encode_fields(req->arena, offset + limit, fields);
        json_decref(fields);
    }
    writer_finish(&w, res, next_token);
    return NULL;
}

/* GET metrics/get-history-bulk-interval */
static mfd_err get_history_bulk_interval(mfd_request *req, mfd_response *res) {
    const char **run_ids, *key;
    size_t n_runs;
    bool has_start, has_end, has_max;
    int64_t start_step = 0, end_step = 0, max_results = MAX_RESULTS_PER_RUN;
    mfd_err err;
    if ((err = mfd_msg_string_list(req, "run_ids", &run_ids, &n_runs)))
        return err;
    if (n_runs == 0)
        return mfd_missing_param("run_ids");
    if (n_runs > MAX_RUNS_PER_BULK_REQUEST)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "GetMetricHistoryBulkInterval request must specify at most %d run_ids. "
                           "Received %zu run_ids.",
                           MAX_RUNS_PER_BULK_REQUEST, n_runs);
    if ((err = mfd_msg_required_string(req, "metric_key", &key)) ||
        (err = mfd_msg_int64(req, "start_step", &has_start, &start_step)) ||
        (err = mfd_msg_int64(req, "end_step", &has_end, &end_step)) ||
        (err = mfd_msg_int64(req, "max_results", &has_max, &max_results)))
        return err;
    /* int32 fields: protobuf refuses a value out of their range. */
    const int64_t *steps[2] = {&start_step, &end_step};
    for (int i = 0; i < 2; i++)
        if (*steps[i] < INT32_MIN || *steps[i] > INT32_MAX)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "Invalid value for parameter '%s': %lld is out of range for int32",
                               i ? "end_step" : "start_step", (long long)*steps[i]);
    if (!has_max)
        max_results = MAX_RESULTS_PER_RUN;
    else if (max_results < 1 || max_results > MAX_RESULTS_PER_RUN)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "max_results must be between 1 and %d.",
                           MAX_RESULTS_PER_RUN);
    if (has_start != has_end)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "If either start step or end step are specified, both must be "
                           "specified.");
    if (has_start && start_step > end_step)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "end_step must be greater than start_step. Found start_step=%lld and "
                           "end_step=%lld.",
                           (long long)start_step, (long long)end_step);
    history_writer w;
    writer_init(&w, req->arena, key, true);
    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_metrics_history_interval(conn, req->arena, run_ids, n_runs, key, has_start,
                                            start_step, end_step, max_results,
                                            MAX_RESULTS_GET_METRIC_HISTORY, write_row, &w)))
        return err;
    writer_finish(&w, res, NULL);
    return NULL;
}

/* GET /ajax-api/2.0/mlflow/metrics/get-history-bulk (UI only) */
static mfd_err get_history_bulk(mfd_request *req, mfd_response *res) {
    const char **run_ids, *key;
    size_t n_runs;
    bool has_max;
    int64_t max_results = MAX_RESULTS_GET_METRIC_HISTORY;
    mfd_err err;
    if ((err = mfd_msg_string_list(req, "run_id", &run_ids, &n_runs)))
        return err;
    if (n_runs == 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "GetMetricHistoryBulk request must specify at least one run_id.");
    if (n_runs > MAX_RUNS_PER_BULK_REQUEST)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "GetMetricHistoryBulk request cannot specify more than %d run_ids. "
                           "Received %zu run_ids.",
                           MAX_RUNS_PER_BULK_REQUEST, n_runs);
    if ((err = mfd_msg_string(req, "metric_key", &key)))
        return err;
    if (!key)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "GetMetricHistoryBulk request must specify a metric_key.");
    if ((err = mfd_msg_int64(req, "max_results", &has_max, &max_results)))
        return err;
    if (!has_max || max_results > MAX_RESULTS_GET_METRIC_HISTORY)
        max_results = MAX_RESULTS_GET_METRIC_HISTORY;
    if (max_results < 0)
        max_results = 0;
    history_writer w;
    writer_init(&w, req->arena, key, true);
    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err = mfd_metrics_history_bulk(conn, req->arena, run_ids, n_runs, key, max_results,
                                        write_row, &w)))
        return err;
    writer_finish(&w, res, NULL);
    return NULL;
}

const mfd_route mfd_api_metrics_routes[] = {
    {"POST", "2.0/mlflow/runs/log-metric", log_metric, MFD_ROUTE_TRACKING, NULL},
    {"GET", "2.0/mlflow/metrics/get-history", get_history, MFD_ROUTE_TRACKING, NULL},
    {"GET", "2.0/mlflow/metrics/get-history-bulk-interval", get_history_bulk_interval,
     MFD_ROUTE_TRACKING, NULL},
    {"GET", "2.0/mlflow/metrics/get-history-bulk", get_history_bulk,
     MFD_ROUTE_TRACKING | MFD_ROUTE_AJAX_ONLY, NULL},
    {0},
};
