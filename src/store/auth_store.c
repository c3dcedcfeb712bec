/* auth_store.c — SQL of the auth database and the tracking-side lookups of
 * permission checks (auth_store.h).
 *
 * Invariants kept here: every write runs in one write transaction; deleting
 * a user first deletes their permission rows (the FKs have no ON DELETE);
 * booleans are written and read through CASE so the SQL runs on SQLite
 * (0/1) and PostgreSQL (boolean) alike. */
#include "auth_store.h"

#include "sso_store.h"

#include <stdio.h>
#include <string.h>

/* Per-kind SQL; `keys` placeholders come first in every statement. */
typedef struct kind_sql {
    int n_keys;
    const char *lookup, *get, *insert, *update, *delete_one, *delete_all, *list, *delete_user_rows,
        *confirm_lookup;
} kind_sql;

static const kind_sql kinds[] = {
    [MFD_AUTH_EXPERIMENT] =
        {
            1,
            "SELECT p.permission FROM experiment_permissions p JOIN users u ON u.id = p.user_id "
            "WHERE p.experiment_id = ? AND u.username = ?",
            "SELECT p.experiment_id, NULL, p.user_id, p.permission FROM experiment_permissions p "
            "WHERE p.experiment_id = ? AND p.user_id = ?",
            "INSERT INTO experiment_permissions (experiment_id, user_id, permission) "
            "VALUES (?, ?, ?)",
            "UPDATE experiment_permissions SET permission = ? WHERE experiment_id = ? AND "
            "user_id = ?",
            "DELETE FROM experiment_permissions WHERE experiment_id = ? AND user_id = ?",
            "DELETE FROM experiment_permissions WHERE experiment_id = ? AND id <= ?",
            "SELECT experiment_id, NULL, user_id, permission FROM experiment_permissions "
            "WHERE user_id = ? ORDER BY id",
            "DELETE FROM experiment_permissions WHERE user_id = ?",
            "SELECT u.id, CASE WHEN u.is_admin THEN 1 ELSE 0 END, (SELECT p.permission FROM "
            "experiment_permissions p WHERE p.experiment_id = ? AND p.user_id = u.id) "
            "FROM users u WHERE u.username = ? AND u.password_hash = ?",
        },
    [MFD_AUTH_REGISTERED_MODEL] =
        {
            1,
            "SELECT p.permission FROM registered_model_permissions p JOIN users u "
            "ON u.id = p.user_id WHERE p.name = ? AND u.username = ?",
            "SELECT p.name, NULL, p.user_id, p.permission FROM registered_model_permissions p "
            "WHERE p.name = ? AND p.user_id = ?",
            "INSERT INTO registered_model_permissions (name, user_id, permission) "
            "VALUES (?, ?, ?)",
            "UPDATE registered_model_permissions SET permission = ? WHERE name = ? AND "
            "user_id = ?",
            "DELETE FROM registered_model_permissions WHERE name = ? AND user_id = ?",
            "DELETE FROM registered_model_permissions WHERE name = ? AND id <= ?",
            "SELECT name, NULL, user_id, permission FROM registered_model_permissions "
            "WHERE user_id = ? ORDER BY id",
            "DELETE FROM registered_model_permissions WHERE user_id = ?",
            "SELECT u.id, CASE WHEN u.is_admin THEN 1 ELSE 0 END, (SELECT p.permission FROM "
            "registered_model_permissions p WHERE p.name = ? AND p.user_id = u.id) "
            "FROM users u WHERE u.username = ? AND u.password_hash = ?",
        },
    [MFD_AUTH_SCORER] =
        {
            2,
            "SELECT p.permission FROM scorer_permissions p JOIN users u ON u.id = p.user_id "
            "WHERE p.experiment_id = ? AND p.scorer_name = ? AND u.username = ?",
            "SELECT p.experiment_id, p.scorer_name, p.user_id, p.permission "
            "FROM scorer_permissions p WHERE p.experiment_id = ? AND p.scorer_name = ? AND "
            "p.user_id = ?",
            "INSERT INTO scorer_permissions (experiment_id, scorer_name, user_id, permission) "
            "VALUES (?, ?, ?, ?)",
            "UPDATE scorer_permissions SET permission = ? WHERE experiment_id = ? AND "
            "scorer_name = ? AND user_id = ?",
            "DELETE FROM scorer_permissions WHERE experiment_id = ? AND scorer_name = ? AND "
            "user_id = ?",
            "DELETE FROM scorer_permissions WHERE experiment_id = ? AND scorer_name = ? AND id <= "
            "?",
            "SELECT experiment_id, scorer_name, user_id, permission FROM scorer_permissions "
            "WHERE user_id = ? ORDER BY id",
            "DELETE FROM scorer_permissions WHERE user_id = ?",
            "SELECT u.id, CASE WHEN u.is_admin THEN 1 ELSE 0 END, (SELECT p.permission FROM "
            "scorer_permissions p WHERE p.experiment_id = ? AND p.scorer_name = ? AND "
            "p.user_id = u.id) FROM users u WHERE u.username = ? AND u.password_hash = ?",
        },
};

