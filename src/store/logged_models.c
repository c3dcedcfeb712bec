/* logged_models.c — the logged-model store: create, read, finalize, delete,
 * tags, params and the search page query (schema.md logged_models*).
 *
 * Invariants kept here:
 * - a model's params, tags and metrics are always read in one transaction with
 *   the model row, and returned in a stable order (params/tags by key,
 *   metrics by name, timestamp, step, run);
 * - a param key is written once: re-logging it with the same value is a
 *   no-op, with another value a 400 (upstream's PK violation 500 is never
 *   reached);
 * - "deleted" is lifecycle_stage = 'deleted'; only get and search hide such
 *   rows, every write works on them as upstream does. */
#include "experiments.h"
#include "logged_models.h"
#include "runs.h"
#include "write_order.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact_locations.h"
#include "core/escape.h"
#include "core/ids.h"

static const char *const DELETED = "deleted";
static const char *const ACTIVE = "active";

static mfd_err not_found(const char *model_id) {
    return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Logged model with ID '%s' not found.",
                       model_id);
}

static char *copy_text(mfd_arena *arena, mfd_stmt *stmt, int col) {
    const char *text = mfd_stmt_text(stmt, col);
    return text ? mfd_arena_strdup(arena, text) : NULL;
}

/* ---- reading --------------------------------------------------------------------------------- */

#define MODEL_COLUMNS                                                                              \
    "lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, lm.creation_timestamp_ms, "     \
    "lm.last_updated_timestamp_ms, lm.status, lm.lifecycle_stage, lm.model_type, "                 \
    "lm.source_run_id, lm.status_message"

static void read_model_row(mfd_arena *arena, mfd_stmt *stmt, mfd_logged_model *m) {
    memset(m, 0, sizeof *m);
    m->model_id = copy_text(arena, stmt, 0);
    m->experiment_id = mfd_arena_sprintf(arena, "%lld", (long long)mfd_stmt_int64(stmt, 1));
    m->name = copy_text(arena, stmt, 2);
    m->artifact_location = copy_text(arena, stmt, 3);
    m->creation_timestamp_ms = mfd_stmt_int64(stmt, 4);
    m->last_updated_timestamp_ms = mfd_stmt_int64(stmt, 5);
    m->status = (int)mfd_stmt_int64(stmt, 6);
    m->lifecycle_stage = copy_text(arena, stmt, 7);
    m->model_type = copy_text(arena, stmt, 8);
    m->source_run_id = copy_text(arena, stmt, 9);
    m->status_message = copy_text(arena, stmt, 10);
}

/* The tags, params and metrics of a page of models: one statement per table
 * for the page (mfd_runs_for_each_row takes any text ids), not three per
 * model (a page of 1,000 on PostgreSQL: ~270 ms of round trips, now ~90). */
typedef struct children_page {
    mfd_arena *arena;
    mfd_logged_model *models;
    size_t *caps; /* per model: tags, params, metrics */
} children_page;

static void add_kv(children_page *page, mfd_stmt *stmt, mfd_key_value **items, size_t *n,
                   size_t *cap) {
    *items = mfd_arena_grow(page->arena, *items, *n, cap, sizeof **items, 8);
    mfd_key_value *kv = &(*items)[(*n)++];
    kv->key = copy_text(page->arena, stmt, 1);
    kv->value = copy_text(page->arena, stmt, 2);
    if (!kv->value)
        kv->value = "";
}

static void add_tag_row(void *ctx, size_t index, mfd_stmt *stmt) {
    children_page *page = ctx;
    mfd_logged_model *m = &page->models[index];
    add_kv(page, stmt, &m->tags, &m->n_tags, &page->caps[3 * index]);
}

static void add_param_row(void *ctx, size_t index, mfd_stmt *stmt) {
    children_page *page = ctx;
    mfd_logged_model *m = &page->models[index];
    add_kv(page, stmt, &m->params, &m->n_params, &page->caps[3 * index + 1]);
}

