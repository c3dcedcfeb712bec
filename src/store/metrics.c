/* metrics.c — the metrics store's writing side: history rows, latest
 * values and logged-model metrics (the readers are in metrics_read.c and
 * metrics_interval.c).
 *
 * Invariants kept here:
 * - history holds one row per distinct (key, timestamp, step, value, is_nan)
 *   of a run: an exact re-log hits the primary key and is skipped;
 * - latest_metrics holds, per (run, key), the history row with the greatest
 *   (step, timestamp, stored value) — NaN compares as its stored 0 — and is
 *   maintained in the transaction that writes the history;
 * - logging is one write transaction: the history rows in one
 *   mfd_conn_insert_rows, the latest value per distinct key (folded in memory
 *   first) in one mfd_conn_upsert_rows; the hot path of log-batch does no
 *   allocation per metric. */
#include "metrics.h"
#include "write_order.h"

#include <float.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "runs.h"

/* MLflow's storage of a value: NaN -> (0, is_nan), ±Inf -> ±DBL_MAX. */
static double stored_value(double value, bool *is_nan) {
    *is_nan = isnan(value);
    if (*is_nan)
        return 0;
    if (isinf(value))
        return value > 0 ? DBL_MAX : -DBL_MAX;
    return value;
}

static bool present(const char *s) {
    return s && *s;
}

/* ---- writing -------------------------------------------------------------------------------- */

typedef struct latest_value {
    const char *key;
    double value;
    bool is_nan;
    int64_t timestamp, step;
} latest_value;

/* (step, timestamp, value) of a strictly greater than that of b. */
static bool is_newer(const latest_value *a, const latest_value *b) {
    if (a->step != b->step)
        return a->step > b->step;
    if (a->timestamp != b->timestamp)
        return a->timestamp > b->timestamp;
    return a->value > b->value;
}

static uint32_t hash_key(const char *key) {
    return (uint32_t)mfd_hash_str(MFD_HASH_INIT, key);
}

/* Folds the metrics into one latest value per key (open addressing). */
static size_t fold_latest(mfd_arena *arena, const mfd_metric_log *metrics, size_t count,
                          latest_value **out) {
    size_t slots = 16;
    while (slots < count * 2)
        slots *= 2;
    uint32_t *table = mfd_arena_calloc(arena, slots, sizeof *table); /* index + 1; 0 = empty */
    latest_value *latest = mfd_arena_alloc(arena, count * sizeof *latest);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        latest_value v = {metrics[i].key, 0, false, metrics[i].timestamp, metrics[i].step};
        v.value = stored_value(metrics[i].value, &v.is_nan);
        size_t slot = hash_key(v.key) & (slots - 1);
        while (table[slot] && strcmp(latest[table[slot] - 1].key, v.key) != 0)
            slot = (slot + 1) & (slots - 1);
        if (!table[slot]) {
            latest[n] = v;
            table[slot] = (uint32_t)++n;
        } else if (is_newer(&v, &latest[table[slot] - 1])) {
            latest[table[slot] - 1] = v;
        }
    }
    *out = latest;
    return n;
}

static mfd_err check_models_exist(mfd_conn *conn, const mfd_metric_log *metrics, size_t count) {
    mfd_err err = NULL;
    for (size_t i = 0; i < count && !err; i++) {
        if (!present(metrics[i].model_id))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen =
                present(metrics[j].model_id) && !strcmp(metrics[j].model_id, metrics[i].model_id);
        if (seen)
            continue;
        mfd_stmt *stmt;
        if ((err = mfd_conn_prepare(conn, "SELECT 1 FROM logged_models WHERE model_id = ?", true,
                                    &stmt)))
            return err;
        mfd_stmt_bind_text(stmt, 1, metrics[i].model_id);
        mfd_step s = mfd_stmt_step(stmt, &err);
        mfd_stmt_done(stmt);
        if (s == MFD_STEP_DONE)
            err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Logged model with ID '%s' not found.",
                              metrics[i].model_id);
    }
    return err;
}

/* History rows in one mfd_conn_insert_rows: COPY on PostgreSQL, multi-row
 * INSERTs on SQLite; an exact duplicate (the whole row is the key) is
 * skipped, also within the batch. Rows go in `order` (write_order.h). */
static mfd_err write_history(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                             const mfd_metric_log *metrics, const size_t *order, size_t count) {
    enum { COLUMNS = 6 };
    mfd_sql_params rows = {mfd_arena_alloc(arena, count * COLUMNS * sizeof *rows.values), 0,
                           count * COLUMNS};
    for (size_t i = 0; i < count; i++) {
        const mfd_metric_log *m = &metrics[order ? order[i] : i];
        bool is_nan;
        double value = stored_value(m->value, &is_nan);
        mfd_sql_params_text(&rows, arena, m->key);
        mfd_sql_params_double(&rows, arena, value);
        mfd_sql_params_int64(&rows, arena, m->timestamp);
        mfd_sql_params_text(&rows, arena, run_id);
        mfd_sql_params_int64(&rows, arena, m->step);
        mfd_sql_params_int64(&rows, arena, is_nan);
    }
    return mfd_conn_insert_rows(conn, "metrics", "key, value, timestamp, run_uuid, step, is_nan",
                                COLUMNS, &rows);
}

static int compare_latest_keys(const void *a, const void *b) {
    return strcmp(((const latest_value *)a)->key, ((const latest_value *)b)->key);
}

/* Upserted in key order, in multi-row statements (one round trip per 100
 * keys, not per key): on PostgreSQL each upsert locks its row to the end of
 * the transaction, and two batches for one run that listed their keys in
 * different orders deadlocked (one answered 503). The keys are distinct
 * (fold_latest), as one statement's rows must be. */
