/* runs_read.c — the runs store, reading side: one run (GetRun) and a page
 * of runs (SearchRuns) with their params, tags, latest metrics, inputs and
 * outputs.
 *
 * Invariant kept here: reading a page of runs costs a fixed number of
 * queries (run rows, tags, params, latest metrics, inputs, outputs; the IN
 * lists cut in chunks of IN_LIST_CHUNK ids), never one query per run. */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/ids.h"
#include "runs.h"
#include "short_forms.h"

enum { IN_LIST_CHUNK = 500 };

/* The columns read_info() reads, in its order. */
#define RUN_COLUMNS                                                                                \
    "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, "         \
    "r.artifact_uri, r.lifecycle_stage"

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

mfd_err mfd_runs_read_info(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                           mfd_run_info *info) {
    static const char sql[] = "SELECT " RUN_COLUMNS " FROM runs r WHERE r.run_uuid = ?";
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

/* ---- reading runs --------------------------------------------------------------------------- */

static int compare_slots(const void *a, const void *b) {
    return strcmp(((const mfd_run_id_slot *)a)->id, ((const mfd_run_id_slot *)b)->id);
}

mfd_run_ids mfd_run_ids_sort(mfd_arena *arena, const char *const *run_ids, size_t n) {
    mfd_run_ids ids = {mfd_arena_alloc(arena, (n ? n : 1) * sizeof *ids.sorted), n};
    for (size_t i = 0; i < n; i++)
        ids.sorted[i] = (mfd_run_id_slot){run_ids[i], i};
    qsort(ids.sorted, n, sizeof *ids.sorted, compare_slots);
    return ids;
}

/* The slot of `id` among slots [first, end). Rows come grouped by run id,
 * and in the slots' order when the database collates ids bytewise (SQLite
 * always, PostgreSQL for hex ids in any usual collation): the current slot
 * or the next one then matches, with a binary search only otherwise. */
static const mfd_run_id_slot *find_slot(const mfd_run_id_slot *slots, size_t first, size_t end,
                                        size_t *cursor, const char *id) {
    if (*cursor < end && strcmp(slots[*cursor].id, id) == 0)
        return &slots[*cursor];
    if (*cursor + 1 < end && strcmp(slots[*cursor + 1].id, id) == 0)
        return &slots[++*cursor];
    mfd_run_id_slot key = {id, 0};
    const mfd_run_id_slot *hit =
        bsearch(&key, slots + first, end - first, sizeof *slots, compare_slots);
    if (hit)
        *cursor = (size_t)(hit - slots);
    return hit;
}

mfd_err mfd_runs_for_each_row(mfd_conn *conn, mfd_arena *arena, const mfd_run_ids *ids,
                              const char *sql_head, const char *sql_tail, mfd_run_row_fn row,
                              void *ctx) {
    size_t n = ids->n;
    const mfd_run_id_slot *sorted = ids->sorted;
    /* PostgreSQL takes every id as one array parameter: one statement, and
     * no bind of hundreds of parameters (0.4 ms each time for 128). */
    bool as_array = mfd_conn_dialect(conn) == MFD_DIALECT_POSTGRES;
    size_t chunk = as_array ? n : IN_LIST_CHUNK;
    for (size_t start = 0; start < n; start += chunk) {
        size_t m = n - start < chunk ? n - start : chunk;
        mfd_stmt *stmt;
        mfd_err err;
        if (as_array) {
            const char *sql =
                mfd_arena_sprintf(arena, "%s = ANY(CAST(? AS text[]))%s", sql_head, sql_tail);
            if ((err = mfd_conn_prepare(conn, sql, true, &stmt)))
                return err;
            const char **values = mfd_arena_alloc(arena, m * sizeof *values);
            for (size_t i = 0; i < m; i++)
                values[i] = sorted[start + i].id;
            mfd_stmt_bind_text_array(stmt, 1, values, m);
        } else {
            /* A few list lengths only, the last id repeated to fill: the
             * statement is prepared once per connection, not parsed again
             * for every page. */
            size_t slots = mfd_sql_in_list_slots(m, IN_LIST_CHUNK);
            const char *head = mfd_arena_sprintf(arena, "%s IN (", sql_head);
            const char *tail = mfd_arena_sprintf(arena, ")%s", sql_tail);
            if ((err = mfd_conn_prepare(conn, mfd_sql_in_list(arena, head, slots, tail), true,
                                        &stmt)))
                return err;
            for (size_t i = 0; i < slots; i++)
                mfd_stmt_bind_text(stmt, (int)i + 1, sorted[start + (i < m ? i : m - 1)].id);
        }
        mfd_step s;
        size_t cursor = start;
        while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
            const char *id = mfd_stmt_text(stmt, 0);
            const mfd_run_id_slot *hit =
                id ? find_slot(sorted, start, start + m, &cursor, id) : NULL;
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

static void tag_row(void *ctx, size_t index, mfd_stmt *stmt) {
    run_loader *l = ctx;
    mfd_run *run = &l->runs[index];
    run->tags =
        mfd_arena_grow(l->arena, run->tags, run->n_tags, &l->capacity[index], sizeof *run->tags, 8);
    const char *value = mfd_stmt_text(stmt, 2);
    run->tags[run->n_tags++] = (mfd_key_value){dup_column(l->arena, stmt, 1),
                                               mfd_arena_strdup(l->arena, value ? value : "")};
}

static void param_row(void *ctx, size_t index, mfd_stmt *stmt) {
    run_loader *l = ctx;
    mfd_run *run = &l->runs[index];
    run->params = mfd_arena_grow(l->arena, run->params, run->n_params, &l->capacity[index],
                                 sizeof *run->params, 8);
    const char *value = mfd_stmt_text(stmt, 2);
    run->params[run->n_params++] = (mfd_key_value){dup_column(l->arena, stmt, 1),
                                                   mfd_arena_strdup(l->arena, value ? value : "")};
}

static void metric_row(void *ctx, size_t index, mfd_stmt *stmt) {
    run_loader *l = ctx;
    mfd_run *run = &l->runs[index];
    run->metrics = mfd_arena_grow(l->arena, run->metrics, run->n_metrics, &l->capacity[index],
                                  sizeof *run->metrics, 8);
    run->metrics[run->n_metrics++] = (mfd_metric){
        .key = dup_column(l->arena, stmt, 1),
        .value = mfd_stmt_double(stmt, 2),
        .is_nan = mfd_stmt_int64(stmt, 3) != 0,
        .timestamp = mfd_stmt_int64(stmt, 4),
        .step = mfd_stmt_int64(stmt, 5),
    };
}

static int compare_tags(const void *a, const void *b) {
    return strcmp(((const mfd_key_value *)a)->key, ((const mfd_key_value *)b)->key);
}

static int compare_metrics(const void *a, const void *b) {
    return strcmp(((const mfd_metric *)a)->key, ((const mfd_metric *)b)->key);
}

/* Params, tags and latest metrics of every run, each list ordered by key
 * (byte order, here rather than in SQL: the same on both engines whatever
 * PostgreSQL's collation, and SQLite needs no sort pass), then the name
 * fallback. */
static mfd_err load_run_data(mfd_conn *conn, mfd_arena *arena, mfd_run *runs,
                             const mfd_run_ids *ids) {
    size_t n = ids->n;
    run_loader loader = {arena, runs, mfd_arena_calloc(arena, n + 1, sizeof(size_t))};
    mfd_err err = mfd_runs_for_each_row(conn, arena, ids,
                                        "SELECT run_uuid, key, value FROM tags WHERE run_uuid",
                                        " ORDER BY run_uuid", tag_row, &loader);
    if (err)
        return err;
    memset(loader.capacity, 0, n * sizeof(size_t));
    err = mfd_runs_for_each_row(conn, arena, ids,
                                "SELECT run_uuid, key, value FROM params WHERE run_uuid",
                                " ORDER BY run_uuid", param_row, &loader);
    if (err)
        return err;
    memset(loader.capacity, 0, n * sizeof(size_t));
    err = mfd_runs_for_each_row(
        conn, arena, ids,
        "SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics "
        "WHERE run_uuid",
        " ORDER BY run_uuid", metric_row, &loader);
    if (err)
        return err;
    for (size_t i = 0; i < n; i++) {
        mfd_run *run = &runs[i];
        if (run->n_tags > 1)
            qsort(run->tags, run->n_tags, sizeof *run->tags, compare_tags);
        if (run->n_params > 1)
            qsort(run->params, run->n_params, sizeof *run->params, compare_tags);
        if (run->n_metrics > 1)
            qsort(run->metrics, run->n_metrics, sizeof *run->metrics, compare_metrics);
    }
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
    err = mfd_runs_read_info(conn, arena, run_id, &out->info);
    mfd_run_ids ids = mfd_run_ids_sort(arena, &out->info.run_id, err ? 0 : 1);
    if (!err)
        err = load_run_data(conn, arena, out, &ids);
    if (!err)
        err = mfd_inputs_load(conn, arena, &ids, true, &out->io);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_runs_count_in_experiments(mfd_conn *conn, mfd_arena *arena,
                                      const int64_t *experiment_ids, size_t n, int64_t at_most,
                                      int64_t *count) {
    *count = 0;
    if (n == 0)
        return NULL;
    mfd_stmt *stmt;
    /* cached: one text per number of experiments, asked on every filtered search */
    mfd_err err = mfd_conn_prepare(
        conn,
        mfd_sql_in_list(arena, "SELECT count(*) FROM (SELECT 1 FROM runs WHERE experiment_id IN (",
                        n, ") LIMIT ?) x"),
        true, &stmt);
    if (err)
        return err;
    for (size_t i = 0; i < n; i++)
        mfd_stmt_bind_int64(stmt, (int)i + 1, experiment_ids[i]);
    mfd_stmt_bind_int64(stmt, (int)n + 1, at_most);
    if (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW)
        *count = mfd_stmt_int64(stmt, 0);
    mfd_stmt_done(stmt);
    return err;
}

mfd_err mfd_runs_sqlite_bound(mfd_conn *conn, int64_t *bound) {
    *bound = 0;
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, "SELECT max(rowid) FROM runs", true, &stmt);
    if (err)
        return err;
    if (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW)
        *bound = mfd_stmt_int64(stmt, 0);
    mfd_stmt_done(stmt);
    return err;
}

mfd_err mfd_runs_count_rows(mfd_conn *conn, mfd_arena *arena, const char *select,
                            const mfd_sql_params *params, int64_t at_most, int64_t *count) {
    *count = 0;
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, mfd_arena_sprintf(arena, "SELECT count(*) FROM (%s LIMIT ?) x", select), false,
        &stmt);
    if (err)
        return err;
    mfd_stmt_bind_params(stmt, 1, params);
    mfd_stmt_bind_int64(stmt, (int)params->count + 1, at_most);
    if (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW)
        *count = mfd_stmt_int64(stmt, 0);
    mfd_stmt_done(stmt);
    return err;
}

/* The page's run rows (no data) from one form of the search. */
static mfd_err select_page(mfd_conn *conn, mfd_arena *arena, const mfd_run_search *in,
                           mfd_run **out, size_t *count) {
    mfd_strbuf sql;
    mfd_strbuf_init(&sql, arena);
    /* SQLite: `+` keeps it from reading the experiment through its index
     * unless by_experiment says so (schema.c, mlflowd_runs_experiment) */
    bool plus = mfd_conn_dialect(conn) == MFD_DIALECT_SQLITE && !in->by_experiment;
    mfd_strbuf_appendf(&sql, "SELECT " RUN_COLUMNS " FROM %s WHERE %sr.experiment_id IN (",
                       in->from ? in->from : "runs r", plus ? "+" : "");
    for (size_t i = 0; i < in->n_experiment_ids; i++)
        mfd_strbuf_append(&sql, i ? ", ?" : "?");
    mfd_strbuf_append(&sql, in->active && in->deleted ? ") AND r.lifecycle_stage IN (?, ?)"
                                                      : ") AND r.lifecycle_stage = ?");
    mfd_strbuf_appendf(
        &sql, " AND (%s) ORDER BY %s LIMIT ? OFFSET ?", in->where && *in->where ? in->where : "1=1",
        in->order_by && *in->order_by ? in->order_by
                                      : "r.start_time DESC NULLS LAST, r.run_uuid ASC");
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql.data, false, &stmt);
    if (err)
        return err;
    /* Bind in text order: FROM values, experiment ids, stages, where+order values, page. */
    int index = 1;
    size_t n_join = in->params ? in->n_join_params : 0;
    if (n_join) {
        mfd_sql_params from = {in->params->values, n_join, 0};
        mfd_stmt_bind_params(stmt, index, &from);
        index += (int)n_join;
    }
    for (size_t i = 0; i < in->n_experiment_ids; i++)
        mfd_stmt_bind_int64(stmt, index++, in->experiment_ids[i]);
    if (in->active)
        mfd_stmt_bind_text(stmt, index++, "active");
    if (in->deleted)
        mfd_stmt_bind_text(stmt, index++, "deleted");
    if (in->params) {
        mfd_sql_params rest = {in->params->values + n_join, in->params->count - n_join, 0};
        mfd_stmt_bind_params(stmt, index, &rest);
        index += (int)rest.count;
    }
    mfd_stmt_bind_int64(stmt, index++, in->limit);
    mfd_stmt_bind_int64(stmt, index, in->offset);

    mfd_run *page = NULL;
    size_t n = 0, cap = 0;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        page = mfd_arena_grow(arena, page, n, &cap, sizeof *page, 8);
        memset(&page[n], 0, sizeof *page);
        read_info(stmt, arena, &page[n].info);
        n++;
    }
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    *out = page;
    *count = n;
    return NULL;
}