static void add_metric_row(void *ctx, size_t index, mfd_stmt *stmt) {
    children_page *page = ctx;
    mfd_logged_model *m = &page->models[index];
    m->metrics = mfd_arena_grow(page->arena, m->metrics, m->n_metrics, &page->caps[3 * index + 2],
                                sizeof *m->metrics, 8);
    mfd_logged_model_metric *metric = &m->metrics[m->n_metrics++];
    metric->key = copy_text(page->arena, stmt, 1);
    metric->value_is_null = mfd_stmt_is_null(stmt, 2);
    metric->value = metric->value_is_null ? 0 : mfd_stmt_double(stmt, 2);
    metric->timestamp = mfd_stmt_int64(stmt, 3);
    metric->step = mfd_stmt_int64(stmt, 4);
    metric->dataset_name = copy_text(page->arena, stmt, 5);
    metric->dataset_digest = copy_text(page->arena, stmt, 6);
    metric->model_id = copy_text(page->arena, stmt, 0);
    metric->run_id = copy_text(page->arena, stmt, 7);
}

static mfd_err read_children(mfd_conn *conn, mfd_arena *arena, mfd_logged_model *models, size_t n) {
    if (n == 0)
        return NULL;
    const char **ids = mfd_arena_alloc(arena, n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = models[i].model_id;
    mfd_run_ids sorted = mfd_run_ids_sort(arena, ids, n);
    children_page page = {arena, models, mfd_arena_alloc(arena, 3 * n * sizeof(size_t))};
    memset(page.caps, 0, 3 * n * sizeof(size_t));
    mfd_err err = mfd_runs_for_each_row(
        conn, arena, &sorted,
        "SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id",
        " ORDER BY model_id, tag_key", add_tag_row, &page);
    if (!err)
        err = mfd_runs_for_each_row(
            conn, arena, &sorted,
            "SELECT model_id, param_key, param_value FROM logged_model_params WHERE model_id",
            " ORDER BY model_id, param_key", add_param_row, &page);
    if (!err)
        err = mfd_runs_for_each_row(
            conn, arena, &sorted,
            "SELECT model_id, metric_name, metric_value, metric_timestamp_ms, metric_step, "
            "dataset_name, dataset_digest, run_id FROM logged_model_metrics WHERE model_id",
            " ORDER BY model_id, metric_name, metric_timestamp_ms, metric_step, run_id",
            add_metric_row, &page);
    return err;
}

/* Reads the model row and its children inside the caller's transaction. */
static mfd_err load_model(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                          bool allow_deleted, mfd_logged_model *out) {
    static const char *const SQL =
        "SELECT " MODEL_COLUMNS " FROM logged_models lm WHERE lm.model_id = ?";
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, SQL, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, model_id);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW)
        read_model_row(arena, stmt, out);
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    if (s == MFD_STEP_DONE ||
        (!allow_deleted && out->lifecycle_stage && !strcmp(out->lifecycle_stage, DELETED)))
        return not_found(model_id);
    return read_children(conn, arena, out, 1);
}

mfd_err mfd_logged_models_get(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                              bool allow_deleted, mfd_logged_model *out) {
    mfd_err err = mfd_conn_begin(conn, false);
    if (err)
        return err;
    return mfd_conn_finish(conn, load_model(conn, arena, model_id, allow_deleted, out));
}

/* ---- writing --------------------------------------------------------------------------------- */

/* The experiment id of an existing model row (deleted or not), or 404. */
static mfd_err model_experiment(mfd_conn *conn, const char *model_id, int64_t *experiment_id) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "SELECT experiment_id FROM logged_models WHERE model_id = ?", true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, model_id);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW)
        *experiment_id = mfd_stmt_int64(stmt, 0);
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    return s == MFD_STEP_DONE ? not_found(model_id) : NULL;
}

/* The logged value of a param: *found, and an error if it differs. */
static mfd_err check_param(mfd_conn *conn, const char *model_id, const mfd_key_value *param,
                           bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "SELECT param_value FROM logged_model_params WHERE "
                                   "model_id = ? AND param_key = ?",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, model_id);
    mfd_stmt_bind_text(stmt, 2, param->key);
    mfd_step s = mfd_stmt_step(stmt, &err);
    *found = s == MFD_STEP_ROW;
    if (*found) {
        const char *old = mfd_stmt_text(stmt, 0);
        if (!old)
            old = "";
        if (strcmp(old, param->value) != 0)
            err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                              "Changing param values is not allowed. Param with key='%s' was "
                              "already logged with value='%s' for logged model ID='%s'. "
                              "Attempted logging new value '%s'.",
                              param->key, old, model_id, param->value);
    }
    mfd_stmt_done(stmt);
    return err;
}

