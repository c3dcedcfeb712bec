/* experiments.c — the experiment store: create, read, search, rename,
 * delete/restore (with their runs) and experiment tags.
 *
 * Invariants kept here:
 * - names are unique across active and deleted experiments (the UNIQUE
 *   constraint decides; its violation becomes RESOURCE_ALREADY_EXISTS);
 * - an experiment is always read with its tags in one statement, tags ordered
 *   by key, so the JSON is stable;
 * - delete/restore change the experiment and all its runs in one transaction
 *   (runs: lifecycle_stage plus deleted_time = now / NULL);
 * - every write bumps last_update_time except tag changes (as upstream). */
#include "experiments.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/utf8.h"
#include "schema.h"

static const char ACTIVE[] = "active";
static const char DELETED[] = "deleted";

static mfd_err not_found(const char *experiment_id) {
    return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "No Experiment with id=%s exists",
                       experiment_id);
}

/* The integer key an id text names; false for anything that is not one. */
bool mfd_experiment_id_parse(mfd_dialect dialect, const char *text, int64_t *out) {
    if (!text || !*text)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end)
        return false;
    if (dialect == MFD_DIALECT_POSTGRES && (v < INT32_MIN || v > INT32_MAX))
        return false;
    *out = v;
    return true;
}

static char *copy_text(mfd_arena *arena, mfd_stmt *stmt, int col) {
    const char *text = mfd_stmt_text(stmt, col);
    return text ? mfd_arena_strdup(arena, text) : NULL;
}

/* ---- reading --------------------------------------------------------------------------------- */

/* Statements that read experiments return these columns first, then the
 * tag key and value of a LEFT JOIN (one row per tag, NULLs when none). */
#define EXPERIMENT_COLUMNS                                                                         \
    "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, "           \
    "e.last_update_time"
enum { TAG_KEY_COL = 6, TAG_VALUE_COL = 7 };

static void read_row(mfd_arena *arena, mfd_stmt *stmt, mfd_experiment *e) {
    memset(e, 0, sizeof *e);
    e->experiment_id = mfd_stmt_int64(stmt, 0);
    e->name = copy_text(arena, stmt, 1);
    e->artifact_location = copy_text(arena, stmt, 2);
    e->lifecycle_stage = copy_text(arena, stmt, 3);
    e->creation_time = mfd_stmt_is_null(stmt, 4) ? 0 : mfd_stmt_int64(stmt, 4);
    e->last_update_time = mfd_stmt_is_null(stmt, 5) ? 0 : mfd_stmt_int64(stmt, 5);
}

static void add_tag(mfd_arena *arena, mfd_experiment *e, size_t *cap, mfd_stmt *stmt) {
    if (mfd_stmt_is_null(stmt, TAG_KEY_COL))
        return;
    e->tags = mfd_arena_grow(arena, e->tags, e->n_tags, cap, sizeof *e->tags, 8);
    e->tags[e->n_tags++] =
        (mfd_key_value){copy_text(arena, stmt, TAG_KEY_COL), copy_text(arena, stmt, TAG_VALUE_COL)};
}

/* Reads the rows of a statement whose rows are grouped by experiment (in
 * result order) into an array of experiments with their tags. */
static mfd_err read_grouped(mfd_arena *arena, mfd_stmt *stmt, mfd_experiment **out, size_t *n_out) {
    mfd_experiment *items = NULL;
    size_t n = 0, cap = 0, tag_cap = 0;
    mfd_err err = NULL;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        int64_t id = mfd_stmt_int64(stmt, 0);
        if (n == 0 || items[n - 1].experiment_id != id) {
            items = mfd_arena_grow(arena, items, n, &cap, sizeof *items, 16);
            read_row(arena, stmt, &items[n++]);
            tag_cap = 0;
        }
        add_tag(arena, &items[n - 1], &tag_cap, stmt);
    }
    if (s == MFD_STEP_ERROR)
        return err;
    *out = items;
    *n_out = n;
    return NULL;
}

static mfd_err read_one(mfd_conn *conn, mfd_arena *arena, const char *sql, int64_t id,
                        const char *name, bool *found, mfd_experiment *out) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    if (name)
        mfd_stmt_bind_text(stmt, 1, name);
    else
        mfd_stmt_bind_int64(stmt, 1, id);
    mfd_experiment *items;
    size_t n;
    err = read_grouped(arena, stmt, &items, &n);
    mfd_stmt_done(stmt);
    if (err)
        return err;
    *found = n > 0;
    if (n > 0)
        *out = items[0];
    return NULL;
}

