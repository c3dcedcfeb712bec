/* runs.h — runs with their params and tags (schema.md §2 `runs`, `params`,
 * `tags`): create, read, update, lifecycle, log-batch and the page loading of
 * run search. Every write function runs in its own write transaction and
 * checks that the run exists (RESOURCE_DOES_NOT_EXIST) and, for writes to
 * its data, that it is active (INVALID_PARAMETER_VALUE). */
#ifndef MFD_STORE_RUNS_H
#define MFD_STORE_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "key_value.h"
#include "core/sql_params.h"
#include "db.h"
#include "inputs.h"
#include "metrics.h"

#define MFD_RUN_NAME_TAG "mlflow.runName"

typedef struct mfd_run_info {
    const char *run_id;
    const char *run_name; /* runs.name, else the mlflow.runName tag; NULL if neither */
    const char *experiment_id;
    const char *user_id; /* NULL when NULL in the row */
    const char *status;  /* RUNNING, SCHEDULED, FINISHED, FAILED, KILLED */
    bool has_start_time, has_end_time;
    int64_t start_time, end_time;
    const char *artifact_uri;
    const char *lifecycle_stage; /* active / deleted */
} mfd_run_info;

typedef struct mfd_run {
    mfd_run_info info;
    mfd_key_value *params;
    size_t n_params;
    mfd_key_value *tags;
    size_t n_tags;
    mfd_metric *metrics; /* latest value per key */
    size_t n_metrics;
    mfd_run_io io;
} mfd_run;

typedef struct mfd_run_create {
    const char *experiment_id; /* decimal text */
    const char *user_id;       /* stored verbatim; NULL stored as "" */
    const char *run_name;      /* NULL or "" = none */
    int64_t start_time;
    const mfd_key_value *tags; /* stored as given (a repeated key: last value wins) */
    size_t n_tags;
    /* --default-artifact-root: the root of an experiment that has no artifact
     * location (one written by another tool): <root>/<experiment id>, as a new
     * experiment would get, rather than "/<run id>/artifacts". */
    const char *default_artifact_root;
} mfd_run_create;

/* Creates a RUNNING run (rest-api.md §5.1): the experiment must exist (404)
 * and be active (400); the name is run_name, else the mlflow.runName tag,
 * else generated; out gets info and tags (no params/metrics/inputs). */
mfd_err mfd_runs_create(mfd_conn *conn, mfd_arena *arena, const mfd_run_create *in, mfd_run *out);

/* The whole run: info, params, tags, latest metrics, inputs (with model
 * inputs) and outputs. Deleted runs too. */
mfd_err mfd_runs_get(mfd_conn *conn, mfd_arena *arena, const char *run_id, mfd_run *out);

/* runs/update: status (NULL = keep), end time, name (NULL/"" = keep; also
 * upserts the mlflow.runName tag). Returns the updated info. */
mfd_err mfd_runs_update(mfd_conn *conn, mfd_arena *arena, const char *run_id, const char *status,
                        bool has_end_time, int64_t end_time, const char *run_name,
                        mfd_run_info *out);

/* delete: lifecycle 'deleted', deleted_time now; restore: 'active', NULL.
 * No state precondition. */
mfd_err mfd_runs_set_deleted(mfd_conn *conn, const char *run_id, bool deleted);

/* Upsert; the mlflow.runName tag also renames the run (an empty name is
 * ignored, as upstream does). */
mfd_err mfd_runs_set_tag(mfd_conn *conn, const char *run_id, const char *key, const char *value);
mfd_err mfd_runs_delete_tag(mfd_conn *conn, const char *run_id, const char *key);

/* Params are immutable: the same value again is a no-op, another value is
 * INVALID_PARAMETER_VALUE. */
mfd_err mfd_runs_log_param(mfd_conn *conn, mfd_arena *arena, const char *run_id, const char *key,
                           const char *value);

/* runs/log-batch after validation, in one transaction: params, then metrics
 * (history, latest, logged-model rows), then tags. */
mfd_err mfd_runs_log_batch(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                           const mfd_metric_log *metrics, size_t n_metrics,
                           const mfd_key_value *params, size_t n_params, const mfd_key_value *tags,
                           size_t n_tags);

/* runs/log-model: appends `entry_json` (a JSON object) to the JSON array in
 * tag mlflow.log-model.history, creating it. */
mfd_err mfd_runs_append_logged_model(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                                     const char *entry_json);

