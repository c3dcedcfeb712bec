/* logged_models.h — the store of MLflow 3 logged models (schema.md
 * logged_models, logged_model_params, logged_model_tags, logged_model_metrics).
 *
 * Every function takes the request's connection and an arena for results; it
 * runs its own transaction. "Not found" is RESOURCE_DOES_NOT_EXIST with
 * MLflow's message "Logged model with ID '<id>' not found.". */
#ifndef MFD_STORE_LOGGED_MODELS_H
#define MFD_STORE_LOGGED_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "key_value.h"
#include "core/err.h"
#include "db.h"
#include "search/search.h"

/* LoggedModelStatus numbers, as stored in logged_models.status. */
enum mfd_logged_model_status {
    MFD_LOGGED_MODEL_STATUS_UNSPECIFIED = 0,
    MFD_LOGGED_MODEL_PENDING = 1,
    MFD_LOGGED_MODEL_READY = 2,
    MFD_LOGGED_MODEL_UPLOAD_FAILED = 3,
};

/* A row of logged_model_metrics. NULL strings are unset columns. */
typedef struct mfd_logged_model_metric {
    const char *key;
    double value;
    bool value_is_null;
    int64_t timestamp, step;
    const char *dataset_name, *dataset_digest, *model_id, *run_id;
} mfd_logged_model_metric;

typedef struct mfd_logged_model {
    const char *model_id;
    const char *experiment_id; /* decimal text of the integer column */
    const char *name;
    const char *artifact_location;
    int64_t creation_timestamp_ms, last_updated_timestamp_ms;
    int status;
    const char *lifecycle_stage; /* "active" / "deleted" (NULL if the column is NULL) */
    const char *model_type, *source_run_id, *status_message; /* NULL when unset */
    mfd_key_value *tags;                                     /* ordered by key */
    size_t n_tags;
    mfd_key_value *params; /* ordered by key */
    size_t n_params;
    mfd_logged_model_metric *metrics; /* ordered by name, timestamp, step, run */
    size_t n_metrics;
} mfd_logged_model;

typedef struct mfd_logged_model_new {
    const char *experiment_id;              /* as received: must name an active experiment */
    const char *name;                       /* required: the caller generates one when absent */
    const char *model_type, *source_run_id; /* NULL = not set */
    const mfd_key_value *params;
    size_t n_params;
    const mfd_key_value *tags;
    size_t n_tags;
} mfd_logged_model_new;

/* Creates a PENDING model with id "m-<uuid hex>" and artifact location
 * <experiment artifact_location>/models/<id>/artifacts. Unknown experiment
 * -> 404; experiment not active -> 400. Params follow the rule of
 * mfd_logged_models_log_params; duplicate tag keys: last wins. */
mfd_err mfd_logged_models_create(mfd_conn *conn, mfd_arena *arena, const mfd_logged_model_new *in,
                                 mfd_logged_model *out);

/* A model with its tags, params and metrics. Deleted models are "not found"
 * unless allow_deleted. */
mfd_err mfd_logged_models_get(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                              bool allow_deleted, mfd_logged_model *out);

/* Sets the status and last_updated_timestamp_ms (deleted models too); returns
 * the updated model. */
mfd_err mfd_logged_models_finalize(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                                   int status, mfd_logged_model *out);

/* Soft delete: lifecycle_stage 'deleted', last_updated_timestamp_ms now. */
mfd_err mfd_logged_models_delete(mfd_conn *conn, const char *model_id);

/* Upserts tags (model row must exist, deleted or not). */
mfd_err mfd_logged_models_set_tags(mfd_conn *conn, const char *model_id, const mfd_key_value *tags,
                                   size_t n_tags);

/* Absent model or absent tag -> 404. */
mfd_err mfd_logged_models_delete_tag(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                                     const char *key);

/* Inserts params. A key already logged with the same value is skipped; with
 * a different value the whole call fails with INVALID_PARAMETER_VALUE. */
mfd_err mfd_logged_models_log_params(mfd_conn *conn, const char *model_id,
                                     const mfd_key_value *params, size_t n_params);

/* One page of a search: non-deleted models of the given experiments that
 * satisfy the compiled filter (alias `lm`), in its order, skipping `offset`
 * rows and returning at most `limit`; *more tells whether rows remain. */
typedef struct mfd_logged_models_query {
    const int64_t *experiment_ids;
    size_t n_experiment_ids;
    const mfd_search_sql *sql;
    int64_t offset, limit;
} mfd_logged_models_query;

mfd_err mfd_logged_models_search(mfd_conn *conn, mfd_arena *arena,
                                 const mfd_logged_models_query *query, mfd_logged_model **models,
                                 size_t *n_models, bool *more);

#endif
