/* runs.c — the runs store, writing side: run rows, params and tags,
 * log-batch and the legacy logged-model history.
 *
 * Invariants kept here:
 * - runs.name and the tag mlflow.runName change together (create, update,
 *   set-tag, log-batch), so either can be read as the run's name;
 * - a run's params, tags and metrics are only written while it is active,
 *   inside the same write transaction that checked it;
 * - params never change once written (same value again = no-op).
 * Reading runs is in runs_read.c. */
#include "experiments.h"
#include "runs.h"
#include "schema.h"
#include "write_order.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "artifact_locations.h"
#include "core/escape.h"
#include "core/ids.h"
#include "core/json_text.h"

#define LOGGED_MODELS_TAG "mlflow.log-model.history"

/* ---- small helpers -------------------------------------------------------------------------- */

static mfd_err run_not_found(const char *run_id) {
    return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found", run_id);
}

/* The text `sql` (two text parameters, `first` and `second`) selects, copied
 * into the arena ("" for SQL NULL); *value NULL when no row matched. */
static mfd_err select_text(mfd_conn *conn, mfd_arena *arena, const char *sql, const char *first,
                           const char *second, const char **value) {
    *value = NULL;
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, first);
    mfd_stmt_bind_text(stmt, 2, second);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW)
        *value = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 0) ? mfd_stmt_text(stmt, 0) : "");
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

static mfd_err select_tag(mfd_conn *conn, mfd_arena *arena, const char *run_id, const char *key,
                          const char **value) {
    return select_text(conn, arena, "SELECT value FROM tags WHERE run_uuid = ? AND key = ?", run_id,
                       key, value);
}

mfd_err mfd_runs_check_active(mfd_conn *conn, const char *run_id, int64_t *experiment_id) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "SELECT lifecycle_stage, experiment_id FROM runs WHERE run_uuid = ?", true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, run_id);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        const char *stage = mfd_stmt_text(stmt, 0);
        if (!stage || strcmp(stage, "active") != 0)
            err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                              "The run %s must be in the 'active' state. Current state is %s.",
                              run_id, stage ? stage : "None");
        if (experiment_id)
            *experiment_id = mfd_stmt_int64(stmt, 1);
    } else if (s == MFD_STEP_DONE) {
        err = run_not_found(run_id);
    }
    mfd_stmt_done(stmt);
    return err;
}

static mfd_err upsert_tag(mfd_conn *conn, const char *run_id, const char *key, const char *value) {
    mfd_stmt *stmt;
    mfd_err err =
        mfd_conn_prepare(conn,
                         "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?) "
                         "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value",
                         true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, key);
    mfd_stmt_bind_text(stmt, 2, value ? value : "");
    mfd_stmt_bind_text(stmt, 3, run_id);
    err = mfd_stmt_exec_done(stmt);
    return err;
}

static mfd_err rename_run(mfd_conn *conn, const char *run_id, const char *name) {
    mfd_stmt *stmt;
    mfd_err err =
        mfd_conn_prepare(conn, "UPDATE runs SET name = ? WHERE run_uuid = ?", true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, name);
    mfd_stmt_bind_text(stmt, 2, run_id);
    err = mfd_stmt_exec_done(stmt);
    return err ? err : upsert_tag(conn, run_id, MFD_RUN_NAME_TAG, name);
}

/* ---- create --------------------------------------------------------------------------------- */

static mfd_err insert_run(mfd_conn *conn, const mfd_run_info *info, int64_t experiment_id) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn,
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
        "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, "
        "experiment_id, deleted_time) VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', "
        "'active', ?, ?, NULL)",
        true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, info->run_id);
    mfd_stmt_bind_text(stmt, 2, info->run_name);
    mfd_stmt_bind_text(stmt, 3, info->user_id);
    mfd_stmt_bind_int64(stmt, 4, info->start_time);
    mfd_stmt_bind_text(stmt, 5, info->artifact_uri);
    mfd_stmt_bind_int64(stmt, 6, experiment_id);
    err = mfd_stmt_exec_done(stmt);
    return err;
}

/* The tags as stored: one per key (the last value of a repeated key wins, at
 * the position of its first occurrence). */