/* experiment_tags is keyed (key, experiment_id) with no index on the id:
 * the CTE k lists the distinct keys by walking that key (one seek each,
 * ending with a NULL row) so each tag lookup is a primary-key seek. */
#define TAG_KEYS_CTE                                                                               \
    "k(key) AS (SELECT MIN(key) FROM experiment_tags UNION ALL SELECT (SELECT MIN(key) FROM "      \
    "experiment_tags WHERE key > k.key) FROM k WHERE k.key IS NOT NULL)"
#define TAGS_JOIN                                                                                  \
    " CROSS JOIN k LEFT JOIN experiment_tags t ON t.key = k.key AND "                              \
    "t.experiment_id = e.experiment_id "
#define TAG_ROWS_ONLY "(t.key IS NOT NULL OR k.key IS NULL)"

static const char SELECT_BY_ID[] = "WITH RECURSIVE " TAG_KEYS_CTE " SELECT " EXPERIMENT_COLUMNS
                                   ", t.key, t.value FROM experiments e" TAGS_JOIN
                                   "WHERE e.experiment_id = ? AND " TAG_ROWS_ONLY " ORDER BY t.key";

static const char SELECT_BY_NAME[] = "WITH RECURSIVE " TAG_KEYS_CTE " SELECT " EXPERIMENT_COLUMNS
                                     ", t.key, t.value FROM experiments e" TAGS_JOIN
                                     "WHERE e.name = ? AND " TAG_ROWS_ONLY " ORDER BY t.key";

mfd_err mfd_experiments_get(mfd_conn *conn, mfd_arena *arena, const char *experiment_id,
                            mfd_experiment *out) {
    int64_t id = 0;
    if (!mfd_experiment_id_parse(mfd_conn_dialect(conn), experiment_id, &id))
        return not_found(experiment_id ? experiment_id : "");
    bool found = false;
    mfd_err err = read_one(conn, arena, SELECT_BY_ID, id, NULL, &found, out);
    if (!err && !found)
        err = not_found(experiment_id);
    return err;
}

mfd_err mfd_experiments_get_by_name(mfd_conn *conn, mfd_arena *arena, const char *name, bool *found,
                                    mfd_experiment *out) {
    return read_one(conn, arena, SELECT_BY_NAME, 0, name, found, out);
}

/* Binds params->values[first .. first+count) from index `index` on. */
static void bind_range(mfd_stmt *stmt, int index, const mfd_sql_params *params, size_t first,
                       size_t count) {
    mfd_sql_params view = {params->values + first, count, count};
    mfd_stmt_bind_params(stmt, index, &view);
}

mfd_err mfd_experiments_search(mfd_conn *conn, mfd_arena *arena, const mfd_search_sql *search,
                               int view_type, int64_t offset, int64_t limit, mfd_experiment **out,
                               size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (search->match_nothing)
        return NULL;
    /* The page is numbered by a window over the search order so the tag
     * join can keep that order; the order fragment is written once, so its
     * bound values (if any) come first, then the filter's. */
    char *sql = mfd_arena_sprintf(
        arena,
        "WITH RECURSIVE page AS (SELECT " EXPERIMENT_COLUMNS ", ROW_NUMBER() OVER (ORDER BY %s) "
        "AS rn FROM experiments e WHERE (%s) AND e.lifecycle_stage IN (?, ?) "
        "ORDER BY rn LIMIT ? OFFSET ?), " TAG_KEYS_CTE " SELECT " EXPERIMENT_COLUMNS
        ", t.key, t.value FROM page e" TAGS_JOIN "WHERE " TAG_ROWS_ONLY " ORDER BY e.rn, t.key",
        search->order_by, search->where);
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, false, &stmt);
    if (err)
        return err;
    size_t n_where = search->n_where_params;
    size_t n_order = search->params.count - n_where;
    int index = 1;
    bind_range(stmt, index, &search->params, n_where, n_order);
    index += (int)n_order;
    bind_range(stmt, index, &search->params, 0, n_where);
    index += (int)n_where;
    mfd_stmt_bind_text(stmt, index++, view_type == MFD_VIEW_DELETED_ONLY ? DELETED : ACTIVE);
    mfd_stmt_bind_text(stmt, index++, view_type == MFD_VIEW_ACTIVE_ONLY ? ACTIVE : DELETED);
    mfd_stmt_bind_int64(stmt, index++, limit);
    mfd_stmt_bind_int64(stmt, index++, offset);
    if (!(err = mfd_conn_begin(conn, false))) {
        err = read_grouped(arena, stmt, out, n_out);
        mfd_conn_rollback(conn); /* read-only: nothing to keep */
    }
    mfd_stmt_done(stmt);
    return err;
}