static int compare_kv_keys(const void *a, const void *b) {
    return mfd_write_order_text(((const mfd_key_value *)a)->key, ((const mfd_key_value *)b)->key);
}

/* In key order (write_order.h): two requests listing the same keys in other
 * orders deadlocked on PostgreSQL. */
static mfd_err insert_params(mfd_conn *conn, const char *model_id, int64_t experiment_id,
                             const mfd_key_value *params, size_t n_params) {
    mfd_arena *arena = mfd_arena_new();
    size_t *order = mfd_write_order(arena, params, n_params, sizeof *params, compare_kv_keys);
    mfd_err err = NULL;
    for (size_t k = 0; k < n_params && !err; k++) {
        const mfd_key_value *param = &params[order[k]];
        bool found = false;
        if ((err = check_param(conn, model_id, param, &found)) || found)
            continue; /* found: the same value again, nothing to do */
        mfd_stmt *stmt;
        if ((err = mfd_conn_prepare(conn,
                                    "INSERT INTO logged_model_params (model_id, experiment_id, "
                                    "param_key, param_value) VALUES (?, ?, ?, ?) "
                                    "ON CONFLICT DO NOTHING",
                                    true, &stmt)))
            break;
        mfd_stmt_bind_text(stmt, 1, model_id);
        mfd_stmt_bind_int64(stmt, 2, experiment_id);
        mfd_stmt_bind_text(stmt, 3, param->key);
        mfd_stmt_bind_text(stmt, 4, param->value);
        err = mfd_stmt_exec(stmt);
        bool inserted = !err && mfd_conn_changes(conn) > 0;
        mfd_stmt_done(stmt);
        /* A concurrent request logged it first (PostgreSQL): its value decides. */
        if (!err && !inserted)
            err = check_param(conn, model_id, param, &found);
    }
    mfd_arena_free(arena);
    return err;
}

static mfd_err upsert_tags(mfd_conn *conn, const char *model_id, int64_t experiment_id,
                           const mfd_key_value *tags, size_t n_tags) {
    mfd_arena *arena = mfd_arena_new();
    size_t *order = mfd_write_order(arena, tags, n_tags, sizeof *tags, compare_kv_keys);
    mfd_err err = NULL;
    for (size_t k = 0; k < n_tags && !err; k++) {
        const mfd_key_value *tag = &tags[order[k]];
        mfd_stmt *stmt;
        if ((err = mfd_conn_prepare(
                 conn,
                 "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) "
                 "VALUES (?, ?, ?, ?) ON CONFLICT (model_id, tag_key) DO UPDATE SET "
                 "tag_value = excluded.tag_value",
                 true, &stmt)))
            break;
        mfd_stmt_bind_text(stmt, 1, model_id);
        mfd_stmt_bind_int64(stmt, 2, experiment_id);
        mfd_stmt_bind_text(stmt, 3, tag->key);
        mfd_stmt_bind_text(stmt, 4, tag->value);
        err = mfd_stmt_exec_done(stmt);
    }
    mfd_arena_free(arena);
    return err;
}

/* The experiment's artifact location, checking it exists and is active. */
static mfd_err active_experiment(mfd_conn *conn, mfd_arena *arena, const char *experiment_id,
                                 int64_t *id, const char **artifact_location) {
    if (!mfd_experiment_id_parse(mfd_conn_dialect(conn), experiment_id, id))
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "No Experiment with id=%s exists",
                           experiment_id);
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?",
        true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_int64(stmt, 1, *id);
    const char *stage = NULL;
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        *artifact_location = copy_text(arena, stmt, 0);
        stage = copy_text(arena, stmt, 1);
    }
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    if (s == MFD_STEP_DONE)
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "No Experiment with id=%s exists",
                           experiment_id);
    if (!stage || strcmp(stage, ACTIVE) != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "The experiment %s must be in the 'active' state. Current state is "
                           "%s.",
                           experiment_id, stage ? stage : "None");
    if (!*artifact_location)
        *artifact_location = "";
    return NULL;
}

