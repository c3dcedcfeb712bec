/* metrics_read.c — the history readers of the metrics store: one run's
 * history in pages (get-history) and several runs' whole histories (the UI's
 * get-history-bulk), with what they share with the sampled histories of
 * get-history-bulk-interval (metrics_interval.c): the reading plan, a run's
 * rows read into memory and their orders, the read transaction.
 *
 * Each chooses its reading plan (see mfd_metrics_choose_key_walk) and orders
 * rows in C where SQL would sort a whole history. get-history pages by
 * position (the last row's place in the full order), so a page costs its own
 * rows. */
#include "metrics_read.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Reading plans. metrics' primary key (key, timestamp, step, run_uuid,
 * value, is_nan) holds a key's rows of EVERY run in time order; walking it is
 * the cheapest read when the requested runs own most of the key's rows (one
 * run logging a long history). When many other rows share the key (every run
 * of a sweep logs "loss"), it reads theirs too, so we read just the requested
 * runs' rows through index_metrics_run_uuid and order them in C. SQLite keeps
 * no statistics here, so the store measures with two bounded index-only
 * counts: the runs' rows, and the key's rows up to KEY_WALK_FACTOR times that
 * (get-history counts only when its walk meets too many other rows, see
 * history_watched_walk). PostgreSQL plans from its own statistics: the key
 * walk's SQL is left to it. */
enum { KEY_WALK_FACTOR = 4 };

static mfd_err count_rows(mfd_conn *conn, const char *sql, const char *text, int64_t cap,
                          int64_t *out) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, text);
    if (cap > 0)
        mfd_stmt_bind_int64(stmt, 2, cap);
    mfd_step s = mfd_stmt_step(stmt, &err);
    *out = s == MFD_STEP_ROW ? mfd_stmt_int64(stmt, 0) : 0;
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

/* *run_rows_out (when given) is the runs' row count, or -1 when not counted. */
mfd_err mfd_metrics_choose_key_walk(mfd_conn *conn, const char *const *run_ids, size_t n_runs,
                                    const char *key, bool *key_walk, int64_t *run_rows_out) {
    *key_walk = true;
    if (run_rows_out)
        *run_rows_out = -1;
    if (mfd_conn_dialect(conn) != MFD_DIALECT_SQLITE)
        return NULL;
    int64_t run_rows = 0, n, key_rows;
    for (size_t i = 0; i < n_runs; i++) {
        mfd_err err = count_rows(conn,
                                 "SELECT count(*) FROM metrics INDEXED BY index_metrics_run_uuid "
                                 "WHERE run_uuid = ?",
                                 run_ids[i], 0, &n);
        if (err)
            return err;
        run_rows += n;
    }
    if (run_rows_out)
        *run_rows_out = run_rows;
    int64_t cap = run_rows * KEY_WALK_FACTOR + 1;
    mfd_err err =
        count_rows(conn, "SELECT count(*) FROM (SELECT 1 FROM metrics WHERE key = ? LIMIT ?) k",
                   key, cap, &key_rows);
    if (!err)
        *key_walk = key_rows < cap;
    return err;
}

const char *mfd_metrics_run_rows_sql(mfd_conn *conn, mfd_arena *arena, bool key_walk,
                                     const char *columns, const char *extra) {
    const char *from = !key_walk && mfd_conn_dialect(conn) == MFD_DIALECT_SQLITE
                           ? " FROM metrics INDEXED BY index_metrics_run_uuid"
                           : " FROM metrics";
    return mfd_arena_sprintf(arena, "SELECT %s%s WHERE run_uuid = ? AND key = ?%s", columns, from,
                             extra);
}

void mfd_metrics_row_push(mfd_arena *arena, row_list *l, metric_row r) {
    l->rows = mfd_arena_grow(arena, l->rows, l->n, &l->cap, sizeof *l->rows, 256);
    l->rows[l->n++] = r;
}

static int cmp_i64(int64_t a, int64_t b) {
    return (a > b) - (a < b);
}

/* get-history order: (timestamp, step, value, is_nan), the key walk's. */
static int compare_by_time(const void *a, const void *b) {
    const metric_row *x = a, *y = b;
    int c = cmp_i64(x->timestamp, y->timestamp);
    if (!c)
        c = cmp_i64(x->step, y->step);
    if (!c)
        c = (x->value > y->value) - (x->value < y->value);
    return c ? c : (int)x->is_nan - (int)y->is_nan;
}

