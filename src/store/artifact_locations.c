/* artifact_locations.c — lookups of stored artifact URIs for the artifact
 * endpoints. Single-row reads: no transaction needed. */
#include "artifact_locations.h"

/* Steps a bound statement once and copies column 0 of its row ("" for NULL);
 * *found=false when there is no row. Always finishes the statement. */
static mfd_err first_text(mfd_stmt *stmt, mfd_arena *arena, const char **out, bool *found) {
    mfd_err err = NULL;
    *found = false;
    *out = NULL;
    if (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW) {
        const char *text = mfd_stmt_text(stmt, 0);
        *out = mfd_arena_strdup(arena, text ? text : "");
        *found = true;
    }
    mfd_stmt_done(stmt);
    return err;
}

mfd_err mfd_artifact_location_run(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                                  const char **uri) {
    static const char SQL[] = "SELECT artifact_uri FROM runs WHERE run_uuid = ?";
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, SQL, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, run_id);
    bool found;
    if ((err = first_text(stmt, arena, uri, &found)))
        return err;
    if (!found)
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found", run_id);
    return NULL;
}

mfd_err mfd_artifact_location_model_version(mfd_conn *conn, mfd_arena *arena, const char *name,
                                            int64_t version, const char **uri) {
    static const char SQL[] = "SELECT COALESCE(NULLIF(storage_location, ''), source) "
                              "FROM model_versions WHERE name = ? AND version = ? "
                              "AND (current_stage IS NULL OR current_stage <> 'Deleted_Internal')";
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, SQL, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, name);
    mfd_stmt_bind_int64(stmt, 2, version);
    bool found;
    if ((err = first_text(stmt, arena, uri, &found)))
        return err;
    if (!found)
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                           "Model Version (name=%s, version=%lld) not found", name,
                           (long long)version);
    return NULL;
}

mfd_err mfd_artifact_location_logged_model(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                                           const char **uri) {
    static const char SQL[] =
        "SELECT artifact_location FROM logged_models "
        "WHERE model_id = ? AND (lifecycle_stage IS NULL OR lifecycle_stage <> 'deleted')";
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, SQL, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, model_id);
    bool found;
    if ((err = first_text(stmt, arena, uri, &found)))
        return err;
    if (!found)
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Logged model with ID '%s' not found.",
                           model_id);
    return NULL;
}

mfd_err mfd_artifact_location_experiments(mfd_conn *conn, mfd_arena *arena,
                                          mfd_experiment_location **out, size_t *n) {
    static const char SQL[] = "SELECT experiment_id, artifact_location FROM experiments "
                              "WHERE artifact_location IS NOT NULL AND artifact_location <> ''";
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, SQL, true, &stmt);
    if (err)
        return err;
    while (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW) {
        *out = mfd_arena_grow(arena, *out, *n, &cap, sizeof **out, 16);
        (*out)[(*n)++] = (mfd_experiment_location){mfd_stmt_int64(stmt, 0),
                                                   mfd_arena_strdup(arena, mfd_stmt_text(stmt, 1))};
    }
    mfd_stmt_done(stmt);
    return err;
}
