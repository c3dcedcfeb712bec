/* run_cache.c — the run-search cache's threads and database work
 * (run_cache.h): reading the change log and filing what it says, the loader
 * that reads experiments and columns, and a search's catch-up and answer.
 *
 * Reading the log: a reading keeps its statement's snapshot (xmax and the
 * transactions in progress, pg_snapshot_xip) as the position. The rows that
 * snapshot could not see are those of transactions in progress then, or
 * with an xid at or above its xmax; the next reading takes exactly those
 * that its own snapshot sees, in the same statement: every change committed
 * since is read once, whatever order ids or commits came in
 * (schema_triggers.c writes the log).
 *
 * Locks: `lock` guards the entry table, each entry's bookkeeping (dirty
 * runs, wanted columns, flags); `poll_lock` the log position; each entry's
 * `data_lock` its data. Order: data_lock, then lock; poll_lock, then lock. A
 * thread holding data_lock takes no pooled connection (the loader takes its
 * connection first), and the loader only try-locks other entries' data. */
#include "run_cache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/ids.h"
#include "core/log.h"
#include "run_cache_data.h"
#include "schema.h"
#include "schema_internal.h"

enum {
    /* distinct changed runs an experiment reads again before a search;
     * beyond that it is loaded again (≈ a second per 100,000 runs either way) */
    MAX_DIRTY = 20000,
    /* log rows one reading takes; more, and every experiment is loaded again */
    MAX_LOG_ROWS = 200000,
    MAX_EXPERIMENTS = 20,        /* a search over more goes to SQL */
    MAX_ENTRIES = 1024,          /* experiments known at once */
    TOO_LARGE_RETRY_MS = 600000, /* an experiment the cache cannot hold is tried again after */
    POLL_EVERY_MS = 1000,        /* the poller's reading */
    PRUNE_EVERY_MS = 60000,      /* the poller deletes old log rows and checks the triggers */
    /* log rows are kept 10 minutes: a position older than half that may
     * have lost rows, and every experiment is loaded again */
    STALE_AFTER_MS = 300000,
    DATA_LOCK_WAIT_MS = 50, /* a search waits this long for another's catch-up, then goes to SQL */
};

/* Log rows are deleted once every transaction older than a reading made
 * PRUNE_AFTER_MS ago has finished: any server that read the log since (and
 * every server whose position is younger than STALE_AFTER_MS did) has them. */
enum { PRUNE_AFTER_MS = 600000, PRUNE_HORIZONS = PRUNE_AFTER_MS / PRUNE_EVERY_MS + 2 };
#define PRUNE_SQL "DELETE FROM " MFD_RUN_CHANGES_TABLE " WHERE xid < CAST(? AS xid8)"

/* ---- a set of run ids (the runs to read again) ----------------------------------------------- */

typedef struct dirty_set {
    char **ids;
    bool *exact; /* filed under this experiment (a runs row), not just any */
    size_t n, cap;
    uint32_t *index; /* open addressing, position + 1; 0 = empty */
    size_t index_cap;
} dirty_set;

static void dirty_free(dirty_set *d) {
    for (size_t i = 0; i < d->n; i++)
        free(d->ids[i]);
    free(d->ids);
    free(d->exact);
    free(d->index);
    memset(d, 0, sizeof *d);
}

static void dirty_index(dirty_set *d, size_t i) {
    size_t h = mfd_hash_str(MFD_HASH_INIT, d->ids[i]) & (d->index_cap - 1);
    while (d->index[h])
        h = (h + 1) & (d->index_cap - 1);
    d->index[h] = (uint32_t)i + 1;
}

/* Adds the run (once); false when the set is full. */
static bool dirty_add(dirty_set *d, const char *id, bool exact) {
    if (d->index_cap) {
        size_t h = mfd_hash_str(MFD_HASH_INIT, id) & (d->index_cap - 1);
        for (; d->index[h]; h = (h + 1) & (d->index_cap - 1))
            if (strcmp(d->ids[d->index[h] - 1], id) == 0) {
                d->exact[d->index[h] - 1] |= exact;
                return true;
            }
    }
    if (d->n == MAX_DIRTY)
        return false;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        d->ids = realloc(d->ids, cap * sizeof *d->ids);
        d->exact = realloc(d->exact, cap * sizeof *d->exact);
        free(d->index);
        d->index_cap = cap * 2;
        d->index = calloc(d->index_cap, sizeof *d->index);
        if (!d->ids || !d->exact || !d->index)
            abort();
        d->cap = cap;
        for (size_t i = 0; i < d->n; i++)
            dirty_index(d, i);
    }
    d->ids[d->n] = strdup(id);
    if (!d->ids[d->n])
        abort();
    d->exact[d->n] = exact;
    dirty_index(d, d->n++);
    return true;
}

