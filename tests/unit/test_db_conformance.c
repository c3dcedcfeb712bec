/* db.h's contract, checked the same way on every engine: SQLite (in memory)
 * always, PostgreSQL when MLFLOWD_TEST_PG_URI names an admin URI (then a
 * scratch database is created and dropped; tests/integration/test_postgres.py
 * runs this binary against the test cluster). The few places where the
 * engines differ on purpose are asserted per dialect. */
#include "store/db.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static mfd_db *db;
static const char *engine;

static bool pg(void) {
    return mfd_db_dialect(db) == MFD_DIALECT_POSTGRES;
}

static void check_ok(mfd_err err, int line) {
    if (err) {
        fprintf(stderr, "%s line %d: unexpected error: %s\n", engine, line, err->message);
        mfd_test_failed_checks++;
        mfd_err_free(err);
    }
}
#define OK(expr) check_ok((expr), __LINE__)

/* Runs SQL with up to three text/NULL parameters; returns the error, if any. */
static mfd_err run(mfd_conn *conn, const char *sql, const char *a, const char *b) {
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql, true, &stmt);
    if (err)
        return err;
    mfd_stmt_bind_text(stmt, 1, a);
    mfd_stmt_bind_text(stmt, 2, b);
    err = mfd_stmt_exec(stmt);
    mfd_stmt_done(stmt);
    return err;
}

static int64_t scalar(mfd_conn *conn, const char *sql) {
    mfd_stmt *stmt;
    int64_t v = -1;
    mfd_err err = mfd_conn_prepare(conn, sql, false, &stmt);
    if (!err) {
        if (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW)
            v = mfd_stmt_int64(stmt, 0);
        mfd_stmt_done(stmt);
    }
    OK(err);
    return v;
}

static void create_tables(mfd_conn *conn) {
    OK(mfd_conn_exec(conn,
                     "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT "
                     "NULL UNIQUE, flag BOOLEAN NOT NULL, big BIGINT, val DOUBLE PRECISION)"));
    OK(mfd_conn_exec(conn, pg() ? "CREATE TABLE s (id SERIAL PRIMARY KEY, name TEXT)"
                                : "CREATE TABLE s (id INTEGER PRIMARY KEY, name TEXT)"));
}

static void test_values_round_trip(mfd_conn *conn) {
    mfd_stmt *stmt;
    OK(mfd_conn_prepare(conn, "INSERT INTO t (id, name, flag, big, val) VALUES (?, ?, ?, ?, ?)",
                        true, &stmt));
    const double vals[] = {0.1, 1.7976931348623157e308, -2.5e-300};
    for (int i = 0; i < 3; i++) {
        mfd_stmt_bind_int64(stmt, 1, i + 1);
        mfd_stmt_bind_text(stmt, 2, i == 0 ? "it's a ? mark" : i == 1 ? "b" : "c");
        mfd_stmt_bind_int64(stmt, 3, i % 2); /* 0/1 into BOOLEAN, as the stores do */
        if (i == 2)
            mfd_stmt_bind_null(stmt, 4);
        else
            mfd_stmt_bind_int64(stmt, 4, i == 0 ? INT64_MAX : INT64_MIN);
        mfd_stmt_bind_double(stmt, 5, vals[i]);
        OK(mfd_stmt_exec(stmt));
        CHECK_INT(mfd_conn_changes(conn), 1);
    }
    mfd_stmt_done(stmt);
    OK(mfd_conn_prepare(conn, "SELECT id, name, flag, big, val FROM t ORDER BY id", true, &stmt));
    mfd_err err = NULL;
    for (int i = 0; i < 3; i++) {
        CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
        CHECK_INT(mfd_stmt_int64(stmt, 0), i + 1);
        CHECK_INT(mfd_stmt_int64(stmt, 2), i % 2);
        CHECK_STR(mfd_stmt_text(stmt, 2), i % 2 ? "1" : "0");
        CHECK(mfd_stmt_double(stmt, 4) == vals[i]);
    }
    mfd_stmt_done(stmt);
    OK(mfd_conn_prepare(conn, "SELECT name, big FROM t WHERE id = ?", true, &stmt));
    mfd_stmt_bind_int64(stmt, 1, 1);
    CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
    CHECK_STR(mfd_stmt_text(stmt, 0), "it's a ? mark");
    CHECK_INT(mfd_stmt_bytes(stmt, 0), strlen("it's a ? mark"));
    CHECK(mfd_stmt_int64(stmt, 1) == INT64_MAX);
    CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_DONE);
    mfd_stmt_reset(stmt);
    mfd_stmt_bind_int64(stmt, 1, 3);
    CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
    CHECK(mfd_stmt_is_null(stmt, 1) && mfd_stmt_text(stmt, 1) == NULL);
    CHECK(!mfd_stmt_is_null(stmt, 0));
    mfd_stmt_done(stmt);
    OK(err);
}

