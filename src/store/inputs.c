/* inputs.c — the inputs store: datasets, input edges with their tags, and
 * model outputs of runs.
 *
 * Invariants kept here:
 * - a (name, digest) dataset is written once and then reused by every run
 *   that logs it, whatever its experiment;
 * - a DATASET->RUN edge exists at most once per (dataset, run); its input
 *   tags are written only when the edge is created;
 * - reading the inputs of a page of runs costs a fixed number of queries. */
#include "inputs.h"

#include <string.h>

#include "core/ids.h"
#include "runs.h"
#include "write_order.h"

/* ---- writing -------------------------------------------------------------------------------- */

/* Runs a one-column SELECT bound with two texts; *out = the first value or NULL. */
static mfd_err select_uuid(mfd_conn *conn, mfd_arena *arena, const char *sql, const char *a,
                           const char *b, const char **out) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, a);
    mfd_stmt_bind_text(stmt, 2, b);
    *out = NULL;
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW)
        *out = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 0));
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

/* A dataset of that name and digest, in any experiment: MLflow reuses one
 * logged in another experiment rather than making a row for this one. */
static mfd_err find_dataset(mfd_conn *conn, mfd_arena *arena, const mfd_dataset *d,
                            const char **uuid) {
    return select_uuid(conn, arena,
                       "SELECT dataset_uuid FROM datasets WHERE name = ? AND digest = ?",
                       d->name ? d->name : "", d->digest ? d->digest : "", uuid);
}

/* Inserts the dataset unless a concurrent request just did (*inserted). */
static mfd_err insert_dataset(mfd_conn *conn, const char *uuid, int64_t experiment_id,
                              const mfd_dataset *d, bool *inserted) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn,
        "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, "
        "dataset_source, dataset_schema, dataset_profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (experiment_id, name, digest) DO NOTHING",
        true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, uuid);
    mfd_stmt_bind_int64(stmt, 2, experiment_id);
    mfd_stmt_bind_text(stmt, 3, d->name ? d->name : "");
    mfd_stmt_bind_text(stmt, 4, d->digest ? d->digest : "");
    mfd_stmt_bind_text(stmt, 5, d->source_type ? d->source_type : "");
    mfd_stmt_bind_text(stmt, 6, d->source ? d->source : "");
    mfd_stmt_bind_text(stmt, 7, d->schema);
    mfd_stmt_bind_text(stmt, 8, d->profile);
    err = mfd_stmt_exec(stmt);
    *inserted = !err && mfd_conn_changes(conn) > 0;
    mfd_stmt_done(stmt);
    return err;
}

/* One edge; `conflict` is the ON CONFLICT action for an existing edge. */
static mfd_err insert_edge(mfd_conn *conn, const char *sql, const char *source_id,
                           const char *destination_id, int64_t step, const char **input_uuid,
                           mfd_arena *arena) {
    char uuid[33];
    mfd_uuid_hex(uuid);
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, uuid);
    mfd_stmt_bind_text(stmt, 2, source_id);
    mfd_stmt_bind_text(stmt, 3, destination_id);
    mfd_stmt_bind_int64(stmt, 4, step);
    err = mfd_stmt_exec(stmt);
    bool inserted = !err && mfd_conn_changes(conn) > 0;
    mfd_stmt_done(stmt);
    if (input_uuid) /* NULL when the edge was there already (ON CONFLICT DO NOTHING) */
        *input_uuid = inserted ? mfd_arena_strdup(arena, uuid) : NULL;
    return err;
}

static mfd_err insert_input_tags(mfd_conn *conn, const char *input_uuid, const mfd_key_value *tags,
                                 size_t n) {
    mfd_err err = NULL;
    for (size_t i = 0; i < n && !err; i++) {
        mfd_stmt *stmt;
        if ((err = mfd_conn_prepare(conn,
                                    "INSERT INTO input_tags (input_uuid, name, value) VALUES "
                                    "(?, ?, ?) ON CONFLICT (input_uuid, name) DO UPDATE SET "
                                    "value = excluded.value",
                                    true, &stmt)))
            return err;
        mfd_stmt_bind_text(stmt, 1, input_uuid);
        mfd_stmt_bind_text(stmt, 2, tags[i].key ? tags[i].key : "");
        mfd_stmt_bind_text(stmt, 3, tags[i].value ? tags[i].value : "");
        err = mfd_stmt_exec_done(stmt);
    }
    return err;
}