/* ---- bookkeeping (under lock) --------------------------------------------------------------- */

typedef struct want {
    mfd_run_plan_table table;
    char *key;
} want;

typedef struct entry {
    int64_t id;
    pthread_mutex_t data_lock;
    rc_experiment *data; /* under data_lock */
    /* the rest under the cache's lock */
    bool ready;      /* data loaded in `epoch` */
    bool building;   /* the loader holds data_lock for a while */
    bool collecting; /* changes of its runs are kept in dirty */
    uint64_t epoch;
    dirty_set dirty;
    bool all_dirty; /* more than MAX_DIRTY, or a TRUNCATE: load again */
    want *wants;
    size_t n_wants;
    bool queued;
    int users; /* searches between entry_of and their end */
    uint64_t last_used;
    int64_t refused_until_ms;
    size_t bytes, runs;
} entry;

struct mfd_run_cache {
    mfd_db *db;
    size_t max_bytes;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* work queued, the log read, stop */
    entry **entries;
    size_t n_entries;
    uint64_t epoch; /* bumped when changes may have been missed */
    bool disabled;  /* the database lacks the log or its triggers */
    bool stopping;
    uint64_t tick;
    uint64_t hits, misses;
    /* the log position: the last reading's snapshot, whose xmax and
     * transactions in progress say which rows it did not see (under
     * poll_lock; `polled` also under lock) */
    pthread_mutex_t poll_lock;
    bool polled;
    char *xmin, *xmax, *xip; /* xid8 as text; xip "{xid,...}" */
    int64_t last_read_ms;
    _Atomic uint64_t readings_started;
    uint64_t last_good_reading; /* the number of the last reading that filed its rows */
    /* the poller's prune horizons: a reading's xmin every PRUNE_EVERY_MS */
    struct {
        int64_t at_ms;
        char xmin[24];
    } horizons[PRUNE_HORIZONS];
    size_t n_horizons;
    pthread_t poller, loader;
};

static void entry_free(entry *e) {
    rc_experiment_free(e->data);
    dirty_free(&e->dirty);
    for (size_t k = 0; k < e->n_wants; k++)
        free(e->wants[k].key);
    free(e->wants);
    pthread_mutex_destroy(&e->data_lock);
    free(e);
}

/* The entry of the experiment, made when missing; NULL when the table is
 * full of experiments in use. */
static entry *entry_of(mfd_run_cache *c, int64_t id) {
    for (size_t i = 0; i < c->n_entries; i++)
        if (c->entries[i]->id == id)
            return c->entries[i];
    if (c->n_entries == MAX_ENTRIES) /* those holding nothing go */
        for (size_t i = c->n_entries; i-- > 0;) {
            entry *e = c->entries[i];
            if (!e->users && !e->bytes && !e->ready && !e->building && !e->queued) {
                entry_free(e);
                c->entries[i] = c->entries[--c->n_entries];
            }
        }
    if (c->n_entries == MAX_ENTRIES)
        return NULL;
    entry *e = calloc(1, sizeof *e);
    entry **grown = realloc(c->entries, (c->n_entries + 1) * sizeof *grown);
    if (!e || !grown)
        abort();
    e->id = id;
    pthread_mutex_init(&e->data_lock, NULL);
    c->entries = grown;
    c->entries[c->n_entries++] = e;
    return e;
}

static void add_dirty(entry *e, const char *uuid, bool exact) {
    if (!e->collecting || e->all_dirty)
        return;
    if (!dirty_add(&e->dirty, uuid, exact)) {
        dirty_free(&e->dirty);
        e->all_dirty = true;
    }
}

