/* schema_internal.h — what schema.c and schema_indexes.c share. */
#ifndef MFD_STORE_SCHEMA_INTERNAL_H
#define MFD_STORE_SCHEMA_INTERNAL_H

#include <stdbool.h>

#include "db.h"

bool mfd_schema_is_pg(mfd_conn *conn);
/* found[i]: whether the database has the table (or, with `indexes`, the
 * index) names[i]; one catalog query (PostgreSQL: the current schema, as
 * mfd_conn_table_exists looks). */
mfd_err mfd_schema_objects_found(mfd_conn *conn, bool indexes, const char *const *names, size_t n,
                                 bool *found);

/* *missing: how many of mlflowd's search indexes the database lacks;
 * *experiment_indexes: whether the per-experiment ones are all there. */
mfd_err mfd_schema_count_missing_search_indexes(mfd_conn *conn, int *missing,
                                                bool *experiment_indexes);
/* Creates the missing ones (and, on PostgreSQL, their function and statistics). */
mfd_err mfd_schema_create_search_indexes(mfd_conn *conn);
/* PostgreSQL: whether the per-experiment indexes hold every entry under its
 * experiment; with reindex, rebuilds them when not (`db upgrade`). */
mfd_err mfd_schema_check_unfiled_entries(mfd_db *db, mfd_conn *conn, bool reindex,
                                         bool *per_experiment);

/* PostgreSQL: the log of changed runs and its triggers (schema_triggers.c).
 * count: how many of the triggers the current schema has, enabled, with the
 * log table (0 without it; the subquery below, for a statement of its own);
 * complete: whether that is all of them. create (re)creates the table, the
 * function and the triggers. */
#define MFD_SCHEMA_RUN_CHANGE_TRIGGERS_COUNT                                                       \
    "(SELECT count(*) FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = "         \
    "t.tgrelid WHERE c.relnamespace = to_regnamespace(current_schema()) AND NOT t.tgisinternal "   \
    "AND t.tgenabled IN ('O', 'A') AND c.relname IN ('runs', 'latest_metrics', 'params', 'tags') " \
    "AND "                                                                                         \
    "starts_with(t.tgname, 'mlflowd_run_changes_') AND to_regclass('mlflowd_run_changes') IS NOT " \
    "NULL)"
mfd_err mfd_schema_count_run_change_triggers(mfd_conn *conn, int *count);
bool mfd_schema_run_change_triggers_complete(int count);
mfd_err mfd_schema_create_run_change_triggers(mfd_conn *conn);

#endif
