/* db_pg_stmt.c — statements of the PostgreSQL driver: prepare once per
 * connection (with a typed second attempt when the SQL gives a parameter no
 * type), bind values as text, execute and read whole results, read columns
 * the way SQLite's would read. The invariants are stated in db_pg.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/number_text.h"
#include "db_pg.h"

static unsigned hash_sql(const char *sql) {
    return (unsigned)mfd_hash_str(MFD_HASH_INIT, sql);
}

/* The errors by which PostgreSQL says it could not type a parameter from
 * its context (`? IS NULL`, `SELECT ?`, `? || ?`, ...). */
static bool lacks_parameter_types(const PGresult *res) {
    static const char *const states[] = {"42P18", "42P08", "42725", "42883", "42804"};
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    for (size_t i = 0; state && i < sizeof states / sizeof states[0]; i++)
        if (strcmp(state, states[i]) == 0)
            return true;
    return false;
}

static Oid *binding_types(const pg_stmt *stmt) {
    Oid *types = calloc((size_t)stmt->n_params + 1, sizeof *types);
    for (int i = 0; types && i < stmt->n_params; i++)
        types[i] = stmt->kinds[i] == MFD_SQL_INT64    ? OID_INT8
                   : stmt->kinds[i] == MFD_SQL_DOUBLE ? OID_FLOAT8
                                                      : OID_TEXT;
    return types;
}

/* One Parse of the statement, untyped or (stmt->typed) with the bindings'
 * types. In a transaction it runs under a savepoint so that a failure leaves
 * the transaction usable. An untyped attempt that fails for lack of types
 * sets stmt->typed and returns no error: the caller tries again. */
static mfd_err parse_once(pg_stmt *stmt) {
    pg_conn *conn = stmt->conn;
    PGTransactionStatusType status = PQtransactionStatus(conn->handle);
    if (status == PQTRANS_INERROR)
        return mfd_pg_aborted_txn_error();
    bool guard = status == PQTRANS_INTRANS;
    mfd_err err;
    if (guard && (err = mfd_pg_run_simple(conn, "SAVEPOINT mfd_prepare", NULL)))
        return err;
    Oid *types = stmt->typed ? binding_types(stmt) : NULL;
    PGresult *res = PQprepare(conn->handle, stmt->name, stmt->pg_sql, stmt->n_params, types);
    free(types);
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        stmt->generation = conn->generation;
        return guard ? mfd_pg_run_simple(conn, "RELEASE SAVEPOINT mfd_prepare", NULL) : NULL;
    }
    bool retry_typed = !stmt->typed && lacks_parameter_types(res);
    err = retry_typed ? NULL : mfd_pg_error(conn, res, "cannot prepare statement");
    PQclear(res);
    if (guard && PQstatus(conn->handle) == CONNECTION_OK) {
        mfd_err_free(mfd_pg_run_simple(conn, "ROLLBACK TO SAVEPOINT mfd_prepare", NULL));
        mfd_err_free(mfd_pg_run_simple(conn, "RELEASE SAVEPOINT mfd_prepare", NULL));
    }
    if (retry_typed)
        stmt->typed = true;
    return err;
}

/* Makes the statement exist on the current connection. With require=false a
 * statement that needs its bindings' types is left for its first step. */
static mfd_err ensure_prepared(pg_stmt *stmt, bool require) {
    pg_conn *conn = stmt->conn;
    for (int attempt = 0; stmt->generation != conn->generation; attempt++) {
        if (stmt->typed && !require)
            return NULL;
        PGTransactionStatusType before = PQtransactionStatus(conn->handle);
        bool was_typed = stmt->typed;
        mfd_err err = parse_once(stmt);
        if (!err) {
            if (stmt->typed && !was_typed && !require)
                return NULL;
            continue;
        }
        bool reconnect = attempt == 0 && mfd_pg_may_reconnect(conn, before);
        if (!reconnect)
            return err;
        mfd_err_free(err);
        if ((err = mfd_pg_conn_connect(conn)))
            return err;
    }
    return NULL;
}

