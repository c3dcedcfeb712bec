/* db_pg.c — the PostgreSQL driver of db.h (libpq), reached through db.c.
 *
 * Invariants kept here:
 * - The stores' SQL keeps db.h's `?` placeholders: each statement is
 *   rewritten to `$n` once (db_pg_sql.c) and prepared once per connection
 *   under a generated name; cached statements are keyed by their SQL text
 *   like the SQLite driver's, uncached ones are deallocated in batches.
 * - Values travel as text with unspecified types, so the server types each
 *   parameter from its context: "1" bound as int64 is a valid BOOLEAN, "5" a
 *   valid VARCHAR. When the context gives no type (`? IS NULL`, `SELECT ?`)
 *   the statement is prepared again at its first step with types taken from
 *   the bindings (int64 -> bigint, double -> double precision, text -> text);
 *   inside a transaction both attempts run under a savepoint, so a failed
 *   prepare leaves the transaction usable, as on SQLite.
 * - Results are read whole; BOOLEAN columns read back as 1/0 (and "1"/"0"
 *   as text), like SQLite's 0/1 integers.
 * - Between transactions, a connection the server closed while it sat idle
 *   (restart, failover, idle timeout) is noticed before anything is sent on
 *   it and re-opened, so no statement ever runs twice; a connection that
 *   breaks under a statement fails it with TEMPORARILY_UNAVAILABLE (only
 *   BEGIN/SET and Parse, which may repeat, are retried on a new connection)
 *   and a broken connection is dropped from the pool at release.
 * - A failed statement aborts a PostgreSQL transaction (SQLite's goes on).
 *   The driver then rolls it back at once and opens a stand-in transaction,
 *   so what the store runs next (typically a SELECT to word the error)
 *   works; but the unit is lost: its COMMIT rolls back and returns the first
 *   failure, never success. Stores must not expect to recover from a failed
 *   statement and commit (use INSERT ... ON CONFLICT instead).
 * - No process-wide writer lock: row locks serialise PostgreSQL's writers.
 *   Write transactions are READ COMMITTED (MLflow's default), read ones
 *   REPEATABLE READ so every statement sees one snapshot.
 * - Credentials never appear in messages: only the masked URI is shown. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_pg.h"

/* ---- errors -------------------------------------------------------------------------------- */

static bool state_is(const char *state, const char *code) {
    return state && strcmp(state, code) == 0;
}

static bool connection_lost(const pg_conn *conn, const char *state) {
    return PQstatus(conn->handle) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
           state_is(state, "57P01") || state_is(state, "57P02") || state_is(state, "57P03");
}

/* MLflow's error for a failed PostgreSQL call; res may be NULL (then the connection's error). */
mfd_err mfd_pg_error(const pg_conn *conn, const PGresult *res, const char *what) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", primary ? primary : PQerrorMessage(conn->handle));
    msg[strcspn(msg, "\n")] = '\0';
    if (connection_lost(conn, state))
        return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE,
                           "%s: lost the connection to the PostgreSQL database %s: %s", what,
                           conn->db->shown, msg);
    if (state_is(state, "23503")) /* a row it refers to went away under it (a race) */
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                           "The resource this request refers to was deleted while it ran (%s)",
                           detail ? detail : msg);
    mfd_code code = MFD_INTERNAL_ERROR;
    if (state_is(state, "23505"))
        code = MFD_RESOURCE_ALREADY_EXISTS;
    else if (state_is(state, "40001") || state_is(state, "40P01") || state_is(state, "55P03") ||
             state_is(state, "53300"))
        code = MFD_TEMPORARILY_UNAVAILABLE;
    else if (state_is(state, "22001") || state_is(state, "22003") || state_is(state, "22P02") ||
             state_is(state, "22021"))
        code = MFD_BAD_REQUEST; /* what MLflow answers for SQLAlchemy DataError */
    return mfd_err_new(code, "%s: %s%s%s (SQLSTATE %s)", what, msg, detail ? ". " : "",
                       detail ? detail : "", state ? state : "none");
}

