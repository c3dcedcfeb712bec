/* db_sqlite.c — the SQLite driver of db.h.
 *
 * Invariants kept here:
 * - every connection runs with foreign_keys=ON, case_sensitive_like=ON (the
 *   search semantics depend on it), busy_timeout=20000, WAL journal and
 *   synchronous=NORMAL (a killed process loses nothing committed);
 * - at most one write transaction per process at a time (writer_lock), taken
 *   in mfd_conn_begin(write=true) and released by commit/rollback, so writers
 *   queue on a mutex instead of sleeping in SQLite's busy handler;
 * - a cached statement is handed to one user at a time; a second concurrent
 *   user of the same SQL on the same connection gets a private statement. */
#include "db.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CACHE_SLOTS = 256 };

struct mfd_stmt {
    sqlite3_stmt *handle;
    mfd_conn *conn;
    char *sql; /* owned; cache key */
    bool cached, in_use;
};

struct mfd_conn {
    sqlite3 *handle;
    mfd_db *db;
    bool in_write, in_txn;
    mfd_stmt *cache[CACHE_SLOTS];
};

struct mfd_db {
    char *uri;
    char *path;
    int max_connections, open_connections;
    mfd_conn **idle;
    int n_idle;
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    pthread_mutex_t writer_lock;
};

static mfd_err sqlite_error(sqlite3 *handle, int rc, const char *what) {
    int ext = handle ? sqlite3_extended_errcode(handle) : rc;
    const char *msg = handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
        return mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS, "%s: %s", what, msg);
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "%s: database is busy: %s", what, msg);
    return mfd_err_new(MFD_INTERNAL_ERROR, "%s: %s", what, msg);
}

/* sqlite:///rel.db -> "rel.db"; sqlite:////abs.db -> "/abs.db"; sqlite:// -> ":memory:" */
static mfd_err parse_uri(const char *uri, char **path) {
    const char *prefix = "sqlite://";
    if (strncmp(uri, prefix, strlen(prefix)) != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Unsupported database URI '%s': expected sqlite:///<path>", uri);
    const char *rest = uri + strlen(prefix);
    if (*rest == '\0') {
        *path = strdup(":memory:");
    } else if (*rest == '/') {
        rest++;
        const char *q = strchr(rest, '?');
        *path = q ? strndup(rest, (size_t)(q - rest)) : strdup(rest);
    } else {
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Unsupported database URI '%s': a host is not allowed for sqlite "
                           "(use sqlite:///relative.db or sqlite:////absolute/path.db)",
                           uri);
    }
    if (**path == '\0') {
        free(*path);
        *path = strdup(":memory:");
    }
    return NULL;
}

mfd_err mfd_db_open(const char *uri, int max_connections, mfd_db **out) {
    char *path = NULL;
    mfd_err err = parse_uri(uri, &path);
    if (err)
        return err;
    mfd_db *db = calloc(1, sizeof *db);
    db->uri = strdup(uri);
    db->path = path;
    db->max_connections =
        strcmp(path, ":memory:") == 0 ? 1 : (max_connections < 1 ? 1 : max_connections);
    db->idle = calloc((size_t)db->max_connections, sizeof *db->idle);
    pthread_mutex_init(&db->pool_lock, NULL);
    pthread_cond_init(&db->pool_cond, NULL);
    pthread_mutex_init(&db->writer_lock, NULL);
    /* Open one connection now so a bad path fails at start, not on the first request. */
    mfd_conn *conn;
    if ((err = mfd_db_acquire(db, &conn))) {
        mfd_db_close(db);
        return err;
    }
    mfd_db_release(db, conn);
    *out = db;
    return NULL;
}

static void conn_close(mfd_conn *conn) {
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (conn->cache[i]) {
            sqlite3_finalize(conn->cache[i]->handle);
            free(conn->cache[i]->sql);
            free(conn->cache[i]);
        }
    }
    sqlite3_close_v2(conn->handle);
    free(conn);
}

void mfd_db_close(mfd_db *db) {
    if (!db)
        return;
    for (int i = 0; i < db->n_idle; i++)
        conn_close(db->idle[i]);
    pthread_mutex_destroy(&db->pool_lock);
    pthread_cond_destroy(&db->pool_cond);
    pthread_mutex_destroy(&db->writer_lock);
    free(db->idle);
    free(db->uri);
    free(db->path);
    free(db);
}

mfd_dialect mfd_db_dialect(const mfd_db *db) {
    (void)db;
    return MFD_DIALECT_SQLITE;
}

mfd_dialect mfd_conn_dialect(const mfd_conn *conn) {
    (void)conn;
    return MFD_DIALECT_SQLITE;
}

const char *mfd_db_uri(const mfd_db *db) {
    return db->uri;
}

