/* runs.c — the runs store: run rows, params and tags, log-batch, and the
 * set-based page loading behind GetRun and SearchRuns.
 *
 * Invariants kept here:
 * - runs.name and the tag mlflow.runName change together (create, update,
 *   set-tag, log-batch), so either can be read as the run's name;
 * - a run's params, tags and metrics are only written while it is active,
 *   inside the same write transaction that checked it;
 * - params never change once written (same value again = no-op);
 * - reading a page of runs costs a fixed number of queries (run rows, tags,
 *   params, latest metrics, inputs, outputs), never one query per run. */
#include "runs.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"

#define LOGGED_MODELS_TAG "mlflow.log-model.history"

enum { IN_LIST_CHUNK = 500 };

static const char RUN_COLUMNS[] = "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, "
                                  "r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";

/* ---- small helpers -------------------------------------------------------------------------- */

static bool parse_id(const char *text, int64_t *out) {
    if (!text || !*text)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    bool starts_ok = (text[0] >= '0' && text[0] <= '9') || text[0] == '-';
    if (errno || *end || !starts_ok)
        return false;
    *out = v;
    return true;
}

static char *dup_column(mfd_arena *arena, mfd_stmt *stmt, int col) {
    return mfd_arena_strdup(arena, mfd_stmt_text(stmt, col));
}

static mfd_err run_not_found(const char *run_id) {
    return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found", run_id);
}

/* Reads RUN_COLUMNS starting at column 0. */
static void read_info(mfd_stmt *stmt, mfd_arena *arena, mfd_run_info *info) {
    memset(info, 0, sizeof *info);
    info->run_id = dup_column(arena, stmt, 0);
    info->run_name = dup_column(arena, stmt, 1);
    info->experiment_id = mfd_arena_sprintf(arena, "%lld", (long long)mfd_stmt_int64(stmt, 2));
    info->user_id = dup_column(arena, stmt, 3);
    info->status = dup_column(arena, stmt, 4);
    info->has_start_time = !mfd_stmt_is_null(stmt, 5);
    info->start_time = mfd_stmt_int64(stmt, 5);
    info->has_end_time = !mfd_stmt_is_null(stmt, 6);
    info->end_time = mfd_stmt_int64(stmt, 6);
    info->artifact_uri = dup_column(arena, stmt, 7);
    info->lifecycle_stage = dup_column(arena, stmt, 8);
}

static mfd_err select_info(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                           mfd_run_info *info) {
    static const char sql[] = "SELECT r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, "
                              "r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage "
                              "FROM runs r WHERE r.run_uuid = ?";
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, run_id);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW)
        read_info(stmt, arena, info);
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    return s == MFD_STEP_ROW ? NULL : run_not_found(run_id);
}

static mfd_err select_tag(mfd_conn *conn, mfd_arena *arena, const char *run_id, const char *key,
                          const char **value) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, "SELECT value FROM tags WHERE run_uuid = ? AND key = ?",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, run_id);
    mfd_stmt_bind_text(stmt, 2, key);
    *value = NULL;
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW)
        *value = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 0) ? mfd_stmt_text(stmt, 0) : "");
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
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
    err = mfd_stmt_exec(stmt);
    mfd_stmt_done(stmt);
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
    err = mfd_stmt_exec(stmt);
    mfd_stmt_done(stmt);
    return err ? err : upsert_tag(conn, run_id, MFD_RUN_NAME_TAG, name);
}

/* Ends a write transaction: commit on success, roll back on error. */
static mfd_err finish(mfd_conn *conn, mfd_err err) {
    if (err) {
        mfd_conn_rollback(conn);
        return err;
    }
    return mfd_conn_commit(conn);
}

/* <root>/<run_id>/artifacts with one slash between, before any query string
 * (append_to_uri_path of upstream). */
