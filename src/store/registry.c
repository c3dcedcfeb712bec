/* registry.c — registered models: create, read, rename, update, delete,
 * search, tags, aliases and latest versions (schema.md §3).
 *
 * Invariants kept here:
 * - a registered model is always returned with its tags (by key), aliases
 *   (by alias) and latest versions: for each stage among its live versions
 *   the highest version, stages ordered by their lowest live version (the
 *   order upstream's dict of stages ends up in), each with its tags;
 * - rename relies on the schema's ON UPDATE CASCADE foreign keys to carry
 *   versions, version tags, model tags and aliases to the new name; delete
 *   removes all of them explicitly (the ORM cascade of upstream);
 * - several models are completed with one query per kind of child (IN list
 *   of their names), never one query per model. */
#include "registry_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"

char *mfd_registry_copy_text(mfd_arena *arena, mfd_stmt *stmt, int col) {
    const char *text = mfd_stmt_text(stmt, col);
    return text ? mfd_arena_strdup(arena, text) : NULL;
}

static int64_t int_or_zero(mfd_stmt *stmt, int col) {
    return mfd_stmt_is_null(stmt, col) ? 0 : mfd_stmt_int64(stmt, col);
}

void mfd_registry_read_version(mfd_arena *arena, mfd_stmt *stmt, mfd_model_version *mv) {
    memset(mv, 0, sizeof *mv);
    mv->name = mfd_registry_copy_text(arena, stmt, 0);
    mv->version = mfd_stmt_int64(stmt, 1);
    mv->creation_time = int_or_zero(stmt, 2);
    mv->last_updated_time = int_or_zero(stmt, 3);
    mv->description = mfd_registry_copy_text(arena, stmt, 4);
    mv->user_id = mfd_registry_copy_text(arena, stmt, 5);
    mv->current_stage = mfd_registry_copy_text(arena, stmt, 6);
    mv->source = mfd_registry_copy_text(arena, stmt, 7);
    mv->run_id = mfd_registry_copy_text(arena, stmt, 8);
    mv->status = mfd_registry_copy_text(arena, stmt, 9);
    mv->status_message = mfd_registry_copy_text(arena, stmt, 10);
    mv->run_link = mfd_registry_copy_text(arena, stmt, 11);
    mv->storage_location = mfd_registry_copy_text(arena, stmt, 12);
}

void mfd_registry_add_tag(mfd_arena *arena, mfd_stmt *stmt, int col, mfd_key_value **tags,
                          size_t *n, size_t *cap) {
    if (mfd_stmt_is_null(stmt, col))
        return;
    *tags = mfd_arena_grow(arena, *tags, *n, cap, sizeof **tags, 8);
    (*tags)[(*n)++] = (mfd_key_value){mfd_registry_copy_text(arena, stmt, col),
                                      mfd_registry_copy_text(arena, stmt, col + 1)};
}

static mfd_err model_not_found(const char *name) {
    return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Registered Model with name=%s not found",
                       name);
}

/* Runs a one-row statement bound with `name` (and a second text when
 * non-NULL); *found says whether a row came back. */
static mfd_err exists(mfd_conn *conn, const char *sql, const char *name, const char *second,
                      bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, name);
    if (second)
        mfd_stmt_bind_text(stmt, 2, second);
    mfd_step s = mfd_stmt_step(stmt, &err);
    *found = s == MFD_STEP_ROW;
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

mfd_err mfd_registry_require_model(mfd_conn *conn, const char *name) {
    bool found;
    mfd_err err =
        exists(conn, "SELECT 1 FROM registered_models WHERE name = ?", name, NULL, &found);
    if (!err && !found)
        err = model_not_found(name);
    return err;
}

mfd_err mfd_registry_touch_model(mfd_conn *conn, const char *name, int64_t now) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "UPDATE registered_models SET last_updated_time = ? WHERE name = ?", true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_int64(stmt, 1, now);
    mfd_stmt_bind_text(stmt, 2, name);
    err = mfd_stmt_exec_done(stmt);
    return err;
}

/* Executes a statement with no result rows, binding texts 1..n. */
static mfd_err exec_texts(mfd_conn *conn, const char *sql, const char *const *texts, int n) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    for (int i = 0; i < n; i++)
        mfd_stmt_bind_text(stmt, i + 1, texts[i]);
    err = mfd_stmt_exec_done(stmt);
    return err;
}