/* Asks the loader for the entry with the plan's columns. */
static void add_wants(mfd_run_cache *c, entry *e, const mfd_run_plan *plan) {
    for (size_t i = 0; i < plan->n_clauses + plan->n_order; i++) {
        mfd_run_plan_table table;
        const char *key;
        if (i < plan->n_clauses) {
            table = plan->clauses[i].table;
            key = plan->clauses[i].key;
        } else {
            const mfd_run_plan_order *o = &plan->order[i - plan->n_clauses];
            if (!o->metric)
                continue;
            table = MFD_PLAN_METRIC;
            key = o->key;
        }
        bool known = false;
        for (size_t j = 0; j < e->n_wants && !known; j++)
            known = e->wants[j].table == table && strcmp(e->wants[j].key, key) == 0;
        if (known)
            continue;
        want *grown = realloc(e->wants, (e->n_wants + 1) * sizeof *grown);
        char *copy = strdup(key);
        if (!grown || !copy)
            abort();
        e->wants = grown;
        e->wants[e->n_wants++] = (want){table, copy};
    }
    if (!e->queued && mfd_now_ms() >= e->refused_until_ms) {
        e->queued = true;
        pthread_cond_broadcast(&c->changed);
    }
}

/* The entry's data no longer answers: it is loaded again when asked. Its
 * memory stays counted until it is freed (drop, or the next load). */
static void forget(entry *e) {
    e->ready = false;
    e->collecting = false;
    e->all_dirty = false;
    dirty_free(&e->dirty);
}

/* Frees the entry's data; under both its data_lock and the lock. */
static void drop(entry *e) {
    rc_experiment_free(e->data);
    e->data = NULL;
    e->bytes = e->runs = 0;
    forget(e);
}

/* Every entry is to be loaded again: changes may have been missed. */
static void new_epoch(mfd_run_cache *c) {
    c->epoch++;
    for (size_t i = 0; i < c->n_entries; i++)
        forget(c->entries[i]);
}

/* The cache off for good: the log cannot be trusted; under lock. */
static void disable(mfd_run_cache *c) {
    if (!c->disabled)
        mfd_log_warn("run-search cache: off, the database lacks mlflowd's log of changed runs or "
                     "one of its triggers, or a trigger is disabled (`mlflowd db upgrade URI` "
                     "makes them again; restart the servers then); searches read the database");
    c->disabled = true;
    new_epoch(c);
}

/* ---- reading the change log ----------------------------------------------------------------- */

typedef struct log_row {
    bool has_experiment;
    int64_t experiment_id;
    char *run_uuid;
} log_row;

/* Files the rows with the entries that keep their runs; under lock. */
static void file_rows(mfd_run_cache *c, const log_row *rows, size_t n) {
    for (size_t r = 0; r < n; r++) {
        const log_row *row = &rows[r];
        for (size_t i = 0; i < c->n_entries; i++) {
            entry *e = c->entries[i];
            if (strcmp(row->run_uuid, "*") == 0) {
                if (e->collecting) {
                    dirty_free(&e->dirty);
                    e->all_dirty = true;
                }
            } else if (!row->has_experiment || row->experiment_id == e->id) {
                add_dirty(e, row->run_uuid, row->has_experiment);
            }
        }
    }
}

/* Reads the log from the last position and files what changed; false when
 * it could not (the caller answers from SQL). A search calls it to see
 * every change committed before it began: a reading that began after the
 * caller did and succeeded does as well, and is not repeated. */