static const char *run_artifact_uri(mfd_arena *arena, const char *root, const char *run_id) {
    const char *query = strstr(root, "://") || strchr(root, ':') ? strchr(root, '?') : NULL;
    size_t path_len = query ? (size_t)(query - root) : strlen(root);
    while (path_len > 0 && root[path_len - 1] == '/' &&
           !(path_len >= 2 && root[path_len - 2] == ':'))
        path_len--;
    const char *sep = path_len > 0 && root[path_len - 1] == '/' ? "" : "/";
    return mfd_arena_sprintf(arena, "%.*s%s%s/artifacts%s", (int)path_len, root, sep, run_id,
                             query ? query : "");
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
    err = mfd_stmt_exec(stmt);
    mfd_stmt_done(stmt);
    return err;
}

/* The tags as stored: one per key (the last value of a repeated key wins, at
 * the position of its first occurrence). */
static size_t dedupe_tags(mfd_arena *arena, const mfd_run_tag *tags, size_t n, mfd_run_tag **out) {
    mfd_run_tag *unique = mfd_arena_calloc(arena, n + 1, sizeof *unique);
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
    if (!parse_id(in->experiment_id, &experiment_id))
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
        out->tags[j] = (mfd_run_tag){MFD_RUN_NAME_TAG, name};
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
    mfd_stmt *stmt;
    if ((err = mfd_conn_prepare(
             conn,
             "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?",
             true, &stmt)))
        return finish(conn, err);
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
        info->artifact_uri = run_artifact_uri(arena, root ? root : "", run_id);
    } else if (s == MFD_STEP_DONE) {
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "No Experiment with id=%s exists",
                          in->experiment_id);
    }
    mfd_stmt_done(stmt);
    if (!err)
        err = insert_run(conn, info, experiment_id);
    for (size_t i = 0; i < out->n_tags && !err; i++)
        err = upsert_tag(conn, run_id, out->tags[i].key, out->tags[i].value);
    return finish(conn, err);
}

/* ---- reading runs --------------------------------------------------------------------------- */

typedef struct id_slot {
    const char *id;
    size_t index;
} id_slot;

static int compare_slots(const void *a, const void *b) {
    return strcmp(((const id_slot *)a)->id, ((const id_slot *)b)->id);
}

mfd_err mfd_runs_for_each_row(mfd_conn *conn, mfd_arena *arena, const char *const *run_ids,
                              size_t n, const char *sql_head, const char *sql_tail,
                              mfd_run_row_fn row, void *ctx) {
    if (n == 0)
        return NULL;
    id_slot *sorted = mfd_arena_alloc(arena, n * sizeof *sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = (id_slot){run_ids[i], i};
    qsort(sorted, n, sizeof *sorted, compare_slots);
    for (size_t start = 0; start < n; start += IN_LIST_CHUNK) {
        size_t m = n - start < IN_LIST_CHUNK ? n - start : IN_LIST_CHUNK;
        mfd_strbuf sql;
        mfd_strbuf_init(&sql, arena);
        mfd_strbuf_append(&sql, sql_head);
        for (size_t i = 0; i < m; i++)
            mfd_strbuf_append(&sql, i ? ", ?" : "?");
        mfd_strbuf_append(&sql, sql_tail);
        mfd_stmt *stmt;
        /* single-run reads (GetRun) repeat the same text: worth caching */
        mfd_err err = mfd_conn_prepare(conn, sql.data, m == 1, &stmt);
        if (err)
            return err;
        for (size_t i = 0; i < m; i++)
            mfd_stmt_bind_text(stmt, (int)i + 1, sorted[start + i].id);
        mfd_step s;
        while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
            id_slot key = {mfd_stmt_text(stmt, 0), 0};
            if (!key.id)
                continue;
            const id_slot *hit = bsearch(&key, sorted + start, m, sizeof *sorted, compare_slots);
            if (hit)
                row(ctx, hit->index, stmt);
        }
        mfd_stmt_done(stmt);
        if (s == MFD_STEP_ERROR)
            return err;
    }
    return NULL;
}

/* Appends to per-run arrays that double in the arena. */
typedef struct run_loader {
    mfd_arena *arena;
    mfd_run *runs;
    size_t *capacity;
} run_loader;

