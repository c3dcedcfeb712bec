/* db_pg.h — the PostgreSQL driver's private structures, shared by db_pg.c
 * (connections, pool, transactions, errors) and db_pg_stmt.c (statements).
 * Nothing outside src/store/db_pg*.c includes this; see db_pg.c for the
 * invariants the driver keeps. */
#ifndef MFD_DB_PG_H
#define MFD_DB_PG_H

#include <libpq-fe.h>
#include <pthread.h>

#include "db_driver.h"
#include "db_pool.h"
#include "db_pg_sql.h"

enum { CACHE_SLOTS = 256, GARBAGE_MAX = 64 };
enum { OID_BOOL = 16, OID_INT8 = 20, OID_TEXT = 25, OID_FLOAT8 = 701 };

typedef struct pg_db pg_db;
typedef struct pg_conn pg_conn;
typedef struct pg_stmt pg_stmt;

struct pg_stmt {
    mfd_stmt base; /* first: db.c dispatches on it */
    pg_conn *conn;
    char *sql;    /* owned cache key (cached statements only) */
    char *pg_sql; /* owned: the $n form */
    int n_params;
    char name[24];
    unsigned generation; /* connection generation it is prepared in; 0 = not prepared */
    bool typed;          /* the context types no parameter: prepare with the bindings' types */
    bool cached, in_use;
    char **values; /* n_params owned strings; NULL = SQL NULL */
    int nul_param; /* a bound text with a NUL byte (PostgreSQL refuses them); 0 = none */
    mfd_sql_kind *kinds;
    PGresult *result; /* the executed statement's rows, NULL before the first step */
    int row, n_rows;
};

struct pg_conn {
    mfd_conn base;
    PGconn *handle;
    pg_db *db;
    unsigned generation; /* bumped by each (re)connect: server-side statements are gone */
    unsigned next_name;
    bool in_txn; /* between mfd_conn_begin and commit/rollback: never reconnect silently */
    bool txn_write;
    /* The first failed statement of the open transaction: PostgreSQL aborted it,
     * the driver rolled it back and opened a stand-in that cannot commit. */
    char *txn_failure;
    mfd_code txn_failure_code;
    int64_t changes;
    char *garbage[GARBAGE_MAX]; /* names of dropped statements still on the server */
    int n_garbage;
    pg_stmt *cache[CACHE_SLOTS];
};

struct pg_db {
    mfd_db base;
    char *conninfo; /* the URI with a scheme libpq reads */
    char *shown;    /* the URI with its password masked */
    mfd_db_pool pool;
};

#define DB(d)   ((pg_db *)(d))
#define CONN(c) ((pg_conn *)(c))
#define STMT(s) ((pg_stmt *)(s))

/* db_pg.c */
mfd_err mfd_pg_error(const pg_conn *conn, const PGresult *res, const char *what);
mfd_err mfd_pg_aborted_txn_error(void);
/* The error of a failed statement; inside a transaction, also rolls it back and
 * opens the stand-in (see db_pg.c). */
mfd_err mfd_pg_statement_failed(pg_conn *conn, const PGresult *res);
mfd_err mfd_pg_conn_connect(pg_conn *conn);
/* Outside a transaction: re-opens the connection if the server closed it. */
mfd_err mfd_pg_check_alive(pg_conn *conn);
/* Runs SQL without parameters; *out (if given) receives the last result. */
mfd_err mfd_pg_run_simple(pg_conn *conn, const char *sql, PGresult **out);
/* True when a failure with status `before` broke the connection outside any
 * transaction, so re-connecting and retrying loses nothing. */
bool mfd_pg_may_reconnect(const pg_conn *conn, PGTransactionStatusType before);
void mfd_pg_count_changes(pg_conn *conn, const PGresult *res);
/* Queues the server-side statement of a dropped pg_stmt for DEALLOCATE. */
void mfd_pg_add_garbage(pg_conn *conn, const pg_stmt *stmt);
void mfd_pg_stmt_free(pg_stmt *stmt);

/* db_pg_stmt.c: the statement half of the vtable. */
mfd_err mfd_pg_conn_prepare(mfd_conn *conn, const char *sql, bool cache, mfd_stmt **out);
void mfd_pg_stmt_done(mfd_stmt *stmt);
void mfd_pg_bind_textn(mfd_stmt *stmt, int index, const char *text, size_t len);
void mfd_pg_bind_int64(mfd_stmt *stmt, int index, int64_t value);
void mfd_pg_bind_double(mfd_stmt *stmt, int index, double value);
void mfd_pg_bind_null(mfd_stmt *stmt, int index);
mfd_step mfd_pg_stmt_step(mfd_stmt *stmt, mfd_err *err);
mfd_err mfd_pg_stmt_exec(mfd_stmt *stmt);
void mfd_pg_stmt_reset(mfd_stmt *stmt);
bool mfd_pg_col_is_null(mfd_stmt *stmt, int col);
const char *mfd_pg_col_text(mfd_stmt *stmt, int col);
size_t mfd_pg_col_bytes(mfd_stmt *stmt, int col);
int64_t mfd_pg_col_int64(mfd_stmt *stmt, int col);
double mfd_pg_col_double(mfd_stmt *stmt, int col);
mfd_err mfd_pg_conn_table_exists(mfd_conn *conn, const char *table, bool *exists);

/* db_pg_copy.c: mfd_conn_insert_rows by COPY. */
mfd_err mfd_pg_insert_rows(mfd_conn *conn, const char *table, const char *columns, size_t n_columns,
                           const mfd_sql_params *values);

#endif
