/* metrics_read.h — what the metric history readers (metrics_read.c,
 * metrics_interval.c) share and nobody else sees: the reading plan, a run's
 * rows of a metric read into memory, their two orders, the read transaction.
 * Their face is metrics.h.
 *
 * Invariant: rows held in memory are as stored (NaN is 0 with is_nan set and
 * sorts as 0), so an order made in C is the order SQL would give. */
#ifndef MFD_METRICS_READ_H
#define MFD_METRICS_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

typedef struct metric_row {
    int64_t step, timestamp;
    double value; /* as stored: NaN is 0 with is_nan set, and sorts as 0 */
    bool is_nan;
} metric_row;

typedef struct row_list {
    metric_row *rows;
    size_t n, cap;
} row_list;

/* Whether to walk the key's rows of every run (true) or read each run's rows
 * through index_metrics_run_uuid; *run_rows_out (when given) is the runs' row
 * count, or -1 when not counted (PostgreSQL: always a walk, left to its planner). */
mfd_err mfd_metrics_choose_key_walk(mfd_conn *conn, const char *const *run_ids, size_t n_runs,
                                    const char *key, bool *key_walk, int64_t *run_rows_out);
/* `SELECT <columns> FROM metrics ... WHERE run_uuid = ? AND key = ?<extra>`
 * on the plan chosen. */
const char *mfd_metrics_run_rows_sql(mfd_conn *conn, mfd_arena *arena, bool key_walk,
                                     const char *columns, const char *extra);
void mfd_metrics_row_push(mfd_arena *arena, row_list *l, metric_row r);
/* get-history-bulk-interval's order: (step, timestamp, value, is_nan). */
int mfd_metrics_compare_by_step(const void *a, const void *b);
/* Sorts unless already in order. */
void mfd_metrics_sort_rows(row_list *l, int (*compare)(const void *, const void *));
/* The run's rows of the metric: all, only steps in [lo, hi] (step_range), or
 * only those after a get-history position (after). */
mfd_err mfd_metrics_read_run_rows(mfd_conn *conn, mfd_arena *arena, bool key_walk,
                                  const char *run_id, const char *key, const int64_t *step_range,
                                  const mfd_metric_position *after, row_list *out);
/* A read transaction in which PostgreSQL plans each statement for its values. */
mfd_err mfd_metrics_begin_read(mfd_conn *conn);

#endif
