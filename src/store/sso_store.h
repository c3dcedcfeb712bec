/* sso_store.h — mlflowd's own tables in the auth database, next to MLflow's
 * (additive only: MLflow still opens the database and ignores them):
 *
 *   mlflowd_sso_identities  (issuer, subject) bound to one username, with a
 *                           snapshot of the user's last mapped level, admin
 *                           flag and allowed-groups verdict (what personal
 *                           access tokens of SSO users run with)
 *   mlflowd_access_tokens   personal access tokens: a public id and the
 *                           SHA-256 of the secret, never the secret
 *   mlflowd_sessions        native-login browser sessions and pre-login
 *                           (state, nonce, PKCE) records, keyed by the
 *                           SHA-256 of the cookie value
 *
 * Resolving an SSO request never writes a permission row; these tables are
 * written only when something changes (first sight, a new mapping, a login). */
#ifndef MFD_SSO_STORE_H
#define MFD_SSO_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "db.h"

/* The users.password_hash of users provisioned by single sign-on: no
 * werkzeug method starts with '!', so no password ever verifies against it. */
#define MFD_SSO_UNUSABLE_PASSWORD "!sso"

/* The tables' names, for the auth schema's check of what it must create. */
enum { MFD_SSO_STORE_TABLE_COUNT = 3 };
extern const char *const mfd_sso_store_tables[MFD_SSO_STORE_TABLE_COUNT];

/* Creates those of the tables the database lacks, on `conn` inside the auth
 * schema's transaction and lock (mfd_schema_auth_init): on PostgreSQL, CREATE
 * TABLE IF NOT EXISTS from two replicas at once fails in one of them (the
 * table's type name is taken meanwhile), and it needs the CREATE privilege
 * even when the table exists, which a role that only reads and writes rows
 * lacks: so it looks first. */
mfd_err mfd_sso_store_create(mfd_conn *conn);

/* --- identities ----------------------------------------------------------- */
/* The issuer of identities asserted by proxy headers while no issuer is set. */
#define MFD_SSO_HEADER_ISSUER "trusted_header"

typedef struct mfd_sso_snapshot {
    const char *permission; /* READ, EDIT, MANAGE, NO_PERMISSIONS */
    bool is_admin;
    bool allowed;
    int64_t as_of; /* unix seconds: the iat of the token it was taken from (stored as
                    * updated_at); a snapshot never replaces one taken from a later token.
                    * 0: proxy headers, no issue time, ordered with nothing */
} mfd_sso_snapshot;

typedef enum mfd_sso_bind_result {
    MFD_SSO_BOUND,            /* the user row exists and is bound to (iss, sub) */
    MFD_SSO_SUBJECT_MISMATCH, /* the username is bound to another (iss, sub) */
    MFD_SSO_USERNAME_MISMATCH /* (iss, sub) is bound to another username */
} mfd_sso_bind_result;

typedef struct mfd_sso_binding {
    mfd_sso_bind_result result;
    int64_t user_id;
    bool created;               /* the user row was made now (unusable password) */
    bool newly_bound;           /* an existing user row was bound now */
    const char *password_hash;  /* newly_bound: its hash, to check the legacy password=sub */
    const char *bound_username; /* USERNAME_MISMATCH: the username (iss, sub) has */
} mfd_sso_binding;

/* Finds or makes the user and the binding, and stores the snapshot when it
 * changed; a row single sign-on owns also keeps users.is_admin equal to
 * snap->is_admin (a mirror of the mapping, never read back as a grant).
 * One write transaction only when something must change. */
mfd_err mfd_sso_store_bind(mfd_conn *conn, mfd_arena *arena, const char *issuer,
                           const char *subject, const char *username, const mfd_sso_snapshot *snap,
                           mfd_sso_binding *out);
