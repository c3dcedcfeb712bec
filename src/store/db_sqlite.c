/* db_sqlite.c — the SQLite driver of db.h (reached through db.c's vtable).
 *
 * Invariants kept here:
 * - every connection runs with foreign_keys=ON, case_sensitive_like=ON (the
 *   search semantics depend on it), busy_timeout=20000, WAL journal and
 *   synchronous=NORMAL (a killed process loses nothing committed);
 * - the WAL is emptied once it passes 32 MB (wal_committed), readers or not;
 * - at most one write transaction per process at a time (writer_lock), taken
 *   in mfd_conn_begin(write=true) and released by commit/rollback, so writers
 *   queue on a mutex instead of sleeping in SQLite's busy handler;
 * - a cached statement is handed to one user at a time; a second concurrent
 *   user of the same SQL on the same connection gets a private statement. */
#include "core/hash.h"
#include "db_driver.h"
#include "db_wal_index.h"
#include "db_pool.h"
#include "db_sqlite_lower.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    CACHE_SLOTS = 256,
    BUSY_TIMEOUT_MS = 20000,
    WAL_CHECKPOINT_PAGES = 1000, /* SQLite's default automatic checkpoint */
    WAL_TRUNCATE_PAGES = 8192,   /* 32 MB of 4 KB pages */
    WAL_TRUNCATE_RETRY_PAGES = 2048,
    WAL_TRUNCATE_WAIT_MS = 2000,
};

typedef struct sqlite_db sqlite_db;
typedef struct sqlite_conn sqlite_conn;
typedef struct sqlite_stmt sqlite_stmt;

struct sqlite_stmt {
    mfd_stmt base; /* first: db.c dispatches on it */
    sqlite3_stmt *handle;
    sqlite_conn *conn;
    char *sql; /* owned; cache key */
    bool cached, in_use;
};

struct sqlite_conn {
    mfd_conn base;
    sqlite3 *handle;
    sqlite_db *db;
    bool in_write, in_txn;
    sqlite_stmt *cache[CACHE_SLOTS];
};

struct sqlite_db {
    mfd_db base;
    char *path;
    mfd_db_pool pool;
    pthread_mutex_t writer_lock;
    /* Commits by any process: the WAL-index header, mapped once the -shm
     * exists (a new database has none until its first write); NULL for
     * :memory:. The pool's connections stay open, so the -shm does too. */
    mfd_wal_index *_Atomic wal_index;
    pthread_mutex_t wal_index_lock;
    int64_t wal_index_retry_at;  /* monotonic seconds of the next attempt */
    _Atomic int wal_truncate_at; /* WAL pages from which a commit truncates it */
};

#define DB(d)   ((sqlite_db *)(d))
#define CONN(c) ((sqlite_conn *)(c))
#define STMT(s) ((sqlite_stmt *)(s))

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

static mfd_err db_acquire(mfd_db *base, mfd_conn **out);
static void db_release(mfd_db *base, mfd_conn *conn);
static void db_close(mfd_db *base);
static void conn_rollback(mfd_conn *base);

/* SQLite's memory statistics take one global mutex on every allocation,
 * which request threads then queue on; nothing here reads the statistics.
 * Only possible before SQLite initializes (a no-op after). */
static void configure_sqlite(void) {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static mfd_err db_open(const char *uri, int max_connections, mfd_db **out) {
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, configure_sqlite);
    char *path = NULL;
    mfd_err err = parse_uri(uri, &path);
    if (err)
        return err;
    sqlite_db *db = calloc(1, sizeof *db);
    db->base.driver = &mfd_db_sqlite_driver;
    db->path = path;
    mfd_db_pool_init(&db->pool, strcmp(path, ":memory:") == 0 ? 1 : max_connections);
    pthread_mutex_init(&db->writer_lock, NULL);
    db->wal_truncate_at = WAL_TRUNCATE_PAGES;
    pthread_mutex_init(&db->wal_index_lock, NULL);
    /* Open one connection now so a bad path fails at start, not on the first request. */
    mfd_conn *conn;
    if ((err = db_acquire(&db->base, &conn))) {
        db_close(&db->base);
        return err;
    }
    db_release(&db->base, conn);
    *out = &db->base;
    return NULL;
}

const char *mfd_db_sqlite_file(const mfd_db *base) {
    if (base->driver != &mfd_db_sqlite_driver || !strcmp(DB(base)->path, ":memory:"))
        return NULL;
    return DB(base)->path;
}