static bool read_log(mfd_run_cache *c, mfd_conn *conn) {
    uint64_t arrived = atomic_load(&c->readings_started);
    pthread_mutex_lock(&c->poll_lock);
    if (c->polled && c->last_good_reading > arrived) {
        pthread_mutex_unlock(&c->poll_lock);
        return true;
    }
    uint64_t mine = atomic_fetch_add(&c->readings_started, 1) + 1;
    /* the new position (the snapshot's xmin, xmax and transactions in
     * progress) and the rows it sees that the last position did not, in
     * one statement, so in one snapshot */
    static const char sql[] =
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, "
        "pg_snapshot_xmax(pg_current_snapshot())::text, (SELECT '{' || "
        "coalesce(string_agg(x::text, ','), '') || '}' FROM pg_snapshot_xip(pg_current_snapshot()) "
        "x), " MFD_SCHEMA_RUN_CHANGE_TRIGGERS_COUNT ", l.experiment_id, l.run_uuid FROM (SELECT 1) "
        "one LEFT JOIN (SELECT experiment_id, run_uuid FROM " MFD_RUN_CHANGES_TABLE
        " WHERE ? = 1 AND (xid >= CAST(? AS xid8) OR xid = ANY(CAST(? AS xid8[]))) LIMIT ?) l ON "
        "true";
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err) {
        pthread_mutex_unlock(&c->poll_lock);
        mfd_err_free(err);
        return false;
    }
    /* the first reading only takes the position */
    mfd_stmt_bind_int64(stmt, 1, c->polled);
    mfd_stmt_bind_text(stmt, 2, c->polled ? c->xmax : "0");
    mfd_stmt_bind_text(stmt, 3, c->polled ? c->xip : "{}");
    mfd_stmt_bind_int64(stmt, 4, MAX_LOG_ROWS + 1);
    log_row *rows = NULL;
    size_t n = 0, cap = 0;
    char *position[3] = {NULL, NULL, NULL}; /* xmin, xmax, xip */
    bool complete = true;                   /* every trigger enabled, the log there */
    while (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW) {
        for (int k = 0; k < 3; k++)
            if (!position[k] && !(position[k] = strdup(mfd_stmt_text(stmt, k))))
                abort();
        complete = mfd_schema_run_change_triggers_complete((int)mfd_stmt_int64(stmt, 3));
        if (mfd_stmt_is_null(stmt, 5))
            continue; /* no change */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            if (!(rows = realloc(rows, cap * sizeof *rows)))
                abort();
        }
        rows[n] = (log_row){!mfd_stmt_is_null(stmt, 4), mfd_stmt_int64(stmt, 4),
                            strdup(mfd_stmt_text(stmt, 5))};
        if (!rows[n++].run_uuid)
            abort();
    }
    mfd_stmt_done(stmt);
    bool ok = !err && position[0];
    if (ok && !complete) {
        pthread_mutex_lock(&c->lock);
        disable(c);
        pthread_mutex_unlock(&c->lock);
        ok = false;
    } else if (ok) {
        int64_t now = mfd_now_ms();
        pthread_mutex_lock(&c->lock);
        /* too much to file, rows deleted before they were read, or another
         * database behind the URI (a restore: transaction ids went back):
         * everything is loaded again, after this position */
        if (c->polled && (n > MAX_LOG_ROWS || now - c->last_read_ms > STALE_AFTER_MS ||
                          strtoull(position[1], NULL, 10) < strtoull(c->xmax, NULL, 10)))
            new_epoch(c);
        else
            file_rows(c, rows, n);
        c->polled = true;
        for (int k = 0; k < 3; k++) {
            char **field = k == 0 ? &c->xmin : k == 1 ? &c->xmax : &c->xip;
            free(*field);
            *field = position[k];
            position[k] = NULL;
        }
        c->last_read_ms = now;
        c->last_good_reading = mine;
        pthread_cond_broadcast(&c->changed);
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_unlock(&c->poll_lock);
    for (size_t i = 0; i < n; i++)
        free(rows[i].run_uuid);
    free(rows);
    for (int k = 0; k < 3; k++)
        free(position[k]);
    mfd_err_free(err);
    return ok;
}

/* Whether the database has the log and every trigger; the cache is off
 * (and the log says why) when not. */
static mfd_err check_triggers(mfd_run_cache *c, mfd_conn *conn) {
    int triggers = 0;
    mfd_err err = mfd_schema_count_run_change_triggers(conn, &triggers);
    if (err || mfd_schema_run_change_triggers_complete(triggers))
        return err;
    pthread_mutex_lock(&c->lock);
    disable(c);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* Sleeps up to ms unless stopping; under lock. */
static void pause_ms(mfd_run_cache *c, int ms) {
    struct timespec until = mfd_deadline_after_ms(CLOCK_REALTIME, ms);
    while (!c->stopping && pthread_cond_timedwait(&c->changed, &c->lock, &until) != ETIMEDOUT) {
    }
}

/* Notes the last reading's xmin as a horizon, and deletes the log rows of
 * transactions that finished before the newest horizon PRUNE_AFTER_MS old. */
static void prune(mfd_run_cache *c, mfd_conn *conn) {
    int64_t now = mfd_now_ms();
    char horizon[24] = "";
    pthread_mutex_lock(&c->poll_lock);
    if (c->polled && c->n_horizons < PRUNE_HORIZONS) {
        c->horizons[c->n_horizons].at_ms = now;
        snprintf(c->horizons[c->n_horizons++].xmin, sizeof c->horizons[0].xmin, "%s", c->xmin);
    }
    size_t old = 0; /* horizons at least PRUNE_AFTER_MS old: the newest of them counts */
    while (old < c->n_horizons && now - c->horizons[old].at_ms >= PRUNE_AFTER_MS)
        old++;
    if (old) {
        snprintf(horizon, sizeof horizon, "%s", c->horizons[old - 1].xmin);
        memmove(c->horizons, c->horizons + old - 1,
                (c->n_horizons - old + 1) * sizeof c->horizons[0]);
        c->n_horizons -= old - 1;
    }
    pthread_mutex_unlock(&c->poll_lock);
    if (!*horizon)
        return;
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, PRUNE_SQL, true, &stmt);
    if (!err) {
        mfd_stmt_bind_text(stmt, 1, horizon);
        err = mfd_stmt_exec_done(stmt);
    }
    mfd_err_free(err); /* another replica's delete, a role without DELETE: tried again */
}