static mfd_err log_dataset(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                           int64_t experiment_id, const mfd_dataset_input *input) {
    const mfd_dataset *d = &input->dataset;
    const char *dataset_uuid, *input_uuid;
    mfd_err err = find_dataset(conn, arena, d, &dataset_uuid);
    if (!err && !dataset_uuid) {
        /* Two requests logging it at once on PostgreSQL: the second one's
         * insert does nothing, and it takes the first one's dataset. */
        char uuid[33];
        mfd_uuid_hex(uuid);
        bool inserted = false;
        dataset_uuid = mfd_arena_strdup(arena, uuid);
        err = insert_dataset(conn, dataset_uuid, experiment_id, d, &inserted);
        if (!err && !inserted)
            err = find_dataset(conn, arena, d, &dataset_uuid);
    }
    if (!err)
        err = select_uuid(conn, arena,
                          "SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' AND "
                          "source_id = ? AND destination_type = 'RUN' AND destination_id = ?",
                          dataset_uuid, run_id, &input_uuid);
    if (err || input_uuid)
        return err;
    err = insert_edge(conn,
                      "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, "
                      "destination_id, step) VALUES (?, 'DATASET', ?, 'RUN', ?, ?) "
                      "ON CONFLICT DO NOTHING",
                      dataset_uuid, run_id, 0, &input_uuid, arena);
    if (err || !input_uuid) /* logged meanwhile by a concurrent request: as if found above */
        return err;
    return insert_input_tags(conn, input_uuid, input->tags, input->n_tags);
}

/* Rows are written in one order (write_order.h): datasets by (name, digest),
 * models by id. Two runs logging the same new datasets, or two requests the
 * same models, in other orders deadlocked on PostgreSQL. */
static int compare_datasets(const void *a, const void *b) {
    const mfd_dataset *x = &((const mfd_dataset_input *)a)->dataset;
    const mfd_dataset *y = &((const mfd_dataset_input *)b)->dataset;
    /* an absent name or digest is the empty one (one dataset) */
    int c = strcmp(x->name ? x->name : "", y->name ? y->name : "");
    return c ? c : strcmp(x->digest ? x->digest : "", y->digest ? y->digest : "");
}

static int compare_model_ids(const void *a, const void *b) {
    return mfd_write_order_text(*(const char *const *)a, *(const char *const *)b);
}

static int compare_outputs(const void *a, const void *b) {
    return mfd_write_order_text(((const mfd_model_output *)a)->model_id,
                                ((const mfd_model_output *)b)->model_id);
}

mfd_err mfd_inputs_log(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                       const mfd_dataset_input *datasets, size_t n_datasets,
                       const char *const *model_ids, size_t n_models) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    int64_t experiment_id = 0;
    err = mfd_runs_check_active(conn, run_id, &experiment_id);
    size_t *order =
        mfd_write_order(arena, datasets, n_datasets, sizeof *datasets, compare_datasets);
    for (size_t k = 0; k < n_datasets && !err; k++) {
        /* the first of a (name, digest) wins: the same ones are next to each
         * other, in the order sent */
        if (k == 0 || compare_datasets(&datasets[order[k - 1]], &datasets[order[k]]) != 0)
            err = log_dataset(conn, arena, run_id, experiment_id, &datasets[order[k]]);
    }
    order = mfd_write_order(arena, model_ids, n_models, sizeof *model_ids, compare_model_ids);
    for (size_t k = 0; k < n_models && !err; k++)
        err = insert_edge(conn,
                          "INSERT INTO inputs (input_uuid, source_type, source_id, "
                          "destination_type, destination_id, step) VALUES "
                          "(?, 'RUN_INPUT', ?, 'MODEL_INPUT', ?, ?) ON CONFLICT DO NOTHING",
                          run_id, model_ids[order[k]], 0, NULL, arena);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_inputs_log_outputs(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                               const mfd_model_output *models, size_t count) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    err = mfd_runs_check_active(conn, run_id, NULL);
    size_t *order = mfd_write_order(arena, models, count, sizeof *models, compare_outputs);
    for (size_t k = 0; k < count && !err; k++)
        err = insert_edge(conn,
                          "INSERT INTO inputs (input_uuid, source_type, source_id, "
                          "destination_type, destination_id, step) VALUES "
                          "(?, 'RUN_OUTPUT', ?, 'MODEL_OUTPUT', ?, ?) ON CONFLICT (source_type, "
                          "source_id, destination_type, destination_id) DO UPDATE SET "
                          "step = excluded.step",
                          run_id, models[order[k]].model_id, models[order[k]].step, NULL, arena);
    return mfd_conn_finish(conn, err);
}

/* ---- reading -------------------------------------------------------------------------------- */

typedef struct io_loader {
    mfd_arena *arena;
    mfd_run_io *io;
    size_t *capacity;          /* per run, of the array being filled */
    const char **last_input;   /* per run: input_uuid of its last dataset input */
    size_t *last_tag_capacity; /* per run: tag capacity of that last dataset input */
} io_loader;

