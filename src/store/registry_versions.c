/* registry_versions.c — model versions: create, read, update, stage
 * transitions, soft delete, download URI, search and version tags
 * (schema.md §3). Searches are in registry_search.c.
 *
 * Invariants kept here:
 * - version numbers are 1 + the highest number the model ever had: the MAX
 *   runs over deleted versions too, inside the write transaction that inserts;
 * - "live" means current_stage <> 'Deleted_Internal'; every read and write
 *   except numbering and the model-wide rename/delete ignores other rows;
 * - a soft delete redacts the row as upstream does and drops the aliases that
 *   pointed at it, keeping its tags;
 * - the logged model's tag mlflow.modelVersions is a JSON array of
 *   {"name", "version"} written in the same transaction as the version. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/json_text.h"
#include "registry_internal.h"

static const char MODEL_VERSIONS_TAG[] = "mlflow.modelVersions";

static mfd_err version_not_found(const char *name, int64_t version) {
    return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                       "Model Version (name=%s, version=%lld) not found", name, (long long)version);
}

/* Versions are INTEGER in MLflow's schema: a number beyond 32 bits names no
 * version (and PostgreSQL would refuse it as an `integer` parameter). */
static bool version_fits(int64_t version) {
    return version >= INT32_MIN && version <= INT32_MAX;
}

mfd_err mfd_registry_require_version(mfd_conn *conn, const char *name, int64_t version) {
    if (!version_fits(version))
        return version_not_found(name, version);
    mfd_stmt *stmt;
    mfd_err err = mfd_registry_lock_model(conn, name);
    if (!err)
        err = mfd_conn_prepare(conn,
                               "SELECT 1 FROM model_versions WHERE name = ? AND version = ? AND "
                               "current_stage <> ?",
                               true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, name);
    mfd_stmt_bind_int64(stmt, 2, version);
    mfd_stmt_bind_text(stmt, 3, MFD_STAGE_DELETED_INTERNAL);
    mfd_step s = mfd_stmt_step(stmt, &err);
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    return s == MFD_STEP_ROW ? NULL : version_not_found(name, version);
}

mfd_err mfd_registry_load_version(mfd_conn *conn, mfd_arena *arena, const char *name,
                                  int64_t version, bool with_aliases, mfd_model_version *out) {
    if (!version_fits(version))
        return version_not_found(name, version);
    mfd_stmt *stmt;
    static const char SQL[] = "WITH RECURSIVE " MFD_TAG_KEYS_CTE(
        "model_version_tags") " SELECT " MFD_MV_COLUMNS
                              ", t.key, t.value FROM model_versions mv CROSS JOIN k LEFT JOIN "
                              "model_version_tags t "
                              "ON t.key = k.key AND t.name = mv.name AND t.version = mv.version "
                              "WHERE mv.name = ? AND mv.version = ? AND mv.current_stage <> ? "
                              "AND (t.key IS NOT NULL OR k.key IS NULL) ORDER BY t.key";
    mfd_err err = mfd_conn_prepare(conn, SQL, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, name);
    mfd_stmt_bind_int64(stmt, 2, version);
    mfd_stmt_bind_text(stmt, 3, MFD_STAGE_DELETED_INTERNAL);
    bool found = false;
    size_t cap = 0;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        if (!found)
            mfd_registry_read_version(arena, stmt, out);
        found = true;
        mfd_registry_add_tag(arena, stmt, MFD_MV_N_COLUMNS, &out->tags, &out->n_tags, &cap);
    }
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    if (!found)
        return version_not_found(name, version);
    return with_aliases ? mfd_registry_fill_aliases(conn, arena, out) : NULL;
}

static mfd_err upsert_version_tag(mfd_conn *conn, const char *name, int64_t version,
                                  const char *key, const char *value) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "INSERT INTO model_version_tags (key, value, name, version) "
                                   "VALUES (?, ?, ?, ?) ON CONFLICT (key, name, version) "
                                   "DO UPDATE SET value = excluded.value",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, key);
    mfd_stmt_bind_text(stmt, 2, value ? value : "");
    mfd_stmt_bind_text(stmt, 3, name);
    mfd_stmt_bind_int64(stmt, 4, version);
    err = mfd_stmt_exec_done(stmt);
    return err;
}

