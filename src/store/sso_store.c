/* sso_store.c — SQL of mlflowd's SSO tables (sso_store.h): their creation,
 * the identities bound to usernames, and what goes when a user or a binding
 * does. Tokens and sessions are in sso_store_tokens.c.
 *
 * Invariants kept here: a username is bound to at most one (issuer, subject)
 * and the reverse (primary key + unique constraint); binding and snapshot
 * writes happen in one write transaction, entered only when a read showed
 * that something must change, and re-decided inside it (another replica may
 * have done it first). Flags are INTEGER 0/1 so the SQL is the same on
 * SQLite and PostgreSQL. */
#include "sso_store_internal.h"

#include <string.h>

#include "core/ids.h"

const char *const mfd_sso_store_tables[MFD_SSO_STORE_TABLE_COUNT] = {
    "mlflowd_sso_identities", "mlflowd_access_tokens", "mlflowd_sessions"};

/* In the order of mfd_sso_store_tables. */
static const char *const create_sql[MFD_SSO_STORE_TABLE_COUNT] = {
    "CREATE TABLE mlflowd_sso_identities (\n"
    "  issuer VARCHAR(1024) NOT NULL,\n"
    "  subject VARCHAR(255) NOT NULL,\n"
    "  username VARCHAR(255) NOT NULL,\n"
    "  permission VARCHAR(32) NOT NULL,\n"
    "  is_admin INTEGER NOT NULL,\n"
    "  allowed INTEGER NOT NULL,\n"
    "  created_at BIGINT NOT NULL,\n"
    "  updated_at BIGINT NOT NULL,\n"
    "  CONSTRAINT mlflowd_sso_identities_pk PRIMARY KEY (issuer, subject),\n"
    "  CONSTRAINT mlflowd_sso_identities_username UNIQUE (username)\n"
    ")",
    "CREATE TABLE mlflowd_access_tokens (\n"
    "  token_id VARCHAR(32) NOT NULL,\n"
    "  user_id INTEGER NOT NULL,\n"
    "  name VARCHAR(255) NOT NULL,\n"
    "  secret_hash VARCHAR(64) NOT NULL,\n"
    "  created_at BIGINT NOT NULL,\n"
    "  expires_at BIGINT NOT NULL,\n"
    "  CONSTRAINT mlflowd_access_tokens_pk PRIMARY KEY (token_id)\n"
    ")",
    "CREATE TABLE mlflowd_sessions (\n"
    "  id_hash VARCHAR(64) NOT NULL,\n"
    "  kind VARCHAR(16) NOT NULL,\n"
    "  username VARCHAR(255),\n"
    "  data TEXT NOT NULL,\n"
    "  created_at BIGINT NOT NULL,\n"
    "  expires_at BIGINT NOT NULL,\n"
    "  CONSTRAINT mlflowd_sessions_pk PRIMARY KEY (id_hash)\n"
    ")",
};

mfd_err mfd_sso_store_create(mfd_conn *conn) {
    mfd_err err = NULL;
    for (size_t i = 0; !err && i < MFD_SSO_STORE_TABLE_COUNT; i++) {
        bool exists = false;
        if (!(err = mfd_conn_table_exists(conn, mfd_sso_store_tables[i], &exists)) && !exists)
            err = mfd_conn_exec(conn, create_sql[i]);
    }
    return err;
}

int64_t mfd_sso_store_now_seconds(void) {
    return mfd_now_ms() / 1000;
}

/* --- identities ----------------------------------------------------------- */

typedef struct user_row {
    bool found;
    int64_t id;
    bool is_admin;
    const char *password_hash;
} user_row;

static mfd_err read_user(mfd_conn *conn, mfd_arena *arena, const char *username, user_row *u) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "SELECT id, CASE WHEN is_admin THEN 1 ELSE 0 END, password_hash "
                                   "FROM users WHERE username = ?",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, username);
    memset(u, 0, sizeof *u);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        u->found = true;
        u->id = mfd_stmt_int64(stmt, 0);
        u->is_admin = mfd_stmt_int64(stmt, 1) != 0;
        const char *h = mfd_stmt_text(stmt, 2);
        u->password_hash = h ? mfd_arena_strdup(arena, h) : NULL;
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