static char *column(mfd_arena *arena, mfd_stmt *stmt, int col) {
    return mfd_arena_strdup(arena, mfd_stmt_text(stmt, col));
}

/* Rows: run, input_uuid, name, digest, source_type, source, schema, profile,
 * tag name, tag value (tag NULL when the input has none); ordered by run and
 * input, so the rows of one input are contiguous. */
static void dataset_row(void *ctx, size_t index, mfd_stmt *stmt) {
    io_loader *l = ctx;
    mfd_run_io *io = &l->io[index];
    const char *input_uuid = mfd_stmt_text(stmt, 1);
    if (!input_uuid)
        return;
    if (!l->last_input[index] || strcmp(l->last_input[index], input_uuid) != 0) {
        io->datasets = mfd_arena_grow(l->arena, io->datasets, io->n_datasets, &l->capacity[index],
                                      sizeof *io->datasets, 4);
        mfd_dataset_input *in = &io->datasets[io->n_datasets++];
        memset(in, 0, sizeof *in);
        in->dataset = (mfd_dataset){column(l->arena, stmt, 2), column(l->arena, stmt, 3),
                                    column(l->arena, stmt, 4), column(l->arena, stmt, 5),
                                    column(l->arena, stmt, 6), column(l->arena, stmt, 7)};
        l->last_input[index] = mfd_arena_strdup(l->arena, input_uuid);
        l->last_tag_capacity[index] = 0;
    }
    if (mfd_stmt_is_null(stmt, 8))
        return;
    mfd_dataset_input *in = &io->datasets[io->n_datasets - 1];
    mfd_key_value *tags = mfd_arena_grow(l->arena, (void *)in->tags, in->n_tags,
                                         &l->last_tag_capacity[index], sizeof *tags, 4);
    tags[in->n_tags++] = (mfd_key_value){column(l->arena, stmt, 8), column(l->arena, stmt, 9)};
    in->tags = tags;
}

static void output_row(void *ctx, size_t index, mfd_stmt *stmt) {
    io_loader *l = ctx;
    mfd_run_io *io = &l->io[index];
    io->model_outputs = mfd_arena_grow(l->arena, io->model_outputs, io->n_model_outputs,
                                       &l->capacity[index], sizeof *io->model_outputs, 4);
    io->model_outputs[io->n_model_outputs++] =
        (mfd_model_output){column(l->arena, stmt, 1), mfd_stmt_int64(stmt, 2)};
}

static void model_input_row(void *ctx, size_t index, mfd_stmt *stmt) {
    io_loader *l = ctx;
    mfd_run_io *io = &l->io[index];
    io->model_inputs = mfd_arena_grow(l->arena, io->model_inputs, io->n_model_inputs,
                                      &l->capacity[index], sizeof *io->model_inputs, 4);
    io->model_inputs[io->n_model_inputs++] = column(l->arena, stmt, 1);
}

mfd_err mfd_inputs_load(mfd_conn *conn, mfd_arena *arena, const mfd_run_ids *ids,
                        bool with_model_inputs, mfd_run_io *out) {
    size_t n = ids->n;
    memset(out, 0, n * sizeof *out);
    if (n == 0)
        return NULL;
    io_loader l = {arena, out, mfd_arena_calloc(arena, n, sizeof(size_t)),
                   mfd_arena_calloc(arena, n, sizeof(char *)),
                   mfd_arena_calloc(arena, n, sizeof(size_t))};
    mfd_err err = mfd_runs_for_each_row(
        conn, arena, ids,
        "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.dataset_source_type, "
        "d.dataset_source, d.dataset_schema, d.dataset_profile, t.name, t.value "
        "FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id "
        "LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid "
        "WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id",
        " ORDER BY i.destination_id, i.input_uuid, t.name", dataset_row, &l);
    if (err)
        return err;
    memset(l.capacity, 0, n * sizeof(size_t));
    err = mfd_runs_for_each_row(conn, arena, ids,
                                "SELECT source_id, destination_id, step FROM inputs "
                                "WHERE source_type = 'RUN_OUTPUT' AND destination_type = "
                                "'MODEL_OUTPUT' AND source_id",
                                " ORDER BY source_id, step, destination_id", output_row, &l);
    if (err || !with_model_inputs)
        return err;
    memset(l.capacity, 0, n * sizeof(size_t));
    return mfd_runs_for_each_row(conn, arena, ids,
                                 "SELECT source_id, destination_id FROM inputs "
                                 "WHERE source_type = 'RUN_INPUT' AND destination_type = "
                                 "'MODEL_INPUT' AND source_id",
                                 " ORDER BY source_id, destination_id", model_input_row, &l);
}