static void *grow(mfd_arena *arena, void *items, size_t count, size_t *cap, size_t size) {
    if (count < *cap)
        return items;
    size_t new_cap = *cap ? *cap * 2 : 8;
    void *bigger = mfd_arena_alloc(arena, new_cap * size);
    if (count)
        memcpy(bigger, items, count * size);
    *cap = new_cap;
    return bigger;
}

static void tag_row(void *ctx, size_t index, mfd_stmt *stmt) {
    run_loader *l = ctx;
    mfd_run *run = &l->runs[index];
    run->tags = grow(l->arena, run->tags, run->n_tags, &l->capacity[index], sizeof *run->tags);
    const char *value = mfd_stmt_text(stmt, 2);
    run->tags[run->n_tags++] = (mfd_run_tag){dup_column(l->arena, stmt, 1),
                                             mfd_arena_strdup(l->arena, value ? value : "")};
}

static void param_row(void *ctx, size_t index, mfd_stmt *stmt) {
    run_loader *l = ctx;
    mfd_run *run = &l->runs[index];
    run->params =
        grow(l->arena, run->params, run->n_params, &l->capacity[index], sizeof *run->params);
    const char *value = mfd_stmt_text(stmt, 2);
    run->params[run->n_params++] = (mfd_run_tag){dup_column(l->arena, stmt, 1),
                                                 mfd_arena_strdup(l->arena, value ? value : "")};
}

static void metric_row(void *ctx, size_t index, mfd_stmt *stmt) {
    run_loader *l = ctx;
    mfd_run *run = &l->runs[index];
    run->metrics =
        grow(l->arena, run->metrics, run->n_metrics, &l->capacity[index], sizeof *run->metrics);
    run->metrics[run->n_metrics++] = (mfd_metric){
        .key = dup_column(l->arena, stmt, 1),
        .value = mfd_stmt_double(stmt, 2),
        .is_nan = mfd_stmt_int64(stmt, 3) != 0,
        .timestamp = mfd_stmt_int64(stmt, 4),
        .step = mfd_stmt_int64(stmt, 5),
    };
}