mfd_err mfd_registry_lock_model(mfd_conn *conn, const char *name) {
    if (mfd_conn_dialect(conn) != MFD_DIALECT_POSTGRES)
        return NULL;
    return exec_texts(conn, "SELECT 1 FROM registered_models WHERE name = ? FOR UPDATE", &name, 1);
}

/* ---- reading models with their children ------------------------------------------------------ */

typedef struct name_entry {
    const char *name;
    mfd_registered_model *model;
} name_entry;

typedef struct name_index {
    mfd_registered_model *models; /* in page order */
    name_entry *sorted;           /* the same, sorted by name */
    size_t n;
} name_index;

static int compare_entries(const void *a, const void *b) {
    return strcmp(((const name_entry *)a)->name, ((const name_entry *)b)->name);
}

static void index_build(mfd_arena *arena, name_index *ix, mfd_registered_model *models, size_t n) {
    ix->models = models;
    ix->n = n;
    ix->sorted = mfd_arena_alloc(arena, (n ? n : 1) * sizeof *ix->sorted);
    for (size_t i = 0; i < n; i++)
        ix->sorted[i] = (name_entry){models[i].name, &models[i]};
    qsort(ix->sorted, n, sizeof *ix->sorted, compare_entries);
}

static mfd_registered_model *index_find(const name_index *ix, const char *name) {
    name_entry key = {name, NULL};
    name_entry *hit = bsearch(&key, ix->sorted, ix->n, sizeof key, compare_entries);
    return hit ? hit->model : NULL;
}

/* Prepares `fmt` with its %s replaced by an IN list of n placeholders and
 * binds the model names to them; returns the next free index. */
static mfd_err prepare_for_names(mfd_conn *conn, mfd_arena *arena, const char *fmt,
                                 const name_index *ix, mfd_stmt **stmt, int *next_index) {
    mfd_strbuf list;
    mfd_strbuf_init(&list, arena);
    for (size_t i = 0; i < ix->n; i++)
        mfd_strbuf_append(&list, i ? ", ?" : "?");
    char *sql = mfd_arena_sprintf(arena, fmt, list.data);
    mfd_err err = mfd_conn_prepare(conn, sql, ix->n == 1, stmt);
    if (err)
        return err;
    for (size_t i = 0; i < ix->n; i++)
        mfd_stmt_bind_text(*stmt, (int)i + 1, ix->models[i].name);
    *next_index = (int)ix->n + 1;
    return NULL;
}

/* Growth state of one model's arrays, fresh for each model. */
typedef struct model_rows {
    size_t cap, tag_cap;
} model_rows;

typedef void (*model_row_fn)(mfd_arena *arena, mfd_stmt *stmt, mfd_registered_model *m,
                             model_rows *rows);

/* Steps a statement whose rows lead with the model name, grouped by name,
 * and hands each row to fn with its model (rows of other names are
 * skipped); finishes the statement. */