/* ---- creation -------------------------------------------------------------------------------- */

typedef struct logged_model_row {
    bool found;
    int64_t experiment_id;
    const char *artifact_location, *source_run_id;
} logged_model_row;

/* `lock` (PostgreSQL): the row stays locked to the end of the transaction,
 * so read-modify-writes of its tags by concurrent transactions take turns
 * (SQLite runs one writer at a time). */
static mfd_err read_logged_model(mfd_conn *conn, mfd_arena *arena, const char *model_id, bool lock,
                                 logged_model_row *row) {
    mfd_stmt *stmt;
    memset(row, 0, sizeof *row);
    bool for_update = lock && mfd_conn_dialect(conn) == MFD_DIALECT_POSTGRES;
    mfd_err err =
        mfd_conn_prepare(conn,
                         for_update ? "SELECT experiment_id, artifact_location, source_run_id "
                                      "FROM logged_models WHERE model_id = ? "
                                      "AND (lifecycle_stage IS NULL OR lifecycle_stage <> ?) "
                                      "FOR UPDATE"
                                    : "SELECT experiment_id, artifact_location, source_run_id "
                                      "FROM logged_models WHERE model_id = ? "
                                      "AND (lifecycle_stage IS NULL OR lifecycle_stage <> ?)",
                         true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, model_id);
    mfd_stmt_bind_text(stmt, 2, "deleted");
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        row->found = true;
        row->experiment_id = mfd_stmt_int64(stmt, 0);
        row->artifact_location = mfd_registry_copy_text(arena, stmt, 1);
        row->source_run_id = mfd_registry_copy_text(arena, stmt, 2);
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

static mfd_err logged_model_not_found(const char *model_id) {
    return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Logged model with ID '%s' not found.",
                       model_id);
}

static mfd_err download_uri_in_txn(mfd_conn *conn, mfd_arena *arena, const char *name,
                                   int64_t version, const char **uri) {
    if (!version_fits(version))
        return version_not_found(name, version);
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "SELECT storage_location, source FROM model_versions "
                                   "WHERE name = ? AND version = ? AND current_stage <> ?",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, name);
    mfd_stmt_bind_int64(stmt, 2, version);
    mfd_stmt_bind_text(stmt, 3, MFD_STAGE_DELETED_INTERNAL);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        const char *storage = mfd_stmt_text(stmt, 0);
        const char *source = mfd_stmt_text(stmt, 1);
        *uri = mfd_arena_strdup(arena, storage && *storage ? storage : source ? source : "");
    }
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    return s == MFD_STEP_ROW ? NULL : version_not_found(name, version);
}

/* Where the version's files are, and the run_id a models:/ source implies. */
static mfd_err resolve_storage(mfd_conn *conn, mfd_arena *arena, const mfd_model_version_new *in,
                               const char **storage, const char **run_id) {
    *storage = in->source;
    mfd_err err = NULL;
    if (in->source_kind == MFD_SOURCE_LOGGED_MODEL) {
        logged_model_row row;
        if ((err = read_logged_model(conn, arena, in->source_model_id, false, &row)))
            return err;
        if (!row.found)
            return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                               "Unable to fetch model from model URI source artifact location "
                               "'%s'.Error: Logged model with ID '%s' not found.",
                               in->source, in->source_model_id);
        *storage = row.artifact_location;
        if (!*run_id || !**run_id)
            *run_id = row.source_run_id;
    } else if (in->source_kind == MFD_SOURCE_MODEL_VERSION) {
        err = download_uri_in_txn(conn, arena, in->source_name, in->source_version, storage);
        if (err && err->code == MFD_RESOURCE_DOES_NOT_EXIST) {
            mfd_err wrapped = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                                          "Unable to fetch model from model URI source artifact "
                                          "location '%s'.Error: %s",
                                          in->source, err->message);
            mfd_err_free(err);
            err = wrapped;
        }
    }
    return err;
}