static mfd_err write_latest(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                            latest_value *latest, size_t count) {
    enum { COLUMNS = 6 };
    if (count > 1)
        qsort(latest, count, sizeof *latest, compare_latest_keys);
    mfd_sql_params rows = {mfd_arena_alloc(arena, count * COLUMNS * sizeof *rows.values), 0,
                           count * COLUMNS};
    for (size_t i = 0; i < count; i++) {
        mfd_sql_params_text(&rows, arena, latest[i].key);
        mfd_sql_params_double(&rows, arena, latest[i].value);
        mfd_sql_params_int64(&rows, arena, latest[i].timestamp);
        mfd_sql_params_int64(&rows, arena, latest[i].step);
        mfd_sql_params_int64(&rows, arena, latest[i].is_nan);
        mfd_sql_params_text(&rows, arena, run_id);
    }
    return mfd_conn_upsert_rows(
        conn, "latest_metrics", "key, value, timestamp, step, is_nan, run_uuid", COLUMNS, &rows,
        "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value, timestamp = "
        "excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan WHERE "
        "(excluded.step, excluded.timestamp, excluded.value) > (latest_metrics.step, "
        "latest_metrics.timestamp, latest_metrics.value)");
}

/* The points that name a logged model, in one mfd_conn_insert_rows; of two
 * rows with one key the first in `order` stays. */
static mfd_err write_model_metrics(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                                   int64_t experiment_id, const mfd_metric_log *metrics,
                                   const size_t *order, size_t count) {
    enum { COLUMNS = 10 };
    mfd_sql_params rows = {0};
    for (size_t i = 0; i < count; i++) {
        const mfd_metric_log *m = &metrics[order ? order[i] : i];
        if (!present(m->model_id))
            continue;
        bool is_nan;
        mfd_sql_params_text(&rows, arena, m->model_id);
        mfd_sql_params_text(&rows, arena, m->key);
        mfd_sql_params_int64(&rows, arena, m->timestamp);
        mfd_sql_params_int64(&rows, arena, m->step);
        mfd_sql_params_double(&rows, arena, stored_value(m->value, &is_nan));
        mfd_sql_params_int64(&rows, arena, experiment_id);
        mfd_sql_params_text(&rows, arena, run_id);
        mfd_sql_params_text(&rows, arena, NULL); /* dataset_uuid */
        mfd_sql_params_text(&rows, arena, present(m->dataset_name) ? m->dataset_name : NULL);
        mfd_sql_params_text(&rows, arena, present(m->dataset_digest) ? m->dataset_digest : NULL);
    }
    return mfd_conn_insert_rows(conn, "logged_model_metrics",
                                "model_id, metric_name, metric_timestamp_ms, metric_step, "
                                "metric_value, experiment_id, run_id, dataset_uuid, dataset_name, "
                                "dataset_digest",
                                COLUMNS, &rows);
}

/* (key, timestamp, step): the part of a point's identity both orders share */
static int compare_key_time_step(const mfd_metric_log *x, const mfd_metric_log *y) {
    int c = mfd_write_order_text(x->key, y->key);
    if (!c)
        c = mfd_write_order_int64(x->timestamp, y->timestamp);
    return c ? c : mfd_write_order_int64(x->step, y->step);
}

/* (key, timestamp, step, value, model): one order for every batch's rows */
static int compare_points(const void *a, const void *b) {
    const mfd_metric_log *x = a, *y = b;
    int c = compare_key_time_step(x, y);
    if (!c) /* NaN after every number, as one group */
        c = isnan(x->value) || isnan(y->value) ? (isnan(x->value) != 0) - (isnan(y->value) != 0)
                                               : (x->value > y->value) - (x->value < y->value);
    return c ? c : mfd_write_order_text(x->model_id, y->model_id);
}

/* A logged model's metric rows by their key (model, name, timestamp, step),
 * ties in the order sent: the first of a key is inserted, as on SQLite, and
 * the rest meet it and are skipped. */
static int compare_model_points(const void *a, const void *b) {
    const mfd_metric_log *x = a, *y = b;
    int c = mfd_write_order_text(x->model_id, y->model_id);
    return c ? c : compare_key_time_step(x, y);
}

static bool any_model_metric(const mfd_metric_log *metrics, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (present(metrics[i].model_id))
            return true;
    return false;
}

mfd_err mfd_metrics_write(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                          int64_t experiment_id, const mfd_metric_log *metrics, size_t count) {
    if (count == 0)
        return NULL;
    /* PostgreSQL: rows in one order (write_order.h); two batches holding the
     * same points (a client sending one again) deadlocked. SQLite has one
     * writer at a time: the order sent. */
    const size_t *order =
        mfd_conn_dialect(conn) == MFD_DIALECT_POSTGRES
            ? mfd_write_order(arena, metrics, count, sizeof *metrics, compare_points)
            : NULL;
    mfd_err err = check_models_exist(conn, metrics, count);
    if (!err)
        err = write_history(conn, arena, run_id, metrics, order, count);
    if (!err) {
        latest_value *latest;
        size_t n = fold_latest(arena, metrics, count, &latest);
        err = write_latest(conn, arena, run_id, latest, n);
    }
    if (!err && order && any_model_metric(metrics, count))
        order = mfd_write_order(arena, metrics, count, sizeof *metrics, compare_model_points);
    if (!err)
        err = write_model_metrics(conn, arena, run_id, experiment_id, metrics, order, count);
    return err;
}

mfd_err mfd_metrics_log(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                        const mfd_metric_log *metrics, size_t count) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t experiment_id = 0;
    err = mfd_runs_check_active(conn, run_id, &experiment_id);
    if (!err)
        err = mfd_metrics_write(conn, arena, run_id, experiment_id, metrics, count);
    return mfd_conn_finish(conn, err);
}
