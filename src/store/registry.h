/* registry.h — the model registry store (schema.md §3; rest-api.md §7):
 * registered models with their tags and aliases (registry.c), model
 * versions with their tags (registry_versions.c) and both searches
 * (registry_search.c).
 *
 * Every function takes the request's connection (and an arena for results)
 * and runs its own transaction. Names and stage names arrive validated and
 * canonical; versions arrive as integers. Soft-deleted versions (stage
 * Deleted_Internal) are invisible to every function except the version
 * numbering of mfd_registry_create_version. */
#ifndef MFD_STORE_REGISTRY_H
#define MFD_STORE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "key_value.h"
#include "core/err.h"
#include "db.h"
#include "search/search.h"

#define MFD_STAGE_DELETED_INTERNAL "Deleted_Internal"
#define MFD_PROMPT_TAG_KEY         "mlflow.prompt.is_prompt"

typedef struct mfd_registry_alias {
    const char *alias;
    int64_t version;
} mfd_registry_alias;

/* A row of model_versions; NULL strings are NULL columns, 0 times NULL. */
typedef struct mfd_model_version {
    const char *name;
    int64_t version;
    int64_t creation_time, last_updated_time;
    const char *description, *user_id, *current_stage, *source, *run_id, *status, *status_message,
        *run_link, *storage_location;
    mfd_key_value *tags; /* ordered by key */
    size_t n_tags;
    const char **aliases; /* alias names pointing here, ordered; filled where the API shows them */
    size_t n_aliases;
} mfd_model_version;

typedef struct mfd_registered_model {
    const char *name;
    int64_t creation_time, last_updated_time; /* 0 when NULL */
    const char *description;                  /* NULL when NULL */
    mfd_model_version *latest_versions;       /* per stage, the highest version (no aliases) */
    size_t n_latest_versions;
    mfd_key_value *tags; /* ordered by key */
    size_t n_tags;
    mfd_registry_alias *aliases; /* ordered by alias */
    size_t n_aliases;
} mfd_registered_model;

/* ---- registered models (registry.c) ---- */

/* Creates a model with its tags (duplicate keys: last wins). A taken name ->
 * RESOURCE_ALREADY_EXISTS, worded for models or prompts as upstream. */
mfd_err mfd_registry_create_model(mfd_conn *conn, mfd_arena *arena, const char *name,
                                  const char *description, const mfd_key_value *tags, size_t n_tags,
                                  mfd_registered_model *out);
mfd_err mfd_registry_get_model(mfd_conn *conn, mfd_arena *arena, const char *name,
                               mfd_registered_model *out);
/* Renames the model, its versions (last_updated_time = now for all), tags
 * and aliases. Taken new name -> RESOURCE_ALREADY_EXISTS. */
mfd_err mfd_registry_rename_model(mfd_conn *conn, mfd_arena *arena, const char *name,
                                  const char *new_name, mfd_registered_model *out);
/* Sets the description (NULL stores NULL) and last_updated_time. */
mfd_err mfd_registry_update_model(mfd_conn *conn, mfd_arena *arena, const char *name,
                                  const char *description, mfd_registered_model *out);
/* Hard delete of the model, all its versions (deleted ones too), their
 * tags, the model's tags and aliases. */
mfd_err mfd_registry_delete_model(mfd_conn *conn, const char *name);
/* One page of models matching `search` (against `registered_models rm`),
 * with tags, aliases and latest versions. */
mfd_err mfd_registry_search_models(mfd_conn *conn, mfd_arena *arena, const mfd_search_sql *search,
                                   int64_t offset, int64_t limit, mfd_registered_model **out,
                                   size_t *n_out);
mfd_err mfd_registry_set_model_tag(mfd_conn *conn, const char *name, const char *key,
                                   const char *value);
/* An absent tag is a silent success; an unknown model a 404. */
mfd_err mfd_registry_delete_model_tag(mfd_conn *conn, const char *name, const char *key);

/* The latest version of each of `stages` (canonical names; NULL/0 = all four)
 * that exists, in upstream's order, with aliases filled. Unknown model -> 404. */
mfd_err mfd_registry_latest_versions(mfd_conn *conn, mfd_arena *arena, const char *name,
                                     const char *const *stages, size_t n_stages,
                                     mfd_model_version **out, size_t *n_out);

/* Aliases (validated by the caller). Setting needs a live version (404);
 * deleting needs the model (404) and ignores an absent alias. Getting an
 * unknown alias -> 400 INVALID_PARAMETER_VALUE; `latest` is not special here. */