static mfd_err conn_open(mfd_db *db, mfd_conn **out) {
    mfd_conn *conn = calloc(1, sizeof *conn);
    conn->db = db;
    int rc =
        sqlite3_open_v2(db->path, &conn->handle,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        mfd_err err =
            mfd_err_new(MFD_INTERNAL_ERROR, "cannot open SQLite database '%s': %s", db->path,
                        conn->handle ? sqlite3_errmsg(conn->handle) : sqlite3_errstr(rc));
        sqlite3_close_v2(conn->handle);
        free(conn);
        return err;
    }
    sqlite3_busy_timeout(conn->handle, 20000);
    const char *setup = "PRAGMA foreign_keys=ON;"
                        "PRAGMA case_sensitive_like=ON;"
                        "PRAGMA synchronous=NORMAL;";
    char *msg = NULL;
    if (sqlite3_exec(conn->handle, setup, NULL, NULL, &msg) != SQLITE_OK ||
        (strcmp(db->path, ":memory:") != 0 &&
         sqlite3_exec(conn->handle, "PRAGMA journal_mode=WAL;", NULL, NULL, &msg) != SQLITE_OK)) {
        mfd_err err = mfd_err_new(MFD_INTERNAL_ERROR, "cannot set up SQLite database '%s': %s",
                                  db->path, msg ? msg : "unknown error");
        sqlite3_free(msg);
        conn_close(conn);
        return err;
    }
    *out = conn;
    return NULL;
}

mfd_err mfd_db_acquire(mfd_db *db, mfd_conn **out) {
    pthread_mutex_lock(&db->pool_lock);
    for (;;) {
        if (db->n_idle > 0) {
            *out = db->idle[--db->n_idle];
            pthread_mutex_unlock(&db->pool_lock);
            return NULL;
        }
        if (db->open_connections < db->max_connections) {
            db->open_connections++;
            pthread_mutex_unlock(&db->pool_lock);
            mfd_err err = conn_open(db, out);
            if (err) {
                pthread_mutex_lock(&db->pool_lock);
                db->open_connections--;
                pthread_cond_signal(&db->pool_cond);
                pthread_mutex_unlock(&db->pool_lock);
            }
            return err;
        }
        pthread_cond_wait(&db->pool_cond, &db->pool_lock);
    }
}

void mfd_db_release(mfd_db *db, mfd_conn *conn) {
    if (!conn)
        return;
    if (conn->in_txn)
        mfd_conn_rollback(conn);
    pthread_mutex_lock(&db->pool_lock);
    db->idle[db->n_idle++] = conn;
    pthread_cond_signal(&db->pool_cond);
    pthread_mutex_unlock(&db->pool_lock);
}

mfd_err mfd_conn_exec(mfd_conn *conn, const char *sql) {
    char *msg = NULL;
    int rc = sqlite3_exec(conn->handle, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        mfd_err err = sqlite_error(conn->handle, rc, "SQL error");
        sqlite3_free(msg);
        return err;
    }
    return NULL;
}

mfd_err mfd_conn_begin(mfd_conn *conn, bool write) {
    if (write)
        pthread_mutex_lock(&conn->db->writer_lock);
    mfd_err err = mfd_conn_exec(conn, write ? "BEGIN IMMEDIATE" : "BEGIN");
    if (err) {
        if (write)
            pthread_mutex_unlock(&conn->db->writer_lock);
        return err;
    }
    conn->in_txn = true;
    conn->in_write = write;
    return NULL;
}

static void end_txn(mfd_conn *conn) {
    if (conn->in_write)
        pthread_mutex_unlock(&conn->db->writer_lock);
    conn->in_txn = conn->in_write = false;
}

mfd_err mfd_conn_commit(mfd_conn *conn) {
    mfd_err err = mfd_conn_exec(conn, "COMMIT");
    if (err) {
        sqlite3_exec(conn->handle, "ROLLBACK", NULL, NULL, NULL);
    }
    end_txn(conn);
    return err;
}

void mfd_conn_rollback(mfd_conn *conn) {
    if (!conn->in_txn)
        return;
    sqlite3_exec(conn->handle, "ROLLBACK", NULL, NULL, NULL);
    end_txn(conn);
}