/* The WAL index, mapped on first need and retried at most once a second
 * while there is none yet. */
static mfd_wal_index *wal_index_of(sqlite_db *db) {
    mfd_wal_index *w = atomic_load_explicit(&db->wal_index, memory_order_acquire);
    if (w || strcmp(db->path, ":memory:") == 0)
        return w;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    pthread_mutex_lock(&db->wal_index_lock);
    if (!(w = atomic_load(&db->wal_index)) && ts.tv_sec >= db->wal_index_retry_at) {
        db->wal_index_retry_at = ts.tv_sec + 1;
        if ((w = mfd_wal_index_open(db->path))) {
            atomic_store(&db->wal_index, w);
            db->base.sees_other_writers = true;
        }
    }
    pthread_mutex_unlock(&db->wal_index_lock);
    return w;
}

static uint64_t db_data_version(mfd_db *base) {
    sqlite_db *db = DB(base);
    uint64_t local = atomic_load_explicit(&base->local_writes, memory_order_acquire);
    mfd_wal_index *w = wal_index_of(db);
    /* The header's value is no count: add it (and a mark that it is there)
     * to the local one, so a change of either changes the sum. */
    return w ? local + (1ull << 62) + mfd_wal_index_version(w) : local;
}

static void stmt_free(sqlite_stmt *stmt) {
    sqlite3_finalize(stmt->handle);
    free(stmt->sql);
    free(stmt);
}

static void conn_close(sqlite_conn *conn) {
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (conn->cache[i])
            stmt_free(conn->cache[i]);
    sqlite3_close_v2(conn->handle);
    free(conn);
}

static void pool_close_conn(mfd_conn *conn) {
    conn_close(CONN(conn));
}

static void db_close(mfd_db *base) {
    sqlite_db *db = DB(base);
    mfd_db_pool_destroy(&db->pool, pool_close_conn);
    mfd_wal_index_close(atomic_load(&db->wal_index));
    pthread_mutex_destroy(&db->wal_index_lock);
    pthread_mutex_destroy(&db->writer_lock);
    free(db->path);
    free(db);
}

/* After each commit. SQLite's own checkpoint (PASSIVE, from 1000 pages) never
 * starts the WAL over while a reader is always using it — searches that
 * overlap without a pause — and the file grew past a gigabyte in minutes.
 * From WAL_TRUNCATE_PAGES on, the checkpoint waits (up to WAL_TRUNCATE_WAIT_MS)
 * for the readers of the moment to finish, then empties the file; readers
 * that start meanwhile read the database file. Writers wait that long once;
 * if readers hold on longer, the next try is WAL_TRUNCATE_RETRY_PAGES later. */