static int by_run_id(const void *a, const void *b) {
    return strcmp(((const mfd_run *)a)->info.run_id, ((const mfd_run *)b)->info.run_id);
}

/* The rows of the runs the run-search cache picked, in its order; a run
 * removed since is left out. */
static mfd_err select_ids(mfd_conn *conn, mfd_arena *arena, const mfd_run_search *in, mfd_run **out,
                          size_t *count) {
    *out = NULL;
    *count = 0;
    if (in->n_page_ids == 0)
        return NULL;
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "SELECT " RUN_COLUMNS " FROM runs r WHERE r.run_uuid = ANY(CAST(? AS text[]))", true,
        &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text_array(stmt, 1, in->page_ids, in->n_page_ids);
    mfd_run *rows = mfd_arena_calloc(arena, in->n_page_ids, sizeof *rows);
    size_t n = 0;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW && n < in->n_page_ids)
        read_info(stmt, arena, &rows[n++].info);
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    qsort(rows, n, sizeof *rows, by_run_id);
    mfd_run *page = mfd_arena_calloc(arena, in->n_page_ids, sizeof *page);
    size_t m = 0;
    for (size_t i = 0; i < in->n_page_ids; i++) {
        mfd_run key = {.info.run_id = in->page_ids[i]};
        const mfd_run *row = bsearch(&key, rows, n, sizeof *rows, by_run_id);
        if (row)
            page[m++] = *row;
    }
    *out = page;
    *count = m;
    return NULL;
}

