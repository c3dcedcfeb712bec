/* registry_internal.h — what registry.c and registry_versions.c share and
 * nobody else sees: the model_versions column list and row reader, the
 * existence checks with MLflow's not-found messages, and the loaders that
 * attach tags, aliases and latest versions. All run inside the caller's
 * transaction. */
#ifndef MFD_STORE_REGISTRY_INTERNAL_H
#define MFD_STORE_REGISTRY_INTERNAL_H

#include "registry.h"

/* Columns 0..12 of a model_versions row aliased `mv`. */
#define MFD_MV_COLUMNS                                                                             \
    "mv.name, mv.version, mv.creation_time, mv.last_updated_time, mv.description, mv.user_id, "    \
    "mv.current_stage, mv.source, mv.run_id, mv.status, mv.status_message, mv.run_link, "          \
    "mv.storage_location"
enum { MFD_MV_N_COLUMNS = 13 };

/* The tag tables are keyed (key, name[, version]) with no index on the name,
 * so a model's tags cannot be found without knowing the keys. This CTE lists
 * the distinct keys by walking the primary key (one seek per key, a "loose
 * index scan"), ending with one NULL row; joined with it, every tag lookup is
 * a primary-key seek. Statements using it start with WITH RECURSIVE. */
#define MFD_TAG_KEYS_CTE(table)                                                                    \
    "k(key) AS (SELECT MIN(key) FROM " table " UNION ALL SELECT (SELECT MIN(key) FROM " table      \
    " WHERE key > k.key) FROM k WHERE k.key IS NOT NULL)"

char *mfd_registry_copy_text(mfd_arena *arena, mfd_stmt *stmt, int col);
void mfd_registry_read_version(mfd_arena *arena, mfd_stmt *stmt, mfd_model_version *mv);
/* Appends the (key, value) at columns col, col+1 unless the key is NULL. */
void mfd_registry_add_tag(mfd_arena *arena, mfd_stmt *stmt, int col, mfd_key_value **tags,
                          size_t *n, size_t *cap);

/* 404 "Registered Model with name=<n> not found" when absent. */
mfd_err mfd_registry_require_model(mfd_conn *conn, const char *name);
/* PostgreSQL: locks the model's row (FOR UPDATE) for the write transaction.
 * Every write to a model's versions, aliases or the model takes it first, so
 * they run one after another per model, each seeing the last one's result,
 * and never lock in opposite orders (deadlocks). SQLite runs one writer at a
 * time already. */
mfd_err mfd_registry_lock_model(mfd_conn *conn, const char *name);
/* In a write transaction: locks the model (mfd_registry_lock_model), then
 * 404 "Model Version (name=<n>, version=<v>) not found" unless live. */
mfd_err mfd_registry_require_version(mfd_conn *conn, const char *name, int64_t version);
/* A live version with its tags (aliases when with_aliases);
 * 404 "Model Version (name=<n>, version=<v>) not found" otherwise. */
mfd_err mfd_registry_load_version(mfd_conn *conn, mfd_arena *arena, const char *name,
                                  int64_t version, bool with_aliases, mfd_model_version *out);
/* The alias names of a model that point at `mv->version`. */
mfd_err mfd_registry_fill_aliases(mfd_conn *conn, mfd_arena *arena, mfd_model_version *mv);
/* Columns name, creation_time, last_updated_time, description. */
void mfd_registry_read_model(mfd_arena *arena, mfd_stmt *stmt, mfd_registered_model *m);
/* Attaches tags, aliases and latest versions to n models (one query each). */
mfd_err mfd_registry_complete_models(mfd_conn *conn, mfd_arena *arena, mfd_registered_model *models,
                                     size_t n);
/* Bumps registered_models.last_updated_time. */
mfd_err mfd_registry_touch_model(mfd_conn *conn, const char *name, int64_t now);

#endif