static int wal_committed(void *arg, sqlite3 *handle, const char *name, int pages) {
    sqlite_db *db = arg;
    if (pages < WAL_TRUNCATE_PAGES && db->wal_truncate_at != WAL_TRUNCATE_PAGES)
        db->wal_truncate_at = WAL_TRUNCATE_PAGES; /* started over since a try failed */
    if (pages >= db->wal_truncate_at) {
        sqlite3_busy_timeout(handle, WAL_TRUNCATE_WAIT_MS);
        int rc = sqlite3_wal_checkpoint_v2(handle, name, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_busy_timeout(handle, BUSY_TIMEOUT_MS);
        db->wal_truncate_at =
            rc == SQLITE_OK ? WAL_TRUNCATE_PAGES : pages + WAL_TRUNCATE_RETRY_PAGES;
    } else if (pages >= WAL_CHECKPOINT_PAGES) {
        sqlite3_wal_checkpoint_v2(handle, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    return SQLITE_OK;
}

static mfd_err conn_open(sqlite_db *db, sqlite_conn **out) {
    sqlite_conn *conn = calloc(1, sizeof *conn);
    conn->base.driver = &mfd_db_sqlite_driver;
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
    sqlite3_busy_timeout(conn->handle, BUSY_TIMEOUT_MS);
    mfd_sqlite_register_lower(conn->handle); /* if it fails, SQLite's ASCII one stays */
    /* cache_size: 16 MB of pages (SQLite's default is 2 MB), so that a search
     * over a database of some size reads its pages from memory rather than
     * through pread (10,000 runs: 9 -> 7 ms). */
    const char *setup = "PRAGMA foreign_keys=ON;"
                        "PRAGMA case_sensitive_like=ON;"
                        "PRAGMA synchronous=NORMAL;"
                        "PRAGMA cache_size=-16384;";
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
    sqlite3_wal_hook(conn->handle, wal_committed, db); /* replaces the automatic checkpoint */
    *out = conn;
    return NULL;
}

static mfd_err pool_open_conn(void *ctx, mfd_conn **out) {
    sqlite_conn *conn = NULL;
    mfd_err err = conn_open(ctx, &conn);
    if (!err)
        *out = &conn->base;
    return err;
}

static mfd_err db_acquire(mfd_db *base, mfd_conn **out) {
    sqlite_db *db = DB(base);
    return mfd_db_pool_acquire(&db->pool, pool_open_conn, db, out);
}

/* :memory: is one database per connection: its probe takes the pooled one. */
static mfd_err db_acquire_spare(mfd_db *base, int wait_ms, mfd_conn **out) {
    sqlite_db *db = DB(base);
    if (strcmp(db->path, ":memory:") == 0)
        return db_acquire(base, out);
    return mfd_db_pool_acquire_spare(&db->pool, pool_open_conn, db, wait_ms, out);
}

static void db_release(mfd_db *base, mfd_conn *conn_base) {
    if (CONN(conn_base)->in_txn)
        conn_rollback(conn_base);
    mfd_db_pool_release(&DB(base)->pool, conn_base, false);
}

static mfd_err conn_exec(mfd_conn *base, const char *sql) {
    sqlite_conn *conn = CONN(base);
    char *msg = NULL;
    int rc = sqlite3_exec(conn->handle, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        mfd_err err = sqlite_error(conn->handle, rc, "SQL error");
        sqlite3_free(msg);
        return err;
    }
    return NULL;
}

static mfd_err conn_begin(mfd_conn *base, bool write) {
    sqlite_conn *conn = CONN(base);
    if (write)
        pthread_mutex_lock(&conn->db->writer_lock);
    mfd_err err = conn_exec(base, write ? "BEGIN IMMEDIATE" : "BEGIN");
    if (err) {
        if (write)
            pthread_mutex_unlock(&conn->db->writer_lock);
        return err;
    }
    conn->in_txn = true;
    conn->in_write = write;
    return NULL;
}

static void end_txn(sqlite_conn *conn) {
    if (conn->in_write) {
        atomic_fetch_add_explicit(&conn->db->base.local_writes, 1, memory_order_release);
        pthread_mutex_unlock(&conn->db->writer_lock);
    }
    conn->in_txn = conn->in_write = false;
}

static mfd_err conn_commit(mfd_conn *base) {
    sqlite_conn *conn = CONN(base);
    mfd_err err = conn_exec(base, "COMMIT");
    if (err) {
        sqlite3_exec(conn->handle, "ROLLBACK", NULL, NULL, NULL);
    }
    end_txn(conn);
    return err;
}

static void conn_rollback(mfd_conn *base) {
    sqlite_conn *conn = CONN(base);
    if (!conn->in_txn)
        return;
    sqlite3_exec(conn->handle, "ROLLBACK", NULL, NULL, NULL);
    end_txn(conn);
}

static unsigned hash_sql(const char *sql) {
    return (unsigned)mfd_hash_str(MFD_HASH_INIT, sql);
}

static mfd_err prepare_new(sqlite_conn *conn, const char *sql, sqlite_stmt **out) {
    sqlite3_stmt *handle = NULL;
    int rc = sqlite3_prepare_v3(conn->handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &handle, NULL);
    if (rc != SQLITE_OK)
        return sqlite_error(conn->handle, rc, "cannot prepare statement");
    sqlite_stmt *stmt = calloc(1, sizeof *stmt);
    stmt->base.driver = &mfd_db_sqlite_driver;
    stmt->handle = handle;
    stmt->conn = conn;
    *out = stmt;
    return NULL;
}

static mfd_err conn_prepare(mfd_conn *base, const char *sql, bool cache, mfd_stmt **out) {
    sqlite_conn *conn = CONN(base);
    unsigned slot = hash_sql(sql) % CACHE_SLOTS;
    sqlite_stmt *hit = conn->cache[slot];
    if (cache && hit && !hit->in_use && strcmp(hit->sql, sql) == 0) {
        hit->in_use = true;
        *out = &hit->base;
        return NULL;
    }
    sqlite_stmt *stmt = NULL;
    mfd_err err = prepare_new(conn, sql, &stmt);
    if (err)
        return err;
    if (cache && (!hit || !hit->in_use)) {
        if (hit)
            stmt_free(hit);
        stmt->sql = strdup(sql);
        stmt->cached = true;
        conn->cache[slot] = stmt;
    }
    stmt->in_use = true;
    *out = &stmt->base;
    return NULL;
}

static void stmt_done(mfd_stmt *base) {
    sqlite_stmt *stmt = STMT(base);
    if (stmt->cached) {
        sqlite3_reset(stmt->handle);
        sqlite3_clear_bindings(stmt->handle);
        stmt->in_use = false;
    } else {
        sqlite3_finalize(stmt->handle);
        free(stmt);
    }
}

static void stmt_reset(mfd_stmt *base) {
    sqlite3_reset(STMT(base)->handle);
    sqlite3_clear_bindings(STMT(base)->handle);
}

static void bind_textn(mfd_stmt *base, int index, const char *text, size_t len) {
    sqlite3_bind_text64(STMT(base)->handle, index, text, len, SQLITE_TRANSIENT, SQLITE_UTF8);
}

static void bind_int64(mfd_stmt *base, int index, int64_t value) {
    sqlite3_bind_int64(STMT(base)->handle, index, value);
}

static void bind_double(mfd_stmt *base, int index, double value) {
    sqlite3_bind_double(STMT(base)->handle, index, value);
}

static void bind_null(mfd_stmt *base, int index) {
    sqlite3_bind_null(STMT(base)->handle, index);
}

static mfd_step stmt_step(mfd_stmt *base, mfd_err *err) {
    sqlite_stmt *stmt = STMT(base);
    int rc = sqlite3_step(stmt->handle);
    if (rc == SQLITE_ROW)
        return MFD_STEP_ROW;
    if (rc == SQLITE_DONE)
        return MFD_STEP_DONE;
    *err = sqlite_error(stmt->conn->handle, rc, "SQL error");
    sqlite3_reset(stmt->handle);
    return MFD_STEP_ERROR;
}

static mfd_err stmt_exec(mfd_stmt *base) {
    mfd_err err = NULL;
    mfd_step s;
    while ((s = stmt_step(base, &err)) == MFD_STEP_ROW)
        ;
    if (s == MFD_STEP_DONE)
        sqlite3_reset(STMT(base)->handle);
    return err;
}

static bool col_is_null(mfd_stmt *base, int col) {
    return sqlite3_column_type(STMT(base)->handle, col) == SQLITE_NULL;
}

static const char *col_text(mfd_stmt *base, int col) {
    return (const char *)sqlite3_column_text(STMT(base)->handle, col);
}

static size_t col_bytes(mfd_stmt *base, int col) {
    return (size_t)sqlite3_column_bytes(STMT(base)->handle, col);
}

static int64_t col_int64(mfd_stmt *base, int col) {
    return sqlite3_column_int64(STMT(base)->handle, col);
}

static double col_double(mfd_stmt *base, int col) {
    return sqlite3_column_double(STMT(base)->handle, col);
}

static int64_t conn_changes(mfd_conn *base) {
    return sqlite3_changes64(CONN(base)->handle);
}

static mfd_err conn_table_exists(mfd_conn *base, const char *table, bool *exists) {
    mfd_stmt *stmt;
    mfd_err err = conn_prepare(base, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                               true, &stmt);
    if (err)
        return err;
    bind_textn(stmt, 1, table, strlen(table));
    mfd_step s = stmt_step(stmt, &err);
    *exists = s == MFD_STEP_ROW;
    stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

const mfd_db_driver mfd_db_sqlite_driver = {
    .name = "sqlite",
    .dialect = MFD_DIALECT_SQLITE,
    .open = db_open,
    .close = db_close,
    .acquire = db_acquire,
    .acquire_spare = db_acquire_spare,
    .release = db_release,
    .begin = conn_begin,
    .commit = conn_commit,
    .rollback = conn_rollback,
    .exec = conn_exec,
    .prepare = conn_prepare,
    .done = stmt_done,
    .bind_textn = bind_textn,
    .bind_int64 = bind_int64,
    .bind_double = bind_double,
    .bind_null = bind_null,
    .step = stmt_step,
    .exec_stmt = stmt_exec,
    .reset = stmt_reset,
    .is_null = col_is_null,
    .text = col_text,
    .bytes = col_bytes,
    .int64 = col_int64,
    .float64 = col_double,
    .changes = conn_changes,
    .table_exists = conn_table_exists,
    .data_version = db_data_version,
};