static mfd_err row_exists_error(mfd_auth_kind kind, const char *const key[2],
                                const char *username) {
    switch (kind) {
    case MFD_AUTH_EXPERIMENT:
        return mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS,
                           "Experiment permission (experiment_id=%s, username=%s) already exists.",
                           key[0], username);
    case MFD_AUTH_REGISTERED_MODEL:
        return mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS,
                           "Registered model permission (name=%s, username=%s) already exists.",
                           key[0], username);
    case MFD_AUTH_SCORER:
        break;
    }
    return mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS,
                       "Scorer permission (experiment_id=%s, scorer_name=%s, username=%s) already "
                       "exists.",
                       key[0], key[1], username);
}

static mfd_err row_missing_error(mfd_auth_kind kind, const char *const key[2],
                                 const char *username) {
    switch (kind) {
    case MFD_AUTH_EXPERIMENT:
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                           "Experiment permission with experiment_id=%s and username=%s not found",
                           key[0], username);
    case MFD_AUTH_REGISTERED_MODEL:
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                           "Registered model permission with name=%s and username=%s not found",
                           key[0], username);
    case MFD_AUTH_SCORER:
        break;
    }
    return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                       "Scorer permission with experiment_id=%s, scorer_name=%s, and username=%s "
                       "not found",
                       key[0], key[1], username);
}

static int bind_keys(mfd_stmt *stmt, int first, mfd_auth_kind kind, const char *const key[2]) {
    for (int i = 0; i < kinds[kind].n_keys; i++)
        mfd_stmt_bind_text(stmt, first + i, key[i]);
    return first + kinds[kind].n_keys;
}

/* --- users ------------------------------------------------------------ */

mfd_err mfd_auth_store_find_user(mfd_conn *conn, mfd_arena *arena, const char *username,
                                 mfd_auth_user *out, bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "SELECT id, username, password_hash, "
                                   "CASE WHEN is_admin THEN 1 ELSE 0 END FROM users "
                                   "WHERE username = ?",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, username);
    *found = false;
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        *found = true;
        out->id = mfd_stmt_int64(stmt, 0);
        out->username = mfd_arena_strdup(arena, mfd_stmt_text(stmt, 1));
        const char *hash = mfd_stmt_text(stmt, 2);
        out->password_hash = hash ? mfd_arena_strdup(arena, hash) : NULL;
        out->is_admin = mfd_stmt_int64(stmt, 3) != 0;
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

mfd_err mfd_auth_store_confirm_user(mfd_conn *conn, const char *username, const char *password_hash,
                                    int64_t *id, bool *is_admin, bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn,
                                   "SELECT id, CASE WHEN is_admin THEN 1 ELSE 0 END FROM users "
                                   "WHERE username = ? AND password_hash = ?",
                                   true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, username);
    mfd_stmt_bind_text(stmt, 2, password_hash);
    *found = false;
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        *found = true;
        *id = mfd_stmt_int64(stmt, 0);
        *is_admin = mfd_stmt_int64(stmt, 1) != 0;
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