/* Appends {"name", "version"} to the logged model's mlflow.modelVersions
 * (a value that is not a JSON array is replaced), skipping duplicates. */
static mfd_err record_on_logged_model(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                                      const char *name, int64_t version) {
    logged_model_row row;
    /* Locked: two versions registered at once from one logged model (in
     * different registered models) would each append to the list read
     * before the other's, and one entry would be lost. */
    mfd_err err = read_logged_model(conn, arena, model_id, true, &row);
    if (err)
        return err;
    if (!row.found)
        return logged_model_not_found(model_id);
    mfd_stmt *stmt;
    json_t *list = NULL;
    if ((err = mfd_conn_prepare(conn,
                                "SELECT tag_value FROM logged_model_tags "
                                "WHERE model_id = ? AND tag_key = ?",
                                true, &stmt)))
        return err;
    mfd_stmt_bind_text(stmt, 1, model_id);
    mfd_stmt_bind_text(stmt, 2, MODEL_VERSIONS_TAG);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW && mfd_stmt_text(stmt, 0))
        list = json_loads(mfd_stmt_text(stmt, 0), 0, NULL);
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR) {
        json_decref(list);
        return err;
    }
    if (!json_is_array(list)) {
        json_decref(list);
        list = json_array();
    }
    bool present = false;
    for (size_t i = 0; i < json_array_size(list) && !present; i++) {
        json_t *e = json_array_get(list, i);
        json_t *v = json_object_get(e, "version");
        const char *n = json_string_value(json_object_get(e, "name"));
        present = n && strcmp(n, name) == 0 &&
                  ((json_is_integer(v) && json_integer_value(v) == version) ||
                   (json_is_string(v) && atoll(json_string_value(v)) == version));
    }
    if (!present)
        json_array_append_new(
            list, json_pack("{s:s, s:I}", "name", name, "version", (json_int_t)version));
    char *text =
        mfd_json_dumps_python(list, JSON_ENSURE_ASCII); /* Python's json.dumps separators */
    json_decref(list);
    if (!text)
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot encode %s", MODEL_VERSIONS_TAG);
    if (!(err = mfd_conn_prepare(conn,
                                 "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, "
                                 "tag_value) VALUES (?, ?, ?, ?) ON CONFLICT (model_id, tag_key) "
                                 "DO UPDATE SET tag_value = excluded.tag_value",
                                 true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, model_id);
        mfd_stmt_bind_int64(stmt, 2, row.experiment_id);
        mfd_stmt_bind_text(stmt, 3, MODEL_VERSIONS_TAG);
        mfd_stmt_bind_text(stmt, 4, text);
        err = mfd_stmt_exec_done(stmt);
    }
    free(text);
    return err;
}

static mfd_err next_version(mfd_conn *conn, const char *name, int64_t *version) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?", true,
        &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, name);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW)
        *version = mfd_stmt_int64(stmt, 0);
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

static mfd_err insert_version(mfd_conn *conn, const mfd_model_version_new *in, int64_t version,
                              int64_t now, const char *storage, const char *run_id) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "INSERT INTO model_versions (name, version, creation_time, "
                                   "last_updated_time, description, user_id, current_stage, "
                                   "source, run_id, status, status_message, run_link, "
                                   "storage_location) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, "
                                   "NULL, ?, ?)",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, in->name);
    mfd_stmt_bind_int64(stmt, 2, version);
    mfd_stmt_bind_int64(stmt, 3, now);
    mfd_stmt_bind_int64(stmt, 4, now);
    mfd_stmt_bind_text(stmt, 5, in->description);
    mfd_stmt_bind_text(stmt, 6, "None");
    mfd_stmt_bind_text(stmt, 7, in->source);
    mfd_stmt_bind_text(stmt, 8, run_id);
    mfd_stmt_bind_text(stmt, 9, "READY");
    mfd_stmt_bind_text(stmt, 10, in->run_link);
    mfd_stmt_bind_text(stmt, 11, storage);
    err = mfd_stmt_exec_done(stmt);
    return err;
}