static void *poller_main(void *arg) {
    mfd_run_cache *c = arg;
    int64_t last_prune = 0;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        pthread_mutex_unlock(&c->lock);
        mfd_conn *conn = NULL;
        mfd_err err = mfd_db_acquire(c->db, &conn);
        if (!err)
            read_log(c, conn);
        if (!err && mfd_now_ms() - last_prune >= PRUNE_EVERY_MS) {
            last_prune = mfd_now_ms();
            err = check_triggers(c, conn);
            if (!err)
                prune(c, conn);
        }
        mfd_db_release(c->db, conn);
        mfd_err_free(err);
        pthread_mutex_lock(&c->lock);
        pause_ms(c, POLL_EVERY_MS);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- reading runs --------------------------------------------------------------------------- */

static const char *const tables[] = {"latest_metrics", "params", "tags"};

/* One value of a column from a row (value at `col`, is_nan after it); a
 * NULL value (a tag's may be) is no value, as `=` and `!=` find none. */
static void set_value(rc_experiment *x, rc_column *column, long slot, mfd_stmt *stmt, int col) {
    if (mfd_stmt_is_null(stmt, col))
        rc_clear_value(x, column, slot);
    else if (column->table == MFD_PLAN_METRIC)
        rc_set_number(x, column, slot, mfd_stmt_double(stmt, col),
                      mfd_stmt_int64(stmt, col + 1) != 0);
    else
        rc_set_text(x, column, slot, mfd_stmt_text(stmt, col));
}

/* One column of the experiment, every run's value. */
static mfd_err load_column(mfd_conn *conn, rc_experiment *x, rc_column *col) {
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT t.run_uuid, t.value%s FROM %s t JOIN runs r ON r.run_uuid = t.run_uuid "
             "WHERE r.experiment_id = ? AND t.key = ?",
             col->table == MFD_PLAN_METRIC ? ", CAST(t.is_nan AS INTEGER)" : "",
             tables[col->table]);
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_int64(stmt, 1, x->id);
    mfd_stmt_bind_text(stmt, 2, col->key);
    while (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW) {
        long slot = rc_slot(x, mfd_stmt_text(stmt, 0), false);
        if (slot >= 0) /* else written after the runs were read: it comes as a change */
            set_value(x, col, slot, stmt, 1);
    }
    mfd_stmt_done(stmt);
    return err;
}

static mfd_err load_runs(mfd_conn *conn, rc_experiment *x) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "SELECT run_uuid, start_time, lifecycle_stage FROM runs WHERE experiment_id = ?",
        true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_int64(stmt, 1, x->id);
    while (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW)
        rc_set_run(x, mfd_stmt_text(stmt, 0), !mfd_stmt_is_null(stmt, 1), mfd_stmt_int64(stmt, 1),
                   mfd_stmt_is_null(stmt, 2) ? "" : mfd_stmt_text(stmt, 2));
    mfd_stmt_done(stmt);
    return err;
}

/* The changed runs read again: their rows, then their values in every
 * column held. Each statement sees at least what was committed when the
 * runs were taken from the dirty set. */