static size_t dedupe_tags(mfd_arena *arena, const mfd_key_value *tags, size_t n,
                          mfd_key_value **out) {
    mfd_key_value *unique = mfd_arena_calloc(arena, n + 1, sizeof *unique);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < count && strcmp(unique[j].key, tags[i].key) != 0)
            j++;
        unique[j].key = tags[i].key;
        unique[j].value = tags[i].value ? tags[i].value : "";
        if (j == count)
            count++;
    }
    *out = unique;
    return count;
}

mfd_err mfd_runs_create(mfd_conn *conn, mfd_arena *arena, const mfd_run_create *in, mfd_run *out) {
    memset(out, 0, sizeof *out);
    int64_t experiment_id;
    if (!mfd_experiment_id_parse(mfd_conn_dialect(conn), in->experiment_id, &experiment_id))
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "No Experiment with id=%s exists",
                           in->experiment_id);
    const char *tag_name = NULL;
    for (size_t i = 0; i < in->n_tags && !tag_name; i++)
        if (strcmp(in->tags[i].key, MFD_RUN_NAME_TAG) == 0 && in->tags[i].value &&
            *in->tags[i].value)
            tag_name = in->tags[i].value;
    const char *name = in->run_name && *in->run_name ? in->run_name : NULL;
    if (name && tag_name && strcmp(name, tag_name) != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Both 'run_name' argument and 'mlflow.runName' tag are specified, but "
                           "with different values (run_name='%s', mlflow.runName='%s').",
                           name, tag_name);
    if (!name)
        name = tag_name ? tag_name : mfd_runs_random_name(arena);

    size_t n_tags = dedupe_tags(arena, in->tags, in->n_tags, &out->tags);
    if (!tag_name) { /* the final name becomes the tag (dedupe_tags left a free slot) */
        size_t j = 0;
        while (j < n_tags && strcmp(out->tags[j].key, MFD_RUN_NAME_TAG) != 0)
            j++;
        out->tags[j] = (mfd_key_value){MFD_RUN_NAME_TAG, name};
        if (j == n_tags)
            n_tags++;
    }
    out->n_tags = n_tags;

    char run_id[33];
    mfd_uuid_hex(run_id);
    mfd_run_info *info = &out->info;
    info->run_id = mfd_arena_strdup(arena, run_id);
    info->run_name = name;
    info->experiment_id = mfd_arena_sprintf(arena, "%lld", (long long)experiment_id);
    info->user_id = in->user_id ? in->user_id : "";
    info->status = "RUNNING";
    info->has_start_time = true;
    info->start_time = in->start_time;
    info->lifecycle_stage = "active";

    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    /* PostgreSQL: the experiment's row is share-locked to the commit. A
     * delete of the experiment marks its runs deleted with one UPDATE, which
     * cannot see a run inserted but not committed: without the lock such a
     * run stayed active in a deleted experiment. With it the delete waits
     * for this run (and marks it), or this create waits for the delete (and
     * is refused). SQLite runs one writer at a time. */
    bool postgres = mfd_conn_dialect(conn) == MFD_DIALECT_POSTGRES;
    mfd_stmt *stmt;
    if ((err = mfd_conn_prepare(conn,
                                postgres ? "SELECT artifact_location, lifecycle_stage FROM "
                                           "experiments WHERE experiment_id = ? FOR SHARE"
                                         : "SELECT artifact_location, lifecycle_stage FROM "
                                           "experiments WHERE experiment_id = ?",
                                true, &stmt)))
        return mfd_conn_finish(conn, err);
    mfd_stmt_bind_int64(stmt, 1, experiment_id);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        const char *stage = mfd_stmt_text(stmt, 1);
        if (!stage || strcmp(stage, "active") != 0)
            err = mfd_err_new(
                MFD_INVALID_PARAMETER_VALUE,
                "The experiment %lld must be in the 'active' state. Current state is %s.",
                (long long)experiment_id, stage ? stage : "None");
        const char *root = mfd_stmt_text(stmt, 0);
        if ((!root || !*root) && in->default_artifact_root) {
            char *joined =
                mfd_artifact_path_join(in->default_artifact_root,
                                       mfd_arena_sprintf(arena, "%lld", (long long)experiment_id));
            root = mfd_arena_strdup(arena, joined);
            free(joined);
        }
        info->artifact_uri = mfd_artifact_location_append(
            arena, root ? root : "", mfd_arena_sprintf(arena, "%s/artifacts", run_id));
    } else if (s == MFD_STEP_DONE) {
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "No Experiment with id=%s exists",
                          in->experiment_id);
    }
    mfd_stmt_done(stmt);
    if (!err)
        err = insert_run(conn, info, experiment_id);
    mfd_sql_params rows = {0};
    for (size_t i = 0; i < out->n_tags; i++) {
        mfd_sql_params_text(&rows, arena, out->tags[i].key);
        mfd_sql_params_text(&rows, arena, out->tags[i].value);
        mfd_sql_params_text(&rows, arena, run_id);
    }
    if (!err) /* a new run's tags, one per key: one statement */
        err = mfd_conn_insert_rows(conn, "tags", "key, value, run_uuid", 3, &rows);
    return mfd_conn_finish(conn, err);
}

