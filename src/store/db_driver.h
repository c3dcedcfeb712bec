/* db_driver.h — what a database driver provides to the db.h dispatcher
 * (db.c). Private to src/store/db*.c: the stores only ever see db.h.
 *
 * Every driver object starts with the driver's vtable pointer: the driver's
 * own structs embed `struct mfd_db` / `mfd_conn` / `mfd_stmt` as their first
 * member, so db.c can dispatch on any handle and the driver can downcast it.
 * db.c owns the pieces common to all engines: the URI shown in logs (with
 * the password masked), mfd_stmt_bind_params and the NULL-text binding rule. */
#ifndef MFD_DB_DRIVER_H
#define MFD_DB_DRIVER_H

#include "db.h"

#include <stdatomic.h>

typedef struct mfd_db_driver mfd_db_driver;

struct mfd_db {
    const mfd_db_driver *driver;
    char *display_uri;               /* owned by db.c: the URI with its password masked */
    _Atomic uint64_t local_writes;   /* write transactions ended through this pool */
    _Atomic bool sees_other_writers; /* set by the driver when data_version sees them */
};

struct mfd_conn {
    const mfd_db_driver *driver;
};

struct mfd_stmt {
    const mfd_db_driver *driver;
};

struct mfd_db_driver {
    const char *name;
    mfd_dialect dialect;
    /* Opens a pool; the driver fills the base struct's driver field. */
    mfd_err (*open)(const char *uri, int max_connections, mfd_db **out);
    void (*close)(mfd_db *db);
    mfd_err (*acquire)(mfd_db *db, mfd_conn **out);
    mfd_err (*acquire_spare)(mfd_db *db, int wait_ms, mfd_conn **out);
    void (*release)(mfd_db *db, mfd_conn *conn);
    mfd_err (*begin)(mfd_conn *conn, bool write);
    mfd_err (*commit)(mfd_conn *conn);
    void (*rollback)(mfd_conn *conn);
    mfd_err (*exec)(mfd_conn *conn, const char *sql);
    mfd_err (*prepare)(mfd_conn *conn, const char *sql, bool cache, mfd_stmt **out);
    void (*done)(mfd_stmt *stmt);
    void (*bind_textn)(mfd_stmt *stmt, int index, const char *text, size_t len);
    void (*bind_int64)(mfd_stmt *stmt, int index, int64_t value);
    void (*bind_double)(mfd_stmt *stmt, int index, double value);
    void (*bind_null)(mfd_stmt *stmt, int index);
    mfd_step (*step)(mfd_stmt *stmt, mfd_err *err);
    mfd_err (*exec_stmt)(mfd_stmt *stmt);
    void (*reset)(mfd_stmt *stmt);
    bool (*is_null)(mfd_stmt *stmt, int col);
    const char *(*text)(mfd_stmt *stmt, int col);
    size_t (*bytes)(mfd_stmt *stmt, int col);
    int64_t (*int64)(mfd_stmt *stmt, int col);
    double (*float64)(mfd_stmt *stmt, int col);
    int64_t (*changes)(mfd_conn *conn);
    mfd_err (*table_exists)(mfd_conn *conn, const char *table, bool *exists);
    /* Optional: mfd_conn_insert_rows done the engine's faster way; NULL means
     * mfd_conn_upsert_rows with ON CONFLICT DO NOTHING. */
    mfd_err (*insert_rows)(mfd_conn *conn, const char *table, const char *columns, size_t n_columns,
                           const mfd_sql_params *values);
    /* Optional: mfd_db_data_version when the engine can see other processes'
     * writes; NULL means local_writes alone. */
    uint64_t (*data_version)(mfd_db *db);
};

/* Values per multi-row INSERT of mfd_conn_upsert_rows: 100 rows of 6 columns
 * (log-batch's history) is one round trip per 100 rows on PostgreSQL and
 * less per-statement work on SQLite, far below both engines' parameter
 * limits. */
enum { MFD_INSERT_ROWS_PARAMS = 600 };

extern const mfd_db_driver mfd_db_sqlite_driver;
extern const mfd_db_driver mfd_db_pg_driver;

#endif