mfd_err mfd_pg_conn_prepare(mfd_conn *base, const char *sql, bool cache, mfd_stmt **out) {
    pg_conn *conn = CONN(base);
    mfd_err err = mfd_pg_check_alive(conn);
    if (err)
        return err;
    unsigned slot = hash_sql(sql) % CACHE_SLOTS;
    pg_stmt *hit = conn->cache[slot];
    if (cache && hit && !hit->in_use && strcmp(hit->sql, sql) == 0) {
        hit->in_use = true;
        *out = &hit->base;
        return NULL;
    }
    pg_stmt *stmt = calloc(1, sizeof *stmt);
    stmt->base.driver = &mfd_db_pg_driver;
    stmt->conn = conn;
    stmt->pg_sql = mfd_pg_sql_rewrite(sql, &stmt->n_params);
    stmt->values = calloc((size_t)stmt->n_params + 1, sizeof *stmt->values);
    stmt->kinds = calloc((size_t)stmt->n_params + 1, sizeof *stmt->kinds);
    snprintf(stmt->name, sizeof stmt->name, "mfd_%u", ++conn->next_name);
    err = ensure_prepared(stmt, false);
    if (err) {
        mfd_pg_stmt_free(stmt);
        return err;
    }
    if (cache && (!hit || !hit->in_use)) {
        if (hit) {
            mfd_pg_add_garbage(conn, hit);
            mfd_pg_stmt_free(hit);
        }
        stmt->sql = strdup(sql);
        stmt->cached = true;
        conn->cache[slot] = stmt;
    }
    stmt->in_use = true;
    *out = &stmt->base;
    return NULL;
}

static void clear_values(pg_stmt *stmt) {
    stmt->nul_param = 0;
    for (int i = 0; i < stmt->n_params; i++) {
        free(stmt->values[i]);
        stmt->values[i] = NULL;
        stmt->kinds[i] = MFD_SQL_NULL;
    }
}

void mfd_pg_stmt_reset(mfd_stmt *base) {
    pg_stmt *stmt = STMT(base);
    PQclear(stmt->result);
    stmt->result = NULL;
    clear_values(stmt);
}

void mfd_pg_stmt_done(mfd_stmt *base) {
    pg_stmt *stmt = STMT(base);
    if (stmt->cached) {
        mfd_pg_stmt_reset(base);
        stmt->in_use = false;
    } else {
        mfd_pg_add_garbage(stmt->conn, stmt);
        mfd_pg_stmt_free(stmt);
    }
}

/* Takes ownership of value. Indexes outside the statement are ignored, like SQLite's range error.
 */
static void set_value(mfd_stmt *base, int index, char *value, mfd_sql_kind kind) {
    pg_stmt *stmt = STMT(base);
    if (index < 1 || index > stmt->n_params) {
        free(value);
        return;
    }
    if (stmt->nul_param == index)
        stmt->nul_param = 0;
    free(stmt->values[index - 1]);
    stmt->values[index - 1] = value;
    stmt->kinds[index - 1] = kind;
}

void mfd_pg_bind_textn(mfd_stmt *stmt, int index, const char *text, size_t len) {
    set_value(stmt, index, strndup(text, len), MFD_SQL_TEXT);
    if (memchr(text, '\0', len) && index >= 1 && index <= STMT(stmt)->n_params)
        STMT(stmt)->nul_param = index; /* refused at the next step, never cut short */
}

void mfd_pg_bind_int64(mfd_stmt *stmt, int index, int64_t value) {
    char buf[32];
    buf[mfd_int_text(buf, value)] = '\0';
    set_value(stmt, index, strdup(buf), MFD_SQL_INT64);
}

void mfd_pg_bind_double(mfd_stmt *stmt, int index, double value) {
    char buf[40];
    mfd_pg_sql_format_double(value, buf, sizeof buf);
    set_value(stmt, index, strdup(buf), MFD_SQL_DOUBLE);
}

void mfd_pg_bind_null(mfd_stmt *stmt, int index) {
    set_value(stmt, index, NULL, MFD_SQL_NULL);
}

/* Runs the prepared statement and keeps its whole result. Never retried: a
 * statement the server may have run is not sent again. */