static const char *begin_sql(bool write) {
    return write ? "BEGIN ISOLATION LEVEL READ COMMITTED" : "BEGIN ISOLATION LEVEL REPEATABLE READ";
}

static void forget_failure(pg_conn *conn) {
    free(conn->txn_failure);
    conn->txn_failure = NULL;
}

mfd_err mfd_pg_statement_failed(pg_conn *conn, const PGresult *res) {
    mfd_err err = mfd_pg_error(conn, res, "SQL error");
    if (conn->in_txn && PQstatus(conn->handle) == CONNECTION_OK &&
        PQtransactionStatus(conn->handle) == PQTRANS_INERROR) {
        if (!conn->txn_failure) {
            conn->txn_failure = strdup(err->message);
            conn->txn_failure_code = err->code;
        }
        PQclear(PQexec(conn->handle, "ROLLBACK"));
        PQclear(PQexec(conn->handle, begin_sql(conn->txn_write)));
    }
    return err;
}

mfd_err mfd_pg_aborted_txn_error(void) {
    return mfd_err_new(MFD_INTERNAL_ERROR,
                       "SQL error: the transaction was aborted by an earlier failed statement "
                       "(on PostgreSQL nothing runs after a failure until rollback)");
}

/* ---- connections --------------------------------------------------------------------------- */

static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static void drop_garbage(pg_conn *conn) {
    for (int i = 0; i < conn->n_garbage; i++)
        free(conn->garbage[i]);
    conn->n_garbage = 0;
}

/* (Re)connects conn->handle; every prepared statement is to be prepared again. */
mfd_err mfd_pg_conn_connect(pg_conn *conn) {
    if (conn->handle)
        PQfinish(conn->handle);
    /* Defaults the URI may override (it is expanded after them). Keepalives and
     * tcp_user_timeout: across a network partition a request waiting on the
     * database fails in about a minute, not at the kernel's retransmission
     * limit (~15 min), and a stop is not held up that long. */
    const char *keys[] = {"connect_timeout",  "fallback_application_name",
                          "client_encoding",  "keepalives",
                          "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout",
                          "dbname",           NULL};
    const char *values[] = {"10",    "mlflowd",          "UTF8", "1", "30", "10", "3",
                            "60000", conn->db->conninfo, NULL};
    conn->handle = PQconnectdbParams(keys, values, 1);
    conn->generation++;
    drop_garbage(conn);
    if (!conn->handle)
        return mfd_err_new(MFD_INTERNAL_ERROR, "out of memory connecting to PostgreSQL");
    if (PQstatus(conn->handle) != CONNECTION_OK) {
        char *msg = mfd_db_redact_message(conn->db->conninfo, PQerrorMessage(conn->handle));
        if (msg)
            msg[strcspn(msg, "\n")] = '\0';
        mfd_err err = mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE,
                                  "cannot connect to the PostgreSQL database %s: %s",
                                  conn->db->shown, msg ? msg : "");
        free(msg);
        return err;
    }
    /* MLflow's schema has a generated column (12), run search a FETCH ... WITH
     * TIES (13); 12 has been out of support since 2024. */
    if (PQserverVersion(conn->handle) < 130000) {
        int v = PQserverVersion(conn->handle);
        return mfd_err_new(MFD_INVALID_STATE,
                           "the PostgreSQL server of %s is version %d.%d: mlflowd needs "
                           "PostgreSQL 13 or later",
                           conn->db->shown, v / 10000, v % 10000);
    }
    PQsetNoticeProcessor(conn->handle, ignore_notice, NULL);
    /* Doubles print exactly (the default on PostgreSQL >= 12, needed before).
     * A row lock held elsewhere (another tool's long transaction) is waited
     * for 20 s, as SQLite's busy timeout, then the request answers 503
     * instead of holding its pooled connection for as long as the lock
     * lasts; a lock_timeout the role, database or URI sets is kept. */
    PGresult *res =
        PQexec(conn->handle, "SET extra_float_digits = 3; SELECT set_config('lock_timeout', '20s', "
                             "false) WHERE current_setting('lock_timeout') = '0'");
    mfd_err err =
        PQresultStatus(res) == PGRES_TUPLES_OK ? NULL : mfd_pg_error(conn, res, "SQL error");
    PQclear(res);
    return err;
}