/* ---- writing --------------------------------------------------------------------------------- */

static mfd_err upsert_tag(mfd_conn *conn, int64_t id, const char *key, const char *value) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "INSERT INTO experiment_tags (key, value, experiment_id) "
                                   "VALUES (?, ?, ?) ON CONFLICT (key, experiment_id) "
                                   "DO UPDATE SET value = excluded.value",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, key);
    mfd_stmt_bind_text(stmt, 2, value ? value : "");
    mfd_stmt_bind_int64(stmt, 3, id);
    err = mfd_stmt_exec_done(stmt);
    return err;
}

static mfd_err insert_experiment(mfd_conn *conn, const char *name, const char *artifact_location,
                                 int64_t now, int64_t *id) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "INSERT INTO experiments (name, artifact_location, "
                                   "lifecycle_stage, creation_time, last_update_time) "
                                   "VALUES (?, ?, 'active', ?, ?) RETURNING experiment_id",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, name);
    mfd_stmt_bind_text(stmt, 2, artifact_location);
    mfd_stmt_bind_int64(stmt, 3, now);
    mfd_stmt_bind_int64(stmt, 4, now);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW)
        *id = mfd_stmt_int64(stmt, 0);
    else if (s == MFD_STEP_DONE)
        err = mfd_err_new(MFD_INTERNAL_ERROR, "experiment insert returned no id");
    mfd_stmt_done(stmt);
    if (err && err->code == MFD_RESOURCE_ALREADY_EXISTS) {
        mfd_err_free(err);
        err = mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS, "Experiment(name=%s) already exists.", name);
    }
    return err;
}

static mfd_err set_default_location(mfd_conn *conn, int64_t id, const char *root) {
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%lld", (long long)id);
    char *location = mfd_artifact_path_join(root, id_text);
    if (!location)
        return mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?", true, &stmt);
    if (!err) {
        mfd_stmt_bind_text(stmt, 1, location);
        mfd_stmt_bind_int64(stmt, 2, id);
        err = mfd_stmt_exec_done(stmt);
    }
    free(location);
    return err;
}

/* MLflow's PostgreSQL schema keeps a run's artifact URI, "<experiment
 * location>/<32-hex run id>/artifacts", in VARCHAR(200): a longer location
 * would make an experiment in which no run can be created. */
enum { RUN_URI_MAX = 200, RUN_URI_SUFFIX = 1 + 32 + 10 };

mfd_err mfd_experiments_create(mfd_conn *conn, const char *name, const char *artifact_location,
                               const char *default_artifact_root, const mfd_key_value *tags,
                               size_t n_tags, int64_t *experiment_id) {
    if (artifact_location && mfd_conn_dialect(conn) == MFD_DIALECT_POSTGRES &&
        mfd_utf8_chars(artifact_location) > RUN_URI_MAX - RUN_URI_SUFFIX)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid artifact location of %zu characters: on PostgreSQL a run's "
                           "artifact URI (<location>/<run id>/artifacts) has at most %d, so the "
                           "location may have at most %d",
                           mfd_utf8_chars(artifact_location), RUN_URI_MAX,
                           RUN_URI_MAX - RUN_URI_SUFFIX);
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t id = 0;
    err = insert_experiment(conn, name, artifact_location, mfd_now_ms(), &id);
    if (!err && !artifact_location)
        err = set_default_location(conn, id, default_artifact_root);
    for (size_t i = 0; !err && i < n_tags; i++)
        err = upsert_tag(conn, id, tags[i].key, tags[i].value);
    if ((err = mfd_conn_finish(conn, err)))
        return err;
    *experiment_id = id;
    return NULL;
}

