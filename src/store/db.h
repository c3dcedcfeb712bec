/* db.h — the thin database layer: the whole face the stores see.
 *
 * One interface, one driver per engine (db_sqlite.c, db_pg.c), chosen by the
 * URI scheme in db.c. SQL text uses `?` placeholders everywhere; the
 * PostgreSQL driver rewrites them to `$n` and sends values as text for the
 * server to type from context (see db_pg.c for the SQL that is portable).
 * A mfd_db is a pool of connections for one URI; a request borrows one
 * mfd_conn for its duration and gives it back. Prepared statements are cached
 * per connection, keyed by SQL text, so the stores just pass their static SQL.
 *
 * Transactions: mfd_conn_begin(conn, write). On SQLite a write transaction
 * also takes a process-wide writer lock so concurrent writers queue in-process
 * instead of spinning in SQLite's busy handler. On PostgreSQL a write
 * transaction is READ COMMITTED, a read one REPEATABLE READ (one snapshot);
 * a failed statement ends a PostgreSQL transaction: later statements still
 * run (e.g. a SELECT to word the error) but mfd_conn_commit then fails and
 * nothing of the transaction is kept. Never "try INSERT, on ALREADY_EXISTS
 * do something else, commit": write INSERT ... ON CONFLICT instead. */
#ifndef MFD_DB_H
#define MFD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/sql_params.h"

typedef enum mfd_dialect { MFD_DIALECT_SQLITE, MFD_DIALECT_POSTGRES } mfd_dialect;

typedef struct mfd_db mfd_db;
typedef struct mfd_conn mfd_conn;
typedef struct mfd_stmt mfd_stmt;

/* Opens a pool for a URI: `sqlite:///relative.db`, `sqlite:////abs/path.db`,
 * `sqlite://` or `sqlite:///:memory:` (one shared in-memory DB);
 * `postgresql://user:pass@host:port/db[?params]` (also `postgres://` and
 * SQLAlchemy's `postgresql+<driver>://`). */
mfd_err mfd_db_open(const char *uri, int max_connections, mfd_db **out);
void mfd_db_close(mfd_db *db);
mfd_dialect mfd_db_dialect(const mfd_db *db);
/* The URI for logs and messages: its password is masked. */
const char *mfd_db_uri(const mfd_db *db);
/* The SQLite database file as opened (relative to the working directory, or
 * absolute), or NULL for PostgreSQL and an in-memory database. */
const char *mfd_db_sqlite_file(const mfd_db *db);
/* Any database URI with the password (and password= query value) replaced
 * by "***"; malloc'd. For logging URIs before (or without) opening them. */
char *mfd_db_redact_uri(const char *uri);
/* `message` (libpq's, which may quote a piece of the URI it could not parse,
 * such as a password with a stray '%') with the URI's password, as written
 * and percent-decoded, masked as "***". malloc'd. */
char *mfd_db_redact_message(const char *uri, const char *message);

/* A number that changes whenever the data may have changed, for caches of
 * what was read: a write transaction ended through this pool, or — SQLite in
 * WAL mode — a commit by any process (read from the shared WAL index, with
 * no system call; a changed number is never seen before the commit is
 * visible). mfd_db_sees_other_writers() is false where other processes'
 * writes are not seen (PostgreSQL): such callers bound staleness with a TTL. */
uint64_t mfd_db_data_version(mfd_db *db);
bool mfd_db_sees_other_writers(mfd_db *db);

mfd_err mfd_db_acquire(mfd_db *db, mfd_conn **out);
/* A connection outside the pool, for readiness probes (one at a time; waits at
 * most wait_ms for the previous probe's): it answers while requests hold every
 * pooled one. Given back with mfd_db_release. */
mfd_err mfd_db_acquire_spare(mfd_db *db, int wait_ms, mfd_conn **out);
void mfd_db_release(mfd_db *db, mfd_conn *conn);
mfd_dialect mfd_conn_dialect(const mfd_conn *conn);

mfd_err mfd_conn_begin(mfd_conn *conn, bool write);
mfd_err mfd_conn_commit(mfd_conn *conn);
void mfd_conn_rollback(mfd_conn *conn); /* safe to call when no transaction is open */
/* Ends the open transaction: commits when err is NULL, else rolls back and
 * passes err on. The usual last line of a store function. */
mfd_err mfd_conn_finish(mfd_conn *conn, mfd_err err);