static mfd_err create_in_txn(mfd_conn *conn, mfd_arena *arena, const mfd_model_version_new *in,
                             mfd_model_version *out) {
    const char *storage, *run_id = in->run_id;
    bool has_model_id = in->model_id && *in->model_id;
    mfd_err err = resolve_storage(conn, arena, in, &storage, &run_id);
    if (err)
        return err;
    if (has_model_id && (!run_id || !*run_id)) {
        logged_model_row row;
        if ((err = read_logged_model(conn, arena, in->model_id, false, &row)))
            return err;
        if (!row.found)
            return logged_model_not_found(in->model_id);
        run_id = row.source_run_id;
    }
    int64_t version = 0, now = mfd_now_ms();
    if ((err = mfd_registry_lock_model(conn, in->name)) ||
        (err = mfd_registry_require_model(conn, in->name)) ||
        (err = mfd_registry_touch_model(conn, in->name, now)) ||
        (err = next_version(conn, in->name, &version)) ||
        (err = insert_version(conn, in, version, now, storage, run_id)))
        return err;
    for (size_t i = 0; i < in->n_tags; i++)
        if ((err = upsert_version_tag(conn, in->name, version, in->tags[i].key, in->tags[i].value)))
            return err;
    if (has_model_id && !in->is_prompt &&
        (err = record_on_logged_model(conn, arena, in->model_id, in->name, version)))
        return err;
    return mfd_registry_load_version(conn, arena, in->name, version, true, out);
}

mfd_err mfd_registry_create_version(mfd_conn *conn, mfd_arena *arena,
                                    const mfd_model_version_new *in, mfd_model_version *out) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    return mfd_conn_finish(conn, create_in_txn(conn, arena, in, out));
}

/* ---- reading and changing one version -------------------------------------------------------- */

mfd_err mfd_registry_get_version(mfd_conn *conn, mfd_arena *arena, const char *name,
                                 int64_t version, mfd_model_version *out) {
    mfd_err err = mfd_conn_begin(conn, false);
    if (err)
        return err;
    err = mfd_registry_load_version(conn, arena, name, version, true, out);
    mfd_conn_rollback(conn);
    return err;
}

mfd_err mfd_registry_update_version(mfd_conn *conn, mfd_arena *arena, const char *name,
                                    int64_t version, const char *description,
                                    mfd_model_version *out) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_stmt *stmt;
    err = mfd_registry_require_version(conn, name, version);
    if (!err && !(err = mfd_conn_prepare(conn,
                                         "UPDATE model_versions SET description = ?, "
                                         "last_updated_time = ? WHERE name = ? AND version = ?",
                                         true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, description);
        mfd_stmt_bind_int64(stmt, 2, mfd_now_ms());
        mfd_stmt_bind_text(stmt, 3, name);
        mfd_stmt_bind_int64(stmt, 4, version);
        err = mfd_stmt_exec_done(stmt);
    }
    if (!err)
        err = mfd_registry_load_version(conn, arena, name, version, true, out);
    return mfd_conn_finish(conn, err);
}

static mfd_err set_stage(mfd_conn *conn, const char *sql, const char *stage, int64_t now,
                         const char *name, int64_t version, const char *current) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, stage);
    mfd_stmt_bind_int64(stmt, 2, now);
    mfd_stmt_bind_text(stmt, 3, name);
    mfd_stmt_bind_int64(stmt, 4, version);
    if (current)
        mfd_stmt_bind_text(stmt, 5, current);
    err = mfd_stmt_exec_done(stmt);
    return err;
}