static mfd_err execute(pg_stmt *stmt) {
    pg_conn *conn = stmt->conn;
    mfd_err err = mfd_pg_check_alive(conn);
    if (err)
        return err;
    if (PQtransactionStatus(conn->handle) == PQTRANS_INERROR)
        return mfd_pg_aborted_txn_error();
    if (stmt->nul_param)
        return mfd_err_new(MFD_BAD_REQUEST,
                           "SQL error: value %d contains a NUL character, which PostgreSQL "
                           "cannot store in text",
                           stmt->nul_param);
    if ((err = ensure_prepared(stmt, true)))
        return err;
    PGresult *res = PQexecPrepared(conn->handle, stmt->name, stmt->n_params,
                                   (const char *const *)stmt->values, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        err = mfd_pg_statement_failed(conn, res);
        PQclear(res);
        return err;
    }
    mfd_pg_count_changes(conn, res);
    stmt->result = res;
    stmt->n_rows = PQntuples(res);
    stmt->row = -1;
    return NULL;
}

mfd_step mfd_pg_stmt_step(mfd_stmt *base, mfd_err *err) {
    pg_stmt *stmt = STMT(base);
    if (!stmt->result && (*err = execute(stmt)))
        return MFD_STEP_ERROR;
    if (++stmt->row < stmt->n_rows)
        return MFD_STEP_ROW;
    /* Done: the next step runs the statement again with the same bindings. */
    PQclear(stmt->result);
    stmt->result = NULL;
    return MFD_STEP_DONE;
}

mfd_err mfd_pg_stmt_exec(mfd_stmt *base) {
    mfd_err err = NULL;
    while (mfd_pg_stmt_step(base, &err) == MFD_STEP_ROW)
        ;
    return err;
}

/* The current row's value, or NULL when there is no row or the value is SQL NULL. */
static const char *cell(mfd_stmt *base, int col, bool *is_bool) {
    pg_stmt *stmt = STMT(base);
    if (!stmt->result || stmt->row < 0 || stmt->row >= stmt->n_rows || col < 0 ||
        col >= PQnfields(stmt->result) || PQgetisnull(stmt->result, stmt->row, col))
        return NULL;
    *is_bool = PQftype(stmt->result, col) == OID_BOOL;
    return PQgetvalue(stmt->result, stmt->row, col);
}

bool mfd_pg_col_is_null(mfd_stmt *stmt, int col) {
    bool is_bool;
    return cell(stmt, col, &is_bool) == NULL;
}

const char *mfd_pg_col_text(mfd_stmt *stmt, int col) {
    bool is_bool = false;
    const char *value = cell(stmt, col, &is_bool);
    if (value && is_bool)
        return value[0] == 't' ? "1" : "0";
    return value;
}

size_t mfd_pg_col_bytes(mfd_stmt *stmt, int col) {
    bool is_bool = false;
    const char *value = cell(stmt, col, &is_bool);
    if (!value)
        return 0;
    return is_bool ? 1 : (size_t)PQgetlength(STMT(stmt)->result, STMT(stmt)->row, col);
}

int64_t mfd_pg_col_int64(mfd_stmt *stmt, int col) {
    bool is_bool = false;
    const char *value = cell(stmt, col, &is_bool);
    if (!value)
        return 0;
    if (is_bool)
        return value[0] == 't';
    char *end;
    long long n = strtoll(value, &end, 10);
    if (*end == '\0')
        return n;
    double d = strtod(value, NULL); /* a REAL read as an integer truncates, as in SQLite */
    if (d != d)
        return 0;
    if (d >= 9.2233720368547758e18)
        return INT64_MAX;
    if (d <= -9.2233720368547758e18)
        return INT64_MIN;
    return (int64_t)d;
}

double mfd_pg_col_double(mfd_stmt *stmt, int col) {
    bool is_bool = false;
    const char *value = cell(stmt, col, &is_bool);
    if (!value)
        return 0.0;
    if (is_bool)
        return value[0] == 't' ? 1.0 : 0.0;
    return strtod(value, NULL);
}

mfd_err mfd_pg_conn_table_exists(mfd_conn *conn, const char *table, bool *exists) {
    mfd_stmt *stmt;
    mfd_err err = mfd_pg_conn_prepare(conn,
                                      "SELECT 1 FROM pg_catalog.pg_tables "
                                      "WHERE schemaname = current_schema() AND tablename = ?",
                                      true, &stmt);
    if (err)
        return err;
    mfd_pg_bind_textn(stmt, 1, table, strlen(table));
    mfd_step s = mfd_pg_stmt_step(stmt, &err);
    *exists = s == MFD_STEP_ROW;
    mfd_pg_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}