mfd_err mfd_auth_store_get_user(mfd_conn *conn, mfd_arena *arena, const char *username,
                                mfd_auth_user *out) {
    bool found;
    mfd_err err = mfd_auth_store_find_user(conn, arena, username, out, &found);
    if (!err && !found)
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "User with username=%s not found", username);
    return err;
}

mfd_err mfd_auth_store_create_user(mfd_conn *conn, mfd_arena *arena, const char *username,
                                   const char *password_hash, bool is_admin, mfd_auth_user *out) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_stmt *stmt;
    err = mfd_conn_prepare(conn,
                           "INSERT INTO users (username, password_hash, is_admin) "
                           "VALUES (?, ?, CASE WHEN ? = 1 THEN TRUE ELSE FALSE END)",
                           true, &stmt);
    if (!err) {
        mfd_stmt_bind_text(stmt, 1, username);
        mfd_stmt_bind_text(stmt, 2, password_hash);
        mfd_stmt_bind_int64(stmt, 3, is_admin ? 1 : 0);
        err = mfd_stmt_exec_done(stmt);
        if (err && err->code == MFD_RESOURCE_ALREADY_EXISTS) {
            mfd_err_free(err);
            err = mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS, "User (username=%s) already exists.",
                              username);
        }
    }
    if (!err)
        err = mfd_auth_store_get_user(conn, arena, username, out);
    return mfd_conn_finish(conn, err);
}

static mfd_err update_user_column(mfd_conn *conn, const char *sql, const char *username,
                                  const char *text, int64_t number) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_stmt *stmt;
    err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (!err) {
        if (text)
            mfd_stmt_bind_text(stmt, 1, text);
        else
            mfd_stmt_bind_int64(stmt, 1, number);
        mfd_stmt_bind_text(stmt, 2, username);
        err = mfd_stmt_exec_done(stmt);
    }
    if (!err && mfd_conn_changes(conn) == 0)
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "User with username=%s not found", username);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_auth_store_update_password(mfd_conn *conn, const char *username,
                                       const char *password_hash) {
    return update_user_column(conn, "UPDATE users SET password_hash = ? WHERE username = ?",
                              username, password_hash, 0);
}

mfd_err mfd_auth_store_update_admin(mfd_conn *conn, const char *username, bool is_admin) {
    return update_user_column(conn,
                              "UPDATE users SET is_admin = CASE WHEN ? = 1 THEN TRUE ELSE FALSE "
                              "END WHERE username = ?",
                              username, NULL, is_admin ? 1 : 0);
}

mfd_err mfd_auth_store_delete_user(mfd_conn *conn, const char *username) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_arena *arena = mfd_arena_new();
    mfd_auth_user user;
    err = mfd_auth_store_get_user(conn, arena, username, &user);
    /* PostgreSQL: a permission row written meanwhile (its foreign key holds
     * the user's row) is either committed before this lock, then deleted
     * below, or waits for it, then finds the user gone; without the lock it
     * failed this delete (the user stayed, with a 404). */
    if (!err && mfd_conn_dialect(conn) == MFD_DIALECT_POSTGRES) {
        mfd_stmt *stmt;
        if (!(err = mfd_conn_prepare(conn, "SELECT 1 FROM users WHERE id = ? FOR UPDATE", true,
                                     &stmt))) {
            mfd_stmt_bind_int64(stmt, 1, user.id);
            err = mfd_stmt_exec_done(stmt);
        }
    }
    for (size_t k = 0; !err && k < sizeof kinds / sizeof kinds[0]; k++) {
        mfd_stmt *stmt;
        err = mfd_conn_prepare(conn, kinds[k].delete_user_rows, true, &stmt);
        if (!err) {
            mfd_stmt_bind_int64(stmt, 1, user.id);
            err = mfd_stmt_exec_done(stmt);
        }
    }
    if (!err) /* mlflowd's own rows: tokens, SSO binding, sessions */
        err = mfd_sso_store_forget_user(conn, user.id, username);
    if (!err) {
        mfd_stmt *stmt;
        err = mfd_conn_prepare(conn, "DELETE FROM users WHERE id = ?", true, &stmt);
        if (!err) {
            mfd_stmt_bind_int64(stmt, 1, user.id);
            err = mfd_stmt_exec_done(stmt);
        }
    }
    mfd_arena_free(arena);
    return mfd_conn_finish(conn, err);
}