void mfd_pg_stmt_free(pg_stmt *stmt) {
    PQclear(stmt->result);
    for (int i = 0; i < stmt->n_params; i++)
        free(stmt->values[i]);
    free(stmt->values);
    free(stmt->kinds);
    free(stmt->pg_sql);
    free(stmt->sql);
    free(stmt);
}

static void conn_close(pg_conn *conn) {
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (conn->cache[i])
            mfd_pg_stmt_free(conn->cache[i]);
    drop_garbage(conn);
    forget_failure(conn);
    PQfinish(conn->handle);
    free(conn);
}

bool mfd_pg_may_reconnect(const pg_conn *conn, PGTransactionStatusType before) {
    return PQstatus(conn->handle) != CONNECTION_OK && !conn->in_txn && before != PQTRANS_INTRANS &&
           before != PQTRANS_INERROR;
}

mfd_err mfd_pg_check_alive(pg_conn *conn) {
    PGTransactionStatusType status = PQtransactionStatus(conn->handle);
    if (conn->in_txn || status == PQTRANS_INTRANS || status == PQTRANS_INERROR)
        return NULL;
    if (PQstatus(conn->handle) == CONNECTION_OK)
        PQconsumeInput(conn->handle); /* reads a pending FATAL or EOF; never blocks */
    return PQstatus(conn->handle) == CONNECTION_OK ? NULL : mfd_pg_conn_connect(conn);
}

/* Commands that may run twice: retried once on a new connection if the old one
 * broke under them outside a transaction. */