/* One form of the search, SQL, values, scope and page, as a hash. */
static uint64_t form_hash(const mfd_run_search *in) {
    uint64_t h = mfd_hash_str(MFD_HASH_INIT, in->from ? in->from : "");
    h = mfd_hash_str(h, in->where ? in->where : "");
    h = mfd_hash_str(h, in->order_by ? in->order_by : "");
    for (size_t i = 0; in->params && i < in->params->count; i++) {
        const mfd_sql_value *v = &in->params->values[i];
        h = mfd_hash_bytes(h, &v->kind, sizeof v->kind);
        if (v->kind == MFD_SQL_TEXT)
            h = mfd_hash_str(h, v->text);
        else if (v->kind == MFD_SQL_INT64)
            h = mfd_hash_bytes(h, &v->i64, sizeof v->i64);
        else if (v->kind == MFD_SQL_DOUBLE)
            h = mfd_hash_bytes(h, &v->f64, sizeof v->f64);
    }
    h = mfd_hash_bytes(h, in->experiment_ids, in->n_experiment_ids * sizeof *in->experiment_ids);
    int64_t page[] = {in->active, in->deleted, in->offset, in->limit};
    return mfd_hash_bytes(h, page, sizeof page);
}

/* The page from the first of the search's faster forms that fills it (its
 * window's window first), else from the search itself. A faster form that
 * came up short for the same search lately is skipped (short_forms.h). */