/* Runs one or more statements with no parameters (DDL, pragmas). */
mfd_err mfd_conn_exec(mfd_conn *conn, const char *sql);

/* Prepares (or takes from the cache) a statement. Pass cache=false for SQL
 * built per request (search) so the cache is not flooded. Always pair with
 * mfd_stmt_done(). */
mfd_err mfd_conn_prepare(mfd_conn *conn, const char *sql, bool cache, mfd_stmt **out);
void mfd_stmt_done(mfd_stmt *stmt); /* resets and returns to the cache, or finalizes */

/* Binding: indexes start at 1, like SQLite. Text is copied by the driver. */
void mfd_stmt_bind_text(mfd_stmt *stmt, int index, const char *text); /* NULL binds NULL */
void mfd_stmt_bind_textn(mfd_stmt *stmt, int index, const char *text, size_t len);
void mfd_stmt_bind_int64(mfd_stmt *stmt, int index, int64_t value);
void mfd_stmt_bind_double(mfd_stmt *stmt, int index, double value);
void mfd_stmt_bind_null(mfd_stmt *stmt, int index);
/* Binds the values as one SQL array literal ({"a","b\\"c"}), for PostgreSQL's
 * `= ANY(CAST(? AS text[]))`: one parameter for any number of values. */
void mfd_stmt_bind_text_array(mfd_stmt *stmt, int index, const char *const *values, size_t n);
/* Binds params->values[i] to index first_index + i. */
void mfd_stmt_bind_params(mfd_stmt *stmt, int first_index, const mfd_sql_params *params);

typedef enum mfd_step { MFD_STEP_ROW, MFD_STEP_DONE, MFD_STEP_ERROR } mfd_step;

/* On MFD_STEP_ERROR *err is set: a unique/primary-key violation has code
 * MFD_RESOURCE_ALREADY_EXISTS (callers reword it), anything else
 * MFD_INTERNAL_ERROR. Steps after the first call reuse the bindings. */
mfd_step mfd_stmt_step(mfd_stmt *stmt, mfd_err *err);
/* Runs a statement that returns no rows to completion; resets it for reuse. */
mfd_err mfd_stmt_exec(mfd_stmt *stmt);
/* The same for a statement run once: it is released (mfd_stmt_done) too. */
mfd_err mfd_stmt_exec_done(mfd_stmt *stmt);
void mfd_stmt_reset(mfd_stmt *stmt); /* keeps bindings' slots, clears values */

/* Column access for the current row; columns start at 0. Text stays valid
 * until the next step/reset/done: copy what you keep (mfd_arena_strdup). */
bool mfd_stmt_is_null(mfd_stmt *stmt, int col);
const char *mfd_stmt_text(mfd_stmt *stmt, int col); /* NULL for SQL NULL */
size_t mfd_stmt_bytes(mfd_stmt *stmt, int col);
int64_t mfd_stmt_int64(mfd_stmt *stmt, int col);
double mfd_stmt_double(mfd_stmt *stmt, int col);

int64_t mfd_conn_changes(mfd_conn *conn); /* rows changed by the last statement */

/* Many rows into one table, the fastest way the engine has (PostgreSQL:
 * COPY past 600 values in a transaction; else, and on SQLite, the multi-row
 * INSERTs of mfd_conn_upsert_rows). `values` holds the rows one after
 * another, `n_columns` values each, in the order of `columns` ("a, b, c").
 * A row whose key (any unique index) is already in the table, or repeated in
 * `values`, is skipped: INSERT ... ON CONFLICT DO NOTHING, row by row. */
mfd_err mfd_conn_insert_rows(mfd_conn *conn, const char *table, const char *columns,
                             size_t n_columns, const mfd_sql_params *values);
/* The same rows in multi-row INSERTs ending with `on_conflict` (e.g. "ON
 * CONFLICT (k) DO UPDATE SET ..."), for rows that update what is stored;
 * statements of a few cached sizes (db.c).
 * No two rows may share a key (PostgreSQL refuses a statement that updates
 * one row twice). */
mfd_err mfd_conn_upsert_rows(mfd_conn *conn, const char *table, const char *columns,
                             size_t n_columns, const mfd_sql_params *values,
                             const char *on_conflict);

/* True when the table exists in the connected database. */
mfd_err mfd_conn_table_exists(mfd_conn *conn, const char *table, bool *exists);

#endif