/* --- permission rows -------------------------------------------------- */

mfd_err mfd_auth_store_lookup(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                              const char *username, char *permission, size_t cap, bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, kinds[kind].lookup, true, &stmt);
    if (err)
        return err;
    int next = bind_keys(stmt, 1, kind, key);
    mfd_stmt_bind_text(stmt, next, username);
    *found = false;
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        const char *p = mfd_stmt_text(stmt, 0);
        snprintf(permission, cap, "%s", p ? p : "");
        *found = true;
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

mfd_err mfd_auth_store_confirm_and_lookup(mfd_conn *conn, mfd_auth_kind kind,
                                          const char *const key[2], const char *username,
                                          const char *password_hash, mfd_auth_confirmed *out) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, kinds[kind].confirm_lookup, true, &stmt);
    if (err)
        return err;
    int next = bind_keys(stmt, 1, kind, key);
    mfd_stmt_bind_text(stmt, next, username);
    mfd_stmt_bind_text(stmt, next + 1, password_hash);
    memset(out, 0, sizeof *out);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        out->user_found = true;
        out->user_id = mfd_stmt_int64(stmt, 0);
        out->is_admin = mfd_stmt_int64(stmt, 1) != 0;
        const char *p = mfd_stmt_text(stmt, 2);
        if (p) {
            snprintf(out->permission, sizeof out->permission, "%s", p);
            out->permission_found = true;
        }
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

static void read_grant(mfd_stmt *stmt, mfd_arena *arena, mfd_auth_grant *g) {
    for (int i = 0; i < 2; i++) {
        const char *t = mfd_stmt_text(stmt, i);
        g->key[i] = t ? mfd_arena_strdup(arena, t) : NULL;
    }
    g->user_id = mfd_stmt_int64(stmt, 2);
    const char *p = mfd_stmt_text(stmt, 3);
    g->permission = p ? mfd_arena_strdup(arena, p) : NULL;
}

mfd_err mfd_auth_store_list_grants(mfd_conn *conn, mfd_arena *arena, mfd_auth_kind kind,
                                   int64_t user_id, mfd_auth_grant **out, size_t *n) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, kinds[kind].list, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_int64(stmt, 1, user_id);
    size_t cap = 8, count = 0;
    mfd_auth_grant *rows = mfd_arena_alloc(arena, cap * sizeof *rows);
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        rows = mfd_arena_grow(arena, rows, count, &cap, sizeof *rows, cap);
        read_grant(stmt, arena, &rows[count++]);
    }
    mfd_stmt_done(stmt);
    *out = rows;
    *n = count;
    return s == MFD_STEP_ERROR ? err : NULL;
}

static mfd_err find_grant(mfd_conn *conn, mfd_arena *arena, mfd_auth_kind kind,
                          const char *const key[2], int64_t user_id, mfd_auth_grant *out,
                          bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, kinds[kind].get, true, &stmt);
    if (err)
        return err;
    int next = bind_keys(stmt, 1, kind, key);
    mfd_stmt_bind_int64(stmt, next, user_id);
    *found = false;
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        read_grant(stmt, arena, out);
        *found = true;
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

mfd_err mfd_auth_store_get_grant(mfd_conn *conn, mfd_arena *arena, mfd_auth_kind kind,
                                 const char *const key[2], const char *username,
                                 mfd_auth_grant *out) {
    mfd_auth_user user;
    bool found = false;
    mfd_err err = mfd_auth_store_get_user(conn, arena, username, &user);
    if (!err)
        err = find_grant(conn, arena, kind, key, user.id, out, &found);
    if (!err && !found)
        err = row_missing_error(kind, key, username);
    return err;
}