static unsigned hash_sql(const char *sql) {
    unsigned h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static mfd_err prepare_new(mfd_conn *conn, const char *sql, mfd_stmt **out) {
    sqlite3_stmt *handle = NULL;
    int rc = sqlite3_prepare_v3(conn->handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &handle, NULL);
    if (rc != SQLITE_OK)
        return sqlite_error(conn->handle, rc, "cannot prepare statement");
    mfd_stmt *stmt = calloc(1, sizeof *stmt);
    stmt->handle = handle;
    stmt->conn = conn;
    *out = stmt;
    return NULL;
}

mfd_err mfd_conn_prepare(mfd_conn *conn, const char *sql, bool cache, mfd_stmt **out) {
    unsigned slot = hash_sql(sql) % CACHE_SLOTS;
    mfd_stmt *hit = conn->cache[slot];
    if (cache && hit && !hit->in_use && strcmp(hit->sql, sql) == 0) {
        hit->in_use = true;
        *out = hit;
        return NULL;
    }
    mfd_stmt *stmt;
    mfd_err err = prepare_new(conn, sql, &stmt);
    if (err)
        return err;
    if (cache && (!hit || !hit->in_use)) {
        if (hit) {
            sqlite3_finalize(hit->handle);
            free(hit->sql);
            free(hit);
        }
        stmt->sql = strdup(sql);
        stmt->cached = true;
        conn->cache[slot] = stmt;
    }
    stmt->in_use = true;
    *out = stmt;
    return NULL;
}

void mfd_stmt_done(mfd_stmt *stmt) {
    if (!stmt)
        return;
    if (stmt->cached) {
        sqlite3_reset(stmt->handle);
        sqlite3_clear_bindings(stmt->handle);
        stmt->in_use = false;
    } else {
        sqlite3_finalize(stmt->handle);
        free(stmt);
    }
}

void mfd_stmt_reset(mfd_stmt *stmt) {
    sqlite3_reset(stmt->handle);
    sqlite3_clear_bindings(stmt->handle);
}

void mfd_stmt_bind_text(mfd_stmt *stmt, int index, const char *text) {
    if (text)
        sqlite3_bind_text(stmt->handle, index, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt->handle, index);
}

void mfd_stmt_bind_textn(mfd_stmt *stmt, int index, const char *text, size_t len) {
    sqlite3_bind_text64(stmt->handle, index, text, len, SQLITE_TRANSIENT, SQLITE_UTF8);
}

void mfd_stmt_bind_int64(mfd_stmt *stmt, int index, int64_t value) {
    sqlite3_bind_int64(stmt->handle, index, value);
}

void mfd_stmt_bind_double(mfd_stmt *stmt, int index, double value) {
    sqlite3_bind_double(stmt->handle, index, value);
}

void mfd_stmt_bind_null(mfd_stmt *stmt, int index) {
    sqlite3_bind_null(stmt->handle, index);
}

void mfd_stmt_bind_params(mfd_stmt *stmt, int first_index, const mfd_sql_params *params) {
    for (size_t i = 0; i < params->count; i++) {
        const mfd_sql_value *v = &params->values[i];
        int index = first_index + (int)i;
        switch (v->kind) {
        case MFD_SQL_NULL:
            mfd_stmt_bind_null(stmt, index);
            break;
        case MFD_SQL_TEXT:
            mfd_stmt_bind_text(stmt, index, v->text);
            break;
        case MFD_SQL_INT64:
            mfd_stmt_bind_int64(stmt, index, v->i64);
            break;
        case MFD_SQL_DOUBLE:
            mfd_stmt_bind_double(stmt, index, v->f64);
            break;
        }
    }
}

mfd_step mfd_stmt_step(mfd_stmt *stmt, mfd_err *err) {
    int rc = sqlite3_step(stmt->handle);
    if (rc == SQLITE_ROW)
        return MFD_STEP_ROW;
    if (rc == SQLITE_DONE)
        return MFD_STEP_DONE;
    *err = sqlite_error(stmt->conn->handle, rc, "SQL error");
    sqlite3_reset(stmt->handle);
    return MFD_STEP_ERROR;
}

mfd_err mfd_stmt_exec(mfd_stmt *stmt) {
    mfd_err err = NULL;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW)
        ;
    if (s == MFD_STEP_DONE)
        sqlite3_reset(stmt->handle);
    return err;
}

bool mfd_stmt_is_null(mfd_stmt *stmt, int col) {
    return sqlite3_column_type(stmt->handle, col) == SQLITE_NULL;
}

const char *mfd_stmt_text(mfd_stmt *stmt, int col) {
    return (const char *)sqlite3_column_text(stmt->handle, col);
}

size_t mfd_stmt_bytes(mfd_stmt *stmt, int col) {
    return (size_t)sqlite3_column_bytes(stmt->handle, col);
}

int64_t mfd_stmt_int64(mfd_stmt *stmt, int col) {
    return sqlite3_column_int64(stmt->handle, col);
}

double mfd_stmt_double(mfd_stmt *stmt, int col) {
    return sqlite3_column_double(stmt->handle, col);
}

int64_t mfd_conn_changes(mfd_conn *conn) {
    return sqlite3_changes64(conn->handle);
}

mfd_err mfd_conn_table_exists(mfd_conn *conn, const char *table, bool *exists) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(
        conn, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, table);
    mfd_step s = mfd_stmt_step(stmt, &err);
    *exists = s == MFD_STEP_ROW;
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}
