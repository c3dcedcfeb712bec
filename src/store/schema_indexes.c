/* schema_indexes.c — mlflowd's own search indexes beside MLflow's schema:
 * which exist, creating them, and the PostgreSQL entries filed under no
 * experiment (schema_internal.h). MLflow ignores them; they change no table. */
#include "schema_internal.h"

#include "core/log.h"
#include "search/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mlflowd's own indexes, beside MLflow's (MLflow ignores them; no table
 * changes): a metric's values in order, which metric filters range over and
 * the PostgreSQL search's window walks, and per string table the values `=`
 * and LIKE filters look up. Without them a filter on a key reads that key's
 * rows in every experiment of the database, one table lookup each.
 *
 * PostgreSQL also gets an experiment's runs newest first, the order of a run
 * search without order_by (the UI's table: without it PostgreSQL sorts every
 * run of the experiment); its string indexes hold only short values (a
 * longer value cannot be a B-tree entry: the partial index leaves it out,
 * and the query states when its value is short, see
 * MFD_SEARCH_SHORT_VALUE_CHARS). SQLite has no such limit; its runs index
 * serves only experiments that are a small part of the database (below). */
#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)
#define SHORT_CHARS   STRINGIFY(MFD_SEARCH_SHORT_VALUE_CHARS)
#define SHORT_VALUES  "WHERE length(value) <= " SHORT_CHARS
typedef struct {
    const char *name, *ddl;
} search_index;
static const search_index pg_search_indexes[] = {
    {"mlflowd_runs_experiment_start_time",
     "CREATE INDEX IF NOT EXISTS mlflowd_runs_experiment_start_time ON runs (experiment_id, "
     "start_time DESC NULLS LAST, run_uuid)"},
    {"mlflowd_latest_metrics_key_value",
     "CREATE INDEX IF NOT EXISTS mlflowd_latest_metrics_key_value ON latest_metrics (key, value) "
     "INCLUDE (run_uuid, is_nan)"},
    {"mlflowd_params_key_short_value", "CREATE INDEX IF NOT EXISTS mlflowd_params_key_short_value "
                                       "ON params (key, value, run_uuid) " SHORT_VALUES},
    {"mlflowd_tags_key_short_value", "CREATE INDEX IF NOT EXISTS mlflowd_tags_key_short_value ON "
                                     "tags (key, value, run_uuid) " SHORT_VALUES},
    /* A model version's tags, whose primary key starts with the tag's key: the
     * foreign-key checks of a version's delete or a model's rename read every
     * version tag of the registry without it (100,000 tags: 170 -> 14 ms). */
    {"mlflowd_model_version_tags_version",
     "CREATE INDEX IF NOT EXISTS mlflowd_model_version_tags_version ON model_version_tags "
     "(name, version)"},
    /* The same per experiment (EXPERIMENT_OF_RUN, below), so that a search
     * in one experiment reads that experiment's entries only, however many
     * other experiments log the same keys. Kept last: the ones before serve
     * searches over several experiments. PostgreSQL keeps statistics of an
     * index's expressions, but not of a partial index's: the statistics
     * objects give the planner the experiment's share of params and tags, and
     * that nearly every value is short, without which it expects a few rows
     * from such a range and looks the other clauses up row by row (over an
     * experiment of 100,000 runs, 80 ms instead of 10). */
    {"mlflowd_latest_metrics_experiment_key_value",
     "CREATE INDEX IF NOT EXISTS mlflowd_latest_metrics_experiment_key_value ON latest_metrics "
     "(" MFD_SEARCH_EXPERIMENT_OF_RUN "(run_uuid), key, value) INCLUDE (run_uuid, is_nan)"},
    {"mlflowd_params_experiment_key_short_value",
     "CREATE INDEX IF NOT EXISTS mlflowd_params_experiment_key_short_value ON params "
     "(" MFD_SEARCH_EXPERIMENT_OF_RUN "(run_uuid), key, value, run_uuid) " SHORT_VALUES
     "; CREATE STATISTICS IF NOT EXISTS mlflowd_params_experiment_short ON "
     "(" MFD_SEARCH_EXPERIMENT_OF_RUN "(run_uuid)), (length(value)) FROM params"},
    {"mlflowd_tags_experiment_key_short_value",
     "CREATE INDEX IF NOT EXISTS mlflowd_tags_experiment_key_short_value ON tags "
     "(" MFD_SEARCH_EXPERIMENT_OF_RUN "(run_uuid), key, value, run_uuid) " SHORT_VALUES
     "; CREATE STATISTICS IF NOT EXISTS mlflowd_tags_experiment_short ON "
     "(" MFD_SEARCH_EXPERIMENT_OF_RUN "(run_uuid)), (length(value)) FROM tags"},
};
enum { PG_EXPERIMENT_INDEXES = 3 }; /* the last entries above */

