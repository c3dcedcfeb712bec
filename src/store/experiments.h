/* experiments.h — the store of experiments and their tags (schema.md
 * experiments, experiment_tags; rest-api.md §4).
 *
 * Every function takes the request's connection (and an arena for results)
 * and runs its own transaction. Experiment ids arrive as the client sent them
 * (decimal text); an id that is not an integer is simply "not found"
 * (RESOURCE_DOES_NOT_EXIST "No Experiment with id=<id> exists"), never a 500. */
#ifndef MFD_STORE_EXPERIMENTS_H
#define MFD_STORE_EXPERIMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "key_value.h"
#include "core/err.h"
#include "db.h"
#include "search/search.h"

/* ViewType numbers (search-grammar.md §9). */
enum mfd_view_type {
    MFD_VIEW_ACTIVE_ONLY = 1,
    MFD_VIEW_DELETED_ONLY = 2,
    MFD_VIEW_ALL = 3,
};

typedef struct mfd_experiment {
    int64_t experiment_id;
    const char *name;
    const char *artifact_location; /* NULL when the column is NULL */
    const char *lifecycle_stage;   /* "active" / "deleted" */
    int64_t creation_time;         /* 0 when NULL */
    int64_t last_update_time;      /* 0 when NULL */
    mfd_key_value *tags;           /* ordered by key */
    size_t n_tags;
} mfd_experiment;

/* Creates an active experiment. artifact_location NULL -> the default
 * <default_artifact_root>/<new id>; otherwise stored as given (the caller
 * validates and resolves it). Tags are upserted (duplicate keys: last wins).
 * A taken name (active or deleted) -> RESOURCE_ALREADY_EXISTS. */
/* An experiment id as the column holds it: a decimal integer as strtoll
 * reads it (blanks, sign and zeros in front, as Python's int() in MLflow
 * and the canonical keys of the auth checks), in the range of the engine's
 * INTEGER: 32 bits on PostgreSQL (a larger number names no experiment there,
 * and PostgreSQL refuses it as a parameter of an `integer` comparison), 64 on
 * SQLite (where a database migrated from MLflow's file store holds 18-digit
 * ids). */
bool mfd_experiment_id_parse(mfd_dialect dialect, const char *text, int64_t *out);

mfd_err mfd_experiments_create(mfd_conn *conn, const char *name, const char *artifact_location,
                               const char *default_artifact_root, const mfd_key_value *tags,
                               size_t n_tags, int64_t *experiment_id);

/* An experiment, active or deleted, with its tags. */
mfd_err mfd_experiments_get(mfd_conn *conn, mfd_arena *arena, const char *experiment_id,
                            mfd_experiment *out);

/* By exact name, active or deleted; *found false when there is none. */
mfd_err mfd_experiments_get_by_name(mfd_conn *conn, mfd_arena *arena, const char *name, bool *found,
                                    mfd_experiment *out);

/* One page of a search: rows matching `search` (compiled against
 * `experiments e`) in the stages of view_type, in search->order_by order,
 * skipping `offset` rows and returning at most `limit`, with their tags. */
mfd_err mfd_experiments_search(mfd_conn *conn, mfd_arena *arena, const mfd_search_sql *search,
                               int view_type, int64_t offset, int64_t limit, mfd_experiment **out,
                               size_t *n_out);

/* Renames an active experiment (any stage is found; a deleted one ->
 * INVALID_PARAMETER_VALUE). A taken name -> RESOURCE_ALREADY_EXISTS. */
mfd_err mfd_experiments_rename(mfd_conn *conn, const char *experiment_id, const char *new_name);

/* Deletes an active experiment (unknown or deleted -> 404) and marks every
 * run of it deleted with deleted_time = now. */
mfd_err mfd_experiments_delete(mfd_conn *conn, const char *experiment_id);

/* Restores a deleted experiment (unknown or active -> 404) and every run of
 * it (active, deleted_time NULL). */
mfd_err mfd_experiments_restore(mfd_conn *conn, const char *experiment_id);

/* Upserts a tag (key/value already validated). The experiment must exist
 * (404) and be active (400). */
mfd_err mfd_experiments_set_tag(mfd_conn *conn, const char *experiment_id, const char *key,
                                const char *value);

/* Deletes a tag. Experiment must exist (404) and be active (400); an absent
 * tag -> 404. */
mfd_err mfd_experiments_delete_tag(mfd_conn *conn, const char *experiment_id, const char *key);

#endif
