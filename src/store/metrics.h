/* metrics.h — metric history, latest values and logged-model metrics
 * (schema.md §2 `metrics`, `latest_metrics`, `logged_model_metrics`).
 *
 * Values are stored the MLflow way: NaN as value 0 with is_nan 1, ±Infinity
 * clamped to ±DBL_MAX. Readers get the stored value and the is_nan flag. */
#ifndef MFD_STORE_METRICS_H
#define MFD_STORE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "db.h"

/* A metric as read back (latest_metrics or history). */
typedef struct mfd_metric {
    const char *key;
    double value; /* stored value: 0 when is_nan */
    bool is_nan;
    int64_t timestamp, step;
} mfd_metric;

/* A metric to log. value may be NaN or ±Infinity; the optional model fields
 * (NULL or "" = absent) also write a logged_model_metrics row. */
typedef struct mfd_metric_log {
    const char *key;
    double value;
    int64_t timestamp, step;
    const char *model_id, *dataset_name, *dataset_digest;
} mfd_metric_log;

/* runs/log-metric: checks the run exists (404) and is active (400), then
 * writes the metrics in one transaction. */
mfd_err mfd_metrics_log(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                        const mfd_metric_log *metrics, size_t count);

/* Writes history rows (exact duplicates skipped), folds the latest value per
 * key in memory and upserts latest_metrics once per key, and writes the
 * logged-model rows. Runs inside the caller's write transaction, after the
 * caller checked the run; experiment_id is the run's. */
mfd_err mfd_metrics_write(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                          int64_t experiment_id, const mfd_metric_log *metrics, size_t count);

/* Streams rows to the caller without building a list. */
typedef void (*mfd_metric_row_fn)(void *ctx, const char *run_id, int64_t timestamp, int64_t step,
                                  double value, bool is_nan);

/* A row's place in get-history's order, (timestamp, step, value, is_nan)
 * with the value as stored. It is the metrics primary key once run and key
 * are fixed, so it orders a history fully: seeking past a row's position
 * skips exactly the rows before it, however many share its timestamp. */
typedef struct mfd_metric_position {
    int64_t timestamp, step;
    double value;
    bool is_nan;
} mfd_metric_position;

/* History of one metric ordered by (timestamp, step, value, is_nan): the
 * rows after `after` when given (a seek, costing the page only), else after
 * skipping `offset` rows (tokens made by MLflow); limit < 0 = all rows.
 * *more is set when rows remain after the limit. */
mfd_err mfd_metrics_history(mfd_conn *conn, mfd_arena *arena, const char *run_id, const char *key,
                            const mfd_metric_position *after, int64_t offset, int64_t limit,
                            mfd_metric_row_fn row, void *ctx, bool *more);

/* Histories of several runs ordered by (run_uuid, timestamp, step, value),
 * at most `limit` rows in all (the UI's get-history-bulk). */
mfd_err mfd_metrics_history_bulk(mfd_conn *conn, mfd_arena *arena, const char *const *run_ids,
                                 size_t n_runs, const char *key, int64_t limit,
                                 mfd_metric_row_fn row, void *ctx);

/* get-history-bulk-interval (rest-api.md §5.15): samples steps across the
 * runs and streams, per run in the given order, the rows whose step was
 * chosen, ordered by (step, timestamp, value), at most `per_run_limit` each. */
mfd_err mfd_metrics_history_interval(mfd_conn *conn, mfd_arena *arena, const char *const *run_ids,
                                     size_t n_runs, const char *key, bool has_range,
                                     int64_t start_step, int64_t end_step, int64_t max_results,
                                     int64_t per_run_limit, mfd_metric_row_fn row, void *ctx);

#endif