static mfd_err each_model_row(mfd_arena *arena, mfd_stmt *stmt, const name_index *ix,
                              model_row_fn fn) {
    mfd_registered_model *m = NULL;
    model_rows rows = {0};
    mfd_err err = NULL;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        const char *name = mfd_stmt_text(stmt, 0);
        if (!m || strcmp(m->name, name) != 0) {
            m = index_find(ix, name);
            rows = (model_rows){0};
        }
        if (m)
            fn(arena, stmt, m, &rows);
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

static void add_model_tag(mfd_arena *arena, mfd_stmt *stmt, mfd_registered_model *m,
                          model_rows *rows) {
    mfd_registry_add_tag(arena, stmt, 1, &m->tags, &m->n_tags, &rows->cap);
}

static mfd_err load_model_tags(mfd_conn *conn, mfd_arena *arena, const name_index *ix) {
    mfd_stmt *stmt;
    int next;
    mfd_err err =
        prepare_for_names(conn, arena,
                          "WITH RECURSIVE " MFD_TAG_KEYS_CTE(
                              "registered_model_tags") " SELECT t.name, t.key, "
                                                       "t.value FROM k JOIN registered_model_tags "
                                                       "t ON t.key = k.key WHERE t.name IN (%s) "
                                                       "ORDER BY t.name, t.key",
                          ix, &stmt, &next);
    return err ? err : each_model_row(arena, stmt, ix, add_model_tag);
}

static void add_model_alias(mfd_arena *arena, mfd_stmt *stmt, mfd_registered_model *m,
                            model_rows *rows) {
    m->aliases = mfd_arena_grow(arena, m->aliases, m->n_aliases, &rows->cap, sizeof *m->aliases, 8);
    m->aliases[m->n_aliases++] =
        (mfd_registry_alias){mfd_registry_copy_text(arena, stmt, 1), mfd_stmt_int64(stmt, 2)};
}

static mfd_err load_model_aliases(mfd_conn *conn, mfd_arena *arena, const name_index *ix) {
    mfd_stmt *stmt;
    int next;
    mfd_err err = prepare_for_names(conn, arena,
                                    "SELECT name, alias, version FROM registered_model_aliases "
                                    "WHERE name IN (%s) ORDER BY name, alias",
                                    ix, &stmt, &next);
    return err ? err : each_model_row(arena, stmt, ix, add_model_alias);
}

/* One row per tag of a latest version (or one tagless row): a new version
 * starts when the version number changes. */
static void add_latest_version_row(mfd_arena *arena, mfd_stmt *stmt, mfd_registered_model *m,
                                   model_rows *rows) {
    mfd_model_version *last =
        m->n_latest_versions ? &m->latest_versions[m->n_latest_versions - 1] : NULL;
    if (!last || last->version != mfd_stmt_int64(stmt, 1)) {
        m->latest_versions = mfd_arena_grow(arena, m->latest_versions, m->n_latest_versions,
                                            &rows->cap, sizeof *last, 8);
        last = &m->latest_versions[m->n_latest_versions++];
        mfd_registry_read_version(arena, stmt, last);
        rows->tag_cap = 0;
    }
    mfd_registry_add_tag(arena, stmt, MFD_MV_N_COLUMNS, &last->tags, &last->n_tags, &rows->tag_cap);
}

/* Each model's latest version of each stage (g), with its tags: one row per
 * tag, or one tagless row. */
#define LATEST_VERSIONS_HEAD                                                                       \
    "WITH RECURSIVE " MFD_TAG_KEYS_CTE(                                                            \
        "model_version_tags") ", g AS (SELECT name, current_stage, "                               \
                              "MAX(version) AS latest, "                                           \
                              "MIN(version) AS first_version FROM "                                \
                              "model_versions WHERE name IN (%s) "                                 \
                              "AND current_stage <> ? GROUP BY "                                   \
                              "name, current_stage) "                                              \
                              "SELECT " MFD_MV_COLUMNS                                             \
                              ", t.key, t.value FROM g CROSS JOIN model_versions mv "

/* CROSS JOIN fixes SQLite's join order (g drives, mv by primary key); the
 * equalities live in WHERE so that it is an inner join. */
static const char LATEST_VERSIONS_SQL[] =
    LATEST_VERSIONS_HEAD "CROSS JOIN k LEFT JOIN model_version_tags t ON t.key = k.key AND "
                         "t.name = mv.name AND t.version = mv.version WHERE mv.name = g.name AND "
                         "mv.version = g.latest AND (t.key IS NOT NULL OR k.key IS NULL) "
                         "ORDER BY mv.name, g.first_version, t.key";

/* PostgreSQL's: each version's tags probed by primary key (key, name,
 * version) for each distinct key, in a LATERAL subquery. With the join
 * above PostgreSQL (estimating 100 keys where there were 2) sorted or hashed
 * every version tag of the database for each page: over 14,000 version
 * tags, 12 -> 3 ms a page of registered models. */
static const char LATEST_VERSIONS_PG_SQL[] =
    LATEST_VERSIONS_HEAD "LEFT JOIN LATERAL (SELECT t.key, t.value FROM k JOIN model_version_tags "
                         "t ON t.key = k.key AND t.name = mv.name AND t.version = mv.version) t "
                         "ON true WHERE mv.name = g.name AND mv.version = g.latest "
                         "ORDER BY mv.name, g.first_version, t.key";

static mfd_err load_latest_versions(mfd_conn *conn, mfd_arena *arena, const name_index *ix) {
    mfd_stmt *stmt;
    int next;
    mfd_err err =
        prepare_for_names(conn, arena,
                          mfd_conn_dialect(conn) == MFD_DIALECT_POSTGRES ? LATEST_VERSIONS_PG_SQL
                                                                         : LATEST_VERSIONS_SQL,
                          ix, &stmt, &next);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, next, MFD_STAGE_DELETED_INTERNAL);
    return each_model_row(arena, stmt, ix, add_latest_version_row);
}