/* ---- updates -------------------------------------------------------------------------------- */

mfd_err mfd_runs_update(mfd_conn *conn, mfd_arena *arena, const char *run_id, const char *status,
                        bool has_end_time, int64_t end_time, const char *run_name,
                        mfd_run_info *out) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    if ((err = mfd_runs_check_active(conn, run_id, NULL)))
        return mfd_conn_finish(conn, err);
    mfd_stmt *stmt;
    err = mfd_conn_prepare(conn,
                           "UPDATE runs SET status = COALESCE(?, status), end_time = CASE WHEN ? "
                           "= 1 THEN ? ELSE end_time END WHERE run_uuid = ?",
                           true, &stmt);
    if (!err) {
        mfd_stmt_bind_text(stmt, 1, status);
        mfd_stmt_bind_int64(stmt, 2, has_end_time ? 1 : 0);
        mfd_stmt_bind_int64(stmt, 3, end_time);
        mfd_stmt_bind_text(stmt, 4, run_id);
        err = mfd_stmt_exec_done(stmt);
    }
    if (!err && run_name && *run_name)
        err = rename_run(conn, run_id, run_name);
    if (!err)
        err = mfd_runs_read_info(conn, arena, run_id, out);
    if (!err && !(out->run_name && *out->run_name))
        err = select_tag(conn, arena, run_id, MFD_RUN_NAME_TAG, &out->run_name);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_runs_set_deleted(mfd_conn *conn, const char *run_id, bool deleted) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_stmt *stmt;
    if ((err = mfd_conn_prepare(conn,
                                "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? "
                                "WHERE run_uuid = ?",
                                true, &stmt)))
        return mfd_conn_finish(conn, err);
    mfd_stmt_bind_text(stmt, 1, deleted ? "deleted" : "active");
    if (deleted)
        mfd_stmt_bind_int64(stmt, 2, mfd_now_ms());
    else
        mfd_stmt_bind_null(stmt, 2);
    mfd_stmt_bind_text(stmt, 3, run_id);
    err = mfd_stmt_exec_done(stmt);
    if (!err && mfd_conn_changes(conn) == 0)
        err = run_not_found(run_id);
    return mfd_conn_finish(conn, err);
}

/* A tag write inside a transaction that already checked the run. */
static mfd_err write_tag(mfd_conn *conn, const char *run_id, const char *key, const char *value) {
    if (strcmp(key, MFD_RUN_NAME_TAG) == 0)
        return value && *value ? rename_run(conn, run_id, value) : NULL;
    return upsert_tag(conn, run_id, key, value);
}

mfd_err mfd_runs_set_tag(mfd_conn *conn, const char *run_id, const char *key, const char *value) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    err = mfd_runs_check_active(conn, run_id, NULL);
    if (!err)
        err = write_tag(conn, run_id, key, value);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_runs_delete_tag(mfd_conn *conn, const char *run_id, const char *key) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    if ((err = mfd_runs_check_active(conn, run_id, NULL)))
        return mfd_conn_finish(conn, err);
    mfd_stmt *stmt;
    if ((err = mfd_conn_prepare(conn, "DELETE FROM tags WHERE run_uuid = ? AND key = ?", true,
                                &stmt)))
        return mfd_conn_finish(conn, err);
    mfd_stmt_bind_text(stmt, 1, run_id);
    mfd_stmt_bind_text(stmt, 2, key);
    err = mfd_stmt_exec_done(stmt);
    if (!err && mfd_conn_changes(conn) == 0)
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "No tag with name: %s in run with id %s",
                          key, run_id);
    return mfd_conn_finish(conn, err);
}

/* Inserts a param unless the key exists; *existing gets the stored value
 * when it does (NULL when the insert happened). */