static mfd_err select_full_page(mfd_conn *conn, mfd_arena *arena, const mfd_run_search *in,
                                bool faster_form, mfd_run **out, size_t *count) {
    if (in->window) {
        mfd_err err = select_full_page(conn, arena, in->window, true, out, count);
        if (err || (int64_t)*count >= in->limit)
            return err;
    }
    if (!faster_form)
        return select_page(conn, arena, in, out, count);
    uint64_t form = form_hash(in);
    if (mfd_short_form_recent(form, mfd_now_ms())) {
        *out = NULL;
        *count = 0;
        return NULL;
    }
    mfd_err err = select_page(conn, arena, in, out, count);
    if (!err && (int64_t)*count < in->limit)
        mfd_short_form_remember(form, mfd_now_ms());
    return err;
}

mfd_err mfd_runs_search(mfd_conn *conn, mfd_arena *arena, const mfd_run_search *in,
                        mfd_runs_part_fn part, void *ctx, size_t *count) {
    *count = 0;
    if (in->n_experiment_ids == 0 || (!in->active && !in->deleted) || in->limit <= 0)
        return NULL;
    mfd_err err = mfd_conn_begin(conn, false);
    if (err)
        return err;
    mfd_run *page = NULL;
    size_t n = 0;
    if (in->window && mfd_conn_dialect(conn) == MFD_DIALECT_POSTGRES &&
        (err = mfd_conn_exec(conn, "SET LOCAL work_mem = '" MFD_RUNS_WINDOW_WORK_MEM "'")))
        return mfd_conn_finish(conn, err);
    if ((err = in->page_ids ? select_ids(conn, arena, in, &page, &n)
                            : select_full_page(conn, arena, in, false, &page, &n)))
        return mfd_conn_finish(conn, err);
    for (size_t first = 0; first < n && !err; first += MFD_RUNS_SEARCH_PART) {
        size_t m = n - first < MFD_RUNS_SEARCH_PART ? n - first : MFD_RUNS_SEARCH_PART;
        mfd_run *runs = page + first;
        mfd_arena *data = mfd_arena_new();
        const char **run_ids = mfd_arena_alloc(data, m * sizeof *run_ids);
        for (size_t i = 0; i < m; i++)
            run_ids[i] = runs[i].info.run_id;
        mfd_run_ids ids = mfd_run_ids_sort(data, run_ids, m);
        mfd_run_io *io = mfd_arena_calloc(data, m + 1, sizeof *io);
        if (!(err = load_run_data(conn, data, runs, &ids)) &&
            !(err = mfd_inputs_load(conn, data, &ids, false, io))) {
            for (size_t i = 0; i < m; i++)
                runs[i].io = io[i];
            part(ctx, runs, m);
        }
        mfd_arena_free(data); /* the part's data, and anything pointing into it */
        memset(runs, 0, m * sizeof *runs);
    }
    *count = n;
    return mfd_conn_finish(conn, err);
}