static void test_unique_violation_and_changes(mfd_conn *conn) {
    mfd_err err = run(conn, "INSERT INTO t (id, name, flag) VALUES (9, ?, ?)", "b", "0");
    CHECK(err && err->code == MFD_RESOURCE_ALREADY_EXISTS);
    mfd_err_free(err);
    OK(run(conn, "UPDATE t SET flag = ? WHERE id <= ?", "1", "2"));
    CHECK_INT(mfd_conn_changes(conn), 2);
    /* PostgreSQL has no boolean = integer (`flag = 1`): compare with a bound value. */
    mfd_stmt *stmt;
    OK(mfd_conn_prepare(conn, "SELECT count(*) FROM t WHERE flag = ?", true, &stmt));
    mfd_stmt_bind_int64(stmt, 1, 1);
    CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
    CHECK_INT(mfd_stmt_int64(stmt, 0), 2);
    mfd_stmt_done(stmt);
}

/* `? IS NULL` gives PostgreSQL no type: the driver prepares it again with the
 * bindings' types, inside a transaction without aborting it. */
static void test_untyped_parameters_in_a_transaction(mfd_conn *conn) {
    OK(mfd_conn_begin(conn, true));
    mfd_stmt *stmt;
    mfd_err err = NULL;
    OK(mfd_conn_prepare(conn, "SELECT count(*) FROM t WHERE ? IS NULL OR name = ?", true, &stmt));
    mfd_stmt_bind_null(stmt, 1);
    mfd_stmt_bind_text(stmt, 2, "b");
    CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
    CHECK_INT(mfd_stmt_int64(stmt, 0), 3);
    mfd_stmt_done(stmt);
    OK(mfd_conn_prepare(conn, "SELECT ?, ? + 1", false, &stmt));
    mfd_stmt_bind_text(stmt, 1, "x");
    mfd_stmt_bind_int64(stmt, 2, 41);
    CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
    CHECK_STR(mfd_stmt_text(stmt, 0), "x");
    CHECK_INT(mfd_stmt_int64(stmt, 1), 42);
    mfd_stmt_done(stmt);
    /* A statement that cannot be prepared leaves the transaction usable (as on SQLite). */
    mfd_err bad = mfd_conn_prepare(conn, "SELECT no_such_column FROM t", true, &stmt);
    CHECK(bad != NULL);
    mfd_err_free(bad);
    OK(run(conn, "INSERT INTO t (id, name, flag) VALUES (4, ?, ?)", "d", "1"));
    OK(mfd_conn_commit(conn));
    CHECK_INT(scalar(conn, "SELECT count(*) FROM t"), 4);
    OK(err);
}

/* After a failed statement the store may still run statements (to word its
 * error); but on PostgreSQL the unit is lost: COMMIT returns the first failure
 * and nothing of the transaction remains. SQLite commits the rest. */