/* get-history-bulk-interval order: (step, timestamp, value), then is_nan so
 * that the order does not depend on the order rows were read in. */
int mfd_metrics_compare_by_step(const void *a, const void *b) {
    const metric_row *x = a, *y = b;
    int c = cmp_i64(x->step, y->step);
    if (!c)
        c = cmp_i64(x->timestamp, y->timestamp);
    if (!c)
        c = (x->value > y->value) - (x->value < y->value);
    return c ? c : (int)x->is_nan - (int)y->is_nan;
}

/* Sorts unless already in order (rows usually arrive in logging order). */
void mfd_metrics_sort_rows(row_list *l, int (*compare)(const void *, const void *)) {
    for (size_t i = 1; i < l->n; i++) {
        if (compare(&l->rows[i - 1], &l->rows[i]) > 0) {
            qsort(l->rows, l->n, sizeof *l->rows, compare);
            return;
        }
    }
}

/* Reads the run's rows of the metric: all, only steps in [lo, hi]
 * (step_range), or only those after a get-history position (after). */
mfd_err mfd_metrics_read_run_rows(mfd_conn *conn, mfd_arena *arena, bool key_walk,
                                  const char *run_id, const char *key, const int64_t *step_range,
                                  const mfd_metric_position *after, row_list *out) {
    const char *extra = step_range ? " AND step >= ? AND step <= ?"
                        : after    ? " AND (timestamp, step, value, is_nan) > (?, ?, ?, ?)"
                                   : "";
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn,
        mfd_metrics_run_rows_sql(conn, arena, key_walk, "timestamp, step, value, is_nan", extra),
        true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, run_id);
    mfd_stmt_bind_text(stmt, 2, key);
    if (step_range) {
        mfd_stmt_bind_int64(stmt, 3, step_range[0]);
        mfd_stmt_bind_int64(stmt, 4, step_range[1]);
    } else if (after) {
        mfd_stmt_bind_int64(stmt, 3, after->timestamp);
        mfd_stmt_bind_int64(stmt, 4, after->step);
        mfd_stmt_bind_double(stmt, 5, after->value);
        mfd_stmt_bind_int64(stmt, 6, after->is_nan);
    }
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW)
        mfd_metrics_row_push(arena, out,
                             (metric_row){mfd_stmt_int64(stmt, 1), mfd_stmt_int64(stmt, 0),
                                          mfd_stmt_double(stmt, 2), mfd_stmt_int64(stmt, 3) != 0});
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

/* ---- get-history ---------------------------------------------------------------------------- */

/* Where a get-history read stands: the position of the run's last row passed
 * (emitted or skipped), the rows of an offset token still to skip, and the
 * rows still to emit (< 0: no limit). */
typedef struct history_cursor {
    mfd_metric_position after;
    bool has_after;
    int64_t skip, left;
} history_cursor;

/* Passes the run's next row; false when the page is already full (the row
 * then only tells that more follow). */
static bool cursor_take(history_cursor *c, const char *run_id, mfd_metric_position p,
                        mfd_metric_row_fn row, void *ctx, bool *more) {
    if (c->skip > 0) {
        c->skip--;
    } else if (c->left == 0) {
        *more = true;
        return false;
    } else {
        row(ctx, run_id, p.timestamp, p.step, p.value, p.is_nan);
        if (c->left > 0)
            c->left--;
    }
    c->after = p;
    c->has_after = true;
    return true;
}

/* The key walk in SQL, PostgreSQL's get-history (see above). The one-value
 * run_uuid range rather than `run_uuid = ?` keeps SQLite, too, from dropping
 * run_uuid from the ORDER BY as a constant and sorting instead of streaming
 * the index. The ORDER BY is the whole primary key after `key`, so a page
 * after a position seeks to it (the row value is a range on the index) where
 * OFFSET steps over every earlier row. */
static const char HISTORY_KEY_WALK_SQL[] =
    "SELECT timestamp, step, value, is_nan FROM metrics WHERE key = ? AND run_uuid >= ? AND "
    "run_uuid <= ? ORDER BY timestamp, step, run_uuid, value, is_nan LIMIT ? OFFSET ?";