mfd_err mfd_auth_store_create_grant(mfd_conn *conn, mfd_arena *arena, mfd_auth_kind kind,
                                    const char *const key[2], const char *username,
                                    const char *permission, mfd_auth_grant *out) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_auth_user user;
    mfd_stmt *stmt = NULL;
    err = mfd_auth_store_get_user(conn, arena, username, &user);
    if (!err)
        err = mfd_conn_prepare(conn, kinds[kind].insert, true, &stmt);
    if (!err) {
        int next = bind_keys(stmt, 1, kind, key);
        mfd_stmt_bind_int64(stmt, next, user.id);
        mfd_stmt_bind_text(stmt, next + 1, permission);
        err = mfd_stmt_exec_done(stmt);
        if (err && err->code == MFD_RESOURCE_ALREADY_EXISTS) {
            mfd_err_free(err);
            err = row_exists_error(kind, key, username);
        }
    }
    if (!err) {
        out->key[0] = mfd_arena_strdup(arena, key[0]);
        out->key[1] = kinds[kind].n_keys > 1 ? mfd_arena_strdup(arena, key[1]) : NULL;
        out->user_id = user.id;
        out->permission = mfd_arena_strdup(arena, permission);
    }
    return mfd_conn_finish(conn, err);
}

/* Runs `sql` (keys..., user_id) or (permission, keys..., user_id) on the
 * user's row; 404 for an unknown user or a missing row. */
static mfd_err change_grant(mfd_conn *conn, mfd_auth_kind kind, const char *sql,
                            const char *const key[2], const char *username,
                            const char *permission) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_arena *arena = mfd_arena_new();
    mfd_auth_user user;
    mfd_stmt *stmt = NULL;
    err = mfd_auth_store_get_user(conn, arena, username, &user);
    if (!err)
        err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (!err) {
        int next = 1;
        if (permission)
            mfd_stmt_bind_text(stmt, next++, permission);
        next = bind_keys(stmt, next, kind, key);
        mfd_stmt_bind_int64(stmt, next, user.id);
        err = mfd_stmt_exec_done(stmt);
    }
    if (!err && mfd_conn_changes(conn) == 0)
        err = row_missing_error(kind, key, username);
    mfd_arena_free(arena);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_auth_store_update_grant(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                                    const char *username, const char *permission) {
    return change_grant(conn, kind, kinds[kind].update, key, username, permission);
}

mfd_err mfd_auth_store_delete_grant(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                                    const char *username) {
    return change_grant(conn, kind, kinds[kind].delete_one, key, username, NULL);
}

mfd_err mfd_auth_store_set_grant(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                                 const char *username, const char *permission) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_arena *arena = mfd_arena_new();
    mfd_auth_user user;
    mfd_stmt *stmt = NULL;
    err = mfd_auth_store_get_user(conn, arena, username, &user);
    if (!err)
        err = mfd_conn_prepare(conn, kinds[kind].delete_one, true, &stmt);
    if (!err) {
        int next = bind_keys(stmt, 1, kind, key);
        mfd_stmt_bind_int64(stmt, next, user.id);
        err = mfd_stmt_exec_done(stmt);
    }
    if (!err)
        err = mfd_conn_prepare(conn, kinds[kind].insert, true, &stmt);
    if (!err) {
        int next = bind_keys(stmt, 1, kind, key);
        mfd_stmt_bind_int64(stmt, next, user.id);
        mfd_stmt_bind_text(stmt, next + 1, permission);
        err = mfd_stmt_exec_done(stmt);
    }
    mfd_arena_free(arena);
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_auth_store_resource_rows(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                                     int64_t *last_id) {
    static const char *const sql[] = {
        [MFD_AUTH_EXPERIMENT] =
            "SELECT max(id) FROM experiment_permissions WHERE experiment_id = ?",
        [MFD_AUTH_REGISTERED_MODEL] =
            "SELECT max(id) FROM registered_model_permissions WHERE name = ?",
        [MFD_AUTH_SCORER] =
            "SELECT max(id) FROM scorer_permissions WHERE experiment_id = ? AND scorer_name = ?",
    };
    *last_id = 0;
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql[kind], true, &stmt);
    if (err)
        return err;
    bind_keys(stmt, 1, kind, key);
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW && !mfd_stmt_is_null(stmt, 0))
        *last_id = mfd_stmt_int64(stmt, 0);
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