typedef struct identity_row {
    bool found;
    const char *issuer, *subject, *username;
    mfd_sso_snapshot snap;
} identity_row;

static mfd_err read_identity(mfd_conn *conn, mfd_arena *arena, const char *sql, const char *a,
                             const char *b, identity_row *r) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, a);
    if (b)
        mfd_stmt_bind_text(stmt, 2, b);
    memset(r, 0, sizeof *r);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        r->found = true;
        r->issuer = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 0));
        r->subject = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 1));
        r->username = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 2));
        r->snap.permission = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 3));
        r->snap.is_admin = mfd_stmt_int64(stmt, 4) != 0;
        r->snap.allowed = mfd_stmt_int64(stmt, 5) != 0;
        r->snap.as_of = mfd_stmt_int64(stmt, 6);
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

#define IDENTITY_COLUMNS "issuer, subject, username, permission, is_admin, allowed"
#define IDENTITY_SELECT  "SELECT " IDENTITY_COLUMNS ", updated_at FROM mlflowd_sso_identities "

static mfd_err identity_by_subject(mfd_conn *conn, mfd_arena *arena, const char *issuer,
                                   const char *subject, identity_row *r) {
    return read_identity(conn, arena, IDENTITY_SELECT "WHERE issuer = ? AND subject = ?", issuer,
                         subject, r);
}

static mfd_err identity_by_username(mfd_conn *conn, mfd_arena *arena, const char *username,
                                    identity_row *r) {
    return read_identity(conn, arena, IDENTITY_SELECT "WHERE username = ?", username, NULL, r);
}

/* Made by single sign-on, or its legacy password retired: no password of
 * its own to carry an admin flag. */
static bool sso_owned(const user_row *u) {
    return u->password_hash && !strcmp(u->password_hash, MFD_SSO_UNUSABLE_PASSWORD);
}

static bool same_snapshot(const mfd_sso_snapshot *a, const mfd_sso_snapshot *b) {
    return !strcmp(a->permission, b->permission) && a->is_admin == b->is_admin &&
           a->allowed == b->allowed;
}

/* Whether `next` is at least as late as `stored`: not when it comes from a
 * token issued before the one `stored` was taken from (an old token replayed
 * after a demotion must not restore what its access tokens run with). Proxy
 * headers tell no issue time (as_of 0): they are ordered with nothing. */
static bool not_earlier(const mfd_sso_snapshot *next, const mfd_sso_snapshot *stored) {
    return next->as_of == 0 || stored->as_of == 0 || next->as_of >= stored->as_of;
}

/* Whether `next` must be written over `stored`: a change, or the same
 * snapshot from a later token (its time moves on, so that a token issued in
 * between, replayed later, stays earlier). */
static bool replaces(const mfd_sso_snapshot *next, const mfd_sso_snapshot *stored) {
    return not_earlier(next, stored) &&
           (!same_snapshot(next, stored) || next->as_of > stored->as_of);
}

static mfd_err create_user(mfd_conn *conn, const char *username, bool is_admin) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "INSERT INTO users (username, password_hash, is_admin) "
                                   "VALUES (?, ?, CASE WHEN ? = 1 THEN TRUE ELSE FALSE END)",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, username);
    mfd_stmt_bind_text(stmt, 2, MFD_SSO_UNUSABLE_PASSWORD);
    mfd_stmt_bind_int64(stmt, 3, is_admin ? 1 : 0);
    return mfd_stmt_exec_done(stmt);
}

static mfd_err set_user_admin(mfd_conn *conn, int64_t user_id, bool is_admin) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "UPDATE users SET is_admin = CASE WHEN ? = 1 THEN TRUE ELSE FALSE END WHERE id = ?",
        true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_int64(stmt, 1, is_admin ? 1 : 0);
    mfd_stmt_bind_int64(stmt, 2, user_id);
    return mfd_stmt_exec_done(stmt);
}