mfd_err mfd_registry_complete_models(mfd_conn *conn, mfd_arena *arena, mfd_registered_model *models,
                                     size_t n) {
    if (n == 0)
        return NULL;
    name_index ix;
    index_build(arena, &ix, models, n);
    mfd_err err = load_model_tags(conn, arena, &ix);
    if (!err)
        err = load_model_aliases(conn, arena, &ix);
    if (!err)
        err = load_latest_versions(conn, arena, &ix);
    return err;
}

void mfd_registry_read_model(mfd_arena *arena, mfd_stmt *stmt, mfd_registered_model *m) {
    memset(m, 0, sizeof *m);
    m->name = mfd_registry_copy_text(arena, stmt, 0);
    m->creation_time = int_or_zero(stmt, 1);
    m->last_updated_time = int_or_zero(stmt, 2);
    m->description = mfd_registry_copy_text(arena, stmt, 3);
}

/* The whole model, inside the caller's transaction. */
static mfd_err load_model(mfd_conn *conn, mfd_arena *arena, const char *name,
                          mfd_registered_model *out) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "SELECT name, creation_time, last_updated_time, description "
                                   "FROM registered_models WHERE name = ?",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, name);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW)
        mfd_registry_read_model(arena, stmt, out);
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    if (s == MFD_STEP_DONE)
        return model_not_found(name);
    return mfd_registry_complete_models(conn, arena, out, 1);
}

mfd_err mfd_registry_get_model(mfd_conn *conn, mfd_arena *arena, const char *name,
                               mfd_registered_model *out) {
    mfd_err err = mfd_conn_begin(conn, false);
    if (err)
        return err;
    err = load_model(conn, arena, name, out);
    mfd_conn_rollback(conn);
    return err;
}

/* ---- writing models -------------------------------------------------------------------------- */

static mfd_err upsert_model_tag(mfd_conn *conn, const char *name, const char *key,
                                const char *value) {
    const char *texts[] = {key, value ? value : "", name};
    return exec_texts(conn,
                      "INSERT INTO registered_model_tags (key, value, name) VALUES (?, ?, ?) "
                      "ON CONFLICT (key, name) DO UPDATE SET value = excluded.value",
                      texts, 3);
}

static bool tags_have_prompt(const mfd_key_value *tags, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(tags[i].key, MFD_PROMPT_TAG_KEY) == 0)
            return true;
    return false;
}

/* handle_resource_already_exist_error: who holds the name decides the words. */
static mfd_err name_taken(mfd_conn *conn, const char *name, bool new_is_prompt) {
    bool old_is_prompt = false;
    mfd_err err = exists(conn, "SELECT 1 FROM registered_model_tags WHERE name = ? AND key = ?",
                         name, MFD_PROMPT_TAG_KEY, &old_is_prompt);
    if (err)
        return err;
    const char *new_kind = new_is_prompt ? "Prompt" : "Registered Model";
    if (old_is_prompt != new_is_prompt)
        return mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS,
                           "Tried to create a %s with name '%s', but the name is already taken by "
                           "a %s. MLflow does not allow creating a model and a prompt with the "
                           "same name.",
                           new_is_prompt ? "prompt" : "registered model", name,
                           old_is_prompt ? "prompt" : "registered model");
    return mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS, "%s (name=%s) already exists.", new_kind, name);
}

