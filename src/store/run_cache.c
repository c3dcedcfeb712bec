/* run_cache.c — the run-search cache's threads and database work
 * (run_cache.h): the listener that files notifications, the loader that
 * reads experiments and columns, and a search's sync, catch-up and answer.
 *
 * Locks: `lock` guards the entry table, each entry's bookkeeping (dirty
 * runs, wanted columns, flags) and the tokens; each entry's `data_lock`
 * guards its data. Order: data_lock before lock, never the other way (the
 * loader only try-locks other entries' data to drop them). */
#include "run_cache.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/log.h"
#include "run_cache_data.h"
#include "schema.h"
#include "schema_internal.h"

enum {
    /* changed runs an experiment reads again before a search; beyond that
     * it is loaded again (≈ a second per 100,000 runs either way) */
    MAX_DIRTY = 20000,
    /* a search waits this long for its notification to come back, then
     * the SQL answers */
    SYNC_WAIT_MS = 2000,
    MAX_EXPERIMENTS = 20,        /* a search over more goes to SQL */
    TOO_LARGE_RETRY_MS = 600000, /* an experiment over the budget is tried again after */
    LISTEN_RETRY_MS = 2000,      /* the listener connects again after */
    LISTEN_POLL_MS = 500,        /* how often the listener looks at `stopping` */
    /* after a notification that did not come back, searches go to SQL for
     * this long rather than each wait SYNC_WAIT_MS */
    SYNC_FAILED_PAUSE_MS = 5000,
};

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
    bool collecting; /* notifications for it are kept in dirty */
    uint64_t epoch;
    char **dirty;
    size_t n_dirty, cap_dirty;
    bool all_dirty; /* more than MAX_DIRTY, or a TRUNCATE: load again */
    want *wants;
    size_t n_wants;
    bool queued;
    uint64_t last_used;
    int64_t refused_until_ms;
    size_t bytes, runs;
} entry;

typedef struct waiter {
    uint64_t token;
    bool seen;
    struct waiter *next;
} waiter;

struct mfd_run_cache {
    mfd_db *db;
    size_t max_bytes;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a token seen, work queued, the listener's state, stop */
    entry **entries;
    size_t n_entries;
    bool listening;
    uint64_t epoch; /* bumped when notifications may have been lost */
    bool disabled;  /* the database lacks the triggers */
    bool stopping;
    char tag[24]; /* "#<random>:", the prefix of this process's tokens */
    uint64_t next_token;
    waiter *waiters;
    uint64_t tick;
    int64_t sync_failed_ms; /* when a search's notification last failed to come back */
    uint64_t hits, misses;
    pthread_t listener, loader;
};

/* ---- bookkeeping (under lock) --------------------------------------------------------------- */