static mfd_err insert_identity(mfd_conn *conn, const char *issuer, const char *subject,
                               const char *username, const mfd_sso_snapshot *snap) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "INSERT INTO mlflowd_sso_identities (" IDENTITY_COLUMNS
                                   ", created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                   true, &stmt);
    if (err)
        return err;
    int64_t now = mfd_sso_store_now_seconds();
    mfd_stmt_bind_text(stmt, 1, issuer);
    mfd_stmt_bind_text(stmt, 2, subject);
    mfd_stmt_bind_text(stmt, 3, username);
    mfd_stmt_bind_text(stmt, 4, snap->permission);
    mfd_stmt_bind_int64(stmt, 5, snap->is_admin);
    mfd_stmt_bind_int64(stmt, 6, snap->allowed);
    mfd_stmt_bind_int64(stmt, 7, now);
    mfd_stmt_bind_int64(stmt, 8, snap->as_of);
    return mfd_stmt_exec_done(stmt);
}

/* The ordering of not_earlier() is re-checked by the UPDATE itself: under
 * PostgreSQL's READ COMMITTED another replica may have stored a later
 * snapshot since this one read the row (then nothing is written). */
static mfd_err update_snapshot(mfd_conn *conn, const char *issuer, const char *subject,
                               const mfd_sso_snapshot *snap) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn,
        "UPDATE mlflowd_sso_identities SET permission = ?, is_admin = ?, allowed = ?, "
        "updated_at = ? WHERE issuer = ? AND subject = ? AND (? = 0 OR updated_at = 0 OR "
        "updated_at <= ?)",
        true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, snap->permission);
    mfd_stmt_bind_int64(stmt, 2, snap->is_admin);
    mfd_stmt_bind_int64(stmt, 3, snap->allowed);
    mfd_stmt_bind_int64(stmt, 4, snap->as_of);
    mfd_stmt_bind_text(stmt, 5, issuer);
    mfd_stmt_bind_text(stmt, 6, subject);
    mfd_stmt_bind_int64(stmt, 7, snap->as_of);
    mfd_stmt_bind_int64(stmt, 8, snap->as_of);
    return mfd_stmt_exec_done(stmt);
}

static mfd_err adopt_header_identity(mfd_conn *conn, const char *issuer, const char *subject) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "UPDATE mlflowd_sso_identities SET issuer = ? "
                                   "WHERE issuer = '" MFD_SSO_HEADER_ISSUER "' AND subject = ?",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, issuer);
    mfd_stmt_bind_text(stmt, 2, subject);
    return mfd_stmt_exec_done(stmt);
}

/* The identity row of (issuer, sub). One filed under MFD_SSO_HEADER_ISSUER
 * for this sub and username — bound by proxy headers before an issuer was
 * configured — is the same identity (the proxy's X-Forwarded-User is the
 * issuer's sub): *adopt says it is to be moved under the issuer (else adding
 * an issuer locks everyone out, and their refusals reach nothing). */
static mfd_err find_identity(mfd_conn *conn, mfd_arena *arena, const char *issuer,
                             const char *subject, const char *username, identity_row *r,
                             bool *adopt) {
    *adopt = false;
    mfd_err err = identity_by_subject(conn, arena, issuer, subject, r);
    if (err || r->found || !strcmp(issuer, MFD_SSO_HEADER_ISSUER))
        return err;
    if ((err = identity_by_subject(conn, arena, MFD_SSO_HEADER_ISSUER, subject, r)))
        return err;
    if (r->found && strcmp(r->username, username) != 0)
        r->found = false; /* another name: not this identity's binding */
    *adopt = r->found;
    return NULL;
}

/* One pass of the binding decision. With write=false it only reads and sets
 * *must_write when a change is due; with write=true it makes the changes. */