mfd_err mfd_registry_set_alias(mfd_conn *conn, const char *name, const char *alias,
                               int64_t version);
mfd_err mfd_registry_delete_alias(mfd_conn *conn, const char *name, const char *alias);
mfd_err mfd_registry_get_version_by_alias(mfd_conn *conn, mfd_arena *arena, const char *name,
                                          const char *alias, mfd_model_version *out);

/* ---- model versions (registry_versions.c) ---- */

/* What a `models:/...` source names (the caller parses the URI). */
typedef enum mfd_source_kind {
    MFD_SOURCE_PLAIN,         /* any other source: stored location = source */
    MFD_SOURCE_LOGGED_MODEL,  /* models:/<model_id> */
    MFD_SOURCE_MODEL_VERSION, /* models:/<name>/<version> */
} mfd_source_kind;

typedef struct mfd_model_version_new {
    const char *name, *source;
    const char *run_id, *run_link, *description; /* stored as given; NULL stores NULL */
    const char *model_id;                        /* NULL or "" = none */
    const mfd_key_value *tags;
    size_t n_tags;
    bool is_prompt; /* a prompt version: no logged-model bookkeeping */
    mfd_source_kind source_kind;
    const char *source_model_id; /* MFD_SOURCE_LOGGED_MODEL */
    const char *source_name;     /* MFD_SOURCE_MODEL_VERSION */
    int64_t source_version;      /* MFD_SOURCE_MODEL_VERSION */
} mfd_model_version_new;

/* Creates version 1 + max(existing, deleted included), stage None, READY.
 * storage_location: for MFD_SOURCE_LOGGED_MODEL the logged model's
 * artifact_location (run_id, when empty, becomes its source_run_id); for
 * MFD_SOURCE_MODEL_VERSION that version's download URI (either missing ->
 * 404 "Unable to fetch model from model URI source ..."); else the source.
 * A model_id with an empty run_id gives the run_id of that logged model
 * (404 if there is none). With a model_id (not a prompt), appends
 * {"name", "version"} to the logged model's tag mlflow.modelVersions.
 * Bumps the model's last_updated_time. Returns the version with aliases. */
mfd_err mfd_registry_create_version(mfd_conn *conn, mfd_arena *arena,
                                    const mfd_model_version_new *in, mfd_model_version *out);
mfd_err mfd_registry_get_version(mfd_conn *conn, mfd_arena *arena, const char *name,
                                 int64_t version, mfd_model_version *out);
/* Replaces the description (NULL clears it) and the version's
 * last_updated_time; returns the version with aliases. */
mfd_err mfd_registry_update_version(mfd_conn *conn, mfd_arena *arena, const char *name,
                                    int64_t version, const char *description,
                                    mfd_model_version *out);
/* Moves a version to canonical `stage`; with archive_existing, other versions
 * in that stage go to Archived. Bumps version and model times. */
mfd_err mfd_registry_transition_stage(mfd_conn *conn, mfd_arena *arena, const char *name,
                                      int64_t version, const char *stage, bool archive_existing,
                                      mfd_model_version *out);
/* Soft delete with redaction; drops aliases pointing at it. */
mfd_err mfd_registry_delete_version(mfd_conn *conn, const char *name, int64_t version);
/* storage_location if non-empty, else source. */
mfd_err mfd_registry_download_uri(mfd_conn *conn, mfd_arena *arena, const char *name,
                                  int64_t version, const char **uri);
/* One page of versions matching `search` (against `model_versions mv`),
 * with tags and without aliases. */
mfd_err mfd_registry_search_versions(mfd_conn *conn, mfd_arena *arena, const mfd_search_sql *search,
                                     int64_t offset, int64_t limit, mfd_model_version **out,
                                     size_t *n_out);
mfd_err mfd_registry_set_version_tag(mfd_conn *conn, const char *name, int64_t version,
                                     const char *key, const char *value);
mfd_err mfd_registry_delete_version_tag(mfd_conn *conn, const char *name, int64_t version,
                                        const char *key);

/* Lookups for the source checks of version creation: a run's artifact_uri
 * (404 "Run with id=<id> not found") and a live logged model's
 * artifact_location (404 "Logged model with ID '<id>' not found."). */
mfd_err mfd_registry_run_artifact_uri(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                                      const char **uri);
mfd_err mfd_registry_logged_model_location(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                                           const char **location);

#endif