static mfd_err insert_param(mfd_conn *conn, mfd_arena *arena, const char *run_id, const char *key,
                            const char *value, const char **existing) {
    *existing = NULL;
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?) "
                                   "ON CONFLICT (key, run_uuid) DO NOTHING",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, key);
    mfd_stmt_bind_text(stmt, 2, value ? value : "");
    mfd_stmt_bind_text(stmt, 3, run_id);
    err = mfd_stmt_exec_done(stmt);
    if (err || mfd_conn_changes(conn) > 0)
        return err;
    return select_text(conn, arena, "SELECT value FROM params WHERE key = ? AND run_uuid = ?", key,
                       run_id, existing);
}

mfd_err mfd_runs_log_param(mfd_conn *conn, mfd_arena *arena, const char *run_id, const char *key,
                           const char *value) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    const char *existing = NULL;
    err = mfd_runs_check_active(conn, run_id, NULL);
    if (!err)
        err = insert_param(conn, arena, run_id, key, value, &existing);
    if (!err && existing && strcmp(existing, value ? value : "") != 0)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                          "Changing param values is not allowed. Param with key='%s' was already "
                          "logged with value='%s' for run ID='%s'. Attempted logging new value "
                          "'%s'.",
                          key, existing, run_id, value ? value : "");
    return mfd_conn_finish(conn, err);
}

static int compare_tag_keys(const void *a, const void *b) {
    return mfd_write_order_text(((const mfd_key_value *)a)->key, ((const mfd_key_value *)b)->key);
}

/* The order in which to write `n` params or tags: by key, then as sent (a
 * tag sent twice keeps its last value); two batches writing the same keys in
 * different orders deadlocked on PostgreSQL (write_order.h). */
static size_t *key_order(mfd_arena *arena, const mfd_key_value *items, size_t n) {
    return mfd_write_order(arena, items, n, sizeof *items, compare_tag_keys);
}

/* The batch's params in one multi-row INSERT that skips stored keys, in key
 * order; then the stored values of all its keys in one read: existing[i] is
 * the value stored under params[i].key (the one sent when it was new). */
static mfd_err insert_params(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                             const mfd_key_value *params, size_t n, const char **existing) {
    if (n == 0)
        return NULL;
    size_t *order = key_order(arena, params, n);
    mfd_sql_params rows = {0};
    for (size_t k = 0; k < n; k++) {
        const mfd_key_value *p = &params[order[k]];
        mfd_sql_params_text(&rows, arena, p->key);
        mfd_sql_params_text(&rows, arena, p->value ? p->value : "");
        mfd_sql_params_text(&rows, arena, run_id);
    }
    mfd_err err = mfd_conn_upsert_rows(conn, "params", "key, value, run_uuid", 3, &rows,
                                       "ON CONFLICT (key, run_uuid) DO NOTHING");
    if (err)
        return err;
    mfd_stmt *stmt;
    size_t slots = mfd_sql_in_list_slots(n, SIZE_MAX);
    const char *sql = mfd_sql_in_list(
        arena, "SELECT key, value FROM params WHERE run_uuid = ? AND key IN (", slots, ")");
    if ((err = mfd_conn_prepare(conn, sql, true, &stmt)))
        return err;
    mfd_stmt_bind_text(stmt, 1, run_id);
    for (size_t i = 0; i < slots; i++)
        mfd_stmt_bind_text(stmt, (int)i + 2, params[i < n ? i : n - 1].key);
    while (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW) {
        const char *key = mfd_stmt_text(stmt, 0);
        for (size_t i = 0; i < n; i++) /* the API refuses a key twice */
            if (!strcmp(params[i].key, key)) {
                existing[i] = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 1));
                break;
            }
    }
    mfd_stmt_done(stmt);
    return err;
}

/* The batch's tags: the run's name as set-tag sets it, each in the order
 * sent; the others upserted in one multi-row statement in key order, a key
 * sent twice with its last value (one statement may not update a row twice). */