static mfd_err bind_pass(mfd_conn *conn, mfd_arena *arena, const char *issuer, const char *subject,
                         const char *username, const mfd_sso_snapshot *snap, bool write,
                         mfd_sso_binding *out, bool *must_write) {
    memset(out, 0, sizeof *out);
    identity_row by_subject, by_username;
    user_row user;
    bool adopt;
    mfd_err err = find_identity(conn, arena, issuer, subject, username, &by_subject, &adopt);
    if (err)
        return err;
    if (by_subject.found && strcmp(by_subject.username, username) != 0) {
        out->result = MFD_SSO_USERNAME_MISMATCH;
        out->bound_username = by_subject.username;
        return NULL;
    }
    if (!by_subject.found) {
        if ((err = identity_by_username(conn, arena, username, &by_username)))
            return err;
        if (by_username.found) {
            out->result = MFD_SSO_SUBJECT_MISMATCH;
            return NULL;
        }
    }
    if ((err = read_user(conn, arena, username, &user)))
        return err;
    out->result = MFD_SSO_BOUND;
    /* The mirror is kept only in rows single sign-on owns: a local account
     * bound to a token keeps its own admin flag for its own password. */
    bool owned = !user.found || sso_owned(&user);
    /* the snapshot in force: this one, unless a later token's is stored */
    bool newer = !by_subject.found || not_earlier(snap, &by_subject.snap);
    bool admin = newer ? snap->is_admin : by_subject.snap.is_admin;
    bool mirror = owned;
    bool change = !user.found || !by_subject.found || adopt || replaces(snap, &by_subject.snap) ||
                  (user.found && mirror && user.is_admin != admin);
    if (!write) {
        *must_write = change;
        out->user_id = user.id;
        return NULL;
    }
    if (adopt && (err = adopt_header_identity(conn, issuer, subject)))
        return err;
    if (!user.found) {
        if ((err = create_user(conn, username, admin)) ||
            (err = read_user(conn, arena, username, &user)))
            return err;
        out->created = true;
    } else if (mirror && user.is_admin != admin) {
        if ((err = set_user_admin(conn, user.id, admin)))
            return err;
        user.is_admin = admin;
    }
    if (!by_subject.found) {
        if ((err = insert_identity(conn, issuer, subject, username, snap)))
            return err;
        if (!out->created) {
            out->newly_bound = true;
            out->password_hash = user.password_hash;
        }
    } else if (replaces(snap, &by_subject.snap)) {
        if ((err = update_snapshot(conn, issuer, subject, snap)))
            return err;
    }
    out->user_id = user.id;
    return NULL;
}

mfd_err mfd_sso_store_bind(mfd_conn *conn, mfd_arena *arena, const char *issuer,
                           const char *subject, const char *username, const mfd_sso_snapshot *snap,
                           mfd_sso_binding *out) {
    bool must_write = false;
    mfd_err err = bind_pass(conn, arena, issuer, subject, username, snap, false, out, &must_write);
    if (err || out->result != MFD_SSO_BOUND || !must_write)
        return err;
    /* Two tries: a concurrent first sign-in of the same user on another
     * connection makes our insert fail; the second pass then sees its rows. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((err = mfd_conn_begin(conn, true)))
            return err;
        err = bind_pass(conn, arena, issuer, subject, username, snap, true, out, &must_write);
        if (!err)
            return mfd_conn_commit(conn);
        mfd_conn_rollback(conn);
        if (err->code != MFD_RESOURCE_ALREADY_EXISTS || attempt == 1)
            return err;
        mfd_err_free(err);
    }
    return NULL;
}

mfd_err mfd_sso_store_refuse(mfd_conn *conn, mfd_arena *arena, const char *issuer,
                             const char *subject, const char *username,
                             const mfd_sso_snapshot *snap, mfd_sso_refusal *out) {
    memset(out, 0, sizeof *out);
    identity_row by_subject, by_username;
    user_row user;
    bool adopt;
    /* Decided inside the write transaction: refusals are rare (cached per
     * token), and the decision must hold against another replica's. */
    mfd_err err = mfd_conn_begin(conn, true);
    if (!err)
        err = find_identity(conn, arena, issuer, subject, username, &by_subject, &adopt);
    if (!err && !by_subject.found) {
        /* Nothing of this identity to record; a row of its username it could
         * have claimed (unbound) is returned for the legacy password check. */
        if (!(err = identity_by_username(conn, arena, username, &by_username)) &&
            !by_username.found && !(err = read_user(conn, arena, username, &user)) && user.found) {
            out->unbound_user_id = user.id;
            out->unbound_password_hash = user.password_hash;
        }
    } else if (!err) {
        if (adopt)
            err = adopt_header_identity(conn, issuer, subject);
        if (!err)
            err = read_user(conn, arena, by_subject.username, &user);
        bool later = not_earlier(snap, &by_subject.snap); /* else a later token's stands */
        if (!err && later && replaces(snap, &by_subject.snap))
            err = update_snapshot(conn, issuer, subject, snap);
        if (!err && later && user.found && sso_owned(&user) && user.is_admin)
            err = set_user_admin(conn, user.id, false);
    }
    if (err) {
        mfd_conn_rollback(conn);
        return err;
    }
    return mfd_conn_commit(conn);
}