static mfd_err catch_up(mfd_conn *conn, rc_experiment *x, char **runs, size_t n) {
    if (n == 0)
        return NULL;
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "SELECT run_uuid, experiment_id, start_time, lifecycle_stage "
                                   "FROM runs WHERE run_uuid = ANY(CAST(? AS text[]))",
                                   true, &stmt);
    if (err)
        return err;
    for (size_t i = 0; i < n; i++)
        rc_mark_run(x, runs[i]);
    mfd_stmt_bind_text_array(stmt, 1, (const char *const *)runs, n);
    while (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW)
        if (!mfd_stmt_is_null(stmt, 1) && mfd_stmt_int64(stmt, 1) == x->id)
            rc_set_run(x, mfd_stmt_text(stmt, 0), !mfd_stmt_is_null(stmt, 2),
                       mfd_stmt_int64(stmt, 2),
                       mfd_stmt_is_null(stmt, 3) ? "" : mfd_stmt_text(stmt, 3));
    mfd_stmt_done(stmt);
    for (size_t i = 0; i < n && !err; i++) {
        rc_remove_if_marked(x, runs[i]); /* gone, or in another experiment */
        long slot = rc_slot(x, runs[i], false);
        if (slot >= 0)
            for (size_t k = 0; k < x->n_cols; k++)
                rc_clear_value(x, x->cols[k], slot);
    }
    /* per table, the keys held */
    for (int t = MFD_PLAN_METRIC; t <= MFD_PLAN_TAG && !err; t++) {
        const char **keys = calloc(x->n_cols + 1, sizeof *keys);
        if (!keys)
            abort();
        size_t n_keys = 0;
        for (size_t k = 0; k < x->n_cols; k++)
            if ((int)x->cols[k]->table == t)
                keys[n_keys++] = x->cols[k]->key;
        if (n_keys) {
            char sql[256];
            snprintf(sql, sizeof sql,
                     "SELECT run_uuid, key, value%s FROM %s WHERE run_uuid = ANY(CAST(? AS "
                     "text[])) AND key = ANY(CAST(? AS text[]))",
                     t == MFD_PLAN_METRIC ? ", CAST(is_nan AS INTEGER)" : "", tables[t]);
            if (!(err = mfd_conn_prepare(conn, sql, true, &stmt))) {
                mfd_stmt_bind_text_array(stmt, 1, (const char *const *)runs, n);
                mfd_stmt_bind_text_array(stmt, 2, keys, n_keys);
                while (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW) {
                    long slot = rc_slot(x, mfd_stmt_text(stmt, 0), false);
                    rc_column *col =
                        rc_column_of(x, (mfd_run_plan_table)t, mfd_stmt_text(stmt, 1), false);
                    if (slot >= 0 && col && !(x->flags[slot] & RC_GONE))
                        set_value(x, col, slot, stmt, 2);
                }
                mfd_stmt_done(stmt);
            }
        }
        free(keys);
    }
    return err;
}

/* ---- the loader ----------------------------------------------------------------------------- */

static size_t total_bytes(mfd_run_cache *c) {
    size_t total = 0;
    for (size_t i = 0; i < c->n_entries; i++)
        total += c->entries[i]->bytes;
    return total;
}

/* Drops the least recently searched experiments, other than `keep`, until
 * the cache fits its budget; under lock. */
static void evict(mfd_run_cache *c, entry *keep) {
    while (total_bytes(c) > c->max_bytes) {
        entry *victim = NULL;
        for (size_t i = 0; i < c->n_entries; i++) {
            entry *e = c->entries[i];
            if (e != keep && e->bytes && !e->building &&
                (!victim || e->last_used < victim->last_used))
                victim = e;
        }
        if (!victim || pthread_mutex_trylock(&victim->data_lock) != 0)
            return;
        drop(victim);
        pthread_mutex_unlock(&victim->data_lock);
    }
}

/* Loads the entry (when it is not ready) and the columns asked for; under
 * its data_lock, with a connection taken before it. */