mfd_err mfd_registry_create_model(mfd_conn *conn, mfd_arena *arena, const char *name,
                                  const char *description, const mfd_key_value *tags, size_t n_tags,
                                  mfd_registered_model *out) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    /* Checked first: after a failed INSERT PostgreSQL runs nothing more in the
     * transaction, and the message depends on what holds the name. */
    bool taken = false;
    err = exists(conn, "SELECT 1 FROM registered_models WHERE name = ?", name, NULL, &taken);
    if (!err && taken)
        err = name_taken(conn, name, tags_have_prompt(tags, n_tags));
    mfd_stmt *stmt;
    int64_t now = mfd_now_ms();
    if (!err && !(err = mfd_conn_prepare(conn,
                                         "INSERT INTO registered_models (name, creation_time, "
                                         "last_updated_time, description) VALUES (?, ?, ?, ?)",
                                         true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, name);
        mfd_stmt_bind_int64(stmt, 2, now);
        mfd_stmt_bind_int64(stmt, 3, now);
        mfd_stmt_bind_text(stmt, 4, description);
        err = mfd_stmt_exec_done(stmt);
    }
    if (err && err->code == MFD_RESOURCE_ALREADY_EXISTS && !taken) { /* lost a race */
        mfd_err_free(err);
        err = mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS, "Registered Model (name=%s) already exists.",
                          name);
    }
    for (size_t i = 0; !err && i < n_tags; i++)
        err = upsert_model_tag(conn, name, tags[i].key, tags[i].value);
    if (!err)
        err = load_model(conn, arena, name, out);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_registry_rename_model(mfd_conn *conn, mfd_arena *arena, const char *name,
                                  const char *new_name, mfd_registered_model *out) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t now = mfd_now_ms();
    mfd_stmt *stmt;
    err = mfd_registry_require_model(conn, name);
    if (!err &&
        !(err = mfd_conn_prepare(
              conn, "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?",
              true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, new_name);
        mfd_stmt_bind_int64(stmt, 2, now);
        mfd_stmt_bind_text(stmt, 3, name);
        err = mfd_stmt_exec_done(stmt);
        if (err && err->code == MFD_RESOURCE_ALREADY_EXISTS) {
            mfd_err_free(err);
            err = mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS,
                              "Registered Model (name=%s) already exists.", new_name);
        }
    }
    if (!err && !(err = mfd_conn_prepare(
                      conn, "UPDATE model_versions SET last_updated_time = ? WHERE name = ?", true,
                      &stmt))) {
        mfd_stmt_bind_int64(stmt, 1, now);
        mfd_stmt_bind_text(stmt, 2, new_name);
        err = mfd_stmt_exec_done(stmt);
    }
    if (!err)
        err = load_model(conn, arena, new_name, out);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_registry_update_model(mfd_conn *conn, mfd_arena *arena, const char *name,
                                  const char *description, mfd_registered_model *out) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_stmt *stmt;
    err = mfd_registry_require_model(conn, name);
    if (!err && !(err = mfd_conn_prepare(conn,
                                         "UPDATE registered_models SET description = ?, "
                                         "last_updated_time = ? WHERE name = ?",
                                         true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, description);
        mfd_stmt_bind_int64(stmt, 2, mfd_now_ms());
        mfd_stmt_bind_text(stmt, 3, name);
        err = mfd_stmt_exec_done(stmt);
    }
    if (!err)
        err = load_model(conn, arena, name, out);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_registry_delete_model(mfd_conn *conn, const char *name) {
    static const char *const deletes[] = {
        "DELETE FROM model_version_tags WHERE name = ?",
        "DELETE FROM registered_model_aliases WHERE name = ?",
        "DELETE FROM model_versions WHERE name = ?",
        "DELETE FROM registered_model_tags WHERE name = ?",
        "DELETE FROM registered_models WHERE name = ?",
    };
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    /* A version, tag or alias written meanwhile would reference the row
     * between its children's deletion and its own. Locked first, such a write
     * waits for this one and then finds the model gone (404), and so does a
     * second delete. */
    err = mfd_registry_lock_model(conn, name);
    if (!err)
        err = mfd_registry_require_model(conn, name);
    for (size_t i = 0; !err && i < sizeof deletes / sizeof deletes[0]; i++)
        err = exec_texts(conn, deletes[i], &name, 1);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_registry_set_model_tag(mfd_conn *conn, const char *name, const char *key,
                                   const char *value) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    err = mfd_registry_require_model(conn, name);
    if (!err)
        err = upsert_model_tag(conn, name, key, value);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_registry_delete_model_tag(mfd_conn *conn, const char *name, const char *key) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    err = mfd_registry_require_model(conn, name);
    const char *texts[] = {name, key};
    if (!err)
        err = exec_texts(conn, "DELETE FROM registered_model_tags WHERE name = ? AND key = ?",
                         texts, 2);
    return mfd_conn_finish(conn, err);
}

/* ---- latest versions and aliases ------------------------------------------------------------- */

mfd_err mfd_registry_fill_aliases(mfd_conn *conn, mfd_arena *arena, mfd_model_version *mv) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "SELECT alias FROM registered_model_aliases "
                                   "WHERE name = ? AND version = ? ORDER BY alias",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, mv->name);
    mfd_stmt_bind_int64(stmt, 2, mv->version);
    size_t cap = 0;
    mv->aliases = NULL;
    mv->n_aliases = 0;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        mv->aliases =
            mfd_arena_grow(arena, mv->aliases, mv->n_aliases, &cap, sizeof *mv->aliases, 8);
        mv->aliases[mv->n_aliases++] = mfd_registry_copy_text(arena, stmt, 0);
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