/* Params, tags and latest metrics of every run, then the name fallback. */
static mfd_err load_run_data(mfd_conn *conn, mfd_arena *arena, mfd_run *runs, size_t n) {
    const char **ids = mfd_arena_alloc(arena, (n ? n : 1) * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = runs[i].info.run_id;
    run_loader loader = {arena, runs, mfd_arena_calloc(arena, n + 1, sizeof(size_t))};
    mfd_err err = mfd_runs_for_each_row(conn, arena, ids, n,
                                        "SELECT run_uuid, key, value FROM tags WHERE run_uuid IN (",
                                        ") ORDER BY run_uuid, key", tag_row, &loader);
    if (err)
        return err;
    memset(loader.capacity, 0, n * sizeof(size_t));
    err = mfd_runs_for_each_row(conn, arena, ids, n,
                                "SELECT run_uuid, key, value FROM params WHERE run_uuid IN (",
                                ") ORDER BY run_uuid, key", param_row, &loader);
    if (err)
        return err;
    memset(loader.capacity, 0, n * sizeof(size_t));
    err = mfd_runs_for_each_row(
        conn, arena, ids, n,
        "SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics "
        "WHERE run_uuid IN (",
        ") ORDER BY run_uuid, key", metric_row, &loader);
    if (err)
        return err;
    for (size_t i = 0; i < n; i++) {
        mfd_run_info *info = &runs[i].info;
        if (info->run_name && *info->run_name)
            continue;
        for (size_t t = 0; t < runs[i].n_tags; t++)
            if (strcmp(runs[i].tags[t].key, MFD_RUN_NAME_TAG) == 0)
                info->run_name = runs[i].tags[t].value;
    }
    return NULL;
}

mfd_err mfd_runs_get(mfd_conn *conn, mfd_arena *arena, const char *run_id, mfd_run *out) {
    memset(out, 0, sizeof *out);
    mfd_err err = mfd_conn_begin(conn, false);
    if (err)
        return err;
    err = select_info(conn, arena, run_id, &out->info);
    if (!err)
        err = load_run_data(conn, arena, out, 1);
    if (!err)
        err = mfd_inputs_load(conn, arena, &out->info.run_id, 1, true, &out->io);
    return finish(conn, err);
}

mfd_err mfd_runs_search(mfd_conn *conn, mfd_arena *arena, const mfd_run_search *in, mfd_run **runs,
                        size_t *count) {
    *runs = NULL;
    *count = 0;
    if (in->n_experiment_ids == 0 || (!in->active && !in->deleted) || in->limit <= 0)
        return NULL;
    mfd_strbuf sql;
    mfd_strbuf_init(&sql, arena);
    mfd_strbuf_appendf(&sql, "SELECT %s FROM runs r WHERE r.experiment_id IN (", RUN_COLUMNS);
    for (size_t i = 0; i < in->n_experiment_ids; i++)
        mfd_strbuf_append(&sql, i ? ", ?" : "?");
    mfd_strbuf_append(&sql, in->active && in->deleted ? ") AND r.lifecycle_stage IN (?, ?)"
                                                      : ") AND r.lifecycle_stage = ?");
    mfd_strbuf_appendf(
        &sql, " AND (%s) ORDER BY %s LIMIT ? OFFSET ?", in->where && *in->where ? in->where : "1=1",
        in->order_by && *in->order_by ? in->order_by : "r.start_time DESC, r.run_uuid ASC");
    mfd_err err = mfd_conn_begin(conn, false);
    if (err)
        return err;
    mfd_stmt *stmt;
    if ((err = mfd_conn_prepare(conn, sql.data, false, &stmt)))
        return finish(conn, err);
    int index = 1;
    for (size_t i = 0; i < in->n_experiment_ids; i++)
        mfd_stmt_bind_int64(stmt, index++, in->experiment_ids[i]);
    if (in->active)
        mfd_stmt_bind_text(stmt, index++, "active");
    if (in->deleted)
        mfd_stmt_bind_text(stmt, index++, "deleted");
    if (in->params) {
        mfd_stmt_bind_params(stmt, index, in->params);
        index += (int)in->params->count;
    }
    mfd_stmt_bind_int64(stmt, index++, in->limit);
    mfd_stmt_bind_int64(stmt, index, in->offset);

    mfd_run *page = NULL;
    size_t n = 0, cap = 0;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        page = grow(arena, page, n, &cap, sizeof *page);
        memset(&page[n], 0, sizeof *page);
        read_info(stmt, arena, &page[n].info);
        n++;
    }
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return finish(conn, err);
    if ((err = load_run_data(conn, arena, page, n)))
        return finish(conn, err);
    const char **ids = mfd_arena_alloc(arena, (n ? n : 1) * sizeof *ids);
    mfd_run_io *io = mfd_arena_calloc(arena, n + 1, sizeof *io);
    for (size_t i = 0; i < n; i++)
        ids[i] = page[i].info.run_id;
    if ((err = mfd_inputs_load(conn, arena, ids, n, false, io)))
        return finish(conn, err);
    for (size_t i = 0; i < n; i++)
        page[i].io = io[i];
    *runs = page;
    *count = n;
    return finish(conn, NULL);
}

/* ---- updates -------------------------------------------------------------------------------- */

mfd_err mfd_runs_update(mfd_conn *conn, mfd_arena *arena, const char *run_id, const char *status,
                        bool has_end_time, int64_t end_time, const char *run_name,
                        mfd_run_info *out) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    if ((err = mfd_runs_check_active(conn, run_id, NULL)))
        return finish(conn, err);
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
        err = mfd_stmt_exec(stmt);
        mfd_stmt_done(stmt);
    }
    if (!err && run_name && *run_name)
        err = rename_run(conn, run_id, run_name);
    if (!err)
        err = select_info(conn, arena, run_id, out);
    if (!err && !(out->run_name && *out->run_name))
        err = select_tag(conn, arena, run_id, MFD_RUN_NAME_TAG, &out->run_name);
    return finish(conn, err);
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
        return finish(conn, err);
    mfd_stmt_bind_text(stmt, 1, deleted ? "deleted" : "active");
    if (deleted)
        mfd_stmt_bind_int64(stmt, 2, mfd_now_ms());
    else
        mfd_stmt_bind_null(stmt, 2);
    mfd_stmt_bind_text(stmt, 3, run_id);
    err = mfd_stmt_exec(stmt);
    mfd_stmt_done(stmt);
    if (!err && mfd_conn_changes(conn) == 0)
        err = run_not_found(run_id);
    return finish(conn, err);
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
    return finish(conn, err);
}