static const char HISTORY_KEY_WALK_AFTER_SQL[] =
    "SELECT timestamp, step, value, is_nan FROM metrics WHERE key = ? AND run_uuid >= ? AND "
    "run_uuid <= ? AND (timestamp, step, run_uuid, value, is_nan) > (?, ?, ?, ?, ?) "
    "ORDER BY timestamp, step, run_uuid, value, is_nan LIMIT ? OFFSET ?";

static mfd_err history_key_walk(mfd_conn *conn, const char *run_id, const char *key,
                                history_cursor *c, mfd_metric_row_fn row, void *ctx, bool *more) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, c->has_after ? HISTORY_KEY_WALK_AFTER_SQL : HISTORY_KEY_WALK_SQL, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, key);
    mfd_stmt_bind_text(stmt, 2, run_id);
    mfd_stmt_bind_text(stmt, 3, run_id);
    int next = 4;
    if (c->has_after) {
        mfd_stmt_bind_int64(stmt, next++, c->after.timestamp);
        mfd_stmt_bind_int64(stmt, next++, c->after.step);
        mfd_stmt_bind_text(stmt, next++, run_id);
        mfd_stmt_bind_double(stmt, next++, c->after.value);
        mfd_stmt_bind_int64(stmt, next++, c->after.is_nan);
    }
    /* one row past the page tells whether another page follows */
    mfd_stmt_bind_int64(stmt, next++,
                        c->left < 0 || c->left == INT64_MAX ? INT64_MAX : c->left + 1);
    mfd_stmt_bind_int64(stmt, next, c->skip);
    c->skip = 0;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        mfd_metric_position p = {mfd_stmt_int64(stmt, 0), mfd_stmt_int64(stmt, 1),
                                 mfd_stmt_double(stmt, 2), mfd_stmt_int64(stmt, 3) != 0};
        if (!cursor_take(c, run_id, p, row, ctx, more))
            break;
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

/* On SQLite get-history does not count first (the counts read the whole
 * history, again for every page): it walks the key from the cursor, SQL
 * flagging the run's rows and the other runs' passed over here, while the
 * run owns the rows met. Once the others pass KEY_WALK_FACTOR times the
 * run's (plus KEY_WALK_SLACK), mfd_metrics_choose_key_walk counts and decides as for the
 * other readers: walk on, or *hand_over the rest to the run's index. */
enum { KEY_WALK_SLACK = 64 };

static const char HISTORY_WATCHED_WALK_SQL[] =
    "SELECT run_uuid = ?, timestamp, step, value, is_nan FROM metrics WHERE key = ? "
    "ORDER BY timestamp, step, run_uuid, value, is_nan";
static const char HISTORY_WATCHED_WALK_AFTER_SQL[] =
    "SELECT run_uuid = ?, timestamp, step, value, is_nan FROM metrics WHERE key = ? AND "
    "(timestamp, step, run_uuid, value, is_nan) > (?, ?, ?, ?, ?) "
    "ORDER BY timestamp, step, run_uuid, value, is_nan";

static mfd_err history_watched_walk(mfd_conn *conn, const char *run_id, const char *key,
                                    history_cursor *c, mfd_metric_row_fn row, void *ctx, bool *more,
                                    bool *hand_over) {
    *hand_over = false;
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, c->has_after ? HISTORY_WATCHED_WALK_AFTER_SQL : HISTORY_WATCHED_WALK_SQL, true,
        &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, run_id);
    mfd_stmt_bind_text(stmt, 2, key);
    if (c->has_after) {
        mfd_stmt_bind_int64(stmt, 3, c->after.timestamp);
        mfd_stmt_bind_int64(stmt, 4, c->after.step);
        mfd_stmt_bind_text(stmt, 5, run_id);
        mfd_stmt_bind_double(stmt, 6, c->after.value);
        mfd_stmt_bind_int64(stmt, 7, c->after.is_nan);
    }
    int64_t mine = 0, others = 0;
    bool watching = true, key_walk;
    while (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW) {
        if (mfd_stmt_int64(stmt, 0)) {
            mine++;
            mfd_metric_position p = {mfd_stmt_int64(stmt, 1), mfd_stmt_int64(stmt, 2),
                                     mfd_stmt_double(stmt, 3), mfd_stmt_int64(stmt, 4) != 0};
            if (!cursor_take(c, run_id, p, row, ctx, more))
                break;
        } else if (watching && ++others > KEY_WALK_FACTOR * mine + KEY_WALK_SLACK) {
            if ((err = mfd_metrics_choose_key_walk(conn, &run_id, 1, key, &key_walk, NULL)))
                break;
            *hand_over = !key_walk;
            if (*hand_over)
                break;
            watching = false; /* counted once: the choice stands */
        }
    }
    mfd_stmt_done(stmt);
    return err;
}