static mfd_err write_tags(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                          const mfd_key_value *tags, size_t n) {
    mfd_err err = NULL;
    for (size_t i = 0; i < n && !err; i++)
        if (!strcmp(tags[i].key, MFD_RUN_NAME_TAG))
            err = write_tag(conn, run_id, tags[i].key, tags[i].value);
    size_t *order = key_order(arena, tags, n);
    mfd_sql_params rows = {0};
    for (size_t k = 0; k < n && !err; k++) {
        const mfd_key_value *t = &tags[order[k]];
        if (!strcmp(t->key, MFD_RUN_NAME_TAG) ||
            (k + 1 < n && !strcmp(tags[order[k + 1]].key, t->key)))
            continue; /* a later one of the same key follows in `order` */
        mfd_sql_params_text(&rows, arena, t->key);
        mfd_sql_params_text(&rows, arena, t->value ? t->value : "");
        mfd_sql_params_text(&rows, arena, run_id);
    }
    if (!err && rows.count)
        err = mfd_conn_upsert_rows(conn, "tags", "key, value, run_uuid", 3, &rows,
                                   "ON CONFLICT (key, run_uuid) DO UPDATE SET value = "
                                   "excluded.value");
    return err;
}

mfd_err mfd_runs_log_batch(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                           const mfd_metric_log *metrics, size_t n_metrics,
                           const mfd_key_value *params, size_t n_params, const mfd_key_value *tags,
                           size_t n_tags) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t experiment_id = 0;
    if ((err = mfd_runs_check_active(conn, run_id, &experiment_id)))
        return mfd_conn_finish(conn, err);
    /* The conflicts are told in the order sent. */
    const char **existing = mfd_arena_calloc(arena, n_params ? n_params : 1, sizeof *existing);
    err = insert_params(conn, arena, run_id, params, n_params, existing);
    mfd_strbuf conflicts;
    mfd_strbuf_init(&conflicts, arena);
    for (size_t i = 0; i < n_params && !err; i++) {
        const char *value = params[i].value ? params[i].value : "";
        if (existing[i] && strcmp(existing[i], value) != 0) {
            mfd_strbuf_append(&conflicts, conflicts.len ? ", {'key': " : "{'key': ");
            mfd_python_repr_append(&conflicts, params[i].key);
            mfd_strbuf_append(&conflicts, ", 'old_value': ");
            mfd_python_repr_append(&conflicts, existing[i]);
            mfd_strbuf_append(&conflicts, ", 'new_value': ");
            mfd_python_repr_append(&conflicts, value);
            mfd_strbuf_append(&conflicts, "}");
        }
    }
    if (!err && conflicts.len)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                          "Changing param values is not allowed. Params were already logged='[%s]' "
                          "for run ID='%s'.",
                          conflicts.data, run_id);
    if (!err)
        err = mfd_metrics_write(conn, arena, run_id, experiment_id, metrics, n_metrics);
    if (!err)
        err = write_tags(conn, arena, run_id, tags, n_tags);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_runs_append_logged_model(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                                     const char *entry_json) {
    json_t *entry = json_loads(entry_json, JSON_DECODE_ANY, NULL);
    if (!entry)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Malformed model info.");
    mfd_err err = mfd_conn_begin(conn, true);
    if (err) {
        json_decref(entry);
        return err;
    }
    const char *previous = NULL;
    /* PostgreSQL: the history is read, then written whole; two calls at once
     * each appended to what the other had not written yet, and one entry was
     * lost. The run's row lock makes them take turns (NO KEY: other writes of
     * the run's params, tags and metrics are not held up). */
    if (mfd_conn_dialect(conn) == MFD_DIALECT_POSTGRES) {
        mfd_stmt *lock;
        if (!(err = mfd_conn_prepare(
                  conn, "SELECT 1 FROM runs WHERE run_uuid = ? FOR NO KEY UPDATE", true, &lock))) {
            mfd_stmt_bind_text(lock, 1, run_id);
            err = mfd_stmt_exec(lock);
            mfd_stmt_done(lock);
        }
    }
    if (!err)
        err = mfd_runs_check_active(conn, run_id, NULL);
    if (!err)
        err = select_tag(conn, arena, run_id, LOGGED_MODELS_TAG, &previous);
    if (!err) {
        json_t *history = previous ? json_loads(previous, 0, NULL) : NULL;
        if (!json_is_array(history)) { /* absent (or unreadable): start the list */
            json_decref(history);
            history = json_array();
        }
        json_array_append(history, entry);
        /* Python's json.dumps layout: ", " and ": " separators, ASCII only */
        char *text = mfd_json_dumps_python(history, JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
        json_decref(history);
        err = text ? upsert_tag(conn, run_id, LOGGED_MODELS_TAG, text)
                   : mfd_err_new(MFD_INTERNAL_ERROR, "cannot encode the logged model history");
        free(text);
    }
    json_decref(entry);
    return mfd_conn_finish(conn, err);
}
