/* The PostgreSQL driver's text work: `?` -> `$n` only where `?` is a
 * placeholder, SQLite's LIMIT -1, number formatting, and the URI redaction
 * every log line relies on. */
#include "store/db.h"
#include "store/db_pg_sql.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>

static void check_rewrite(const char *sql, const char *expected, int expected_params) {
    int n = -1;
    char *out = mfd_pg_sql_rewrite(sql, &n);
    CHECK_STR(out, expected);
    CHECK_INT(n, expected_params);
    free(out);
}

static void test_placeholders_numbered_in_order(void) {
    check_rewrite("SELECT 1", "SELECT 1", 0);
    check_rewrite("INSERT INTO t (a, b) VALUES (?, ?)", "INSERT INTO t (a, b) VALUES ($1, $2)", 2);
    check_rewrite("a IN (?,?,?,?,?,?,?,?,?,?,?)", "a IN ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)", 11);
}

static void test_question_marks_that_are_data_are_kept(void) {
    check_rewrite("SELECT '?', ? FROM t WHERE x = 'it''s ?' AND y = ?",
                  "SELECT '?', $1 FROM t WHERE x = 'it''s ?' AND y = $2", 2);
    check_rewrite("SELECT \"a?b\", ? -- what?\nFROM t /* why? /* nested? */ ? */ WHERE z = ?",
                  "SELECT \"a?b\", $1 -- what?\nFROM t /* why? /* nested? */ ? */ WHERE z = $2", 2);
    check_rewrite("SELECT E'\\'?' || ?", "SELECT E'\\'?' || $1", 1);
    /* A plain literal ending in a backslash does not escape its closing quote. */
    check_rewrite("SELECT 'a\\' || ?", "SELECT 'a\\' || $1", 1);
    check_rewrite("x LIKE ? ESCAPE '\\'", "x LIKE $1 ESCAPE '\\'", 1); /* kept as written */
    check_rewrite("SELECT 'unterminated ?", "SELECT 'unterminated ?", 0);
}

static void test_sqlite_limit_minus_one_becomes_limit_all(void) {
    check_rewrite("SELECT * FROM m ORDER BY k LIMIT -1 OFFSET ?",
                  "SELECT * FROM m ORDER BY k LIMIT ALL OFFSET $1", 1);
    check_rewrite("select 1 limit\n  -1", "select 1 LIMIT ALL", 0);
    check_rewrite("SELECT 1 LIMIT -10", "SELECT 1 LIMIT -10", 0);
    check_rewrite("SELECT nolimit -1", "SELECT nolimit -1", 0);
    check_rewrite("SELECT 'LIMIT -1'", "SELECT 'LIMIT -1'", 0);
}

/* SQLite's LIKE has no escape character; PostgreSQL's is `\` unless told ESCAPE ''. */
static void test_like_gets_no_escape_character(void) {
    check_rewrite("SELECT 1 FROM t WHERE name LIKE ?",
                  "SELECT 1 FROM t WHERE name LIKE $1 ESCAPE ''", 1);
    check_rewrite("lower(name) LIKE lower(?) AND x = ?",
                  "lower(name) LIKE lower($1) ESCAPE '' AND x = $2", 2);
    check_rewrite("(a NOT LIKE ?) OR b", "(a NOT LIKE $1 ESCAPE '') OR b", 1);
    check_rewrite("SELECT a LIKE 'x%', b FROM t", "SELECT a LIKE 'x%' ESCAPE '', b FROM t", 0);
    check_rewrite("CASE WHEN k LIKE ? THEN 1 ELSE 0 END",
                  "CASE WHEN k LIKE $1 ESCAPE '' THEN 1 ELSE 0 END", 1);
    check_rewrite("x LIKE CASE WHEN c THEN ? ELSE ? END ORDER BY y",
                  "x LIKE CASE WHEN c THEN $1 ELSE $2 END ESCAPE '' ORDER BY y", 2);
    check_rewrite("x like '%' || ? || '%'", "x like '%' || $1 || '%' ESCAPE ''", 1);
    check_rewrite("EXISTS (SELECT 1 FROM tags WHERE key = ? AND value LIKE ?) AND y ILIKE ?;",
                  "EXISTS (SELECT 1 FROM tags WHERE key = $1 AND value LIKE $2 ESCAPE '') AND y "
                  "ILIKE $3 ESCAPE '';",
                  3);
    check_rewrite("SELECT unlike, likely, 'LIKE' FROM t -- LIKE\n",
                  "SELECT unlike, likely, 'LIKE' FROM t -- LIKE\n", 0);
}

