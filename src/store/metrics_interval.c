/* metrics_interval.c — get-history-bulk-interval: the sampled histories of
 * several runs' metric (the UI's charts), upstream's step sampling included.
 * The runs' rows are read once and held when they fit (one pass), else the
 * chosen steps are found first and each run's rows of them read after.
 *
 * Invariants: a run given twice counts once (first_of), as in SQL's IN; the
 * steps chosen are sorted and distinct; each run's rows come out ordered by
 * (step, timestamp, value, is_nan), at most per_run_limit of them. */
#include "metrics_read.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct step_list {
    int64_t *steps;
    size_t n, cap;
} step_list;

static void step_push(mfd_arena *arena, step_list *l, int64_t step) {
    l->steps = mfd_arena_grow(arena, l->steps, l->n, &l->cap, sizeof *l->steps, 64);
    l->steps[l->n++] = step;
}

static int compare_steps(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Appends every step of the run's metric (one pass over its rows, in index
 * order, no SQL sort) to `all`, and the run's min and max step to `extremes`. */
static mfd_err collect_run_steps(mfd_conn *conn, mfd_arena *arena, bool key_walk,
                                 const char *run_id, const char *key, step_list *all,
                                 step_list *extremes) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, mfd_metrics_run_rows_sql(conn, arena, key_walk, "step", ""), true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, run_id);
    mfd_stmt_bind_text(stmt, 2, key);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        int64_t step = mfd_stmt_int64(stmt, 0);
        step_push(arena, all, step);
        lo = step < lo ? step : lo;
        hi = step > hi ? step : hi;
    }
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    if (lo <= hi) {
        step_push(arena, extremes, lo);
        step_push(arena, extremes, hi);
    }
    return NULL;
}

/* Sorts (only when needed: rows usually come in step order) and removes
 * duplicates in place. */
static void sort_unique(step_list *l) {
    bool sorted = true;
    for (size_t i = 1; i < l->n && sorted; i++)
        sorted = l->steps[i - 1] <= l->steps[i];
    if (!sorted)
        qsort(l->steps, l->n, sizeof *l->steps, compare_steps);
    size_t unique = l->n ? 1 : 0;
    for (size_t i = 1; i < l->n; i++)
        if (l->steps[i] != l->steps[unique - 1])
            l->steps[unique++] = l->steps[i];
    l->n = unique;
}