/* A run's experiment, for the per-experiment indexes above: an index cannot
 * reach the runs table, so the function does, and is declared IMMUTABLE
 * (PostgreSQL lets only such functions into an index). That holds because a
 * run never changes experiment (neither MLflow nor mlflowd has a way to move
 * one) and an entry of params, tags or latest_metrics is written only after
 * its run (their foreign keys): by a later statement, whose snapshot sees the
 * run. A run moved by hand in SQL leaves its entries under the old
 * experiment until `REINDEX`. The runs table is named with its schema so the
 * function reads the same table whatever search_path a reader (pg_restore)
 * has; COST 1000 tells the planner that calling it per row is dear, so it
 * reads these indexes rather than test rows with it. In PL/pgSQL, whose
 * query plan a connection keeps, rather than SQL, planned again for each
 * statement that writes: run creation on PostgreSQL (two tags a run) ≈ 24 %
 * slower than without these indexes in SQL, ≈ 10 % in PL/pgSQL. */
static const char pg_experiment_of_run_ddl[] =
    "DO $$BEGIN EXECUTE format('CREATE OR REPLACE FUNCTION %1$I." MFD_SEARCH_EXPERIMENT_OF_RUN
    "(character varying) RETURNS integer LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST "
    "1000 AS %2$L', current_schema(), format('BEGIN RETURN (SELECT experiment_id FROM %I.runs "
    "WHERE run_uuid = $1); END', current_schema())); END$$";
static const search_index sqlite_search_indexes[] = {
    {"mlflowd_latest_metrics_key_value",
     "CREATE INDEX IF NOT EXISTS mlflowd_latest_metrics_key_value ON latest_metrics (key, value, "
     "run_uuid, is_nan)"},
    {"mlflowd_params_key_value",
     "CREATE INDEX IF NOT EXISTS mlflowd_params_key_value ON params (key, value, run_uuid)"},
    {"mlflowd_tags_key_value",
     "CREATE INDEX IF NOT EXISTS mlflowd_tags_key_value ON tags (key, value, run_uuid)"},
    /* a model version's tags, as on PostgreSQL (above) */
    {"mlflowd_model_version_tags_version",
     "CREATE INDEX IF NOT EXISTS mlflowd_model_version_tags_version ON model_version_tags "
     "(name, version)"},
    /* An experiment's runs, which a search in experiments that are a small
     * part of the database starts from (mfd_search_scope.by_experiment);
     * other searches keep reading the whole table, twice as fast as walking a
     * large experiment through the index (a table lookup per run). Last: the
     * per-experiment index. */
    {"mlflowd_runs_experiment",
     "CREATE INDEX IF NOT EXISTS mlflowd_runs_experiment ON runs (experiment_id)"},
};
enum { SQLITE_EXPERIMENT_INDEXES = 1 }; /* the last entries above */

static size_t search_indexes(mfd_conn *conn, const search_index **out) {
    if (mfd_schema_is_pg(conn)) {
        *out = pg_search_indexes;
        return sizeof pg_search_indexes / sizeof pg_search_indexes[0];
    }
    *out = sqlite_search_indexes;
    return sizeof sqlite_search_indexes / sizeof sqlite_search_indexes[0];
}

/* How many of these indexes the database lacks. */
static mfd_err count_missing(mfd_conn *conn, const search_index *indexes, size_t n, int *missing) {
    const char **names = calloc(n ? n : 1, sizeof *names);
    bool *found = calloc(n ? n : 1, sizeof *found);
    if (!names || !found)
        abort();
    for (size_t i = 0; i < n; i++)
        names[i] = indexes[i].name;
    *missing = 0;
    mfd_err err = mfd_schema_objects_found(conn, true, names, n, found);
    for (size_t i = 0; !err && i < n; i++)
        *missing += !found[i];
    free(names);
    free(found);
    return err;
}