static void test_failed_statement_in_a_transaction(mfd_conn *conn) {
    OK(mfd_conn_begin(conn, true));
    OK(run(conn, "INSERT INTO t (id, name, flag) VALUES (5, ?, ?)", "e", "0"));
    mfd_err err = run(conn, "INSERT INTO t (id, name, flag) VALUES (6, ?, ?)", "e", "0");
    CHECK(err && err->code == MFD_RESOURCE_ALREADY_EXISTS);
    mfd_err_free(err);
    CHECK_INT(scalar(conn, "SELECT count(*) FROM t WHERE name = 'b'"), 1);
    OK(run(conn, "INSERT INTO t (id, name, flag) VALUES (7, ?, ?)", "g", "0"));
    err = mfd_conn_commit(conn);
    CHECK(pg() ? err && err->code == MFD_RESOURCE_ALREADY_EXISTS : err == NULL);
    mfd_err_free(err);
    CHECK_INT(scalar(conn, "SELECT count(*) FROM t WHERE id >= 5"), pg() ? 0 : 2);
    OK(run(conn, "DELETE FROM t WHERE id >= ?", "5", NULL));
    /* Rolled back after a failure: the next transaction is a clean one. */
    OK(mfd_conn_begin(conn, true));
    err = run(conn, "INSERT INTO t (id, name, flag) VALUES (6, ?, ?)", "b", "0");
    CHECK(err != NULL);
    mfd_err_free(err);
    mfd_conn_rollback(conn);
    OK(mfd_conn_begin(conn, true));
    OK(run(conn, "INSERT INTO t (id, name, flag) VALUES (8, ?, ?)", "h", "0"));
    OK(mfd_conn_commit(conn));
    OK(run(conn, "DELETE FROM t WHERE id >= ?", "5", NULL));
}

static void test_portable_sql(mfd_conn *conn) {
    mfd_stmt *stmt;
    mfd_err err = NULL;
    OK(mfd_conn_prepare(conn, "INSERT INTO s (name) VALUES (?) RETURNING id", true, &stmt));
    for (int i = 1; i <= 2; i++) {
        mfd_stmt_bind_text(stmt, 1, "n");
        CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
        CHECK_INT(mfd_stmt_int64(stmt, 0), i);
        mfd_stmt_reset(stmt);
    }
    mfd_stmt_done(stmt);
    OK(mfd_conn_prepare(conn, "SELECT id FROM t ORDER BY id LIMIT -1 OFFSET ?", true, &stmt));
    mfd_stmt_bind_int64(stmt, 1, 2);
    int rows = 0;
    while (mfd_stmt_step(stmt, &err) == MFD_STEP_ROW)
        rows++;
    CHECK_INT(rows, 2);
    mfd_stmt_done(stmt);
    OK(run(conn,
           "INSERT INTO t (id, name, flag) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET "
           "name = excluded.name",
           "renamed", "0"));
    CHECK_INT(scalar(conn, "SELECT count(*) FROM t WHERE name = 'renamed'"), 1);
    bool exists = false;
    OK(mfd_conn_table_exists(conn, "t", &exists));
    CHECK(exists);
    OK(mfd_conn_table_exists(conn, "nope", &exists));
    CHECK(!exists);
    OK(err);
}

/* lower() folds every letter on both engines (the PostgreSQL test cluster's
 * ctype is C.UTF-8), ASCII as ever, and leaves bytes that are not UTF-8. */
static void test_lower_folds_every_letter(mfd_conn *conn) {
    static const char *const cases[][2] = {
        {"ABC xyz 09", "abc xyz 09"},
        {"\xc3\x9c\xc3\xbc", "\xc3\xbc\xc3\xbc"},                                 /* Üü */
        {"\xd0\x81\xd0\x9b\xd0\x9a\xd0\x90", "\xd1\x91\xd0\xbb\xd0\xba\xd0\xb0"}, /* ЁЛКА */
        {"\xe1\xba\x9e", "\xc3\x9f"},                                             /* ẞ -> ß */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mfd_stmt *stmt;
        mfd_err err = NULL;
        OK(mfd_conn_prepare(conn, "SELECT lower(CAST(? AS TEXT))", false, &stmt));
        mfd_stmt_bind_text(stmt, 1, cases[i][0]);
        CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
        CHECK_STR(mfd_stmt_text(stmt, 0), cases[i][1]);
        mfd_stmt_done(stmt);
        OK(err);
    }
    CHECK_INT(scalar(conn, "SELECT lower(NULL) IS NULL"), 1);
}

