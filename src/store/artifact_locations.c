/* artifact_locations.c — lookups of stored artifact URIs for the artifact
 * endpoints. Single-row reads: no transaction needed. */
#include "artifact_locations.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

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

mfd_err mfd_artifact_location_owner(mfd_conn *conn, mfd_arena *arena, const char *id,
                                    bool logged_model, int64_t *experiment_id,
                                    const char **location, bool *found) {
    mfd_stmt *stmt;
    *found = false;
    mfd_err err = mfd_conn_prepare(
        conn,
        logged_model
            ? "SELECT experiment_id, artifact_location FROM logged_models WHERE model_id = ?"
            : "SELECT experiment_id, artifact_uri FROM runs WHERE run_uuid = ?",
        true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, id);
    if (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW && mfd_stmt_text(stmt, 1)) {
        *found = true;
        *experiment_id = mfd_stmt_int64(stmt, 0);
        *location = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 1));
    }
    mfd_stmt_done(stmt);
    return err;
}

/* posixpath.join(prefix, suffix) with the suffix's leading slashes dropped
 * (upstream's _join_posixpaths_and_append_absolute_suffixes). */
static void join_path(mfd_strbuf *out, const char *prefix, size_t prefix_len, const char *suffix) {
    mfd_strbuf_appendn(out, prefix, prefix_len);
    if (prefix_len == 0) {
        mfd_strbuf_append(out, suffix);
        return;
    }
    while (*suffix == '/')
        suffix++;
    if (prefix[prefix_len - 1] != '/')
        mfd_strbuf_append(out, "/");
    mfd_strbuf_append(out, suffix);
}

const char *mfd_artifact_location_append(mfd_arena *arena, const char *uri, const char *suffix) {
    mfd_strbuf out;
    mfd_strbuf_init(&out, arena);
    size_t scheme = 0;
    if (isalpha((unsigned char)uri[0]))
        while (isalnum((unsigned char)uri[scheme]) || uri[scheme] == '+' || uri[scheme] == '-' ||
               uri[scheme] == '.')
            scheme++;
    if (uri[scheme] != ':' || scheme < 2) { /* a POSIX path ("C:" is a drive, not a scheme) */
        join_path(&out, uri, strlen(uri), suffix);
        return out.data;
    }
    const char *path = uri + scheme + 1;
    bool authority = path[0] == '/' && path[1] == '/';
    if (authority)
        path += 2 + strcspn(path + 2, "/?#");
    mfd_strbuf_appendn(&out, uri, (size_t)(path - uri)); /* scheme: and any //authority */
    size_t path_len = strcspn(path, "?#");
    if (authority && path_len == 0) /* urlunparse: a path after an authority starts with / */
        mfd_strbuf_append(&out, "/");
    join_path(&out, path, path_len, suffix);
    const char *query = path[path_len] == '?' ? path + path_len + 1 : NULL;
    size_t query_len = query ? strcspn(query, "#") : 0;
    if (query_len)
        mfd_strbuf_appendf(&out, "?%.*s", (int)query_len, query);
    const char *fragment = strchr(path + path_len, '#');
    if (fragment && fragment[1])
        mfd_strbuf_append(&out, fragment);
    return out.data;
}
