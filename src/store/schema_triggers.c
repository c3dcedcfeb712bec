/* schema_triggers.c — PostgreSQL: the triggers that tell listeners which runs
 * changed (MFD_RUN_CHANGES_CHANNEL), whoever changed them: another mlflowd
 * replica, MLflow itself, psql. The run-search cache (run_cache.h) is kept
 * right by them. MLflow ignores them; they change no table.
 *
 * One statement-level trigger per table and event over runs, latest_metrics,
 * params and tags, each with its transition tables, so a statement that
 * writes a thousand rows notifies once per run (PostgreSQL also folds equal
 * payloads of one transaction into one). The payload is
 * "<experiment_id>:<run_uuid>" (the experiment empty when the run is gone),
 * or "*" for a TRUNCATE. Notifications are sent at commit, in commit order
 * of the notify queue, and only for transactions that commit. */
#include "schema.h"
#include "schema_internal.h"

#include <stdio.h>

static const char *const watched_tables[] = {"runs", "latest_metrics", "params", "tags"};
enum { WATCHED_TABLES = 4, TRIGGERS_PER_TABLE = 4 };

#define NOTIFY "PERFORM pg_notify('" MFD_RUN_CHANGES_CHANNEL "', "

/* The function, created in the current schema and naming its runs table
 * with that schema, as mlflowd_run_experiment does (schema_indexes.c), so a
 * writer's search_path does not change what it reads. */
static const char notify_function_ddl[] =
    "DO $$BEGIN EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.mlflowd_notify_run_changes() "
    "RETURNS trigger LANGUAGE plpgsql AS %2$L$f$, current_schema(), format($b$BEGIN "
    "IF TG_OP = 'TRUNCATE' THEN " NOTIFY "'*'); "
    "ELSIF TG_TABLE_NAME = 'runs' THEN "
    "IF TG_OP <> 'INSERT' THEN " NOTIFY
    "concat(o.experiment_id, ':', o.run_uuid)) FROM mlflowd_old o; END IF; "
    "IF TG_OP <> 'DELETE' THEN " NOTIFY
    "concat(n.experiment_id, ':', n.run_uuid)) FROM mlflowd_new n; END IF; "
    "ELSE "
    "IF TG_OP <> 'INSERT' THEN " NOTIFY
    "concat(r.experiment_id, ':', c.run_uuid)) FROM (SELECT DISTINCT run_uuid FROM mlflowd_old) "
    "c LEFT JOIN %1$I.runs r ON r.run_uuid = c.run_uuid; END IF; "
    "IF TG_OP <> 'DELETE' THEN " NOTIFY
    "concat(r.experiment_id, ':', c.run_uuid)) FROM (SELECT DISTINCT run_uuid FROM mlflowd_new) "
    "c LEFT JOIN %1$I.runs r ON r.run_uuid = c.run_uuid; END IF; "
    "END IF; RETURN NULL; END$b$, current_schema())); END$$";

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
    mfd_err err = mfd_conn_prepare(
        conn,
        "SELECT count(*) FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = "
        "t.tgrelid WHERE c.relnamespace = to_regnamespace(current_schema()) AND NOT "
        "t.tgisinternal AND t.tgenabled <> 'D' AND c.relname IN ('runs', 'latest_metrics', "
        "'params', 'tags') AND starts_with(t.tgname, 'mlflowd_run_changes_')",
        false, &stmt);
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
    mfd_err err = mfd_conn_exec(conn, notify_function_ddl);
    for (size_t t = 0; t < WATCHED_TABLES && !err; t++)
        for (size_t i = 0; i < TRIGGERS_PER_TABLE && !err; i++) {
            char sql[512];
            snprintf(sql, sizeof sql,
                     "DROP TRIGGER IF EXISTS mlflowd_run_changes_%s ON %s; CREATE TRIGGER "
                     "mlflowd_run_changes_%s AFTER %s ON %s%s FOR EACH STATEMENT EXECUTE "
                     "FUNCTION mlflowd_notify_run_changes()",
                     triggers[i].suffix, watched_tables[t], triggers[i].suffix, triggers[i].event,
                     watched_tables[t], triggers[i].referencing);
            err = mfd_conn_exec(conn, sql);
        }
    return err;
}