mfd_err mfd_sso_store_make_password_unusable(mfd_conn *conn, int64_t user_id) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_stmt *stmt;
    err = mfd_conn_prepare(conn, "UPDATE users SET password_hash = ? WHERE id = ?", true, &stmt);
    if (!err) {
        mfd_stmt_bind_text(stmt, 1, MFD_SSO_UNUSABLE_PASSWORD);
        mfd_stmt_bind_int64(stmt, 2, user_id);
        err = mfd_stmt_exec_done(stmt);
    }
    if (err) {
        mfd_conn_rollback(conn);
        return err;
    }
    return mfd_conn_commit(conn);
}

mfd_err mfd_sso_store_get_binding(mfd_conn *conn, mfd_arena *arena, const char *username,
                                  const char **issuer, const char **subject, mfd_sso_snapshot *snap,
                                  bool *found) {
    identity_row r;
    mfd_err err = identity_by_username(conn, arena, username, &r);
    if (err)
        return err;
    *found = r.found;
    if (r.found) {
        *issuer = r.issuer;
        *subject = r.subject;
        *snap = r.snap;
    }
    return NULL;
}

mfd_err mfd_sso_store_change_where(mfd_conn *conn, const char *sql, const char *text,
                                   int64_t number, bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    if (text)
        mfd_stmt_bind_text(stmt, 1, text);
    else
        mfd_stmt_bind_int64(stmt, 1, number);
    err = mfd_stmt_exec_done(stmt);
    if (!err && found)
        *found = mfd_conn_changes(conn) > 0;
    return err;
}

mfd_err mfd_sso_store_delete_binding(mfd_conn *conn, const char *username, bool *found) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    err = mfd_sso_store_change_where(conn, "DELETE FROM mlflowd_sso_identities WHERE username = ?",
                                     username, 0, found);
    /* What the identity held goes with it: the next identity to claim the
     * username must not inherit its tokens, sessions or admin mirror. */
    if (!err && *found)
        err = mfd_sso_store_change_where(conn,
                                         "DELETE FROM mlflowd_access_tokens WHERE user_id IN "
                                         "(SELECT id FROM users WHERE username = ?)",
                                         username, 0, NULL);
    if (!err && *found)
        err = mfd_sso_store_change_where(conn, "DELETE FROM mlflowd_sessions WHERE username = ?",
                                         username, 0, NULL);
    if (!err && *found)
        err = mfd_sso_store_change_where(conn,
                                         "UPDATE users SET is_admin = FALSE WHERE username = ? AND "
                                         "password_hash = '" MFD_SSO_UNUSABLE_PASSWORD "'",
                                         username, 0, NULL);
    if (err) {
        mfd_conn_rollback(conn);
        return err;
    }
    return mfd_conn_commit(conn);
}

mfd_err mfd_sso_store_forget_user(mfd_conn *conn, int64_t user_id, const char *username) {
    mfd_err err = mfd_sso_store_change_where(
        conn, "DELETE FROM mlflowd_access_tokens WHERE user_id = ?", NULL, user_id, NULL);
    if (!err)
        err = mfd_sso_store_change_where(
            conn, "DELETE FROM mlflowd_sso_identities WHERE username = ?", username, 0, NULL);
    if (!err)
        err = mfd_sso_store_change_where(conn, "DELETE FROM mlflowd_sessions WHERE username = ?",
                                         username, 0, NULL);
    return err;
}