typedef struct mfd_run_search {
    const int64_t *experiment_ids;
    size_t n_experiment_ids;
    bool active, deleted; /* lifecycle stages to include */
    /* From the search compiler: the FROM clause (NULL: `runs r`), a
     * condition and an ORDER BY list over `runs r`, with their bound values
     * (the FROM clause's first, n_join_params of them). */
    const char *from, *where, *order_by;
    const mfd_sql_params *params;
    size_t n_join_params;
    int64_t offset, limit;
    /* NULL, or the same search in a form that is exact when it fills the
     * page (mfd_search_sql.window): tried first (its own window before it),
     * this one when it falls short. */
    const struct mfd_run_search *window;
    /* SQLite: start from the experiments' runs through mlflowd_runs_experiment
     * (mfd_search_scope.by_experiment); otherwise the runs table is read
     * whole, which a large experiment is faster read by */
    bool by_experiment;
    /* Or the page's run ids in order, picked by the run-search cache
     * (run_cache.h): their rows are read, and the query above is not run. */
    const char *const *page_ids;
    size_t n_page_ids;
} mfd_run_search;

/* PostgreSQL's work_mem for a search with a window, set for its transaction
 * only: the planner then hashes the window's candidates (up to 200,000 rows,
 * estimated at 12.8 MB) instead of comparing each entry it walks with every
 * one of them. */
#define MFD_RUNS_WINDOW_WORK_MEM "32MB"

/* SQLite: at least as many as the runs there are (the largest rowid), read
 * from the table's B-tree without a scan. */
mfd_err mfd_runs_sqlite_bound(mfd_conn *conn, int64_t *bound);

/* How many rows `select` (a SELECT over its bound `params`) gives, counting
 * no further than `at_most`. */
mfd_err mfd_runs_count_rows(mfd_conn *conn, mfd_arena *arena, const char *select,
                            const mfd_sql_params *params, int64_t at_most, int64_t *count);

/* How many runs (any lifecycle stage) the experiments have, counting no
 * further than `at_most`. */
mfd_err mfd_runs_count_in_experiments(mfd_conn *conn, mfd_arena *arena,
                                      const int64_t *experiment_ids, size_t n, int64_t at_most,
                                      int64_t *count);

/* Runs of a page at a time for which the search loads data. */
enum { MFD_RUNS_SEARCH_PART = 1000 };

/* Called with each part of a search's page, in order: its runs and their
 * data, which live only until it returns. */
typedef void (*mfd_runs_part_fn)(void *ctx, const mfd_run *runs, size_t n);

/* One page of runs, each with params, tags, latest metrics, dataset inputs
 * and model outputs (no model inputs): the page's rows, then their data in
 * a few set-based queries per part of MFD_RUNS_SEARCH_PART runs, each part
 * handed to `part` and freed after it, so a page of 50,000 runs never holds
 * all their data at once. *count is the page's size. */
mfd_err mfd_runs_search(mfd_conn *conn, mfd_arena *arena, const mfd_run_search *in,
                        mfd_runs_part_fn part, void *ctx, size_t *count);

/* The run's row alone (no params, tags or metrics; run_name straight from
 * runs.name); RESOURCE_DOES_NOT_EXIST when there is none. */
mfd_err mfd_runs_read_info(mfd_conn *conn, mfd_arena *arena, const char *run_id, mfd_run_info *out);

/* For the other stores, inside their write transaction: the run must exist
 * (404) and be active (400); returns its experiment id. */
mfd_err mfd_runs_check_active(mfd_conn *conn, const char *run_id, int64_t *experiment_id);

/* A random `<adjective>-<animal>-<n>` name of at most 20 characters. */
const char *mfd_runs_random_name(mfd_arena *arena);

/* The run ids of a page sorted once (byte order), with each id's position
 * in the page, for all the lookups of mfd_runs_for_each_row. */
typedef struct mfd_run_id_slot {
    const char *id;
    size_t index;
} mfd_run_id_slot;
typedef struct mfd_run_ids {
    mfd_run_id_slot *sorted;
    size_t n;
} mfd_run_ids;
mfd_run_ids mfd_run_ids_sort(mfd_arena *arena, const char *const *run_ids, size_t n);

/* Calls row(ctx, index, stmt) for every row of
 *   <sql_head> IN (?, ...)<sql_tail>                  (SQLite)
 *   <sql_head> = ANY(CAST(? AS text[]))<sql_tail>     (PostgreSQL)
 * where sql_head ends with the run id column, the list holds run ids (on
 * SQLite in chunks, padded to a power of two with a repeated id so that the
 * statement is prepared once) and the first selected column is the run id;
 * index is the position of that id in the page. sql_tail must end with an
 * ORDER BY whose first key is that run id column. */
typedef void (*mfd_run_row_fn)(void *ctx, size_t index, mfd_stmt *stmt);
mfd_err mfd_runs_for_each_row(mfd_conn *conn, mfd_arena *arena, const mfd_run_ids *ids,
                              const char *sql_head, const char *sql_tail, mfd_run_row_fn row,
                              void *ctx);

#endif