mfd_err mfd_auth_store_delete_resource(mfd_conn *conn, mfd_auth_kind kind, const char *const key[2],
                                       int64_t last_id) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_stmt *stmt;
    err = mfd_conn_prepare(conn, kinds[kind].delete_all, true, &stmt);
    if (!err) {
        int next = bind_keys(stmt, 1, kind, key);
        mfd_stmt_bind_int64(stmt, next, last_id);
        err = mfd_stmt_exec_done(stmt);
    }
    return mfd_conn_finish(conn, err);
}

mfd_err mfd_auth_store_rename_model(mfd_conn *conn, const char *old_name, const char *new_name,
                                    int64_t last_id) {
    mfd_err err = mfd_conn_begin(conn, true);
    if (err)
        return err;
    mfd_stmt *stmt;
    err = mfd_conn_prepare(conn, "DELETE FROM registered_model_permissions WHERE name = ?", true,
                           &stmt);
    if (!err) {
        mfd_stmt_bind_text(stmt, 1, new_name);
        err = mfd_stmt_exec_done(stmt);
    }
    if (!err)
        err = mfd_conn_prepare(
            conn, "UPDATE registered_model_permissions SET name = ? WHERE name = ? AND id <= ?",
            true, &stmt);
    if (!err) {
        mfd_stmt_bind_text(stmt, 1, new_name);
        mfd_stmt_bind_text(stmt, 2, old_name);
        mfd_stmt_bind_int64(stmt, 3, last_id);
        err = mfd_stmt_exec_done(stmt);
    }
    return mfd_conn_finish(conn, err);
}

/* --- tracking-side lookups -------------------------------------------- */

static mfd_err lookup_experiment(mfd_conn *conn, mfd_arena *arena, const char *sql,
                                 const char *value, const char **experiment_id, bool *found) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, value);
    *found = false;
    mfd_step s = mfd_stmt_step(stmt, &err);
    if (s == MFD_STEP_ROW) {
        *experiment_id = mfd_arena_sprintf(arena, "%lld", (long long)mfd_stmt_int64(stmt, 0));
        *found = true;
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

mfd_err mfd_auth_store_run_experiment(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                                      const char **experiment_id) {
    bool found;
    mfd_err err =
        lookup_experiment(conn, arena, "SELECT experiment_id FROM runs WHERE run_uuid = ?", run_id,
                          experiment_id, &found);
    if (!err && !found)
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found", run_id);
    return err;
}

mfd_err mfd_auth_store_experiment_by_name(mfd_conn *conn, mfd_arena *arena, const char *name,
                                          const char **experiment_id) {
    bool found;
    mfd_err err =
        lookup_experiment(conn, arena, "SELECT experiment_id FROM experiments WHERE name = ?", name,
                          experiment_id, &found);
    if (!err && !found)
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Could not find experiment with name %s",
                          name);
    return err;
}

mfd_err mfd_auth_store_logged_model_experiment(mfd_conn *conn, mfd_arena *arena,
                                               const char *model_id, const char **experiment_id) {
    bool found;
    mfd_err err = lookup_experiment(conn, arena,
                                    "SELECT experiment_id FROM logged_models WHERE model_id = ? "
                                    "AND (lifecycle_stage IS NULL OR lifecycle_stage <> 'deleted')",
                                    model_id, experiment_id, &found);
    if (!err && !found)
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Logged model with ID '%s' not found.",
                          model_id);
    return err;
}

mfd_err mfd_auth_store_trace_experiment(mfd_conn *conn, mfd_arena *arena, const char *request_id,
                                        const char **experiment_id) {
    bool found;
    mfd_err err =
        lookup_experiment(conn, arena, "SELECT experiment_id FROM trace_info WHERE request_id = ?",
                          request_id, experiment_id, &found);
    if (!err && !found)
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Trace with request_id '%s' not found.",
                          request_id);
    return err;
}