/* How many of mlflowd's indexes the database lacks, and whether it has the
 * per-experiment ones. */
mfd_err mfd_schema_count_missing_search_indexes(mfd_conn *conn, int *missing,
                                                bool *experiment_indexes) {
    const search_index *indexes;
    size_t n = search_indexes(conn, &indexes);
    size_t per_experiment =
        mfd_schema_is_pg(conn) ? PG_EXPERIMENT_INDEXES : SQLITE_EXPERIMENT_INDEXES;
    int missing_per_experiment = 1;
    mfd_err err = count_missing(conn, indexes, n, missing);
    if (!err)
        err = count_missing(conn, indexes + n - per_experiment, per_experiment,
                            &missing_per_experiment);

    *experiment_indexes = !err && missing_per_experiment == 0;
    return err;
}

mfd_err mfd_schema_create_search_indexes(mfd_conn *conn) {
    const search_index *indexes;
    size_t n = search_indexes(conn, &indexes);
    mfd_err err = mfd_schema_is_pg(conn) ? mfd_conn_exec(conn, pg_experiment_of_run_ddl) : NULL;
    for (size_t i = 0; i < n && !err; i++)
        err = mfd_conn_exec(conn, indexes[i].ddl);
    /* the new statistics at once, not at autovacuum's next pass (a sample:
     * about a second per table, whatever its size) */
    if (!err && mfd_schema_is_pg(conn))
        err = mfd_conn_exec(conn, "ANALYZE latest_metrics, params, tags");
    return err;
}

/* PostgreSQL: entries that the per-experiment indexes hold under no
 * experiment, because mlflowd_run_experiment could not see their run when
 * they were written: by the statement that wrote the run (one INSERT with
 * data-modifying WITH parts), or before it (a data-only pg_restore loads
 * tables in name order, latest_metrics and params before runs). A search in
 * one experiment would miss them. `db upgrade` rebuilds the indexes (the
 * runs are there by then); a server falls back on the indexes over all
 * experiments and says so. Each check is one index probe. */
mfd_err mfd_schema_check_unfiled_entries(mfd_db *db, mfd_conn *conn, bool reindex,
                                         bool *per_experiment) {
    static const char *const tables[] = {"latest_metrics", "params", "tags"};
    static const char *const short_only[] = {"", " AND length(x.value) <= " SHORT_CHARS,
                                             " AND length(x.value) <= " SHORT_CHARS};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[256];
        /* a run without an experiment (MLflow's schema allows it) is filed
         * rightly under none */
        snprintf(sql, sizeof sql,
                 "SELECT 1 FROM %s x JOIN runs r ON r.run_uuid = x.run_uuid "
                 "WHERE " MFD_SEARCH_EXPERIMENT_OF_RUN
                 "(x.run_uuid) IS NULL%s AND r.experiment_id IS "
                 "NOT NULL LIMIT 1",
                 tables[i], short_only[i]);
        mfd_stmt *stmt;
        mfd_err err = mfd_conn_prepare(conn, sql, false, &stmt);
        if (err)
            return err;
        bool unfiled = mfd_stmt_step(stmt, &err) == MFD_STEP_ROW;
        mfd_stmt_done(stmt);
        if (err)
            return err;
        if (!unfiled)
            continue;
        if (!reindex) {
            mfd_log_warn("%s: some %s entries were written before their run could be seen (a "
                         "data-only restore?), so mlflowd's per-experiment indexes miss them: "
                         "searches use the indexes over all experiments until `mlflowd db "
                         "upgrade URI` rebuilds them",
                         mfd_db_uri(db), tables[i]);
            *per_experiment = false;
            return NULL;
        }
        mfd_log_info("rebuilding the indexes of %s on %s: some entries were written before "
                     "their run could be seen",
                     tables[i], mfd_db_uri(db));
        snprintf(sql, sizeof sql, "REINDEX TABLE %s", tables[i]);
        if ((err = mfd_conn_exec(conn, sql)))
            return err;
    }
    return NULL;
}