static mfd_err create_in_txn(mfd_conn *conn, mfd_arena *arena, const mfd_logged_model_new *in,
                             const char *model_id) {
    int64_t experiment_id = 0;
    const char *root = NULL;
    mfd_err err = active_experiment(conn, arena, in->experiment_id, &experiment_id, &root);
    if (err)
        return err;
    const char *location = mfd_artifact_location_append(
        arena, root, mfd_arena_sprintf(arena, "models/%s/artifacts", model_id));
    int64_t now = mfd_now_ms();
    mfd_stmt *stmt;
    if ((err = mfd_conn_prepare(
             conn,
             "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, "
             "creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, "
             "model_type, source_run_id, status_message) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
             true, &stmt)))
        return err;
    mfd_stmt_bind_text(stmt, 1, model_id);
    mfd_stmt_bind_int64(stmt, 2, experiment_id);
    mfd_stmt_bind_text(stmt, 3, in->name);
    mfd_stmt_bind_text(stmt, 4, location);
    mfd_stmt_bind_int64(stmt, 5, now);
    mfd_stmt_bind_int64(stmt, 6, now);
    mfd_stmt_bind_int64(stmt, 7, MFD_LOGGED_MODEL_PENDING);
    mfd_stmt_bind_text(stmt, 8, ACTIVE);
    mfd_stmt_bind_text(stmt, 9, in->model_type);
    mfd_stmt_bind_text(stmt, 10, in->source_run_id);
    err = mfd_stmt_exec_done(stmt);
    if (!err)
        err = insert_params(conn, model_id, experiment_id, in->params, in->n_params);
    if (!err)
        err = upsert_tags(conn, model_id, experiment_id, in->tags, in->n_tags);
    return err;
}

mfd_err mfd_logged_models_create(mfd_conn *conn, mfd_arena *arena, const mfd_logged_model_new *in,
                                 mfd_logged_model *out) {
    char hex[33];
    mfd_uuid_hex(hex);
    char *model_id = mfd_arena_sprintf(arena, "m-%s", hex);
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    err = create_in_txn(conn, arena, in, model_id);
    if (!err)
        err = load_model(conn, arena, model_id, true, out);
    return mfd_conn_finish(conn, err);
}

/* Runs a prepared UPDATE whose last placeholder is the model id; 404 when no
 * row matched. */
static mfd_err run_update(mfd_conn *conn, mfd_stmt *stmt, int id_index, const char *model_id) {
    mfd_stmt_bind_text(stmt, id_index, model_id);
    mfd_err err = mfd_stmt_exec_done(stmt);
    if (!err && mfd_conn_changes(conn) == 0)
        err = not_found(model_id);
    return err;
}

mfd_err mfd_logged_models_finalize(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                                   int status, mfd_logged_model *out) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_stmt *stmt;
    err = mfd_conn_prepare(conn,
                           "UPDATE logged_models SET status = ?, last_updated_timestamp_ms = ? "
                           "WHERE model_id = ?",
                           true, &stmt);
    if (!err) {
        mfd_stmt_bind_int64(stmt, 1, status);
        mfd_stmt_bind_int64(stmt, 2, mfd_now_ms());
        err = run_update(conn, stmt, 3, model_id);
    }
    if (!err)
        err = load_model(conn, arena, model_id, true, out);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_logged_models_delete(mfd_conn *conn, const char *model_id) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_stmt *stmt;
    err = mfd_conn_prepare(conn,
                           "UPDATE logged_models SET lifecycle_stage = ?, "
                           "last_updated_timestamp_ms = ? WHERE model_id = ?",
                           true, &stmt);
    if (!err) {
        mfd_stmt_bind_text(stmt, 1, DELETED);
        mfd_stmt_bind_int64(stmt, 2, mfd_now_ms());
        err = run_update(conn, stmt, 3, model_id);
    }
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_logged_models_set_tags(mfd_conn *conn, const char *model_id, const mfd_key_value *tags,
                                   size_t n_tags) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t experiment_id = 0;
    err = model_experiment(conn, model_id, &experiment_id);
    if (!err)
        err = upsert_tags(conn, model_id, experiment_id, tags, n_tags);
    return mfd_conn_finish(conn, err);
}

/* Python's repr() of a str, as MLflow's messages show keys */
static char *py_repr(mfd_arena *arena, const char *s) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_python_repr_append(&sb, s);
    return sb.data;
}