static void load(mfd_run_cache *c, mfd_conn *conn, entry *e, want *wants, size_t n_wants) {
    pthread_mutex_lock(&c->lock);
    bool fresh = !e->ready || e->epoch != c->epoch;
    if (fresh) {
        /* collect from now on: a change committed after the runs are read
         * is read from the log after this */
        drop(e);
        e->collecting = true;
        e->epoch = c->epoch;
    }
    uint64_t epoch = c->epoch;
    pthread_mutex_unlock(&c->lock);

    mfd_err err = check_triggers(c, conn);
    if (fresh) {
        e->data = rc_experiment_new(e->id);
        if (!err)
            err = load_runs(conn, e->data);
    }
    for (size_t i = 0; i < n_wants && !err; i++)
        if (!rc_column_of(e->data, wants[i].table, wants[i].key, false))
            err = load_column(conn, e->data,
                              rc_column_of(e->data, wants[i].table, wants[i].key, true));

    pthread_mutex_lock(&c->lock);
    bool too_large = !err && e->data->bytes > c->max_bytes;
    bool odd = !err && e->data->odd_ids;
    if (err || too_large || odd || c->disabled || epoch != c->epoch) {
        if (err)
            mfd_log_warn("run-search cache: loading experiment %" PRId64 ": %s", e->id,
                         err->message);
        if (too_large)
            mfd_log_info("run-search cache: experiment %" PRId64 " needs %zu MB, more than "
                         "--search-cache-mb allows; its searches read the database",
                         e->id, e->data->bytes >> 20);
        if (too_large || odd) /* odd: run ids its collation may order otherwise */
            e->refused_until_ms = mfd_now_ms() + TOO_LARGE_RETRY_MS;
        drop(e);
    } else {
        e->ready = true;
        e->bytes = e->data->bytes;
        e->runs = e->data->n - e->data->n_gone;
    }
    e->building = false;
    evict(c, e);
    pthread_mutex_unlock(&c->lock);
    mfd_err_free(err);
}