mfd_err mfd_registry_transition_stage(mfd_conn *conn, mfd_arena *arena, const char *name,
                                      int64_t version, const char *stage, bool archive_existing,
                                      mfd_model_version *out) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t now = mfd_now_ms();
    err = mfd_registry_require_version(conn, name, version);
    if (!err && archive_existing)
        err = set_stage(conn,
                        "UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
                        "WHERE name = ? AND version <> ? AND current_stage = ?",
                        "Archived", now, name, version, stage);
    if (!err)
        err = set_stage(conn,
                        "UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
                        "WHERE name = ? AND version = ?",
                        stage, now, name, version, NULL);
    if (!err)
        err = mfd_registry_touch_model(conn, name, now);
    if (!err)
        err = mfd_registry_load_version(conn, arena, name, version, true, out);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_registry_delete_version(mfd_conn *conn, const char *name, int64_t version) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t now = mfd_now_ms();
    mfd_stmt *stmt;
    err = mfd_registry_require_version(conn, name, version);
    if (!err)
        err = mfd_registry_touch_model(conn, name, now);
    if (!err && !(err = mfd_conn_prepare(
                      conn, "DELETE FROM registered_model_aliases WHERE name = ? AND version = ?",
                      true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, name);
        mfd_stmt_bind_int64(stmt, 2, version);
        err = mfd_stmt_exec_done(stmt);
    }
    if (!err && !(err = mfd_conn_prepare(conn,
                                         "UPDATE model_versions SET current_stage = ?, "
                                         "last_updated_time = ?, description = NULL, "
                                         "user_id = NULL, source = ?, run_id = ?, run_link = ?, "
                                         "status_message = NULL WHERE name = ? AND version = ?",
                                         true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, MFD_STAGE_DELETED_INTERNAL);
        mfd_stmt_bind_int64(stmt, 2, now);
        mfd_stmt_bind_text(stmt, 3, "REDACTED-SOURCE-PATH");
        mfd_stmt_bind_text(stmt, 4, "REDACTED-RUN-ID");
        mfd_stmt_bind_text(stmt, 5, "REDACTED-RUN-LINK");
        mfd_stmt_bind_text(stmt, 6, name);
        mfd_stmt_bind_int64(stmt, 7, version);
        err = mfd_stmt_exec_done(stmt);
    }
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_registry_download_uri(mfd_conn *conn, mfd_arena *arena, const char *name,
                                  int64_t version, const char **uri) {
    return download_uri_in_txn(conn, arena, name, version, uri);
}

mfd_err mfd_registry_set_version_tag(mfd_conn *conn, const char *name, int64_t version,
                                     const char *key, const char *value) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    err = mfd_registry_require_version(conn, name, version);
    if (!err)
        err = upsert_version_tag(conn, name, version, key, value);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_registry_delete_version_tag(mfd_conn *conn, const char *name, int64_t version,
                                        const char *key) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_stmt *stmt;
    err = mfd_registry_require_version(conn, name, version);
    if (!err && !(err = mfd_conn_prepare(conn,
                                         "DELETE FROM model_version_tags WHERE name = ? "
                                         "AND version = ? AND key = ?",
                                         true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, name);
        mfd_stmt_bind_int64(stmt, 2, version);
        mfd_stmt_bind_text(stmt, 3, key);
        err = mfd_stmt_exec_done(stmt);
    }
    return mfd_conn_finish(conn, err);
}

/* ---- source lookups --------------------------------------------------------------- */

mfd_err mfd_registry_run_artifact_uri(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                                      const char **uri) {
    mfd_stmt *stmt;
    mfd_err err =
        mfd_conn_prepare(conn, "SELECT artifact_uri FROM runs WHERE run_uuid = ?", true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, run_id);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW)
        *uri = mfd_registry_copy_text(arena, stmt, 0);
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    if (s == MFD_STEP_DONE)
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found", run_id);
    if (!*uri)
        *uri = "";
    return NULL;
}

mfd_err mfd_registry_logged_model_location(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                                           const char **location) {
    logged_model_row row;
    mfd_err err = read_logged_model(conn, arena, model_id, false, &row);
    if (err)
        return err;
    if (!row.found)
        return logged_model_not_found(model_id);
    *location = row.artifact_location ? row.artifact_location : "";
    return NULL;
}