/* A sign-in refused (outside the allowed groups): the snapshot of a bound
 * (iss, sub) records it, so its personal access tokens stop working too,
 * and an SSO-owned row loses its admin flag (the mirror). When (iss,
 * sub) is unbound and its username's row is free to claim, that row is
 * returned (the caller retires a legacy password equal to the subject). */
typedef struct mfd_sso_refusal {
    int64_t unbound_user_id; /* 0: none */
    const char *unbound_password_hash;
} mfd_sso_refusal;
mfd_err mfd_sso_store_refuse(mfd_conn *conn, mfd_arena *arena, const char *issuer,
                             const char *subject, const char *username,
                             const mfd_sso_snapshot *snap, mfd_sso_refusal *out);
/* Replaces the user's password hash by MFD_SSO_UNUSABLE_PASSWORD. */
mfd_err mfd_sso_store_make_password_unusable(mfd_conn *conn, int64_t user_id);
/* The binding of a username; *found false when none. Arena strings. */
mfd_err mfd_sso_store_get_binding(mfd_conn *conn, mfd_arena *arena, const char *username,
                                  const char **issuer, const char **subject, mfd_sso_snapshot *snap,
                                  bool *found);
/* Removes a username's binding (an admin re-binds it to the next sign-in),
 * with the user's access tokens, web sessions and admin mirror. */
mfd_err mfd_sso_store_delete_binding(mfd_conn *conn, const char *username, bool *found);

/* --- personal access tokens ------------------------------------------------- */
typedef struct mfd_sso_token {
    const char *token_id;
    int64_t user_id;
    const char *username;
    const char *name;
    const char *secret_hash; /* hex SHA-256 */
    int64_t created_at;      /* ms */
    int64_t expires_at;      /* ms; 0 = never */
    bool user_is_admin;
    bool has_snapshot; /* the user is bound to an SSO identity */
    mfd_sso_snapshot snap;
} mfd_sso_token;

mfd_err mfd_sso_store_token_insert(mfd_conn *conn, const mfd_sso_token *token);
/* The token and its user (with the SSO snapshot when bound); *found false
 * when the id is unknown or the user is gone. */
mfd_err mfd_sso_store_token_find(mfd_conn *conn, mfd_arena *arena, const char *token_id,
                                 mfd_sso_token *out, bool *found);
mfd_err mfd_sso_store_token_list(mfd_conn *conn, mfd_arena *arena, int64_t user_id,
                                 mfd_sso_token **out, size_t *n);
/* Deletes the token when it belongs to user_id (any user when user_id < 0). */
mfd_err mfd_sso_store_token_delete(mfd_conn *conn, const char *token_id, int64_t user_id,
                                   bool *found);

/* --- sessions ----------------------------------------------------------------- */
/* kind: "login" (pre-login state) or "session". data: JSON text. Times in s. */
mfd_err mfd_sso_store_session_put(mfd_conn *conn, const char *id_hash, const char *kind,
                                  const char *username, const char *data, int64_t expires_at);
/* The row if it exists, is of `kind` and has not expired (expired rows are
 * deleted on the way); take=true deletes it too (single use). */
mfd_err mfd_sso_store_session_get(mfd_conn *conn, mfd_arena *arena, const char *id_hash,
                                  const char *kind, bool take, const char **username,
                                  const char **data, int64_t *expires_at, bool *found);
/* A session's new data, only while it still exists (*found): a refresh that
 * ends after a logout or a revocation must not bring the session back. */
mfd_err mfd_sso_store_session_update(mfd_conn *conn, const char *id_hash, const char *data,
                                     int64_t expires_at, bool *found);
mfd_err mfd_sso_store_session_delete(mfd_conn *conn, const char *id_hash);
/* Deletes expired rows (called now and then from logins). */
mfd_err mfd_sso_store_session_sweep(mfd_conn *conn, int64_t now);

/* Deletes every row of these tables that belongs to the user (user deleted);
 * runs inside the caller's transaction. */
mfd_err mfd_sso_store_forget_user(mfd_conn *conn, int64_t user_id, const char *username);

#endif
