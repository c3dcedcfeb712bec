/* schema_triggers.c — PostgreSQL: the log of changed runs that keeps the
 * run-search cache right (run_cache.h), whoever changed them: another mlflowd
 * replica, MLflow itself, psql. MLflow ignores the table and the triggers;
 * they change none of its tables.
 *
 * mlflowd_run_changes holds one row per run and statement that wrote runs,
 * latest_metrics, params or tags, with the writing transaction's id: a
 * reader that remembers its last snapshot finds exactly the rows it could
 * not see then (run_cache.c). Rows of runs carry the run's experiment; rows
 * of the other tables none (a run moved by a concurrent transaction would be
 * filed under the old one), nor does a TRUNCATE's ("*"). The servers delete
 * the rows of transactions finished ten minutes before.
 *
 * One statement-level trigger per table and event, with its transition
 * tables, so a statement that writes a thousand rows of one run logs one
 * row. Unlike NOTIFY, which serializes every committing writer on one lock,
 * inserting rows lets commits proceed together. The function is SECURITY
 * DEFINER (its owner's rights, a fixed search_path): a role with only row
 * privileges on MLflow's tables can still write them. */
#include "schema.h"
#include "schema_internal.h"

#include <stdio.h>

static const char *const watched_tables[] = {"runs", "latest_metrics", "params", "tags"};
enum { WATCHED_TABLES = 4, TRIGGERS_PER_TABLE = 4 };

#define LOG_TABLE MFD_RUN_CHANGES_TABLE
#define INSERT    "INSERT INTO " LOG_TABLE " (experiment_id, run_uuid) "

static const char log_table_ddl[] =
    "CREATE TABLE IF NOT EXISTS " LOG_TABLE " (id BIGSERIAL PRIMARY KEY, xid XID8 NOT NULL DEFAULT "
    "pg_current_xact_id(), experiment_id INTEGER, run_uuid VARCHAR(32) NOT NULL); CREATE INDEX "
    "IF NOT EXISTS " LOG_TABLE "_xid ON " LOG_TABLE " (xid)";

/* The function, created in the current schema with that schema as its
 * search_path, as mlflowd_run_experiment reads its own (schema_indexes.c). */
static const char log_function_ddl[] =
    "DO $$BEGIN EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.mlflowd_log_run_changes() "
    "RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = %1$I, pg_temp AS "
    "%2$L$f$, current_schema(), $b$BEGIN "
    "IF TG_OP = 'TRUNCATE' THEN " INSERT "VALUES (NULL, '*'); "
    "ELSIF TG_TABLE_NAME = 'runs' THEN "
    "IF TG_OP = 'INSERT' THEN " INSERT "SELECT experiment_id, run_uuid FROM mlflowd_new; "
    "ELSIF TG_OP = 'DELETE' THEN " INSERT "SELECT experiment_id, run_uuid FROM mlflowd_old; "
    "ELSE " INSERT "SELECT experiment_id, run_uuid FROM mlflowd_old UNION SELECT experiment_id, "
    "run_uuid FROM mlflowd_new; END IF; "
    "ELSIF TG_OP = 'INSERT' THEN " INSERT
    "SELECT DISTINCT NULL::integer, run_uuid FROM mlflowd_new; "
    "ELSIF TG_OP = 'DELETE' THEN " INSERT
    "SELECT DISTINCT NULL::integer, run_uuid FROM mlflowd_old; "
    "ELSE " INSERT "SELECT NULL::integer, run_uuid FROM mlflowd_old UNION SELECT NULL::integer, "
    "run_uuid FROM mlflowd_new; END IF; RETURN NULL; END$b$); END$$";

static const struct {
    const char *suffix, *event, *referencing;
} triggers[TRIGGERS_PER_TABLE] = {
    {"insert", "INSERT", " REFERENCING NEW TABLE AS mlflowd_new"},
    {"update", "UPDATE", " REFERENCING OLD TABLE AS mlflowd_old NEW TABLE AS mlflowd_new"},
    {"delete", "DELETE", " REFERENCING OLD TABLE AS mlflowd_old"},
    {"truncate", "TRUNCATE", ""},
};

mfd_err mfd_schema_count_run_change_triggers(mfd_conn *conn, int *count) {
    *count = 0;
    mfd_stmt *stmt;
    mfd_err err =
        mfd_conn_prepare(conn, "SELECT " MFD_SCHEMA_RUN_CHANGE_TRIGGERS_COUNT, false, &stmt);
    if (err)
        return err;
    if (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW)
        *count = (int)mfd_stmt_int64(stmt, 0);
    mfd_stmt_done(stmt);
    return err;
}

bool mfd_schema_run_change_triggers_complete(int count) {
    return count == WATCHED_TABLES * TRIGGERS_PER_TABLE;
}

mfd_err mfd_schema_create_run_change_triggers(mfd_conn *conn) {
    mfd_err err = mfd_conn_exec(conn, log_table_ddl);
    if (!err)
        err = mfd_conn_exec(conn, log_function_ddl);
    for (size_t t = 0; t < WATCHED_TABLES && !err; t++)
        for (size_t i = 0; i < TRIGGERS_PER_TABLE && !err; i++) {
            char sql[512];
            snprintf(sql, sizeof sql,
                     "DROP TRIGGER IF EXISTS mlflowd_run_changes_%s ON %s; CREATE TRIGGER "
                     "mlflowd_run_changes_%s AFTER %s ON %s%s FOR EACH STATEMENT EXECUTE "
                     "FUNCTION mlflowd_log_run_changes()",
                     triggers[i].suffix, watched_tables[t], triggers[i].suffix, triggers[i].event,
                     watched_tables[t], triggers[i].referencing);
            err = mfd_conn_exec(conn, sql);
        }
    return err;
}