static entry *entry_of(mfd_run_cache *c, int64_t id) {
    for (size_t i = 0; i < c->n_entries; i++)
        if (c->entries[i]->id == id)
            return c->entries[i];
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

static void clear_dirty(entry *e) {
    for (size_t i = 0; i < e->n_dirty; i++)
        free(e->dirty[i]);
    e->n_dirty = 0;
}

static void add_dirty(entry *e, const char *uuid) {
    if (!e->collecting || e->all_dirty)
        return;
    if (e->n_dirty == MAX_DIRTY) {
        clear_dirty(e);
        e->all_dirty = true;
        return;
    }
    if (e->n_dirty == e->cap_dirty) {
        size_t cap = e->cap_dirty ? e->cap_dirty * 2 : 64;
        char **grown = realloc(e->dirty, cap * sizeof *grown);
        if (!grown)
            abort();
        e->dirty = grown;
        e->cap_dirty = cap;
    }
    char *copy = strdup(uuid);
    if (!copy)
        abort();
    e->dirty[e->n_dirty++] = copy;
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
    clear_dirty(e);
}

/* Frees the entry's data; under both its data_lock and the lock. */
static void drop(entry *e) {
    rc_experiment_free(e->data);
    e->data = NULL;
    e->bytes = e->runs = 0;
    forget(e);
}

/* ---- the listener --------------------------------------------------------------------------- */

static void on_notify(void *ctx, const char *payload) {
    mfd_run_cache *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (payload[0] == '#') {
        size_t n = strlen(c->tag);
        if (strncmp(payload, c->tag, n) == 0) {
            uint64_t token = strtoull(payload + n, NULL, 10);
            for (waiter *w = c->waiters; w; w = w->next)
                if (w->token == token)
                    w->seen = true;
            pthread_cond_broadcast(&c->changed);
        }
    } else if (strcmp(payload, "*") == 0) {
        for (size_t i = 0; i < c->n_entries; i++)
            if (c->entries[i]->collecting) {
                clear_dirty(c->entries[i]);
                c->entries[i]->all_dirty = true;
            }
    } else {
        const char *colon = strchr(payload, ':');
        if (colon) {
            char *end;
            long long id = strtoll(payload, &end, 10);
            bool known = end == colon && colon != payload;
            for (size_t i = 0; i < c->n_entries; i++)
                if (!known || c->entries[i]->id == id)
                    add_dirty(c->entries[i], colon + 1);
        }
    }
    pthread_mutex_unlock(&c->lock);
}

/* Sleeps up to ms unless stopping; under lock. */
static void pause_ms(mfd_run_cache *c, int ms) {
    struct timespec until = mfd_deadline_after_ms(CLOCK_REALTIME, ms);
    while (!c->stopping && pthread_cond_timedwait(&c->changed, &c->lock, &until) != ETIMEDOUT) {
    }
}

/* Every entry is to be loaded again: notifications may have been lost. */
static void new_epoch(mfd_run_cache *c, bool listening) {
    c->epoch++;
    c->listening = listening;
    for (size_t i = 0; i < c->n_entries; i++)
        forget(c->entries[i]);
    pthread_cond_broadcast(&c->changed);
}

static void *listener_main(void *arg) {
    mfd_run_cache *c = arg;
    mfd_db_listener *l = NULL;
    bool warned = false;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        if (!l) {
            pthread_mutex_unlock(&c->lock);
            mfd_err err = mfd_db_listen(c->db, MFD_RUN_CHANGES_CHANNEL, &l);
            pthread_mutex_lock(&c->lock);
            if (err) {
                if (!warned)
                    mfd_log_warn("run-search cache: cannot listen for changes (%s); searches "
                                 "read the database until it can",
                                 err->message);
                warned = true;
                mfd_err_free(err);
                pause_ms(c, LISTEN_RETRY_MS);
                continue;
            }
            if (warned)
                mfd_log_info("run-search cache: listening for changes again");
            warned = false;
            new_epoch(c, true);
        }
        pthread_mutex_unlock(&c->lock);
        mfd_err err = mfd_db_listener_wait(l, LISTEN_POLL_MS, on_notify, c);
        pthread_mutex_lock(&c->lock);
        if (err) {
            mfd_log_warn("run-search cache: %s; its experiments are loaded again", err->message);
            mfd_err_free(err);
            mfd_db_listener_close(l);
            l = NULL;
            new_epoch(c, false);
        }
    }
    pthread_mutex_unlock(&c->lock);
    mfd_db_listener_close(l);
    return NULL;
}

/* ---- reading from the database -------------------------------------------------------------- */

static const char *const tables[] = {"latest_metrics", "params", "tags"};

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
        if (slot < 0)
            continue; /* written after the runs were read: it comes as a change */
        if (col->table == MFD_PLAN_METRIC)
            rc_set_number(x, col, slot, mfd_stmt_double(stmt, 1), mfd_stmt_int64(stmt, 2) != 0);
        else
            rc_set_text(x, col, slot, mfd_stmt_text(stmt, 1));
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
                    if (slot < 0 || !col || (x->flags[slot] & RC_GONE))
                        continue;
                    if (t == MFD_PLAN_METRIC)
                        rc_set_number(x, col, slot, mfd_stmt_double(stmt, 2),
                                      mfd_stmt_int64(stmt, 3) != 0);
                    else
                        rc_set_text(x, col, slot, mfd_stmt_text(stmt, 2));
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