static mfd_err delete_tag_in_txn(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                                 const char *key) {
    int64_t experiment_id = 0;
    mfd_err err = model_experiment(conn, model_id, &experiment_id);
    if (err)
        return err;
    mfd_stmt *stmt;
    if ((err = mfd_conn_prepare(conn,
                                "DELETE FROM logged_model_tags WHERE model_id = ? AND tag_key = ?",
                                true, &stmt)))
        return err;
    mfd_stmt_bind_text(stmt, 1, model_id);
    mfd_stmt_bind_text(stmt, 2, key);
    err = mfd_stmt_exec_done(stmt);
    if (!err && mfd_conn_changes(conn) == 0)
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                          "No tag with key %s found for model with ID %s.", py_repr(arena, key),
                          py_repr(arena, model_id));
    return err;
}

mfd_err mfd_logged_models_delete_tag(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                                     const char *key) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    return mfd_conn_finish(conn, delete_tag_in_txn(conn, arena, model_id, key));
}

mfd_err mfd_logged_models_log_params(mfd_conn *conn, const char *model_id,
                                     const mfd_key_value *params, size_t n_params) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t experiment_id = 0;
    err = model_experiment(conn, model_id, &experiment_id);
    if (!err)
        err = insert_params(conn, model_id, experiment_id, params, n_params);
    return mfd_conn_finish(conn, err);
}

/* ---- search ---------------------------------------------------------------------------------- */

static mfd_err search_in_txn(mfd_conn *conn, mfd_arena *arena, const mfd_logged_models_query *q,
                             mfd_logged_model **models, size_t *n_models, bool *more) {
    mfd_strbuf sql;
    mfd_strbuf_init(&sql, arena);
    mfd_strbuf_append(&sql,
                      "SELECT " MODEL_COLUMNS " FROM logged_models lm WHERE lm.experiment_id IN (");
    for (size_t i = 0; i < q->n_experiment_ids; i++)
        mfd_strbuf_append(&sql, i ? ", ?" : "?");
    mfd_strbuf_append(&sql, ") AND lm.lifecycle_stage <> ?");
    if (q->sql->where && *q->sql->where)
        mfd_strbuf_appendf(&sql, " AND (%s)", q->sql->where);
    if (q->sql->order_by && *q->sql->order_by)
        mfd_strbuf_appendf(&sql, " ORDER BY %s", q->sql->order_by);
    mfd_strbuf_append(&sql, " LIMIT ? OFFSET ?");

    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql.data, false, &stmt);
    if (err)
        return err;
    int index = 1;
    for (size_t i = 0; i < q->n_experiment_ids; i++)
        mfd_stmt_bind_int64(stmt, index++, q->experiment_ids[i]);
    mfd_stmt_bind_text(stmt, index++, DELETED);
    mfd_stmt_bind_params(stmt, index, &q->sql->params);
    index += (int)q->sql->params.count;
    mfd_stmt_bind_int64(stmt, index++, q->limit + 1);
    mfd_stmt_bind_int64(stmt, index, q->offset);

    size_t n = 0, cap = (size_t)q->limit + 1 < 64 ? (size_t)q->limit + 1 : 64;
    mfd_logged_model *items = mfd_arena_alloc(arena, cap * sizeof *items);
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        items = mfd_arena_grow(arena, items, n, &cap, sizeof *items, cap);
        read_model_row(arena, stmt, &items[n++]);
    }
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    *more = (int64_t)n > q->limit;
    if (*more)
        n = (size_t)q->limit;
    if ((err = read_children(conn, arena, items, n)))
        return err;
    *models = items;
    *n_models = n;
    return NULL;
}

mfd_err mfd_logged_models_search(mfd_conn *conn, mfd_arena *arena,
                                 const mfd_logged_models_query *query, mfd_logged_model **models,
                                 size_t *n_models, bool *more) {
    *models = NULL;
    *n_models = 0;
    *more = false;
    if (query->n_experiment_ids == 0 || query->sql->match_nothing || query->limit <= 0)
        return NULL;
    mfd_err err = mfd_conn_begin(conn, false);
    if (err)
        return err;
    return mfd_conn_finish(conn, search_in_txn(conn, arena, query, models, n_models, more));
}