static void test_doubles_round_trip_as_text(void) {
    char buf[40];
    mfd_pg_sql_format_double(0.1, buf, sizeof buf);
    CHECK_STR(buf, "0.1");
    mfd_pg_sql_format_double(1.0 / 3.0, buf, sizeof buf);
    CHECK(strtod(buf, NULL) == 1.0 / 3.0);
    mfd_pg_sql_format_double(1.7976931348623157e308, buf, sizeof buf);
    CHECK(strtod(buf, NULL) == 1.7976931348623157e308);
    mfd_pg_sql_format_double(NAN, buf, sizeof buf);
    CHECK_STR(buf, "NaN");
    mfd_pg_sql_format_double(-INFINITY, buf, sizeof buf);
    CHECK_STR(buf, "-Infinity");
    mfd_pg_sql_format_double(INFINITY, buf, sizeof buf);
    CHECK_STR(buf, "Infinity");
}

static void check_redact(const char *uri, const char *expected) {
    char *out = mfd_db_redact_uri(uri);
    CHECK_STR(out, expected);
    free(out);
}

static void test_uri_passwords_are_masked(void) {
    check_redact("postgresql://mlflow:s3cr%40t@db:5432/mlflow",
                 "postgresql://mlflow:***@db:5432/mlflow");
    check_redact("postgresql+psycopg2://u:p@h/db?sslmode=require",
                 "postgresql+psycopg2://u:***@h/db?sslmode=require");
    check_redact("postgres://u@h/db?password=x&sslmode=require",
                 "postgres://u@h/db?password=***&sslmode=require");
    check_redact("postgresql://u:@h/db", "postgresql://u:***@h/db");
    check_redact("postgresql://u:a@b@h/db", "postgresql://u:***@h/db");
    check_redact("sqlite:///mlflow.db", "sqlite:///mlflow.db");
    check_redact("sqlite:////tmp/a:b@c.db", "sqlite:////tmp/a:b@c.db");
    /* libpq key=value strings */
    check_redact("host=db password=s3cr3t dbname=mlflow", "host=db password=*** dbname=mlflow");
    check_redact("password = 'a b\\'c' user=u", "password=*** user=u");
    check_redact("password=x", "password=***");
    check_redact("host=db mypassword=x", "host=db mypassword=x"); /* another key */
}

static void check_message(const char *uri, const char *message, const char *expected) {
    char *out = mfd_db_redact_message(uri, message);
    CHECK_STR(out, expected);
    free(out);
}

/* libpq quotes the part of a URI it cannot parse: a password with a stray '%'. */
static void test_passwords_in_libpq_messages_are_masked(void) {
    check_message("postgresql://postgres:s3cr%zzet@h/db",
                  "invalid percent-encoded token: \"s3cr%zzet\"",
                  "invalid percent-encoded token: \"***\"");
    check_message("postgresql://u:p%40ssword@h/db", "password p@ssword and p%40ssword",
                  "password *** and ***");
    check_message("postgres://u@h/db?password=hunter22&sslmode=require", "x hunter22 y", "x *** y");
    check_message("postgresql://u:abc@h/db", "abc stays: too short to tell",
                  "abc stays: too short to tell");
    check_message(NULL, "no uri", "no uri");
}

MFD_TEST_MAIN(MFD_TEST(test_placeholders_numbered_in_order),
              MFD_TEST(test_question_marks_that_are_data_are_kept),
              MFD_TEST(test_sqlite_limit_minus_one_becomes_limit_all),
              MFD_TEST(test_like_gets_no_escape_character),
              MFD_TEST(test_doubles_round_trip_as_text), MFD_TEST(test_uri_passwords_are_masked),
              MFD_TEST(test_passwords_in_libpq_messages_are_masked))