static bool safe_to_repeat(const char *sql) {
    static const char *const prefixes[] = {"BEGIN", "SET ", "DEALLOCATE "};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(sql, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

mfd_err mfd_pg_run_simple(pg_conn *conn, const char *sql, PGresult **out) {
    mfd_err err = mfd_pg_check_alive(conn);
    if (err)
        return err;
    for (int attempt = 0;; attempt++) {
        PGTransactionStatusType before = PQtransactionStatus(conn->handle);
        if (before == PQTRANS_INERROR && strncmp(sql, "ROLLBACK", 8) != 0)
            return mfd_pg_aborted_txn_error();
        PGresult *res = PQexec(conn->handle, sql);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (out)
                *out = res;
            else
                PQclear(res);
            return NULL;
        }
        bool retry = attempt == 0 && safe_to_repeat(sql) && mfd_pg_may_reconnect(conn, before);
        err = retry ? mfd_pg_conn_connect(conn) : mfd_pg_statement_failed(conn, res);
        PQclear(res);
        if (err)
            return err;
    }
}

/* DEALLOCATEs the queued statements; only between transactions, where a
 * failure cannot abort anybody's transaction. */
static void flush_garbage(pg_conn *conn) {
    if (conn->n_garbage == 0 || PQtransactionStatus(conn->handle) != PQTRANS_IDLE)
        return;
    char sql[GARBAGE_MAX * 32] = "";
    size_t o = 0;
    for (int i = 0; i < conn->n_garbage; i++)
        o += (size_t)snprintf(sql + o, sizeof sql - o, "DEALLOCATE %s;", conn->garbage[i]);
    drop_garbage(conn);
    mfd_err err = mfd_pg_run_simple(conn, sql, NULL);
    mfd_err_free(err); /* at worst the statements stay until the connection closes */
}

void mfd_pg_add_garbage(pg_conn *conn, const pg_stmt *stmt) {
    if (stmt->generation != conn->generation)
        return; /* not on the server */
    if (conn->n_garbage == GARBAGE_MAX)
        flush_garbage(conn);
    if (conn->n_garbage < GARBAGE_MAX) /* else it stays on the server until the connection closes */
        conn->garbage[conn->n_garbage++] = strdup(stmt->name);
}

/* postgresql+psycopg2://... -> postgresql://...; postgres:// and postgresql:// as they are. */
static char *libpq_uri(const char *uri) {
    const char *plus = "postgresql+";
    if (strncmp(uri, plus, strlen(plus)) != 0)
        return strdup(uri);
    const char *rest = strstr(uri, "://");
    char *out;
    if (!rest || asprintf(&out, "postgresql%s", rest) < 0)
        return strdup(uri);
    return out;
}

static mfd_err db_acquire(mfd_db *base, mfd_conn **out);
static void db_release(mfd_db *base, mfd_conn *conn);
static void db_close(mfd_db *base);

static mfd_err db_open(const char *uri, int max_connections, mfd_db **out) {
    pg_db *db = calloc(1, sizeof *db);
    db->base.driver = &mfd_db_pg_driver;
    db->conninfo = libpq_uri(uri);
    db->shown = mfd_db_redact_uri(uri);
    mfd_db_pool_init(&db->pool, max_connections);
    /* Connect once now so a wrong URI or password fails at start, not on the first request. */
    mfd_conn *conn;
    mfd_err err = db_acquire(&db->base, &conn);
    if (err) {
        db_close(&db->base);
        return err;
    }
    db_release(&db->base, conn);
    *out = &db->base;
    return NULL;
}

static void pool_close_conn(mfd_conn *conn) {
    conn_close(CONN(conn));
}

static void db_close(mfd_db *base) {
    pg_db *db = DB(base);
    mfd_db_pool_destroy(&db->pool, pool_close_conn);
    free(db->conninfo);
    free(db->shown);
    free(db);
}

static mfd_err pool_open_conn(void *ctx, mfd_conn **out) {
    pg_conn *conn = calloc(1, sizeof *conn);
    conn->base.driver = &mfd_db_pg_driver;
    conn->db = ctx;
    mfd_err err = mfd_pg_conn_connect(conn);
    if (err) {
        conn_close(conn);
        return err;
    }
    *out = &conn->base;
    return NULL;
}

static mfd_err db_acquire(mfd_db *base, mfd_conn **out) {
    pg_db *db = DB(base);
    return mfd_db_pool_acquire(&db->pool, pool_open_conn, db, out);
}

static mfd_err db_acquire_spare(mfd_db *base, int wait_ms, mfd_conn **out) {
    pg_db *db = DB(base);
    return mfd_db_pool_acquire_spare(&db->pool, pool_open_conn, db, wait_ms, out);
}

static void db_release(mfd_db *base, mfd_conn *conn_base) {
    pg_db *db = DB(base);
    pg_conn *conn = CONN(conn_base);
    if (PQstatus(conn->handle) == CONNECTION_OK &&
        PQtransactionStatus(conn->handle) != PQTRANS_IDLE)
        mfd_err_free(mfd_pg_run_simple(conn, "ROLLBACK", NULL));
    conn->in_txn = false;
    forget_failure(conn);
    if (conn->n_garbage >= GARBAGE_MAX / 2)
        flush_garbage(conn);
    bool broken = PQstatus(conn->handle) != CONNECTION_OK;
    /* the pool first: it compares the pointer with its spare, which must not
     * be done with memory already freed (and perhaps given to a new spare) */
    mfd_db_pool_release(&db->pool, conn_base, broken);
    if (broken)
        conn_close(conn);
}

/* ---- transactions and plain SQL ------------------------------------------------------------ */

void mfd_pg_count_changes(pg_conn *conn, const PGresult *res) {
    const char *status = PQcmdStatus((PGresult *)res);
    static const char *const writes[] = {"INSERT", "UPDATE", "DELETE", "MERGE", "COPY"};
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
        if (strncmp(status, writes[i], strlen(writes[i])) == 0)
            conn->changes = strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
}

static mfd_err conn_exec(mfd_conn *base, const char *sql) {
    pg_conn *conn = CONN(base);
    PGresult *res = NULL;
    mfd_err err = mfd_pg_run_simple(conn, sql, &res);
    if (!err)
        mfd_pg_count_changes(conn, res);
    PQclear(res);
    return err;
}

static mfd_err conn_begin(mfd_conn *base, bool write) {
    pg_conn *conn = CONN(base);
    mfd_err err = mfd_pg_run_simple(conn, begin_sql(write), NULL);
    conn->in_txn = err == NULL;
    conn->txn_write = write;
    forget_failure(conn);
    return err;
}

static mfd_err conn_commit(mfd_conn *base) {
    pg_conn *conn = CONN(base);
    mfd_err err;
    if (conn->txn_failure) {
        mfd_err_free(mfd_pg_run_simple(conn, "ROLLBACK", NULL));
        err = mfd_err_new(conn->txn_failure_code,
                          "%s (on PostgreSQL the transaction ended at that failed statement: "
                          "nothing of it was committed)",
                          conn->txn_failure);
    } else if (PQtransactionStatus(conn->handle) == PQTRANS_INERROR) {
        mfd_err_free(mfd_pg_run_simple(conn, "ROLLBACK", NULL));
        err = mfd_pg_aborted_txn_error();
    } else if ((err = mfd_pg_run_simple(conn, "COMMIT", NULL)) &&
               PQtransactionStatus(conn->handle) != PQTRANS_IDLE) {
        mfd_err_free(mfd_pg_run_simple(conn, "ROLLBACK", NULL));
    }
    if (conn->txn_write)
        atomic_fetch_add_explicit(&conn->db->base.local_writes, 1, memory_order_release);
    conn->in_txn = false;
    forget_failure(conn);
    return err;
}

static void conn_rollback(mfd_conn *base) {
    pg_conn *conn = CONN(base);
    if (PQstatus(conn->handle) == CONNECTION_OK &&
        PQtransactionStatus(conn->handle) != PQTRANS_IDLE)
        mfd_err_free(mfd_pg_run_simple(conn, "ROLLBACK", NULL));
    conn->in_txn = false;
    forget_failure(conn);
}

static int64_t conn_changes(mfd_conn *base) {
    return CONN(base)->changes;
}

const mfd_db_driver mfd_db_pg_driver = {
    .name = "postgresql",
    .dialect = MFD_DIALECT_POSTGRES,
    .open = db_open,
    .close = db_close,
    .acquire = db_acquire,
    .acquire_spare = db_acquire_spare,
    .release = db_release,
    .begin = conn_begin,
    .commit = conn_commit,
    .rollback = conn_rollback,
    .exec = conn_exec,
    .prepare = mfd_pg_conn_prepare,
    .done = mfd_pg_stmt_done,
    .bind_textn = mfd_pg_bind_textn,
    .bind_int64 = mfd_pg_bind_int64,
    .bind_double = mfd_pg_bind_double,
    .bind_null = mfd_pg_bind_null,
    .step = mfd_pg_stmt_step,
    .exec_stmt = mfd_pg_stmt_exec,
    .reset = mfd_pg_stmt_reset,
    .is_null = mfd_pg_col_is_null,
    .text = mfd_pg_col_text,
    .bytes = mfd_pg_col_bytes,
    .int64 = mfd_pg_col_int64,
    .float64 = mfd_pg_col_double,
    .changes = conn_changes,
    .table_exists = mfd_pg_conn_table_exists,
    .insert_rows = mfd_pg_insert_rows,
};