/* A text array binds as one literal, quoting what needs it; PostgreSQL reads
 * every element back (SQLite, which has no arrays, sees the literal). */
static void test_text_arrays(mfd_conn *conn) {
    const char *values[] = {"a", "b\"c", "d\\e", "", "{x,y}"};
    mfd_stmt *stmt;
    mfd_err err = NULL;
    const char *sql = pg() ? "SELECT count(*) FROM unnest(CAST(? AS text[])) AS u(v) WHERE v IN "
                             "('a', 'b\"c', 'd\\e', '', '{x,y}')"
                           : "SELECT ?";
    OK(mfd_conn_prepare(conn, sql, false, &stmt));
    mfd_stmt_bind_text_array(stmt, 1, values, 5);
    CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
    if (pg())
        CHECK_INT(mfd_stmt_int64(stmt, 0), 5);
    else
        CHECK_STR(mfd_stmt_text(stmt, 0), "{\"a\",\"b\\\"c\",\"d\\\\e\",\"\",\"{x,y}\"}");
    mfd_stmt_done(stmt);
    OK(err);
}

/* The same cached SQL used twice at once, and many one-off statements. */
static void test_statement_reuse(mfd_conn *conn) {
    const char *sql = "SELECT id FROM t WHERE id >= ? ORDER BY id";
    mfd_stmt *outer, *inner;
    mfd_err err = NULL;
    OK(mfd_conn_prepare(conn, sql, true, &outer));
    mfd_stmt_bind_int64(outer, 1, 1);
    int pairs = 0;
    while (mfd_stmt_step(outer, &err) == MFD_STEP_ROW) {
        OK(mfd_conn_prepare(conn, sql, true, &inner));
        mfd_stmt_bind_int64(inner, 1, mfd_stmt_int64(outer, 0));
        while (mfd_stmt_step(inner, &err) == MFD_STEP_ROW)
            pairs++;
        mfd_stmt_done(inner);
    }
    mfd_stmt_done(outer);
    CHECK_INT(pairs, 4 + 3 + 2 + 1);
    for (int i = 0; i < 300; i++) {
        if (i == 150)
            OK(mfd_conn_begin(conn, false));
        char one_off[64];
        snprintf(one_off, sizeof one_off, "SELECT %d + count(*) FROM t WHERE id > ?", i);
        mfd_stmt *stmt;
        OK(mfd_conn_prepare(conn, one_off, false, &stmt));
        mfd_stmt_bind_int64(stmt, 1, 100);
        CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
        CHECK_INT(mfd_stmt_int64(stmt, 0), i);
        mfd_stmt_done(stmt);
    }
    OK(mfd_conn_commit(conn));
    OK(err);
}

/* A connection the server closed while idle is re-opened before use; one
 * that breaks under a statement fails it (it is never sent twice). */
static void test_reconnect(mfd_conn *conn) {
    if (!pg())
        return;
    mfd_conn *other;
    OK(mfd_db_acquire(db, &other));
    char sql[96];
    for (int round = 0; round < 2; round++) {
        snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld, 10000)",
                 (long long)scalar(conn, "SELECT pg_backend_pid()"));
        CHECK_INT(scalar(other, sql), 1);
        if (round == 0) {
            CHECK_INT(scalar(conn, "SELECT count(*) FROM t"), 4);
        } else {
            OK(mfd_conn_begin(conn, true));
            CHECK_INT(scalar(conn, "SELECT count(*) FROM s"), 2);
            OK(mfd_conn_commit(conn));
        }
    }
    mfd_err err = mfd_conn_exec(conn, "SELECT pg_terminate_backend(pg_backend_pid())");
    CHECK(err && err->code == MFD_TEMPORARILY_UNAVAILABLE);
    mfd_err_free(err);
    CHECK_INT(scalar(conn, "SELECT count(*) FROM t"), 4);
    mfd_db_release(db, other);
}