static void *loader_main(void *arg) {
    mfd_run_cache *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        entry *e = NULL;
        for (size_t i = 0; i < c->n_entries && !e; i++)
            if (c->entries[i]->queued)
                e = c->entries[i];
        if (!e || !c->polled || c->disabled) {
            pthread_cond_wait(&c->changed, &c->lock);
            continue;
        }
        e->queued = false;
        want *wants = e->wants;
        size_t n_wants = e->n_wants;
        e->wants = NULL;
        e->n_wants = 0;
        e->building = true;
        e->users++;
        pthread_mutex_unlock(&c->lock);
        mfd_conn *conn = NULL;
        mfd_err err = mfd_db_acquire(c->db, &conn); /* before data_lock (see the top) */
        pthread_mutex_lock(&e->data_lock);
        if (err) {
            pthread_mutex_lock(&c->lock);
            e->building = false;
            pthread_mutex_unlock(&c->lock);
            mfd_err_free(err);
        } else {
            load(c, conn, e, wants, n_wants);
        }
        pthread_mutex_unlock(&e->data_lock);
        mfd_db_release(c->db, conn);
        for (size_t i = 0; i < n_wants; i++)
            free(wants[i].key);
        free(wants);
        pthread_mutex_lock(&c->lock);
        e->users--;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- a search ------------------------------------------------------------------------------- */

static int by_id(const void *a, const void *b) {
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The entry's changed runs read again, under its data_lock: false when its
 * data cannot answer now (the loader is asked for it). */
static bool catch_up_entry(mfd_run_cache *c, mfd_conn *conn, entry *e, const mfd_run_plan *plan) {
    pthread_mutex_lock(&c->lock);
    bool ok = e->ready && e->epoch == c->epoch && !e->all_dirty && e->data &&
              rc_has_columns(e->data, plan);
    dirty_set dirty = {0};
    if (ok) {
        dirty = e->dirty;
        memset(&e->dirty, 0, sizeof e->dirty);
    } else {
        if (e->data && (e->all_dirty || e->epoch != c->epoch))
            drop(e); /* loaded again when asked */
        add_wants(c, e, plan);
    }
    pthread_mutex_unlock(&c->lock);
    if (!ok)
        return false;
    /* runs filed under any experiment matter only if this one holds them */
    char **runs = malloc((dirty.n + 1) * sizeof *runs);
    if (!runs)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < dirty.n; i++)
        if (dirty.exact[i] || rc_slot(e->data, dirty.ids[i], false) >= 0)
            runs[n++] = dirty.ids[i];
    mfd_err err = catch_up(conn, e->data, runs, n);
    free(runs);
    dirty_free(&dirty);
    if (err) {
        mfd_log_warn("run-search cache: reading changed runs of experiment %" PRId64 ": %s", e->id,
                     err->message);
        mfd_err_free(err);
        pthread_mutex_lock(&c->lock);
        drop(e);
        pthread_mutex_unlock(&c->lock);
        return false;
    }
    return true;
}

mfd_err mfd_run_cache_page(mfd_run_cache *c, mfd_conn *conn, mfd_arena *arena,
                           const mfd_run_cache_query *q, const char ***ids, size_t *count,
                           bool *answered) {
    *answered = false;
    *ids = NULL;
    *count = 0;
    if (!c || !q->plan || q->n_experiment_ids == 0 || q->n_experiment_ids > MAX_EXPERIMENTS)
        return NULL;
    entry *es[MAX_EXPERIMENTS];
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    bool ready = c->polled && !c->disabled;
    for (size_t i = 0; i < q->n_experiment_ids && ready; i++) {
        entry *e = entry_of(c, q->experiment_ids[i]);
        if (!e) {
            ready = false;
            break;
        }
        e->users++;
        e->last_used = ++c->tick;
        es[n++] = e;
    }
    for (size_t i = 0; i < n && ready; i++)
        if (!es[i]->ready || es[i]->building || es[i]->epoch != c->epoch) {
            ready = false;
            if (!es[i]->building)
                for (size_t j = 0; j < n; j++)
                    add_wants(c, es[j], q->plan);
        }
    pthread_mutex_unlock(&c->lock);

    /* every change committed before this search began, filed */
    bool ok = ready && read_log(c, conn);
    qsort(es, n, sizeof *es, by_id); /* the order data locks are taken in */
    size_t locked = 0;
    while (ok && locked < n) {
        struct timespec until = mfd_deadline_after_ms(CLOCK_REALTIME, DATA_LOCK_WAIT_MS);
        if (pthread_mutex_timedlock(&es[locked]->data_lock, &until) != 0) {
            ok = false; /* the loader holds it, or a long catch-up */
            break;
        }
        ok = catch_up_entry(c, conn, es[locked++], q->plan);
    }
    if (ok) {
        rc_experiment *xs[MAX_EXPERIMENTS];
        for (size_t i = 0; i < n; i++)
            xs[i] = es[i]->data;
        size_t total = 0;
        *ids = rc_select(xs, n, q->plan, q->active, q->deleted, q->offset, q->limit, arena, count,
                         &total);
        *answered = true;
    }
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < locked; i++) {
        entry *e = es[i];
        if (e->ready && e->data) {
            e->bytes = e->data->bytes;
            e->runs = e->data->n - e->data->n_gone;
            /* mostly removed runs: loaded again, compact */
            if (e->data->n_gone > 1000 && e->data->n_gone > e->data->n / 2) {
                forget(e);
                add_wants(c, e, q->plan);
            }
        }
        pthread_mutex_unlock(&e->data_lock);
    }
    for (size_t i = 0; i < n; i++)
        es[i]->users--;
    if (*answered)
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- start, stop, figures ------------------------------------------------------------------- */

mfd_run_cache *mfd_run_cache_start(mfd_db *db, size_t max_bytes) {
    if (!db || mfd_db_dialect(db) != MFD_DIALECT_POSTGRES || max_bytes == 0)
        return NULL;
    mfd_run_cache *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->db = db;
    c->max_bytes = max_bytes;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->poll_lock, NULL);
    pthread_cond_init(&c->changed, NULL);
    if (pthread_create(&c->poller, NULL, poller_main, c) != 0 ||
        pthread_create(&c->loader, NULL, loader_main, c) != 0)
        abort();
    return c;
}

void mfd_run_cache_stop(mfd_run_cache *c) {
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->poller, NULL);
    pthread_join(c->loader, NULL);
    for (size_t i = 0; i < c->n_entries; i++)
        entry_free(c->entries[i]);
    free(c->entries);
    free(c->xmin);
    free(c->xmax);
    free(c->xip);
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->poll_lock);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void mfd_run_cache_get_stats(mfd_run_cache *c, mfd_run_cache_stats *out) {
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    out->hits = c->hits;
    out->misses = c->misses;
    for (size_t i = 0; i < c->n_entries; i++) {
        out->runs += c->entries[i]->runs;
        out->bytes += c->entries[i]->bytes;
        out->experiments += c->entries[i]->ready;
    }
    pthread_mutex_unlock(&c->lock);
}
