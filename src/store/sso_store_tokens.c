/* sso_store_tokens.c — SQL of what a signed-in user presents afterwards:
 * personal access tokens (mlflowd_access_tokens) and native-login sessions
 * and pre-login records (mlflowd_sessions).
 *
 * Invariants kept here: a token row holds the SHA-256 of its secret, never
 * the secret, and is read with its user and that user's SSO snapshot, which
 * it runs with; a session is found only for its own kind and before it
 * expires, and an expired or taken one is deleted when read. */
#include "sso_store_internal.h"

#include <string.h>

/* --- personal access tokens ------------------------------------------------- */

mfd_err mfd_sso_store_token_insert(mfd_conn *conn, const mfd_sso_token *t) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "INSERT INTO mlflowd_access_tokens (token_id, user_id, name, "
                                   "secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, t->token_id);
    mfd_stmt_bind_int64(stmt, 2, t->user_id);
    mfd_stmt_bind_text(stmt, 3, t->name);
    mfd_stmt_bind_text(stmt, 4, t->secret_hash);
    mfd_stmt_bind_int64(stmt, 5, t->created_at);
    mfd_stmt_bind_int64(stmt, 6, t->expires_at);
    return mfd_stmt_exec_done(stmt);
}

static void read_token(mfd_stmt *stmt, mfd_arena *arena, mfd_sso_token *t) {
    memset(t, 0, sizeof *t);
    t->token_id = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 0));
    t->user_id = mfd_stmt_int64(stmt, 1);
    t->name = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 2));
    t->secret_hash = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 3));
    t->created_at = mfd_stmt_int64(stmt, 4);
    t->expires_at = mfd_stmt_int64(stmt, 5);
    t->username = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 6));
    t->user_is_admin = mfd_stmt_int64(stmt, 7) != 0;
    if (!mfd_stmt_is_null(stmt, 8)) {
        t->has_snapshot = true;
        t->snap.permission = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 8));
        t->snap.is_admin = mfd_stmt_int64(stmt, 9) != 0;
        t->snap.allowed = mfd_stmt_int64(stmt, 10) != 0;
    }
}

#define TOKEN_SELECT                                                                               \
    "SELECT t.token_id, t.user_id, t.name, t.secret_hash, t.created_at, t.expires_at, "            \
    "u.username, CASE WHEN u.is_admin THEN 1 ELSE 0 END, i.permission, i.is_admin, i.allowed "     \
    "FROM mlflowd_access_tokens t JOIN users u ON u.id = t.user_id "                               \
    "LEFT JOIN mlflowd_sso_identities i ON i.username = u.username "

mfd_err mfd_sso_store_token_find(mfd_conn *conn, mfd_arena *arena, const char *token_id,
                                 mfd_sso_token *out, bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, TOKEN_SELECT "WHERE t.token_id = ?", true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, token_id);
    *found = false;
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        read_token(stmt, arena, out);
        *found = true;
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

mfd_err mfd_sso_store_token_list(mfd_conn *conn, mfd_arena *arena, int64_t user_id,
                                 mfd_sso_token **out, size_t *n) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, TOKEN_SELECT "WHERE t.user_id = ? ORDER BY t.created_at, t.token_id", true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_int64(stmt, 1, user_id);
    size_t cap = 8, count = 0;
    mfd_sso_token *rows = mfd_arena_alloc(arena, cap * sizeof *rows);
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        if (count == cap) {
            mfd_sso_token *bigger = mfd_arena_alloc(arena, 2 * cap * sizeof *rows);
            memcpy(bigger, rows, count * sizeof *rows);
            rows = bigger;
            cap *= 2;
        }
        read_token(stmt, arena, &rows[count++]);
    }
    mfd_stmt_done(stmt);
    *out = rows;
    *n = count;
    return s == MFD_STEP_ERROR ? err : NULL;
}

mfd_err mfd_sso_store_token_delete(mfd_conn *conn, const char *token_id, int64_t user_id,
                                   bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "DELETE FROM mlflowd_access_tokens WHERE token_id = ? AND "
                                   "(user_id = ? OR ? < 0)",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, token_id);
    mfd_stmt_bind_int64(stmt, 2, user_id);
    mfd_stmt_bind_int64(stmt, 3, user_id);
    err = mfd_stmt_exec_done(stmt);
    if (!err)
        *found = mfd_conn_changes(conn) > 0;
    return err;
}

/* --- sessions ----------------------------------------------------------------- */

mfd_err mfd_sso_store_session_put(mfd_conn *conn, const char *id_hash, const char *kind,
                                  const char *username, const char *data, int64_t expires_at) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "INSERT INTO mlflowd_sessions (id_hash, kind, username, data, "
                                   "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) "
                                   "ON CONFLICT (id_hash) DO UPDATE SET data = excluded.data, "
                                   "expires_at = excluded.expires_at",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, id_hash);
    mfd_stmt_bind_text(stmt, 2, kind);
    mfd_stmt_bind_text(stmt, 3, username);
    mfd_stmt_bind_text(stmt, 4, data);
    mfd_stmt_bind_int64(stmt, 5, mfd_sso_store_now_seconds());
    mfd_stmt_bind_int64(stmt, 6, expires_at);
    return mfd_stmt_exec_done(stmt);
}

mfd_err mfd_sso_store_session_update(mfd_conn *conn, const char *id_hash, const char *data,
                                     int64_t expires_at, bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "UPDATE mlflowd_sessions SET data = ?, expires_at = ? "
                                   "WHERE id_hash = ? AND kind = 'session'",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, data);
    mfd_stmt_bind_int64(stmt, 2, expires_at);
    mfd_stmt_bind_text(stmt, 3, id_hash);
    err = mfd_stmt_exec_done(stmt);
    if (!err)
        *found = mfd_conn_changes(conn) > 0;
    return err;
}

mfd_err mfd_sso_store_session_delete(mfd_conn *conn, const char *id_hash) {
    return mfd_sso_store_change_where(conn, "DELETE FROM mlflowd_sessions WHERE id_hash = ?",
                                      id_hash, 0, NULL);
}

mfd_err mfd_sso_store_session_get(mfd_conn *conn, mfd_arena *arena, const char *id_hash,
                                  const char *kind, bool take, const char **username,
                                  const char **data, int64_t *expires_at, bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "SELECT kind, username, data, expires_at FROM mlflowd_sessions WHERE id_hash = ?",
        true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, id_hash);
    *found = false;
    bool exists = false;
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        exists = true;
        const char *k = mfd_stmt_text(stmt, 0);
        *expires_at = mfd_stmt_int64(stmt, 3);
        if (k && !strcmp(k, kind) && *expires_at > mfd_sso_store_now_seconds()) {
            const char *u = mfd_stmt_text(stmt, 1);
            *username = u ? mfd_arena_strdup(arena, u) : NULL;
            *data = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 2));
            *found = true;
        }
    }
    mfd_stmt_done(stmt);
    if (s == MFD_STEP_ERROR)
        return err;
    if (exists && (take || !*found))
        err = mfd_sso_store_session_delete(conn, id_hash);
    return err;
}

mfd_err mfd_sso_store_session_sweep(mfd_conn *conn, int64_t now) {
    mfd_stmt *stmt;
    mfd_err err =
        mfd_conn_prepare(conn, "DELETE FROM mlflowd_sessions WHERE expires_at < ?", true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_int64(stmt, 1, now);
    return mfd_stmt_exec_done(stmt);
}