mfd_err mfd_registry_latest_versions(mfd_conn *conn, mfd_arena *arena, const char *name,
                                     const char *const *stages, size_t n_stages,
                                     mfd_model_version **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    mfd_err err = mfd_conn_begin(conn, false);
    if (err)
        return err;
    mfd_registered_model model;
    err = load_model(conn, arena, name, &model);
    size_t n = 0;
    for (size_t i = 0; !err && i < model.n_latest_versions; i++) {
        mfd_model_version *mv = &model.latest_versions[i];
        bool wanted = n_stages == 0;
        for (size_t k = 0; !wanted && k < n_stages; k++)
            wanted = mv->current_stage && strcmp(stages[k], mv->current_stage) == 0;
        if (!wanted)
            continue;
        model.latest_versions[n] = *mv;
        err = mfd_registry_fill_aliases(conn, arena, &model.latest_versions[n]);
        n++;
    }
    mfd_conn_rollback(conn);
    if (err)
        return err;
    *out = model.latest_versions;
    *n_out = n;
    return NULL;
}

mfd_err mfd_registry_set_alias(mfd_conn *conn, const char *name, const char *alias,
                               int64_t version) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    err = mfd_registry_require_version(conn, name, version);
    mfd_stmt *stmt;
    if (!err && !(err = mfd_conn_prepare(conn,
                                         "INSERT INTO registered_model_aliases (alias, version, "
                                         "name) VALUES (?, ?, ?) ON CONFLICT (name, alias) "
                                         "DO UPDATE SET version = excluded.version",
                                         true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, alias);
        mfd_stmt_bind_int64(stmt, 2, version);
        mfd_stmt_bind_text(stmt, 3, name);
        err = mfd_stmt_exec_done(stmt);
    }
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_registry_delete_alias(mfd_conn *conn, const char *name, const char *alias) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    err = mfd_registry_require_model(conn, name);
    const char *texts[] = {name, alias};
    if (!err)
        err = exec_texts(conn, "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?",
                         texts, 2);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_registry_get_version_by_alias(mfd_conn *conn, mfd_arena *arena, const char *name,
                                          const char *alias, mfd_model_version *out) {
    mfd_err err = mfd_conn_begin(conn, false);
    if (err)
        return err;
    mfd_stmt *stmt;
    bool found = false;
    int64_t version = 0;
    if (!(err = mfd_conn_prepare(conn,
                                 "SELECT version FROM registered_model_aliases "
                                 "WHERE name = ? AND alias = ?",
                                 true, &stmt))) {
        mfd_stmt_bind_text(stmt, 1, name);
        mfd_stmt_bind_text(stmt, 2, alias);
        mfd_step s = mfd_stmt_step(stmt, &err);
        if (s == MFD_STEP_ROW) {
            found = true;
            version = mfd_stmt_int64(stmt, 0);
        }
        mfd_stmt_done(stmt);
    }
    if (!err && !found)
        err =
            mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Registered model alias %s not found.", alias);
    if (!err)
        err = mfd_registry_load_version(conn, arena, name, version, true, out);
    mfd_conn_rollback(conn);
    return err;
}