/* Loads the entry (when it is not ready) and the columns asked for. */
static void load(mfd_run_cache *c, entry *e, want *wants, size_t n_wants) {
    pthread_mutex_lock(&c->lock);
    bool fresh = !e->ready || e->epoch != c->epoch;
    if (fresh) {
        /* collect from now on: a change committed after the runs are read
         * comes as a notification after this */
        forget(e);
        e->collecting = true;
        e->epoch = c->epoch;
    }
    uint64_t epoch = c->epoch;
    pthread_mutex_unlock(&c->lock);

    mfd_conn *conn = NULL;
    mfd_err err = mfd_db_acquire(c->db, &conn);
    int triggers = 0;
    if (!err && !(err = mfd_schema_count_run_change_triggers(conn, &triggers)) &&
        !mfd_schema_run_change_triggers_complete(triggers)) {
        mfd_log_warn("run-search cache: off, the database lacks mlflowd's triggers that report "
                     "changed runs (`mlflowd db upgrade URI` adds them); searches read the "
                     "database");
        pthread_mutex_lock(&c->lock);
        c->disabled = true;
        pthread_mutex_unlock(&c->lock);
    }
    if (fresh) {
        pthread_mutex_lock(&c->lock);
        drop(e);
        e->collecting = true;
        pthread_mutex_unlock(&c->lock);
        e->data = rc_experiment_new(e->id);
        if (!err && !c->disabled)
            err = load_runs(conn, e->data);
    }
    for (size_t i = 0; i < n_wants && !err && !c->disabled; i++)
        if (!rc_column_of(e->data, wants[i].table, wants[i].key, false))
            err = load_column(conn, e->data,
                              rc_column_of(e->data, wants[i].table, wants[i].key, true));
    mfd_db_release(c->db, conn);

    pthread_mutex_lock(&c->lock);
    bool too_large = !err && e->data->bytes > c->max_bytes;
    if (err || too_large || c->disabled || epoch != c->epoch) {
        if (err)
            mfd_log_warn("run-search cache: loading experiment %" PRId64 ": %s", e->id,
                         err->message);
        if (too_large) {
            mfd_log_info("run-search cache: experiment %" PRId64 " needs %zu MB, more than "
                         "--search-cache-mb allows; its searches read the database",
                         e->id, e->data->bytes >> 20);
            e->refused_until_ms = mfd_now_ms() + TOO_LARGE_RETRY_MS;
        }
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
        if (!e || !c->listening || c->disabled) {
            pthread_cond_wait(&c->changed, &c->lock);
            continue;
        }
        e->queued = false;
        want *wants = e->wants;
        size_t n_wants = e->n_wants;
        e->wants = NULL;
        e->n_wants = 0;
        e->building = true;
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_lock(&e->data_lock);
        load(c, e, wants, n_wants);
        pthread_mutex_unlock(&e->data_lock);
        for (size_t i = 0; i < n_wants; i++)
            free(wants[i].key);
        free(wants);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- a search ------------------------------------------------------------------------------- */

/* Sends a notification through the database and waits until the listener
 * has it: every change committed before it was sent is then filed. */
static bool sync_changes(mfd_run_cache *c, mfd_conn *conn) {
    pthread_mutex_lock(&c->lock);
    waiter w = {.token = ++c->next_token, .next = c->waiters};
    c->waiters = &w;
    uint64_t epoch = c->epoch;
    pthread_mutex_unlock(&c->lock);
    /* asynchronous commit: nothing is stored, so there is nothing to flush */
    char sql[200];
    snprintf(
        sql, sizeof sql,
        "BEGIN; SET LOCAL synchronous_commit TO off; SELECT pg_notify('" MFD_RUN_CHANGES_CHANNEL
        "', '%s%" PRIu64 "'); COMMIT",
        c->tag, w.token);
    mfd_err err = mfd_conn_exec(conn, sql);
    if (err) {
        mfd_conn_rollback(conn);
        mfd_err_free(err);
    }
    struct timespec until = mfd_deadline_after_ms(CLOCK_REALTIME, SYNC_WAIT_MS);
    pthread_mutex_lock(&c->lock);
    while (!err && !w.seen && c->epoch == epoch &&
           pthread_cond_timedwait(&c->changed, &c->lock, &until) != ETIMEDOUT) {
    }
    bool ok = !err && w.seen && c->epoch == epoch;
    if (!ok && !err && c->epoch == epoch) {
        mfd_log_warn("run-search cache: a notification sent through the database did not come "
                     "back within %d ms; searches read the database for %d s",
                     SYNC_WAIT_MS, SYNC_FAILED_PAUSE_MS / 1000);
        c->sync_failed_ms = mfd_now_ms();
    }
    for (waiter **p = &c->waiters; *p; p = &(*p)->next)
        if (*p == &w) {
            *p = w.next;
            break;
        }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

static int by_id(const void *a, const void *b) {
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
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
    size_t n = q->n_experiment_ids;
    pthread_mutex_lock(&c->lock);
    bool ready =
        c->listening && !c->disabled &&
        (c->sync_failed_ms == 0 || mfd_now_ms() - c->sync_failed_ms > SYNC_FAILED_PAUSE_MS);
    for (size_t i = 0; i < n && ready; i++) {
        es[i] = entry_of(c, q->experiment_ids[i]);
        es[i]->last_used = ++c->tick;
    }
    for (size_t i = 0; i < n && ready; i++)
        if (!es[i]->ready || es[i]->building || es[i]->epoch != c->epoch) {
            ready = false;
            if (!es[i]->building)
                for (size_t j = 0; j < n; j++)
                    add_wants(c, es[j], q->plan);
        }
    if (!ready)
        c->misses++;
    pthread_mutex_unlock(&c->lock);
    if (!ready || !sync_changes(c, conn)) {
        if (ready) {
            pthread_mutex_lock(&c->lock);
            c->misses++;
            pthread_mutex_unlock(&c->lock);
        }
        return NULL;
    }

    qsort(es, n, sizeof *es, by_id); /* the order data locks are taken in */
    size_t locked = 0;
    mfd_err err = NULL;
    bool ok = true;
    for (; locked < n && ok && !err; locked++) {
        entry *e = es[locked];
        pthread_mutex_lock(&e->data_lock);
        pthread_mutex_lock(&c->lock);
        ok = e->ready && e->epoch == c->epoch && !e->all_dirty && e->data &&
             rc_has_columns(e->data, q->plan);
        char **dirty = NULL;
        size_t n_dirty = 0;
        if (ok) {
            dirty = e->dirty;
            n_dirty = e->n_dirty;
            e->dirty = NULL;
            e->n_dirty = e->cap_dirty = 0;
        } else if (e->data && (e->all_dirty || e->epoch != c->epoch)) {
            drop(e); /* loaded again when asked */
        }
        if (!ok)
            add_wants(c, e, q->plan);
        pthread_mutex_unlock(&c->lock);
        if (ok && (err = catch_up(conn, e->data, dirty, n_dirty))) {
            mfd_log_warn("run-search cache: reading changed runs of experiment %" PRId64 ": %s",
                         e->id, err->message);
            pthread_mutex_lock(&c->lock);
            drop(e);
            pthread_mutex_unlock(&c->lock);
        }
        for (size_t i = 0; i < n_dirty; i++)
            free(dirty[i]);
        free(dirty);
    }
    if (ok && !err) {
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
    if (*answered)
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->lock);
    mfd_err_free(err); /* the SQL answers instead */
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
    pthread_cond_init(&c->changed, NULL);
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint64_t)mfd_now_ms() ^ ((uint64_t)getpid() << 32);
    snprintf(c->tag, sizeof c->tag, "#%016" PRIx64 ":", r);
    if (pthread_create(&c->listener, NULL, listener_main, c) != 0 ||
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
    pthread_join(c->listener, NULL);
    pthread_join(c->loader, NULL);
    for (size_t i = 0; i < c->n_entries; i++) {
        entry *e = c->entries[i];
        rc_experiment_free(e->data);
        clear_dirty(e);
        free(e->dirty);
        for (size_t k = 0; k < e->n_wants; k++)
            free(e->wants[k].key);
        free(e->wants);
        pthread_mutex_destroy(&e->data_lock);
        free(e);
    }
    free(c->entries);
    pthread_cond_destroy(&c->changed);
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
