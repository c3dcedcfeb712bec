/* auth_store.h — the auth database (schema.md §5): users and their
 * experiment / registered-model / scorer permission rows; plus the few
 * read-only lookups on the tracking database that permission checks need
 * (which experiment a run, logged model or trace belongs to).
 *
 * Messages are MLflow's (auth.md §5). Permission names are stored as given;
 * callers validate them. Experiment ids are strings in the auth DB. */
#ifndef MFD_AUTH_STORE_H
#define MFD_AUTH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "db.h"

typedef struct mfd_auth_user {
    int64_t id;
    const char *username;
    const char *password_hash; /* NULL when unset */
    bool is_admin;
} mfd_auth_user;

typedef enum mfd_auth_kind {
    MFD_AUTH_EXPERIMENT,       /* key: experiment_id */
    MFD_AUTH_REGISTERED_MODEL, /* key: name */
    MFD_AUTH_SCORER,           /* key: experiment_id, scorer_name */
} mfd_auth_kind;

/* One permission row. key[1] is used by scorers only. */
typedef struct mfd_auth_grant {
    const char *key[2];
    int64_t user_id;
    const char *permission;
} mfd_auth_grant;

/* --- users ------------------------------------------------------------ */
mfd_err mfd_auth_store_find_user(mfd_conn *conn, mfd_arena *arena, const char *username,
                                 mfd_auth_user *out, bool *found);
/* The hot path of cached credentials: *found when the user still exists
 * with exactly this password_hash; gives their id and admin flag. */
mfd_err mfd_auth_store_confirm_user(mfd_conn *conn, const char *username, const char *password_hash,
                                    int64_t *id, bool *is_admin, bool *found);
/* RESOURCE_DOES_NOT_EXIST "User with username=<u> not found" when absent. */
mfd_err mfd_auth_store_get_user(mfd_conn *conn, mfd_arena *arena, const char *username,
                                mfd_auth_user *out);
/* RESOURCE_ALREADY_EXISTS when the name is taken. */
mfd_err mfd_auth_store_create_user(mfd_conn *conn, mfd_arena *arena, const char *username,
                                   const char *password_hash, bool is_admin, mfd_auth_user *out);
mfd_err mfd_auth_store_update_password(mfd_conn *conn, const char *username,
                                       const char *password_hash);
mfd_err mfd_auth_store_update_admin(mfd_conn *conn, const char *username, bool is_admin);
/* Deletes the user and all their permission rows (and mlflowd's token,
 * binding and session rows), in one transaction. */
mfd_err mfd_auth_store_delete_user(mfd_conn *conn, const char *username);

/* --- permission rows -------------------------------------------------- */
/* The permission of `username` on the resource, the hot path of every check;
 * *found false when there is no row. */
mfd_err mfd_auth_store_lookup(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                              const char *username, char *permission, size_t cap, bool *found);
/* confirm_user and lookup in one statement (the common request: cached
 * credentials, one resource to check). */
typedef struct mfd_auth_confirmed {
    bool user_found; /* the user exists with exactly that password_hash */
    int64_t user_id;
    bool is_admin;
    bool permission_found;
    char permission[32];
} mfd_auth_confirmed;
mfd_err mfd_auth_store_confirm_and_lookup(mfd_conn *conn, mfd_auth_kind kind,
                                          const char *const key[2], const char *username,
                                          const char *password_hash, mfd_auth_confirmed *out);
/* All rows of one user, in creation order. */
mfd_err mfd_auth_store_list_grants(mfd_conn *conn, mfd_arena *arena, mfd_auth_kind kind,
                                   int64_t user_id, mfd_auth_grant **out, size_t *n);
/* The REST calls of auth.md §5: errors are MLflow's (404 user / row, 400 exists). */
mfd_err mfd_auth_store_get_grant(mfd_conn *conn, mfd_arena *arena, mfd_auth_kind kind,
                                 const char *const key[2], const char *username,
                                 mfd_auth_grant *out);
mfd_err mfd_auth_store_create_grant(mfd_conn *conn, mfd_arena *arena, mfd_auth_kind kind,
                                    const char *const key[2], const char *username,
                                    const char *permission, mfd_auth_grant *out);
mfd_err mfd_auth_store_update_grant(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                                    const char *username, const char *permission);
mfd_err mfd_auth_store_delete_grant(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                                    const char *username);
/* Creator grants: replace the user's row by a new one (a stale row of a
 * reused id must not block the creator; a new row's id is above any
 * mfd_auth_store_resource_rows snapshot taken before). 404 when the user is
 * unknown. */
mfd_err mfd_auth_store_set_grant(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                                 const char *username, const char *permission);
/* The highest id of the resource's rows (0 when none): taken before the
 * resource is deleted or renamed, it bounds the two calls below to the rows
 * of the resource as it was. A row written meanwhile belongs to a resource
 * made again under the name (its creator's grant) and is left alone. */
mfd_err mfd_auth_store_resource_rows(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                                     int64_t *last_id);
/* Deletes every user's rows of one resource up to last_id (model deleted,
 * scorer deleted). */
mfd_err mfd_auth_store_delete_resource(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                                       int64_t last_id);
/* Moves the registered_model_permissions rows of old_name up to last_id to
 * new_name; stale rows already under new_name are dropped first. */
mfd_err mfd_auth_store_rename_model(mfd_conn *conn, const char *old_name, const char *new_name,
                                    int64_t last_id);

/* --- tracking-side lookups (on a tracking DB connection) -------------- */
/* 404 "Run with id=<id> not found". *experiment_id is an arena string. */
mfd_err mfd_auth_store_run_experiment(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                                      const char **experiment_id);
mfd_err mfd_auth_store_experiment_by_name(mfd_conn *conn, mfd_arena *arena, const char *name,
                                          const char **experiment_id);
mfd_err mfd_auth_store_logged_model_experiment(mfd_conn *conn, mfd_arena *arena,
                                               const char *model_id, const char **experiment_id);
mfd_err mfd_auth_store_trace_experiment(mfd_conn *conn, mfd_arena *arena, const char *request_id,
                                        const char **experiment_id);

#endif