mfd_err mfd_runs_delete_tag(mfd_conn *conn, const char *run_id, const char *key) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    if ((err = mfd_runs_check_active(conn, run_id, NULL)))
        return finish(conn, err);
    mfd_stmt *stmt;
    if ((err = mfd_conn_prepare(conn, "DELETE FROM tags WHERE run_uuid = ? AND key = ?", true,
                                &stmt)))
        return finish(conn, err);
    mfd_stmt_bind_text(stmt, 1, run_id);
    mfd_stmt_bind_text(stmt, 2, key);
    err = mfd_stmt_exec(stmt);
    mfd_stmt_done(stmt);
    if (!err && mfd_conn_changes(conn) == 0)
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "No tag with name: %s in run with id %s",
                          key, run_id);
    return finish(conn, err);
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
    err = mfd_stmt_exec(stmt);
    mfd_stmt_done(stmt);
    if (err || mfd_conn_changes(conn) > 0)
        return err;
    if ((err = mfd_conn_prepare(conn, "SELECT value FROM params WHERE key = ? AND run_uuid = ?",
                                true, &stmt)))
        return err;
    mfd_stmt_bind_text(stmt, 1, key);
    mfd_stmt_bind_text(stmt, 2, run_id);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW)
        *existing = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 0) ? mfd_stmt_text(stmt, 0) : "");
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
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
    return finish(conn, err);
}

/* Python's repr() of a str, for messages that quote upstream's lists. */
static void append_repr(mfd_strbuf *sb, const char *s) {
    char quote = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    mfd_strbuf_appendn(sb, &quote, 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\\' || *p == (unsigned char)quote)
            mfd_strbuf_appendf(sb, "\\%c", *p);
        else if (*p == '\n')
            mfd_strbuf_append(sb, "\\n");
        else if (*p == '\r')
            mfd_strbuf_append(sb, "\\r");
        else if (*p == '\t')
            mfd_strbuf_append(sb, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            mfd_strbuf_appendf(sb, "\\x%02x", *p);
        else
            mfd_strbuf_appendn(sb, (const char *)p, 1);
    }
    mfd_strbuf_appendn(sb, &quote, 1);
}

mfd_err mfd_runs_log_batch(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                           const mfd_metric_log *metrics, size_t n_metrics,
                           const mfd_run_tag *params, size_t n_params, const mfd_run_tag *tags,
                           size_t n_tags) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t experiment_id = 0;
    if ((err = mfd_runs_check_active(conn, run_id, &experiment_id)))
        return finish(conn, err);
    mfd_strbuf conflicts;
    mfd_strbuf_init(&conflicts, arena);
    for (size_t i = 0; i < n_params && !err; i++) {
        const char *existing, *value = params[i].value ? params[i].value : "";
        err = insert_param(conn, arena, run_id, params[i].key, value, &existing);
        if (!err && existing && strcmp(existing, value) != 0) {
            mfd_strbuf_append(&conflicts, conflicts.len ? ", {'key': " : "{'key': ");
            append_repr(&conflicts, params[i].key);
            mfd_strbuf_append(&conflicts, ", 'old_value': ");
            append_repr(&conflicts, existing);
            mfd_strbuf_append(&conflicts, ", 'new_value': ");
            append_repr(&conflicts, value);
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
    for (size_t i = 0; i < n_tags && !err; i++)
        err = write_tag(conn, run_id, tags[i].key, tags[i].value);
    return finish(conn, err);
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
        char *text = json_dumps(history, JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
        json_decref(history);
        err = text ? upsert_tag(conn, run_id, LOGGED_MODELS_TAG, text)
                   : mfd_err_new(MFD_INTERNAL_ERROR, "cannot encode the logged model history");
        free(text);
    }
    json_decref(entry);
    return finish(conn, err);
}