/* mfd_conn_insert_rows: values of every kind come back exactly (PostgreSQL's
 * COPY escapes), a row already stored or repeated is skipped, and what the
 * transaction wrote before stays (the COPY's savepoint rolls back only it). */
enum { ROWS = 250, ROW_COLUMNS = 5 };

static const char *row_key(int i) {
    static const char *const keys[] = {"plain",       "tab\there", "new\nline", "cr\rret",
                                       "back\\slash", "\\N",       "\\.",       "it's \"q\"",
                                       "caf\xc3\xa9", ""};
    return keys[i % 10];
}

static int64_t row_number(int i) {
    return i == 0 ? INT64_MIN : i == 1 ? INT64_MAX : i;
}

static double row_value(int i) {
    static const double values[] = {
        0.1, 1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -0.0, 1e22, 123456789.125};
    return values[i % 7] * (i % 2 ? -1 : 1);
}

static void add_row(mfd_sql_params *rows, mfd_arena *arena, int i) {
    mfd_sql_params_text(rows, arena, row_key(i));
    mfd_sql_params_int64(rows, arena, row_number(i));
    mfd_sql_params_double(rows, arena, row_value(i));
    mfd_sql_params_int64(rows, arena, i % 2);
    mfd_sql_params_text(rows, arena, i % 3 ? "note" : NULL);
}

static void test_insert_rows(mfd_conn *conn) {
    OK(mfd_conn_exec(conn, "CREATE TABLE r (k VARCHAR(50) NOT NULL, n BIGINT NOT NULL, v DOUBLE "
                           "PRECISION, f BOOLEAN NOT NULL, note TEXT, PRIMARY KEY (k, n))"));
    const char *columns = "k, n, v, f, note";
    mfd_arena *arena = mfd_arena_new();
    mfd_sql_params rows = {0};
    for (int i = 0; i < ROWS; i++)
        add_row(&rows, arena, i);
    OK(mfd_conn_begin(conn, true));
    OK(mfd_conn_insert_rows(conn, "r", columns, ROW_COLUMNS, &rows));
    if (pg()) /* one COPY wrote them (the INSERTs' last statement would count its 10) */
        CHECK_INT(mfd_conn_changes(conn), ROWS);
    OK(mfd_conn_commit(conn));
    mfd_stmt *stmt;
    mfd_err err = NULL;
    OK(mfd_conn_prepare(conn, "SELECT k, n, v, f, note FROM r WHERE n = ?", true, &stmt));
    for (int i = 0; i < ROWS; i++) {
        mfd_stmt_bind_int64(stmt, 1, row_number(i));
        CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
        CHECK_STR(mfd_stmt_text(stmt, 0), row_key(i));
        CHECK(mfd_stmt_int64(stmt, 1) == row_number(i));
        double v = mfd_stmt_double(stmt, 2);
        if (v != row_value(i))
            fprintf(stderr, "%s: row %d: %.17g read back as %.17g\n", engine, i, row_value(i), v);
        CHECK(v == row_value(i));
        CHECK_INT(mfd_stmt_int64(stmt, 3), i % 2);
        CHECK(mfd_stmt_is_null(stmt, 4) == (i % 3 == 0));
        CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_DONE);
        mfd_stmt_reset(stmt);
    }
    mfd_stmt_done(stmt);
    OK(err);

    /* Again, with new rows among stored ones and one row twice, after another
     * write of the same transaction; then outside any transaction. */
    mfd_sql_params more = {0};
    for (int i = ROWS - 150; i < ROWS + 10; i++) /* more than one INSERT takes: COPY first */
        add_row(&more, arena, i);
    add_row(&more, arena, ROWS + 5);
    OK(mfd_conn_begin(conn, true));
    OK(run(conn, "INSERT INTO r (k, n, f) VALUES (?, -1, ?)", "before the rows", "1"));
    OK(mfd_conn_insert_rows(conn, "r", columns, ROW_COLUMNS, &more));
    OK(mfd_conn_commit(conn));
    CHECK_INT(scalar(conn, "SELECT count(*) FROM r"), ROWS + 11);
    CHECK_INT(scalar(conn, "SELECT count(*) FROM r WHERE k = 'before the rows'"), 1);
    OK(mfd_conn_insert_rows(conn, "r", columns, ROW_COLUMNS, &more));
    CHECK_INT(scalar(conn, "SELECT count(*) FROM r"), ROWS + 11);

    /* A row the table refuses for another reason fails the write, as an INSERT would. */
    mfd_sql_params bad = {0};
    for (int i = ROWS + 20; i < ROWS + 220; i++)
        add_row(&bad, arena, i);
    bad.values[ROW_COLUMNS * 150 + 3].kind = MFD_SQL_NULL; /* f is NOT NULL */
    OK(mfd_conn_begin(conn, true));
    err = mfd_conn_insert_rows(conn, "r", columns, ROW_COLUMNS, &bad);
    CHECK(err != NULL);
    mfd_err_free(err);
    mfd_conn_rollback(conn);
    CHECK_INT(scalar(conn, "SELECT count(*) FROM r"), ROWS + 11);
    mfd_arena_free(arena);
}