/* The lifecycle stage of an experiment inside the caller's transaction. */
static mfd_err lookup_stage(mfd_conn *conn, const char *experiment_id, int64_t *id,
                            char stage[16]) {
    if (!mfd_experiment_id_parse(mfd_conn_dialect(conn), experiment_id, id))
        return not_found(experiment_id);
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?", true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_int64(stmt, 1, *id);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        const char *text = mfd_stmt_text(stmt, 0);
        snprintf(stage, 16, "%s", text ? text : "");
    }
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    return s == MFD_STEP_ROW ? NULL : not_found(experiment_id);
}

static mfd_err require_active(mfd_conn *conn, const char *experiment_id, int64_t *id) {
    char stage[16];
    mfd_err err = lookup_stage(conn, experiment_id, id, stage);
    if (!err && strcmp(stage, ACTIVE) != 0)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                          "The experiment %s must be in the 'active' state. Current state is %s.",
                          experiment_id, stage);
    return err;
}

mfd_err mfd_experiments_rename(mfd_conn *conn, const char *experiment_id, const char *new_name) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t id = 0;
    char stage[16];
    err = lookup_stage(conn, experiment_id, &id, stage);
    /* Upstream answers INVALID_STATE (a 500 the client retries); a 400 says the same. */
    if (!err && strcmp(stage, ACTIVE) != 0)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Cannot rename a non-active experiment.");
    mfd_stmt *stmt = NULL;
    if (!err)
        err = mfd_conn_prepare(
            conn, "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
            true, &stmt);
    if (!err) {
        mfd_stmt_bind_text(stmt, 1, new_name);
        mfd_stmt_bind_int64(stmt, 2, mfd_now_ms());
        mfd_stmt_bind_int64(stmt, 3, id);
        err = mfd_stmt_exec_done(stmt);
        if (err && err->code == MFD_RESOURCE_ALREADY_EXISTS) {
            mfd_err_free(err);
            err = mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS, "Experiment(name=%s) already exists.",
                              new_name);
        }
    }
    return mfd_conn_finish(conn, err);
}

/* Moves an experiment from stage `from` to `to` with all its runs. */
static mfd_err change_stage(mfd_conn *conn, const char *experiment_id, const char *from,
                            const char *to) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t id = 0;
    char stage[16];
    err = lookup_stage(conn, experiment_id, &id, stage);
    if (!err && strcmp(stage, from) != 0)
        err = not_found(experiment_id);
    int64_t now = mfd_now_ms();
    mfd_stmt *stmt;
    if (!err && !(err = mfd_conn_prepare(conn,
                                         "UPDATE experiments SET lifecycle_stage = ?, "
                                         "last_update_time = ? WHERE experiment_id = ?",
                                         true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, to);
        mfd_stmt_bind_int64(stmt, 2, now);
        mfd_stmt_bind_int64(stmt, 3, id);
        err = mfd_stmt_exec_done(stmt);
    }
    if (!err && !(err = mfd_conn_prepare(conn,
                                         "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? "
                                         "WHERE experiment_id = ?",
                                         true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, to);
        if (strcmp(to, DELETED) == 0)
            mfd_stmt_bind_int64(stmt, 2, now);
        else
            mfd_stmt_bind_null(stmt, 2);
        mfd_stmt_bind_int64(stmt, 3, id);
        err = mfd_stmt_exec_done(stmt);
    }
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_experiments_delete(mfd_conn *conn, const char *experiment_id) {
    return change_stage(conn, experiment_id, ACTIVE, DELETED);
}

mfd_err mfd_experiments_restore(mfd_conn *conn, const char *experiment_id) {
    return change_stage(conn, experiment_id, DELETED, ACTIVE);
}

mfd_err mfd_experiments_set_tag(mfd_conn *conn, const char *experiment_id, const char *key,
                                const char *value) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t id = 0;
    err = require_active(conn, experiment_id, &id);
    if (!err)
        err = upsert_tag(conn, id, key, value);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_experiments_delete_tag(mfd_conn *conn, const char *experiment_id, const char *key) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t id = 0;
    err = require_active(conn, experiment_id, &id);
    mfd_stmt *stmt;
    if (!err && !(err = mfd_conn_prepare(
                      conn, "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?", true,
                      &stmt))) {
        mfd_stmt_bind_int64(stmt, 1, id);
        mfd_stmt_bind_text(stmt, 2, key);
        err = mfd_stmt_exec_done(stmt);
        if (!err && mfd_conn_changes(conn) == 0)
            err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                              "No tag with name: %s in experiment with id %s", key, experiment_id);
    }
    return mfd_conn_finish(conn, err);
}