static size_t lower_bound(const int64_t *a, size_t n, int64_t v) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t upper_bound(const int64_t *a, size_t n, int64_t v) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Index of an earlier identical run id (a run given twice counts once, as
 * in SQL's IN), or r itself. */
static size_t first_of(const char *const *run_ids, size_t r) {
    for (size_t k = 0; k < r; k++)
        if (strcmp(run_ids[k], run_ids[r]) == 0)
            return k;
    return r;
}

/* The steps to return (upstream's _get_sampled_steps, quirks included):
 * every run's min and max step inside the range, plus all distinct steps in
 * range when there are at most max_results of them, else max_results evenly
 * spaced ones and the last. Sorted, without duplicates. */
static void choose_steps(mfd_arena *arena, step_list *all, const step_list *extremes,
                         bool has_range, int64_t start, int64_t end, int64_t max_results,
                         step_list *chosen);

static mfd_err sample_steps(mfd_conn *conn, mfd_arena *arena, bool key_walk,
                            const char *const *run_ids, size_t n_runs, const char *key,
                            bool has_range, int64_t start, int64_t end, int64_t max_results,
                            step_list *chosen) {
    step_list all = {0}, extremes = {0};
    mfd_err err = NULL;
    for (size_t r = 0; r < n_runs && !err; r++)
        if (first_of(run_ids, r) == r)
            err = collect_run_steps(conn, arena, key_walk, run_ids[r], key, &all, &extremes);
    if (err)
        return err;
    choose_steps(arena, &all, &extremes, has_range, start, end, max_results, chosen);
    return NULL;
}

/* `all` is every step of the runs (any order, duplicates allowed); `extremes`
 * each run's min and max. */
static void choose_steps(mfd_arena *arena, step_list *all_steps, const step_list *extremes,
                         bool has_range, int64_t start, int64_t end, int64_t max_results,
                         step_list *chosen) {
    sort_unique(all_steps);
    const step_list all = *all_steps;
    if (!has_range) {
        start = 0;
        end = all.n ? all.steps[all.n - 1] : 0;
    }
    for (size_t i = 0; i < extremes->n; i++)
        if (extremes->steps[i] >= start && extremes->steps[i] <= end)
            step_push(arena, chosen, extremes->steps[i]);
    size_t start_idx = lower_bound(all.steps, all.n, start);
    size_t end_idx = upper_bound(all.steps, all.n, end);
    size_t in_range = end_idx > start_idx ? end_idx - start_idx : 0;
    if ((int64_t)in_range <= max_results) {
        for (size_t i = start_idx; i < end_idx; i++)
            step_push(arena, chosen, all.steps[i]);
    } else {
        double interval = (double)in_range / (double)max_results;
        for (int64_t i = 0; i < max_results; i++) {
            size_t idx = start_idx + (size_t)((double)i * interval);
            if (idx < in_range) /* upstream compares an absolute index with a count */
                step_push(arena, chosen, all.steps[idx]);
        }
        step_push(arena, chosen, all.steps[end_idx - 1]);
    }
    sort_unique(chosen);
}

/* Emits, ordered by (step, timestamp, value), the rows whose step was chosen. */
static void emit_chosen(mfd_arena *arena, const char *run_id, const row_list *rows,
                        const step_list *steps, int64_t per_run_limit, mfd_metric_row_fn row,
                        void *ctx) {
    row_list kept = {0};
    for (size_t i = 0; i < rows->n; i++)
        if (bsearch(&rows->rows[i].step, steps->steps, steps->n, sizeof(int64_t), compare_steps))
            mfd_metrics_row_push(arena, &kept, rows->rows[i]);
    mfd_metrics_sort_rows(&kept, mfd_metrics_compare_by_step);
    for (size_t i = 0; i < kept.n && (int64_t)i < per_run_limit; i++)
        row(ctx, run_id, kept.rows[i].timestamp, kept.rows[i].step, kept.rows[i].value,
            kept.rows[i].is_nan);
}

/* One run's rows whose step was chosen, ordered by (step, timestamp, value)
 * in C: the step range is read once and only the kept rows are sorted. */
static mfd_err stream_run_interval(mfd_conn *conn, mfd_arena *arena, bool key_walk,
                                   const char *run_id, const char *key, const step_list *steps,
                                   int64_t per_run_limit, mfd_metric_row_fn row, void *ctx) {
    row_list rows = {0};
    int64_t range[2] = {steps->steps[0], steps->steps[steps->n - 1]};
    mfd_err err = mfd_metrics_read_run_rows(conn, arena, key_walk, run_id, key, range, NULL, &rows);
    if (!err)
        emit_chosen(arena, run_id, &rows, steps, per_run_limit, row, ctx);
    return err;
}

/* Reading each run's rows once, rather than once for the steps and again for
 * the chosen rows, halves the work of a long history; it holds the rows in
 * memory, so only while the runs have at most ONE_PASS_MAX_ROWS rows. libpq
 * holds a whole result as text besides (~150 bytes a row here), so on
 * PostgreSQL the one pass takes at most PG_ONE_PASS_MAX_ROWS of the key. */
enum { ONE_PASS_MAX_ROWS = 4 * 1000 * 1000, PG_ONE_PASS_MAX_ROWS = 500 * 1000 };

typedef struct run_slot {
    const char *run_id;
    size_t index; /* first_of: its first place in the request */
} run_slot;

static int compare_slots(const void *a, const void *b) {
    return strcmp(((const run_slot *)a)->run_id, ((const run_slot *)b)->run_id);
}

/* Every requested run's rows of the metric in one walk of the key (not one
 * walk per run: with 100 runs that read the key's rows of every run in the
 * database 100 times), each row put in its run's list. PostgreSQL plans the
 * read from its statistics; SQLite is kept on the key's index (`+run_uuid`
 * takes the run index out of its choice), as mfd_metrics_choose_key_walk decided. At
 * most the cap above: *fits is false when there are more. */
static mfd_err read_key_rows(mfd_conn *conn, mfd_arena *arena, const char *const *run_ids,
                             size_t n_runs, const char *key, row_list *rows, bool *fits) {
    run_slot *slots = mfd_arena_calloc(arena, n_runs, sizeof *slots);
    size_t n_slots = 0;
    for (size_t r = 0; r < n_runs; r++)
        if (first_of(run_ids, r) == r)
            slots[n_slots++] = (run_slot){run_ids[r], r};
    qsort(slots, n_slots, sizeof *slots, compare_slots);
    const char *head = mfd_conn_dialect(conn) == MFD_DIALECT_SQLITE
                           ? "SELECT run_uuid, timestamp, step, value, is_nan FROM metrics "
                             "WHERE key = ? AND +run_uuid IN ("
                           : "SELECT run_uuid, timestamp, step, value, is_nan FROM metrics "
                             "WHERE key = ? AND run_uuid IN (";
    mfd_stmt *stmt;
    mfd_err err =
        mfd_conn_prepare(conn, mfd_sql_in_list(arena, head, n_slots, ") LIMIT ?"), false, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, key);
    for (size_t i = 0; i < n_slots; i++)
        mfd_stmt_bind_text(stmt, (int)i + 2, slots[i].run_id);
    int64_t cap =
        mfd_conn_dialect(conn) == MFD_DIALECT_SQLITE ? ONE_PASS_MAX_ROWS : PG_ONE_PASS_MAX_ROWS;
    mfd_stmt_bind_int64(stmt, (int)n_slots + 2, cap + 1);
    size_t n_read = 0;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        run_slot probe = {mfd_stmt_text(stmt, 0), 0};
        const run_slot *slot = bsearch(&probe, slots, n_slots, sizeof *slots, compare_slots);
        if (slot)
            mfd_metrics_row_push(arena, &rows[slot->index],
                                 (metric_row){mfd_stmt_int64(stmt, 2), mfd_stmt_int64(stmt, 1),
                                              mfd_stmt_double(stmt, 3),
                                              mfd_stmt_int64(stmt, 4) != 0});
        n_read++;
    }
    mfd_stmt_done(stmt);
    *fits = (int64_t)n_read <= cap;
    return s == MFD_STEP_ERROR ? err : NULL;
}