static void run_all(const char *uri) {
    OK(mfd_db_open(uri, 2, &db));
    if (!db)
        return;
    mfd_conn *conn;
    OK(mfd_db_acquire(db, &conn));
    create_tables(conn);
    test_values_round_trip(conn);
    test_unique_violation_and_changes(conn);
    test_untyped_parameters_in_a_transaction(conn);
    test_failed_statement_in_a_transaction(conn);
    test_portable_sql(conn);
    test_text_arrays(conn);
    test_lower_folds_every_letter(conn);
    test_statement_reuse(conn);
    test_insert_rows(conn);
    test_reconnect(conn);
    mfd_db_release(db, conn);
    mfd_db_close(db);
    db = NULL;
}

static void test_sqlite(void) {
    engine = "sqlite";
    run_all("sqlite://");
    printf("sqlite: checked\n");
}

static void admin_exec(const char *admin_uri, const char *sql) {
    mfd_db *admin;
    OK(mfd_db_open(admin_uri, 1, &admin));
    mfd_conn *conn;
    OK(mfd_db_acquire(admin, &conn));
    OK(mfd_conn_exec(conn, sql));
    mfd_db_release(admin, conn);
    mfd_db_close(admin);
}

static void test_postgresql(void) {
    const char *admin = getenv("MLFLOWD_TEST_PG_URI");
    if (!admin || !*admin) {
        printf("postgresql: skipped (MLFLOWD_TEST_PG_URI is not set)\n");
        return;
    }
    engine = "postgresql";
    char name[64], sql[128], uri[1024];
    snprintf(name, sizeof name, "mlflowd_conformance_%d", (int)getpid());
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    admin_exec(admin, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    admin_exec(admin, sql);
    const char *slash = strrchr(admin, '/'), *query = strchr(admin, '?');
    snprintf(uri, sizeof uri, "%.*s/%s%s", (int)(slash - admin), admin, name, query ? query : "");
    run_all(uri);
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", name);
    admin_exec(admin, sql);
    printf("postgresql: checked\n");
}

MFD_TEST_MAIN(MFD_TEST(test_sqlite), MFD_TEST(test_postgresql))