/* The run's rows after the cursor through its index, ordered here. */
static mfd_err history_by_run_index(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                                    const char *key, history_cursor *c, mfd_metric_row_fn row,
                                    void *ctx, bool *more) {
    row_list rows = {0};
    mfd_err err = mfd_metrics_read_run_rows(conn, arena, false, run_id, key, NULL,
                                            c->has_after ? &c->after : NULL, &rows);
    if (err)
        return err;
    mfd_metrics_sort_rows(&rows, compare_by_time);
    for (size_t i = 0; i < rows.n; i++) {
        const metric_row *r = &rows.rows[i];
        mfd_metric_position p = {r->timestamp, r->step, r->value, r->is_nan};
        if (!cursor_take(c, run_id, p, row, ctx, more))
            break;
    }
    return NULL;
}

/* A read transaction. On PostgreSQL a cached statement gets a generic plan
 * after five runs, and the generic plan of these reads walks the key's rows
 * of every run (the primary key starts with the key): a run's 10,000 points
 * took 227 ms instead of 20, the UI's chart call over 100 runs 35 s instead
 * of 2. Within the transaction each run is planned for its values. */
mfd_err mfd_metrics_begin_read(mfd_conn *conn) {
    mfd_err err = mfd_conn_begin(conn, false);
    if (!err && mfd_conn_dialect(conn) == MFD_DIALECT_POSTGRES &&
        (err = mfd_conn_exec(conn, "SET LOCAL plan_cache_mode = force_custom_plan")))
        mfd_conn_rollback(conn);
    return err;
}

mfd_err mfd_metrics_history(mfd_conn *conn, mfd_arena *arena, const char *run_id, const char *key,
                            const mfd_metric_position *after, int64_t offset, int64_t limit,
                            mfd_metric_row_fn row, void *ctx, bool *more) {
    *more = false;
    history_cursor c = {.has_after = after != NULL, .skip = after ? 0 : offset, .left = limit};
    if (after)
        c.after = *after;
    mfd_err err = mfd_metrics_begin_read(conn); /* the walk and its hand-over see one state */
    if (err)
        return err;
    if (mfd_conn_dialect(conn) != MFD_DIALECT_SQLITE)
        return mfd_conn_finish(conn, history_key_walk(conn, run_id, key, &c, row, ctx, more));
    bool hand_over = false;
    if (!err)
        err = history_watched_walk(conn, run_id, key, &c, row, ctx, more, &hand_over);
    if (!err && hand_over)
        err = history_by_run_index(conn, arena, run_id, key, &c, row, ctx, more);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_metrics_history_bulk(mfd_conn *conn, mfd_arena *arena, const char *const *run_ids,
                                 size_t n_runs, const char *key, int64_t limit,
                                 mfd_metric_row_fn row, void *ctx) {
    if (n_runs == 0)
        return NULL;
    const char *sql =
        mfd_sql_in_list(arena,
                        "SELECT run_uuid, timestamp, step, value, is_nan FROM metrics "
                        "WHERE key = ? AND run_uuid IN (",
                        n_runs, ") ORDER BY run_uuid, timestamp, step, value LIMIT ?");
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, false, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, key);
    for (size_t i = 0; i < n_runs; i++)
        mfd_stmt_bind_text(stmt, (int)i + 2, run_ids[i]);
    mfd_stmt_bind_int64(stmt, (int)n_runs + 2, limit);
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW)
        row(ctx, mfd_stmt_text(stmt, 0), mfd_stmt_int64(stmt, 1), mfd_stmt_int64(stmt, 2),
            mfd_stmt_double(stmt, 3), mfd_stmt_int64(stmt, 4) != 0);
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}