/* *done is false (nothing emitted) when the runs' rows of the key are more
 * than ONE_PASS_MAX_ROWS: the caller samples steps instead. */
static mfd_err interval_one_pass(mfd_conn *conn, mfd_arena *arena, bool key_walk,
                                 const char *const *run_ids, size_t n_runs, const char *key,
                                 bool has_range, int64_t start, int64_t end, int64_t max_results,
                                 int64_t per_run_limit, mfd_metric_row_fn row, void *ctx,
                                 bool *done) {
    row_list *rows = mfd_arena_calloc(arena, n_runs, sizeof *rows);
    step_list all = {0}, extremes = {0}, chosen = {0};
    *done = true;
    if (key_walk) {
        mfd_err err = read_key_rows(conn, arena, run_ids, n_runs, key, rows, done);
        if (err || !*done)
            return err;
    }
    for (size_t r = 0; r < n_runs; r++) {
        if (first_of(run_ids, r) != r)
            continue;
        if (!key_walk) {
            mfd_err err = mfd_metrics_read_run_rows(conn, arena, false, run_ids[r], key, NULL, NULL,
                                                    &rows[r]);
            if (err)
                return err;
        }
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (size_t i = 0; i < rows[r].n; i++) {
            int64_t step = rows[r].rows[i].step;
            step_push(arena, &all, step);
            lo = step < lo ? step : lo;
            hi = step > hi ? step : hi;
        }
        if (lo <= hi) {
            step_push(arena, &extremes, lo);
            step_push(arena, &extremes, hi);
        }
    }
    choose_steps(arena, &all, &extremes, has_range, start, end, max_results, &chosen);
    for (size_t r = 0; r < n_runs && chosen.n; r++)
        emit_chosen(arena, run_ids[r], &rows[first_of(run_ids, r)], &chosen, per_run_limit, row,
                    ctx);
    return NULL;
}

mfd_err mfd_metrics_history_interval(mfd_conn *conn, mfd_arena *arena, const char *const *run_ids,
                                     size_t n_runs, const char *key, bool has_range,
                                     int64_t start_step, int64_t end_step, int64_t max_results,
                                     int64_t per_run_limit, mfd_metric_row_fn row, void *ctx) {
    if (n_runs == 0)
        return NULL;
    mfd_err err = mfd_metrics_begin_read(conn);
    if (err)
        return err;
    step_list steps = {0};
    bool key_walk = false;
    int64_t run_rows = -1;
    err = mfd_metrics_choose_key_walk(conn, run_ids, n_runs, key, &key_walk, &run_rows);
    /* uncounted (PostgreSQL): the one pass finds out whether the rows fit */
    if (!err && run_rows <= ONE_PASS_MAX_ROWS) {
        bool done = false;
        err = interval_one_pass(conn, arena, key_walk, run_ids, n_runs, key, has_range, start_step,
                                end_step, max_results, per_run_limit, row, ctx, &done);
        if (err || done)
            return mfd_conn_finish(conn, err);
    }
    if (!err)
        err = sample_steps(conn, arena, key_walk, run_ids, n_runs, key, has_range, start_step,
                           end_step, max_results, &steps);
    for (size_t r = 0; r < n_runs && !err && steps.n; r++)
        err = stream_run_interval(conn, arena, key_walk, run_ids[r], key, &steps, per_run_limit,
                                  row, ctx);
    return mfd_conn_finish(conn, err);
}
