/* The search grammar of search-grammar.md, proven two ways: the compiled
 * SQL/params/errors are checked directly, and the SQL is executed against an
 * in-memory SQLite database (case-sensitive LIKE, as the DB layer sets it)
 * holding a few rows, to see which rows come back in what order. */
#include "search/search.h"
#include "test.h"

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <time.h>

typedef mfd_err (*compile_fn)(mfd_arena *, const mfd_search_input *, mfd_search_sql *);

/* PostgreSQL's form, over experiment 1 */
static mfd_err runs_pg(mfd_arena *arena, const mfd_search_input *in, mfd_search_sql *out) {
    static const int64_t experiment_ids[] = {1};
    mfd_search_scope scope = {.experiment_ids = experiment_ids, .n_experiment_ids = 1};
    return mfd_search_runs_candidates_first(arena, in, &scope, out);
}

/* SQLite's form over a small part of the database: each key clause looked up per run */
static mfd_err runs_by_experiment(mfd_arena *arena, const mfd_search_input *in,
                                  mfd_search_sql *out) {
    static const int64_t experiment_ids[] = {1};
    mfd_search_scope scope = {
        .experiment_ids = experiment_ids, .n_experiment_ids = 1, .by_experiment = true};
    return mfd_search_runs_in_scope(arena, in, &scope, out);
}

#define RUNS               mfd_search_runs
#define RUNS_PG            runs_pg
#define RUNS_BY_EXPERIMENT runs_by_experiment
#define EXPS               mfd_search_experiments
#define RMS                mfd_search_registered_models
#define MVS                mfd_search_model_versions
#define NO_ORDER           NULL, 0
#define ORDER(...)                                                                                 \
    (const char *const[]){__VA_ARGS__},                                                            \
        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

static mfd_arena *arena;

/* Compiles or fails the test; the SQL text must never hold a literal. */
static mfd_search_sql compile_at(int line, compile_fn fn, const char *filter,
                                 const char *const *order_by, size_t n) {
    mfd_search_input in = {filter, order_by, n};
    mfd_search_sql out;
    mfd_err err = fn(arena, &in, &out);
    if (err) {
        fprintf(stderr, "%s:%d: unexpected error for [%s]: %s\n", __FILE__, line, filter,
                err->message);
        mfd_test_failed_checks++;
        mfd_err_free(err);
        memset(&out, 0, sizeof out);
        out.where = out.order_by = "";
        return out;
    }
    if (strchr(out.where, '\'') || strchr(out.order_by, '\'')) {
        fprintf(stderr, "%s:%d: a literal leaked into SQL: %s / %s\n", __FILE__, line, out.where,
                out.order_by);
        mfd_test_failed_checks++;
    }
    return out;
}
#define COMPILE(fn, filter, ...) compile_at(__LINE__, fn, filter, __VA_ARGS__)

static void error_at(int line, compile_fn fn, const char *filter, const char *const *order_by,
                     size_t n, const char *needle) {
    mfd_search_input in = {filter, order_by, n};
    mfd_search_sql out;
    mfd_err err = fn(arena, &in, &out);
    if (!err || err->code != MFD_INVALID_PARAMETER_VALUE || !strstr(err->message, needle)) {
        fprintf(stderr, "%s:%d: [%s] expected INVALID_PARAMETER_VALUE containing \"%s\", got %s\n",
                __FILE__, line, filter ? filter : "(null)", needle, err ? err->message : "success");
        mfd_test_failed_checks++;
    }
    mfd_err_free(err);
}
#define CHECK_ERROR(fn, filter, ...) error_at(__LINE__, fn, filter, __VA_ARGS__)

static const char *param_text(const mfd_search_sql *s, size_t i) {
    return i < s->params.count && s->params.values[i].kind == MFD_SQL_TEXT
               ? s->params.values[i].text
               : "(not text)";
}

/* ---- SQLite harness ------------------------------------------------------------------------- */

static const char SCHEMA[] =
    "CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " creation_time BIGINT, last_update_time BIGINT);"
    "CREATE TABLE experiment_tags (key TEXT, value TEXT, experiment_id INTEGER);"
    "CREATE TABLE runs (run_uuid TEXT PRIMARY KEY, name TEXT, user_id TEXT, status TEXT,"
    " start_time BIGINT, end_time BIGINT, artifact_uri TEXT);"
    "CREATE TABLE latest_metrics (key TEXT, value FLOAT NOT NULL, timestamp BIGINT, step BIGINT,"
    " is_nan BOOLEAN NOT NULL, run_uuid TEXT);"
    "CREATE TABLE params (key TEXT, value TEXT NOT NULL, run_uuid TEXT);"
    "CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT);"
    "CREATE TABLE datasets (dataset_uuid TEXT, experiment_id INTEGER, name TEXT, digest TEXT);"
    "CREATE TABLE inputs (input_uuid TEXT, source_type TEXT, source_id TEXT,"
    " destination_type TEXT, destination_id TEXT);"
    "CREATE TABLE input_tags (input_uuid TEXT, name TEXT, value TEXT);"
    "CREATE TABLE registered_models (name TEXT PRIMARY KEY, creation_time BIGINT,"
    " last_updated_time BIGINT);"
    "CREATE TABLE registered_model_tags (key TEXT, value TEXT, name TEXT);"
    "CREATE TABLE model_versions (name TEXT, version INTEGER, creation_time BIGINT,"
    " last_updated_time BIGINT, current_stage TEXT, source TEXT, run_id TEXT);"
    "CREATE TABLE model_version_tags (key TEXT, value TEXT, name TEXT, version INTEGER);"
    "CREATE TABLE logged_models (model_id TEXT PRIMARY KEY, experiment_id INTEGER, name TEXT,"
    " creation_timestamp_ms BIGINT, last_updated_timestamp_ms BIGINT, status INTEGER,"
    " lifecycle_stage TEXT, model_type TEXT, source_run_id TEXT);"
    "CREATE TABLE logged_model_params (model_id TEXT, param_key TEXT, param_value TEXT);"
    "CREATE TABLE logged_model_tags (model_id TEXT, tag_key TEXT, tag_value TEXT);"
    "CREATE TABLE logged_model_metrics (model_id TEXT, metric_name TEXT,"
    " metric_timestamp_ms BIGINT, metric_step BIGINT, metric_value FLOAT, dataset_name TEXT,"
    " dataset_digest TEXT);";

/* r1..r5: acc 0.9 / NaN / 0.5 / missing / -1; param p "10" / "100" / "2"; run
 * names Alpha / alpha / beta via the tag; r1 trained on train_ds, r2 on eval_ds. */
static const char FIXTURES[] =
    "INSERT INTO runs VALUES ('r1','Alpha','u1','FINISHED',500,600,'s3://a'),"
    " ('r2','alpha','u2','RUNNING',400,NULL,'s3://b'), ('r3','beta','u1','FAILED',300,350,NULL),"
    " ('r4',NULL,'u3','FINISHED',200,NULL,'s3://d'), ('r5','e','u1','KILLED',100,150,'s3://e');"
    "INSERT INTO latest_metrics VALUES ('acc',0.9,1,0,0,'r1'), ('acc',0,1,0,1,'r2'),"
    " ('acc',0.5,1,0,0,'r3'), ('acc',-1,1,0,0,'r5'), ('val loss',3,1,0,0,'r1');"
    "INSERT INTO params VALUES ('p','10','r1'), ('p','100','r2'), ('p','2','r3'),"
    " ('model.name','a','r1'), ('model class','x','r2');"
    "INSERT INTO tags VALUES ('mlflow.runName','Alpha','r1'), ('mlflow.runName','alpha','r2'),"
    " ('mlflow.runName','beta','r3'), ('t','x','r1'), ('t','y','r3'), ('n',NULL,'r2');"
    "INSERT INTO datasets VALUES ('d1',1,'train_ds','dig1'), ('d2',1,'eval_ds','dig2');"
    "INSERT INTO inputs VALUES ('i1','DATASET','d1','RUN','r1'), ('i2','DATASET','d2','RUN','r2');"
    "INSERT INTO input_tags VALUES ('i1','mlflow.data.context','training'),"
    " ('i2','mlflow.data.context','eval');"
    "INSERT INTO experiments VALUES (1,'Alpha',100,110), (2,'alpha',200,NULL), (3,'beta',300,5);"
    "INSERT INTO experiment_tags VALUES ('k','v',1), ('k','w',2);"
    "INSERT INTO registered_models VALUES ('m1',1,30), ('m2',2,20), ('prompt',3,10);"
    "INSERT INTO registered_model_tags VALUES ('mlflow.prompt.is_prompt','true','prompt'),"
    " ('team','a','m1'), ('stage','x','m1'), ('team','b','m2');"
    "INSERT INTO model_versions VALUES ('m1',1,1,10,'None','s3://x/1','aaa'),"
    " ('m1',2,2,20,'Deleted_Internal','s3://x/2','bbb'), "
    "('m1',3,3,30,'Production','s3://y/3','ccc'),"
    " ('m2',1,4,30,'None','s3://z/1','aaa'), ('prompt',1,5,40,'None','p','ddd');"
    "INSERT INTO model_version_tags VALUES ('mlflow.prompt.is_prompt','true','prompt',1),"
    " ('env','prod','m1',3);"
    "INSERT INTO logged_models VALUES ('m-a',1,'alpha',100,100,2,'active','sk','r1'),"
    " ('m-b',1,'beta',200,200,1,'active',NULL,'r2'), "
    "('m-c',1,'gamma',300,300,2,'deleted',NULL,NULL),"
    " ('m-d',1,'delta',400,400,2,'active',NULL,NULL);"
    "INSERT INTO logged_model_params VALUES ('m-a','lr','0.01'), ('m-b','lr','0.1');"
    "INSERT INTO logged_model_tags VALUES ('m-a','t','x');"
    "INSERT INTO logged_model_metrics VALUES ('m-a','acc',1,0,0.7,'ds','d1'),"
    " ('m-a','acc',2,0,0.2,'other',NULL), ('m-b','acc',1,0,0.9,'ds','d2'),"
    " ('m-c','acc',1,0,0.99,'ds','d1');";

static sqlite3 *db;

static void db_open(void) {
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, "PRAGMA case_sensitive_like=true;", NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, SCHEMA, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, FIXTURES, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "fixture error: %s\n", msg);
    CHECK(rc == SQLITE_OK);
    sqlite3_free(msg);
}

/* Runs SELECT <column> FROM <s->from, else from> WHERE <where> ORDER BY <order_by>
 * and returns the ids comma-joined (or "SQL ERROR: ..."). */
static const char *db_ids(const char *column, const char *from, const mfd_search_sql *s) {
    const char *sql = mfd_arena_sprintf(arena, "SELECT %s FROM %s WHERE %s ORDER BY %s", column,
                                        s->from ? s->from : from, s->where, s->order_by);
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return mfd_arena_sprintf(arena, "SQL ERROR: %s in %s", sqlite3_errmsg(db), sql);
    CHECK_INT(sqlite3_bind_parameter_count(stmt), s->params.count);
    for (size_t i = 0; i < s->params.count; i++) {
        const mfd_sql_value *v = &s->params.values[i];
        int at = (int)i + 1;
        if (v->kind == MFD_SQL_TEXT)
            sqlite3_bind_text(stmt, at, v->text, -1, SQLITE_TRANSIENT);
        else if (v->kind == MFD_SQL_INT64)
            sqlite3_bind_int64(stmt, at, v->i64);
        else if (v->kind == MFD_SQL_DOUBLE)
            sqlite3_bind_double(stmt, at, v->f64);
        else
            sqlite3_bind_null(stmt, at);
    }
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_strbuf_append(&sb, "");
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        mfd_strbuf_appendf(&sb, "%s%s", sb.len ? "," : "",
                           (const char *)sqlite3_column_text(stmt, 0));
    if (rc != SQLITE_DONE)
        mfd_strbuf_appendf(&sb, "SQL ERROR: %s", sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    return sb.data;
}

/* Fails the test when another form of the search gave other run ids than the plain one. */
static void same_runs(const char *form, compile_fn fn, const char *filter,
                      const char *const *order_by, size_t n, const char *ids) {
    mfd_search_sql s = compile_at(__LINE__, fn, filter, order_by, n);
    const char *other = db_ids("r.run_uuid", "runs r", &s);
    if (strcmp(ids, other) != 0) {
        fprintf(stderr, "%s: [%s] %s form gave %s, plain %s\n", __FILE__,
                filter ? filter : "(null)", form, other, ids);
        mfd_test_failed_checks++;
    }
}

/* The run ids in order; PostgreSQL's form (candidates first) and SQLite's by-experiment
 * form must give the same. */
static const char *runs(const char *filter, const char *const *order_by, size_t n) {
    mfd_search_sql s = compile_at(__LINE__, RUNS, filter, order_by, n);
    const char *ids = db_ids("r.run_uuid", "runs r", &s);
    same_runs("candidates-first", RUNS_PG, filter, order_by, n, ids);
    same_runs("by-experiment", RUNS_BY_EXPERIMENT, filter, order_by, n, ids);
    return ids;
}

static const char *experiments(const char *filter, const char *const *order_by, size_t n) {
    mfd_search_sql s = compile_at(__LINE__, EXPS, filter, order_by, n);
    return db_ids("e.name", "experiments e", &s);
}

static void setup(void) {
    arena = mfd_arena_new();
    db_open();
}

static void teardown(void) {
    sqlite3_close(db);
    mfd_arena_free(arena);
}

/* ---- the shared grammar (§1), seen through the run compiler ------------------------------- */

static void test_identifier_split_and_quoting(void) {
    setup();
    mfd_search_sql s = COMPILE(RUNS, "metrics.a.b = 1", NO_ORDER);
    CHECK_STR(param_text(&s, 0), "a.b"); /* split at the first dot */
    s = COMPILE(RUNS, "tags.`mlflow.runName` = 'x'", NO_ORDER);
    CHECK_STR(param_text(&s, 0), "mlflow.runName");
    s = COMPILE(RUNS, "params.\"model class\" = 'x'", NO_ORDER);
    CHECK_STR(param_text(&s, 0), "model class");
    s = COMPILE(RUNS, "`metrics`.`val loss` > 1", NO_ORDER);
    CHECK_STR(param_text(&s, 0), "val loss");
    CHECK_STR(runs("`metrics`.`val loss` > 1", NO_ORDER), "r1");
    CHECK_STR(runs("params.model.name = 'a'", NO_ORDER), "r1");
    CHECK_STR(runs("params.\"model class\" = 'x'", NO_ORDER), "r2");
    /* Singular, plural and alternate prefixes all work. */
    CHECK_STR(runs("metric.acc > 0.4 AND param.p = '10' AND tag.t = 'x' AND attribute.user_id = "
                   "'u1' AND attr.status = 'FINISHED' AND run.run_id = 'r1' AND "
                   "parameters.p = '10'",
                   NO_ORDER),
              "r1");
    teardown();
}

static void test_values_are_taken_literally(void) {
    setup();
    mfd_search_sql s = COMPILE(RUNS, "params.x = 'it''s'", NO_ORDER);
    CHECK_STR(param_text(&s, 1), "it''s"); /* no escape processing */
    s = COMPILE(RUNS, "params.x = \"it's\"", NO_ORDER);
    CHECK_STR(param_text(&s, 1), "it's");
    s = COMPILE(RUNS, "params.x = 'a\\nb%_'", NO_ORDER);
    CHECK_STR(param_text(&s, 1), "a\\nb%_");
    s = COMPILE(RUNS, "  metrics.y>=-1.5e3  and metrics.z<2 ", NO_ORDER);
    CHECK(s.params.count == 4 && s.params.values[3].kind == MFD_SQL_DOUBLE &&
          s.params.values[3].f64 == -1500.0); /* y drives: the innermost list, last */
    CHECK_STR(runs("metrics.y=2.5", NO_ORDER), "");
    CHECK_STR(runs("tags.t = \"x\"", NO_ORDER), "r1");
    s = COMPILE(RUNS, "   ", NO_ORDER);
    CHECK_STR(s.where, "1=1");
    s = COMPILE(RUNS, NULL, NO_ORDER);
    CHECK_STR(s.where, "1=1");
    CHECK_STR(s.order_by, "r.start_time DESC NULLS LAST, r.run_uuid ASC");
    teardown();
}

static void test_grammar_errors(void) {
    setup();
    static const char *const invalid_clauses[] = {
        "metrics.a > 1 OR metrics.b < 2",
        "NOT metrics.a > 1",
        "(metrics.a > 1)",
        "params.a IS NULL",
        "metrics.a BETWEEN 1 AND 2",
        "metrics.a > 1 AND",
        "metrics.a >",
        "params.a = 'unterminated",
        "params.`unterminated = 'x'",
        "metrics. a > 1",
        "metrics.a > 1;",
        "metrics.a > 1 metrics.b > 2",
        "metrics.a > 1 AND AND metrics.b > 2",
        "-- comment",
        "metrics.a > 1 -- x",
    };
    for (size_t i = 0; i < sizeof invalid_clauses / sizeof invalid_clauses[0]; i++)
        CHECK_ERROR(RUNS, invalid_clauses[i], NO_ORDER, "Invalid clause(s) in filter string");
    CHECK_ERROR(RUNS, "metrics.a > 1; metrics.b > 2", NO_ORDER, "multiple expression");
    CHECK_ERROR(RUNS, "params.x = abc", NO_ORDER, "Expected a quoted string value");
    CHECK_ERROR(RUNS, "params.x = 5", NO_ORDER, "Expected a quoted string value");
    CHECK_ERROR(RUNS, "params.x = `abc`", NO_ORDER, "Expected a quoted string value");
    CHECK_ERROR(RUNS, "metrics.x = '1'", NO_ORDER, "Expected numeric value type for metric");
    CHECK_ERROR(RUNS, "metrics.x = \"1\"", NO_ORDER, "Expected numeric value type for metric");
    CHECK_ERROR(RUNS, "metrics.x > abc", NO_ORDER, "Expected numeric value type for metric");
    CHECK_ERROR(RUNS, "metrics.x == 1", NO_ORDER, "Invalid comparator '=='");
    CHECK_ERROR(RUNS, "metrics.x LIKE 1", NO_ORDER, "Invalid comparator 'LIKE'");
    CHECK_ERROR(RUNS, "params.x > 'a'", NO_ORDER, "Invalid comparator '>'");
    CHECK_ERROR(RUNS, "tags.x NOT LIKE 'a'", NO_ORDER, "Invalid comparator 'NOT LIKE'");
    CHECK_ERROR(RUNS, "params.x IN ('a')", NO_ORDER, "Expected a quoted string value");
    CHECK_ERROR(RUNS, "start_time = '5'", NO_ORDER, "Expected numeric value type for numeric");
    CHECK_ERROR(RUNS, "start_time LIKE 5", NO_ORDER, "Invalid comparator 'LIKE'");
    CHECK_ERROR(RUNS, "status IN ('a')", NO_ORDER, "Only the 'run_id' attribute supports");
    CHECK_ERROR(RUNS, "run_name = 5", NO_ORDER, "Expected a quoted string value for attributes");
    CHECK_ERROR(RUNS, "lifecycle_stage = 'active'", NO_ORDER, "Invalid attribute key");
    CHECK_ERROR(RUNS, "experiment_id = '1'", NO_ORDER, "Invalid attribute key 'experiment_id'");
    CHECK_ERROR(RUNS, "foo.x = 'a'", NO_ORDER, "Invalid entity type 'foo'");
    CHECK_ERROR(RUNS, "Metrics.x > 1", NO_ORDER, "Invalid entity type 'Metrics'");
    CHECK_ERROR(RUNS, "dataset.foo = 'a'", NO_ORDER, "Invalid dataset key 'foo'");
    CHECK_ERROR(RUNS, "dataset.name = 5", NO_ORDER, "dataset attributes");
    CHECK_ERROR(RUNS, "run_id IN ()", NO_ORDER, "but got empty list");
    CHECK_ERROR(RUNS, "run_id IN (1, 2)", NO_ORDER, "different type in list");
    CHECK_ERROR(RUNS, "run_id IN (\"a\")", NO_ORDER, "different type in list");
    CHECK_ERROR(RUNS, "run_id IN ('a' 'b')", NO_ORDER, "ill-formed list");
    CHECK_ERROR(RUNS, "run_id IN ('a',,'b')", NO_ORDER, "ill-formed list");
    CHECK_ERROR(RUNS, "run_id IN ('a\\x4')", NO_ORDER, "ill-formed list");
    CHECK_ERROR(RUNS, "run_id IN ('a\\0')", NO_ORDER, "ill-formed list");
    CHECK_ERROR(RUNS, "run_id = ('a')", NO_ORDER, "use IN or NOT IN");
    CHECK_ERROR(RUNS, "run_id IN 'a'", NO_ORDER, "requires a parenthesised list");
    CHECK_ERROR(RUNS, "params.x = '\xff'", NO_ORDER, "not valid UTF-8");
    CHECK_ERROR(RUNS, "params.x = '\xc0\xaf'", NO_ORDER, "not valid UTF-8");
    teardown();
}

/* Whitespace is what Python's \\s matches in a str (sqlparse's tokens), so
 * Unicode's spaces separate tokens as ASCII ones do. */
static void test_unicode_whitespace(void) {
    setup();
    const char *ascii = runs("status = 'FINISHED' AND user_id = 'u3'", NO_ORDER);
    CHECK_STR(runs("\xc2\xa0status = 'FINISHED'\xe2\x80\xa8"
                   "AND\xe3\x80\x80user_id\xc2\xa0= 'u3'"
                   "\xe2\x80\xa9",
                   NO_ORDER),
              ascii);
    CHECK_STR(runs("status\x1c=\x1f'FINISHED' AND user_id = 'u3'", NO_ORDER), ascii);
    /* inside quotes they are the value's */
    CHECK_STR(runs("tags.`a\xc2\xa0"
                   "b` = 'x'",
                   NO_ORDER),
              "");
    CHECK_ERROR(RUNS,
                "attributes.st\xc2\xa0"
                "atus = 'x'",
                NO_ORDER, "Invalid clause");
    teardown();
}

static void test_in_lists_keep_lower_case_only(void) {
    setup();
    mfd_search_sql s = COMPILE(RUNS,
                               "run_id IN ('abc', 'ABC', '123', 'ab1', 'a-b', '\xc3\xa9', "
                               "'\xc3\x89', 'a''b', '\\x61c', 'aB',)",
                               NO_ORDER);
    CHECK_INT(s.params.count, 6);
    CHECK_STR(param_text(&s, 0), "abc");
    CHECK_STR(param_text(&s, 1), "ab1");
    CHECK_STR(param_text(&s, 2), "a-b");
    CHECK_STR(param_text(&s, 3), "\xc3\xa9"); /* é is lower-case, É is not */
    CHECK_STR(param_text(&s, 4), "ab");       /* adjacent literals concatenate, as in Python */
    CHECK_STR(param_text(&s, 5), "ac");       /* Python escapes apply inside lists */
    CHECK(!s.match_nothing);
    s = COMPILE(RUNS, "run_id IN ('R1', '42')", NO_ORDER);
    CHECK(s.match_nothing);
    CHECK_STR(s.where, "1=0");
    s = COMPILE(RUNS, "run_id NOT IN ('R1')", NO_ORDER);
    CHECK(!s.match_nothing);
    CHECK_STR(s.where, "1=1");
    CHECK_STR(runs("run_id IN ('r1', 'R2', 'r3')", NO_ORDER), "r1,r3");
    CHECK_STR(runs("run_id NOT IN ('r1')", NO_ORDER), "r2,r3,r4,r5");
    CHECK_STR(runs("run_id IN ('R1')", NO_ORDER), "");
    CHECK_STR(runs("run_id in ('r1') and metrics.acc > 0", NO_ORDER), "r1");
    teardown();
}

/* ---- runs (§2) ---------------------------------------------------------------------------- */

static void test_runs_filters_execute(void) {
    setup();
    CHECK_STR(runs("metrics.acc > 0.4", NO_ORDER), "r1,r3");
    CHECK_STR(runs("metrics.acc != 0.5", NO_ORDER), "r1,r2,r5"); /* NaN compares as 0; r4 lacks */
    CHECK_STR(runs("metrics.acc = 0", NO_ORDER), "r2");
    CHECK_STR(runs("params.p != '10'", NO_ORDER), "r2,r3"); /* runs without p never match */
    CHECK_STR(runs("tags.t != 'x'", NO_ORDER), "r3");
    CHECK_STR(runs("tags.`mlflow.runName` LIKE 'a%'", NO_ORDER), "r2"); /* LIKE is case-sensitive */
    CHECK_STR(runs("tags.`mlflow.runName` ILIKE 'a%'", NO_ORDER), "r1,r2");
    CHECK_STR(runs("tags.`mlflow.runName` = 'alpha'", NO_ORDER), "r2");
    CHECK_STR(runs("params.p like '1%'", NO_ORDER), "r1,r2"); /* keywords in any case */
    CHECK_STR(runs("run_name = 'Alpha'", NO_ORDER), "r1");    /* via the mlflow.runName tag */
    CHECK_STR(runs("attributes.`Run Name` ILIKE 'ALPHA'", NO_ORDER), "r1,r2");
    CHECK_STR(runs("\"run name\" != 'beta'", NO_ORDER), "r1,r2");
    CHECK_STR(runs("end_time > 0", NO_ORDER), "r1,r3,r5");
    CHECK_STR(runs("end_time != 150", NO_ORDER), "r1,r3"); /* NULL end_time never matches */
    CHECK_STR(runs("status = 'FINISHED' AND user_id = 'u3'", NO_ORDER), "r4");
    CHECK_STR(runs("status = 'finished'", NO_ORDER), "");
    CHECK_STR(runs("created >= 300", NO_ORDER), "r1,r2,r3");
    CHECK_STR(runs("Created < 250.5", NO_ORDER), "r4,r5");
    CHECK_STR(runs("artifact_uri LIKE 's3://%'", NO_ORDER), "r1,r2,r4,r5");
    CHECK_STR(runs("dataset.name = 'train_ds'", NO_ORDER), "r1");
    CHECK_STR(runs("dataset.name != 'train_ds'", NO_ORDER), "r2");
    CHECK_STR(runs("datasets.digest IN ('dig1', 'dig2')", NO_ORDER), "r1,r2");
    CHECK_STR(runs("dataset.context = 'eval'", NO_ORDER), "r2");
    CHECK_STR(runs("dataset.context ILIKE 'TRAIN%'", NO_ORDER), "r1");
    /* a dataset clause is a list of runs built once, not a subquery per run (inputs' primary
     * key starts with source_type: correlated on the run, SQLite scanned every input per run) */
    mfd_search_sql s = COMPILE(RUNS, "dataset.name = 'train_ds'", NO_ORDER);
    CHECK_STR(s.where, "r.run_uuid IN (SELECT i.destination_id FROM inputs i JOIN datasets d ON "
                       "d.dataset_uuid = i.source_id WHERE i.source_type = ? AND "
                       "i.destination_type = ? AND d.name = ?)");
    s = COMPILE(RUNS, "start_time > 1.5 AND end_time < 7", NO_ORDER);
    CHECK_STR(s.where,
              "r.start_time > CAST(? AS DOUBLE PRECISION) AND r.end_time < CAST(? AS BIGINT)");
    CHECK(s.params.values[0].kind == MFD_SQL_DOUBLE && s.params.values[1].kind == MFD_SQL_INT64);
    s = COMPILE(RUNS, "metrics.m > 1", NO_ORDER);
    CHECK_STR(s.where, "r.run_uuid IN (SELECT f0.run_uuid FROM latest_metrics f0 WHERE f0.key = ? "
                       "AND f0.value > ?)");
    CHECK(s.params.values[1].kind == MFD_SQL_DOUBLE); /* metric values compare as doubles */

    /* Key clauses make one list, the likeliest-selective first (=, LIKE, range, !=), the
     * others probing it; values follow the text. Attributes and datasets stay outside. SQLite
     * nests the lists (each built before the next reads it), PostgreSQL joins them. */
    CHECK_STR(runs("metrics.acc > 0 and params.p = '10'", NO_ORDER), "r1");
    CHECK_STR(runs("metrics.acc > -5 and metrics.acc < 0.7 and params.p != '2'", NO_ORDER), "r2");
    CHECK_STR(runs("tags.t != 'z' and run_name LIKE 'b%' and status = 'FAILED'", NO_ORDER), "r3");
    CHECK_STR(runs("params.p LIKE '1%' and dataset.name = 'eval_ds' and metrics.acc = 0", NO_ORDER),
              "r2");
    CHECK_STR(runs("metrics.acc >= 0.5 and tags.n = 'x'", NO_ORDER), ""); /* NULL tag value */
    const char *four = "status = 'FAILED' and metrics.acc > 0 and tags.t != 'z' and params.p = 'v'";
    s = COMPILE(RUNS, four, NO_ORDER);
    CHECK_STR(s.where,
              "r.run_uuid IN (SELECT f2.run_uuid FROM tags f2 WHERE f2.key = ? AND "
              "f2.value != ? AND f2.run_uuid IN (SELECT f1.run_uuid FROM latest_metrics f1 "
              "WHERE f1.key = ? AND f1.value > ? AND f1.run_uuid IN (SELECT f0.run_uuid "
              "FROM params f0 WHERE f0.key = ? AND f0.value = ?))) AND r.status = ?");
    CHECK_INT(s.n_where_params, 7);
    const char *const nested_values[] = {"t", "z", "acc", NULL, "p", "v", "FAILED"};
    for (size_t i = 0; i < 7; i++)
        if (nested_values[i])
            CHECK_STR(param_text(&s, i), nested_values[i]);
    CHECK(s.params.values[3].kind == MFD_SQL_DOUBLE);
    s = COMPILE(RUNS_PG, four, NO_ORDER);
    CHECK_STR(s.where,
              "r.run_uuid IN (SELECT f0.run_uuid FROM params f0 CROSS JOIN latest_metrics "
              "f1 CROSS JOIN tags f2 WHERE f0.key = ? AND f0.value = ? AND length(f0.value) <= "
              "300 AND f1.run_uuid = f0.run_uuid AND f1.key = ? AND f1.value > ? AND "
              "f2.run_uuid = f0.run_uuid AND "
              "f2.key = ? AND f2.value != ?) AND r.status = ?");
    const char *const joined_values[] = {"p", "v", "acc", NULL, "t", "z", "FAILED"};
    for (size_t i = 0; i < 7; i++)
        if (joined_values[i])
            CHECK_STR(param_text(&s, i), joined_values[i]);
    /* Long filters take several lists: SQLite nests 4 deep (its parser's stack), PostgreSQL
     * joins 16 tables in one. */
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    for (int i = 0; i < 40; i++)
        mfd_strbuf_appendf(&sb, "%smetrics.acc > %d", i ? " AND " : "", -2 - i);
    s = COMPILE(RUNS, sb.data, NO_ORDER);
    CHECK(strstr(s.where, "f3.run_uuid IN (SELECT f2.run_uuid") != NULL);
    CHECK(strstr(s.where, "f4") == NULL);
    s = COMPILE(RUNS_PG, sb.data, NO_ORDER);
    CHECK(strstr(s.where, "CROSS JOIN latest_metrics f15 WHERE") != NULL);
    CHECK(strstr(s.where, "f16") == NULL);
    CHECK_STR(runs(sb.data, NO_ORDER), "r1,r2,r3,r5"); /* acc -1 > -2 ... > -41 */
    teardown();
}

static void test_runs_order_by_execute(void) {
    setup();
    /* Real numbers first, then NaN, then missing, in both directions. */
    CHECK_STR(runs(NULL, ORDER("metrics.acc ASC")), "r5,r3,r1,r2,r4");
    CHECK_STR(runs(NULL, ORDER("metrics.acc DESC")), "r1,r3,r5,r2,r4");
    /* Params sort as strings; missing ones last, then start_time DESC. */
    CHECK_STR(runs(NULL, ORDER("params.p")), "r1,r2,r3,r4,r5");
    CHECK_STR(runs(NULL, ORDER("params.p desc")), "r3,r2,r1,r4,r5");
    CHECK_STR(runs(NULL, ORDER("tags.t DESC")), "r3,r1,r2,r4,r5");
    CHECK_STR(runs(NULL, ORDER("end_time DESC")), "r1,r3,r5,r2,r4");
    CHECK_STR(runs(NULL, ORDER("attributes.end_time ASC")), "r5,r3,r1,r2,r4");
    CHECK_STR(runs(NULL, ORDER("run_name")), "r1,r2,r3,r5,r4"); /* runs.name, NULL last */
    CHECK_STR(runs(NULL, ORDER("start_time ASC")), "r5,r4,r3,r2,r1");
    CHECK_STR(runs("metrics.acc > -5", ORDER("`metrics`.`acc` DESC", "params.p")), "r1,r3,r5,r2");
    /* SQLite tests a filter on the ordered metric on the row the order joins; NaN is stored as
     * 0 and compared as such, a run without the metric matches nothing. */
    CHECK_STR(runs("metrics.acc < 0.6", ORDER("metrics.acc ASC")), "r5,r3,r2");
    CHECK_STR(runs("metrics.acc != 0.5", ORDER("metrics.acc DESC")), "r1,r5,r2");
    CHECK_STR(runs("metrics.acc != 0.5 AND params.p != 'zz'", ORDER("metrics.acc DESC")),
              "r1,r2"); /* r5 has no param p */
    mfd_search_sql on_order = COMPILE(RUNS, "metrics.acc < 0.6", ORDER("metrics.acc ASC"));
    CHECK(strstr(on_order.where, "o0.value < ") != NULL);
    CHECK(strstr(on_order.where, "latest_metrics f0") == NULL);
    /* A clause that keeps no NaN (stored 0) leaves the order the value alone, which
     * mlflowd's index gives; one that keeps NaN keeps the rank (NaN after numbers). */
    CHECK_STR(runs("metrics.acc > -0.5", ORDER("metrics.acc ASC")), "r3,r1,r2");
    CHECK_STR(runs("metrics.acc > 0.2", ORDER("metrics.acc ASC")), "r3,r1");
    CHECK_STR(runs("metrics.acc >= -1 and metrics.acc != 0", ORDER("metrics.acc DESC")),
              "r1,r3,r5");
    CHECK_STR(runs("metrics.acc <= 0", ORDER("metrics.acc DESC")), "r5,r2");
    on_order = COMPILE(RUNS, "metrics.acc > 0.1", ORDER("metrics.acc DESC"));
    CHECK_STR(on_order.order_by, "o0.value DESC, r.start_time DESC NULLS LAST, r.run_uuid ASC");
    on_order = COMPILE(RUNS, "metrics.acc != 0.1", ORDER("metrics.acc DESC"));
    CHECK(strncmp(on_order.order_by, "CASE WHEN o0.run_uuid IS NULL", 29) == 0);
    on_order = COMPILE(RUNS, "metrics.acc > 0.1", ORDER("metrics.loss DESC"));
    CHECK(strncmp(on_order.order_by, "CASE WHEN o0.run_uuid IS NULL", 29) == 0);
    mfd_search_sql s = COMPILE(RUNS, NULL, ORDER("created ASC"));
    CHECK(strstr(s.order_by, "r.start_time DESC") == NULL);
    CHECK_STR(s.order_by, "r.start_time ASC NULLS LAST, r.run_uuid ASC");
    s = COMPILE(RUNS, NULL, ORDER("status"));
    CHECK_STR(s.order_by, "r.status ASC NULLS LAST, r.start_time DESC NULLS LAST, r.run_uuid ASC");
    /* Values go in order of appearance: the order_by keys' joins, then where. */
    s = COMPILE(RUNS, "status = 'v'", ORDER("metrics.m", "tags.`a b` DESC"));
    CHECK_INT(s.n_join_params, 2);
    CHECK_INT(s.n_where_params, 1);
    CHECK_INT(s.params.count, 3);
    CHECK_STR(param_text(&s, 0), "m");
    CHECK_STR(param_text(&s, 1), "a b");
    CHECK_STR(param_text(&s, 2), "v");
    CHECK(strstr(s.from, "runs r LEFT JOIN latest_metrics o0 ON o0.run_uuid = r.run_uuid") ==
          s.from);

    /* For PostgreSQL, with key clauses, the leading key orders are read with the first
     * key-clause list in a subquery of ordered candidates, runs joined after it; the rows and
     * order stay the same (runs() checks both forms). SQLite keeps the IN list. */
    s = COMPILE(RUNS_PG, "params.p = 'v' and status = 'x'",
                ORDER("metrics.m", "tags.`a b` DESC", "status", "params.q"));
    CHECK_STR(s.from, "(SELECT f0.run_uuid, CASE WHEN o0.run_uuid IS NULL THEN 2 WHEN "
                      "CAST(o0.is_nan AS INTEGER) = 1 THEN 1 ELSE 0 END AS k0r, o0.value AS k0v, "
                      "CASE WHEN o1.value IS NULL THEN 1 ELSE 0 END AS k1r, o1.value AS k1v FROM "
                      "params f0 LEFT JOIN latest_metrics o0 ON o0.run_uuid = f0.run_uuid AND "
                      "o0.key = ? LEFT JOIN tags o1 ON o1.run_uuid = f0.run_uuid AND o1.key = ? "
                      "WHERE f0.key = ? AND f0.value = ? AND length(f0.value) <= 300 ORDER BY "
                      "k0r, k0v ASC, k1r, k1v DESC) s "
                      "CROSS JOIN runs r LEFT JOIN params o3 ON o3.run_uuid = r.run_uuid AND "
                      "o3.key = ?");
    CHECK_STR(s.where, "r.run_uuid = s.run_uuid AND r.status = ?");
    CHECK_STR(s.order_by, "s.k0r, s.k0v ASC, s.k1r, s.k1v DESC, r.status ASC NULLS LAST, CASE WHEN "
                          "o3.value IS NULL THEN 1 ELSE 0 END, o3.value ASC, r.start_time DESC "
                          "NULLS LAST, r.run_uuid ASC");
    CHECK_INT(s.n_join_params, 5);
    CHECK_INT(s.n_where_params, 1);
    const char *const expected_values[] = {"m", "a b", "p", "v", "q", "x"};
    for (size_t i = 0; i < 6; i++)
        CHECK_STR(param_text(&s, i), expected_values[i]);
    /* ... and, the order starting with a metric, a window form that walks the metric's
     * values in order and tests each run against the candidates hashed once. */
    CHECK(s.window != NULL);
    CHECK_STR(s.window->from,
              "(WITH c AS MATERIALIZED (SELECT f0.run_uuid FROM params f0 WHERE f0.key = ? AND "
              "f0.value = ? AND length(f0.value) <= 300 LIMIT 200001), n AS (SELECT CASE WHEN "
              "count(*) <= 200000 THEN 20 * count(*) ELSE 0 END AS n FROM c) SELECT w.run_uuid, "
              "w.value FROM (SELECT w.run_uuid, w.value FROM latest_metrics w WHERE w.key = ? AND "
              "NOT w.is_nan ORDER BY w.value ASC FETCH FIRST (SELECT n.n FROM n) ROWS WITH TIES) "
              "w WHERE (w.run_uuid IN "
              "(SELECT c.run_uuid FROM c)) IS TRUE ORDER BY w.value ASC) o0 CROSS "
              "JOIN runs r LEFT JOIN tags o1 ON o1.run_uuid = r.run_uuid AND o1.key = ? LEFT JOIN "
              "params o3 ON o3.run_uuid = r.run_uuid AND o3.key = ?");
    CHECK_STR(s.window->where, "r.run_uuid = o0.run_uuid AND r.status = ?");
    CHECK_STR(s.window->order_by,
              "o0.value ASC, CASE WHEN o1.value IS NULL THEN 1 ELSE 0 END, o1.value DESC, "
              "r.status ASC NULLS LAST, CASE WHEN o3.value IS NULL THEN 1 ELSE 0 END, o3.value "
              "ASC, r.start_time DESC NULLS LAST, r.run_uuid ASC");
    CHECK_INT(s.window->n_join_params, 5);
    const char *const window_values[] = {"p", "v", "m", "a b", "q", "x"};
    for (size_t i = 0; i < 6; i++)
        CHECK_STR(param_text(s.window, i), window_values[i]);
    /* a long value is not in the partial index: no length() hint */
    char long_value[400];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = 0;
    s = COMPILE(RUNS_PG, mfd_arena_sprintf(arena, "params.p = '%s'", long_value),
                ORDER("metrics.m"));
    CHECK(strstr(s.from, "length(") == NULL);
    /* 300 characters of two bytes each are still short */
    char two_byte[601] = "";
    for (int i = 0; i < 300; i++)
        strcat(two_byte, "\xc3\xa9");
    s = COMPILE(RUNS_PG, mfd_arena_sprintf(arena, "params.p = '%s'", two_byte), ORDER("metrics.m"));
    CHECK(strstr(s.from, "length(f0.value) <= 300") != NULL);
    s = COMPILE(RUNS_PG, "params.p = 'v'", ORDER("tags.t", "metrics.m")); /* no metric first */
    CHECK(s.window == NULL);
    s = COMPILE(RUNS, "params.p = 'v'", ORDER("metrics.m")); /* SQLite: no window */
    CHECK(s.window == NULL);
    s = COMPILE(RUNS, "params.p = 'v' and status = 'x'", ORDER("metrics.m"));
    CHECK_STR(s.from,
              "runs r LEFT JOIN latest_metrics o0 ON o0.run_uuid = r.run_uuid AND o0.key = ?");
    CHECK(strncmp(s.where, "r.run_uuid IN (SELECT f0.run_uuid FROM params f0 WHERE", 54) == 0);
    s = COMPILE(RUNS_PG, "status = 'x'", ORDER("metrics.m")); /* no key clause: no candidates */
    CHECK_STR(s.from,
              "runs r LEFT JOIN latest_metrics o0 ON o0.run_uuid = r.run_uuid AND o0.key = ?");
    /* the window then walks the metric's entries alone, as many as the scope has runs */
    CHECK_STR(
        s.window->from,
        "(WITH n AS (SELECT count(*) AS n FROM (SELECT 1 FROM runs rc WHERE "
        "rc.experiment_id IN (?) LIMIT 5000) rc) SELECT w.run_uuid, w.value FROM (SELECT "
        "w.run_uuid, w.value FROM latest_metrics w WHERE w.key = ? AND NOT w.is_nan ORDER BY "
        "w.value ASC FETCH FIRST (SELECT n.n FROM n) ROWS WITH TIES) w ORDER BY w.value ASC) o0 "
        "CROSS JOIN runs r");
    CHECK_STR(s.window->where, "r.run_uuid = o0.run_uuid AND r.status = ?");
    CHECK_INT(s.window->n_join_params, 2);
    CHECK(s.window->params.values[0].kind == MFD_SQL_INT64 && s.window->params.values[0].i64 == 1);
    CHECK_STR(param_text(s.window, 1), "m");
    CHECK_STR(param_text(s.window, 2), "x");
    /* clauses on the order's metric are conditions of the walk, not candidates */
    s = COMPILE(RUNS_PG, "metrics.m > 0.5 and metrics.m <= 2 and status = 'x'",
                ORDER("metrics.m DESC"));
    CHECK_STR(s.window->from,
              "(WITH n AS (SELECT count(*) AS n FROM (SELECT 1 FROM runs rc WHERE "
              "rc.experiment_id IN (?) LIMIT 5000) rc) SELECT w.run_uuid, w.value FROM (SELECT "
              "w.run_uuid, w.value FROM latest_metrics w WHERE w.key = ? AND w.value > ? AND "
              "w.value <= ? AND NOT w.is_nan ORDER BY w.value DESC FETCH FIRST (SELECT n.n FROM n) "
              "ROWS WITH TIES) w ORDER BY w.value DESC) o0 CROSS JOIN runs r");
    CHECK_STR(s.window->where, "r.run_uuid = o0.run_uuid AND r.status = ?");
    CHECK_INT(s.window->n_join_params, 4);
    CHECK(s.window->params.values[2].kind == MFD_SQL_DOUBLE &&
          s.window->params.values[2].f64 == 0.5);
    CHECK(s.window->params.values[3].kind == MFD_SQL_DOUBLE && s.window->params.values[3].f64 == 2);
    /* the general form still has them as a candidate list */
    CHECK(strstr(s.from, "FROM latest_metrics f0 CROSS JOIN latest_metrics f1") != NULL);
    /* with other key clauses: those are the candidates, the metric's a walk condition */
    s = COMPILE(RUNS_PG, "metrics.m > 0.5 and params.p = 'v' and metrics.n < 3",
                ORDER("metrics.m"));
    CHECK_STR(
        s.window->from,
        "(WITH c AS MATERIALIZED (SELECT f0.run_uuid FROM params f0 CROSS JOIN "
        "latest_metrics f1 WHERE f0.key = ? AND f0.value = ? AND length(f0.value) <= 300 AND "
        "f1.run_uuid = f0.run_uuid AND f1.key = ? AND f1.value < ? LIMIT 200001), n AS (SELECT "
        "CASE WHEN count(*) <= 200000 THEN 20 * count(*) ELSE 0 END AS n FROM c) SELECT "
        "w.run_uuid, w.value FROM (SELECT w.run_uuid, w.value FROM latest_metrics w WHERE "
        "w.key = ? AND w.value > ? AND NOT w.is_nan ORDER BY w.value ASC FETCH FIRST (SELECT "
        "n.n FROM n) ROWS WITH TIES) w WHERE (w.run_uuid IN (SELECT c.run_uuid FROM c)) IS TRUE "
        "ORDER BY w.value ASC) o0 "
        "CROSS JOIN runs r");
    /* a clause on another metric, or a tag of the same name, stays a candidate */
    s = COMPILE(RUNS_PG, "tags.m = 'v'", ORDER("metrics.m"));
    CHECK(strstr(s.window->from, "FROM tags f0") != NULL);
    CHECK(strstr(s.window->from, "w.value =") == NULL);
    CHECK(s.window->window == NULL); /* the page unknown: no probe form */
    /* the page known (offset + max_results): first a probe form, the order's first entries
     * (twenty per row of the page, at most 2000), each run's other clauses probed by key, one
     * entry at a time (OFFSET 0: never a semi-join or a hashed subplan) */
    static const int64_t one[] = {1};
    mfd_search_scope paged = {.experiment_ids = one, .n_experiment_ids = 1, .page_rows = 30};
    mfd_search_input probed = {"metrics.m > 0.5 and params.p LIKE 'v%' and metrics.n < 3",
                               ORDER("metrics.m DESC", "params.q")};
    mfd_search_sql forms;
    CHECK(mfd_search_runs_candidates_first(arena, &probed, &paged, &forms) == NULL);
    CHECK(forms.window != NULL && forms.window->window != NULL);
    const mfd_search_sql *probe = forms.window->window;
    CHECK(probe->window == NULL);
    CHECK_STR(probe->from,
              "(SELECT w.run_uuid, w.value FROM (SELECT w.run_uuid, w.value FROM latest_metrics w "
              "WHERE w.key = ? AND w.value > ? AND NOT w.is_nan ORDER BY w.value DESC FETCH FIRST "
              "600 ROWS WITH TIES) w WHERE EXISTS (SELECT 1 FROM params f0 WHERE f0.run_uuid = "
              "w.run_uuid AND f0.key = ? AND f0.value LIKE ? OFFSET 0) AND EXISTS (SELECT 1 FROM "
              "latest_metrics f1 WHERE f1.run_uuid = w.run_uuid AND f1.key = ? AND f1.value < ? "
              "OFFSET 0) "
              "ORDER BY w.value DESC) o0 CROSS JOIN runs r LEFT JOIN params o1 ON o1.run_uuid = "
              "r.run_uuid AND o1.key = ?");
    CHECK_STR(probe->where, "r.run_uuid = o0.run_uuid");
    CHECK_STR(probe->order_by, "o0.value DESC, CASE WHEN o1.value IS NULL THEN 1 ELSE 0 END, "
                               "o1.value ASC, r.start_time DESC NULLS LAST, r.run_uuid ASC");
    CHECK_INT(probe->n_join_params, 7);
    CHECK_STR(param_text(probe, 0), "m");
    CHECK_STR(param_text(probe, 2), "p");
    CHECK_STR(param_text(probe, 3), "v%");
    CHECK_STR(param_text(probe, 4), "n");
    CHECK_STR(param_text(probe, 6), "q");
    paged.page_rows = 500; /* a long page: the walk is capped */
    CHECK(mfd_search_runs_candidates_first(arena, &probed, &paged, &forms) == NULL);
    CHECK(strstr(forms.window->window->from, "FETCH FIRST 2000 ROWS WITH TIES") != NULL);
    probed.filter = "metrics.m > 0.5"; /* clauses on the order's metric only: no candidates */
    CHECK(mfd_search_runs_candidates_first(arena, &probed, &paged, &forms) == NULL);
    CHECK(forms.window != NULL && forms.window->window == NULL);
    mfd_search_sql unscoped;
    mfd_search_input no_filter = {NULL, ORDER("metrics.m")};
    CHECK(mfd_search_runs_candidates_first(arena, &no_filter, NULL, &unscoped) == NULL);
    CHECK(unscoped.window == NULL); /* no experiments: no window */
    /* a small scope: each list is restricted to its runs, and there is no window */
    static const int64_t two[] = {4, 5};
    mfd_search_scope small = {
        .experiment_ids = two, .n_experiment_ids = 2, .only_its_runs = true, .page_rows = 100};
    mfd_search_input filtered = {"params.p = 'v'", ORDER("metrics.m")};
    mfd_search_sql restricted;
    CHECK(mfd_search_runs_candidates_first(arena, &filtered, &small, &restricted) == NULL);
    CHECK(restricted.has_key_clauses && restricted.window == NULL);
    CHECK(strstr(restricted.from, "AND length(f0.value) <= 300 AND f0.run_uuid IN (SELECT "
                                  "rs.run_uuid FROM runs rs WHERE rs.experiment_id IN (?, ?)) "
                                  "ORDER BY") != NULL);
    CHECK_INT(restricted.n_join_params, 5);
    CHECK(restricted.params.values[3].i64 == 4 && restricted.params.values[4].i64 == 5);
    /* one experiment of a database with the per-experiment indexes: each clause in one reads
     * that experiment's entries, the walk too; a clause in none (LIKE) reads every experiment's,
     * and the list starts from one in an index */
    mfd_search_scope indexed = {
        .experiment_ids = one, .n_experiment_ids = 1, .experiment_indexes = true};
    mfd_search_input scoped = {"params.q LIKE 'x%' and metrics.m > 0.5 and params.p = 'v'",
                               ORDER("metrics.n DESC")};
    CHECK(mfd_search_runs_candidates_first(arena, &scoped, &indexed, &forms) == NULL);
    CHECK(forms.window != NULL && forms.window->window == NULL);
    CHECK(
        strstr(
            forms.window->from,
            "(WITH c AS MATERIALIZED (SELECT f0.run_uuid FROM params f0 CROSS JOIN "
            "latest_metrics f1 CROSS JOIN params f2 WHERE f0.key = ? AND f0.value = ? AND "
            "length(f0.value) <= 300 AND mlflowd_run_experiment(f0.run_uuid) IN (?) AND "
            "f1.run_uuid = f0.run_uuid AND f1.key = ? AND f1.value > ? AND "
            "mlflowd_run_experiment(f1.run_uuid) IN (?) AND f2.run_uuid = f0.run_uuid AND f2.key "
            "= ? AND f2.value LIKE ? LIMIT 200001), n AS (SELECT CASE WHEN count(*) <= 200000 THEN "
            "20 * count(*) ELSE 0 END AS n FROM c) SELECT w.run_uuid, w.value FROM (SELECT "
            "w.run_uuid, w.value FROM latest_metrics w WHERE w.key = ? AND "
            "mlflowd_run_experiment(w.run_uuid) IN (?) AND NOT w.is_nan") == forms.window->from);
    CHECK(forms.window->params.values[2].i64 == 1 && forms.window->params.values[5].i64 == 1 &&
          forms.window->params.values[9].i64 == 1);
    CHECK(strstr(forms.from, "mlflowd_run_experiment(f1.run_uuid) IN (?) AND f2.run_uuid") != NULL);
    indexed.page_rows = 30; /* the probe form walks the experiment's entries too */
    CHECK(mfd_search_runs_candidates_first(arena, &scoped, &indexed, &forms) == NULL);
    CHECK(strstr(forms.window->window->from,
                 "FROM latest_metrics w WHERE w.key = ? AND "
                 "mlflowd_run_experiment(w.run_uuid) IN (?) AND") != NULL);
    /* several experiments: each list reads their entries; the walk reads each experiment's
     * range in order and merges them, up to 20 experiments; past that the walk reads every
     * experiment's entries, and past 100 experiments the lists too */
    indexed.experiment_ids = two;
    indexed.n_experiment_ids = 2;
    CHECK(mfd_search_runs_candidates_first(arena, &scoped, &indexed, &forms) == NULL);
    CHECK(strstr(forms.window->from, "mlflowd_run_experiment(f0.run_uuid) IN (?, ?)") != NULL);
    CHECK(strstr(forms.window->from,
                 "SELECT w.run_uuid, w.value FROM ((SELECT w.run_uuid, w.value FROM latest_metrics "
                 "w WHERE w.key = ? AND mlflowd_run_experiment(w.run_uuid) IN (?) AND NOT w.is_nan "
                 "ORDER BY w.value DESC FETCH FIRST (SELECT n.n FROM n) ROWS WITH TIES) UNION ALL "
                 "(SELECT w.run_uuid, w.value FROM latest_metrics w WHERE w.key = ? AND "
                 "mlflowd_run_experiment(w.run_uuid) IN (?) AND NOT w.is_nan ORDER BY w.value DESC "
                 "FETCH FIRST (SELECT n.n FROM n) ROWS WITH TIES)) w ORDER BY w.value DESC FETCH "
                 "FIRST (SELECT n.n FROM n) ROWS WITH TIES) w WHERE") != NULL);
    CHECK(forms.window->params.values[11].i64 == 4 && forms.window->params.values[13].i64 == 5);
    CHECK(strstr(forms.from, "mlflowd_run_experiment(f1.run_uuid) IN (?, ?)") != NULL);
    indexed.page_rows = 30; /* the probe form merges the ranges too */
    CHECK(mfd_search_runs_candidates_first(arena, &scoped, &indexed, &forms) == NULL);
    CHECK(strstr(forms.window->window->from, "FETCH FIRST 600 ROWS WITH TIES) UNION ALL (") !=
          NULL);
    indexed.page_rows = 0;
    static const int64_t twenty_one[21] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                           12, 13, 14, 15, 16, 17, 18, 19, 20, 21};
    indexed.experiment_ids = twenty_one;
    indexed.n_experiment_ids = 20;
    CHECK(mfd_search_runs_candidates_first(arena, &scoped, &indexed, &forms) == NULL);
    CHECK(strstr(forms.window->from, "UNION ALL") != NULL);
    indexed.n_experiment_ids = 21;
    CHECK(mfd_search_runs_candidates_first(arena, &scoped, &indexed, &forms) == NULL);
    CHECK(strstr(forms.window->from, "mlflowd_run_experiment(f0.run_uuid) IN (?, ?, ?") != NULL);
    CHECK(strstr(forms.window->from, "mlflowd_run_experiment(w.") == NULL);
    CHECK(strstr(forms.window->from, "UNION ALL") == NULL);
    static int64_t many[101];
    indexed.experiment_ids = many;
    indexed.n_experiment_ids = 101;
    CHECK(mfd_search_runs_candidates_first(arena, &scoped, &indexed, &forms) == NULL);
    CHECK(strstr(forms.window->from, "mlflowd_run_experiment") == NULL);
    CHECK(strstr(forms.from, "mlflowd_run_experiment") == NULL);
    /* SQLite over a small part of the database: each key clause looked up for the run */
    s = COMPILE(RUNS_BY_EXPERIMENT, "metrics.m > 0.5 and params.p = 'v'", ORDER("metrics.n"));
    CHECK_STR(s.where, "EXISTS (SELECT 1 FROM params f0 WHERE f0.run_uuid = r.run_uuid AND f0.key "
                       "= ? AND f0.value = ?) AND EXISTS (SELECT 1 FROM latest_metrics f1 WHERE "
                       "f1.run_uuid = r.run_uuid AND f1.key = ? AND f1.value > ?)");
    s = COMPILE(RUNS_PG, "params.p = 'v'", ORDER("status", "metrics.m")); /* runs column first */
    CHECK(strncmp(s.from, "runs r LEFT JOIN", 16) == 0);
    CHECK_STR(runs("params.p != 'x'", ORDER("metrics.acc DESC")), "r1,r3,r2");
    CHECK_STR(runs("params.p != 'x'", ORDER("metrics.acc")), "r3,r1,r2");
    CHECK_STR(runs("metrics.acc > -5", ORDER("params.p DESC", "run_name")), "r3,r2,r1,r5");
    CHECK_STR(runs("tags.t != 'q'", ORDER("tags.t DESC", "metrics.`val loss`")), "r3,r1");
    CHECK_STR(runs("metrics.acc < 1 and status != 'RUNNING'",
                   ORDER("metrics.acc", "params.p DESC", "tags.t")),
              "r5,r3,r1");

    CHECK_ERROR(RUNS, NULL, ORDER("metrics.acc", "metric.acc DESC"), "duplicate fields");
    CHECK_ERROR(RUNS, NULL, ORDER("created", "start_time"), "`order_by` contains duplicate");
    COMPILE(RUNS, NULL, ORDER("metrics.acc", "params.acc", "tags.acc"));
    CHECK_ERROR(RUNS, NULL, ORDER("metrics.a ASC DESC"), "Could not be parsed");
    CHECK_ERROR(RUNS, NULL, ORDER("metrics.a up"), "Invalid ordering key");
    CHECK_ERROR(RUNS, NULL, ORDER(""), "Invalid order_by clause ''");
    CHECK_ERROR(RUNS, NULL, ORDER("metrics.a > 1"), "Could not be parsed");
    CHECK_ERROR(RUNS, NULL, ORDER("lifecycle_stage"), "Invalid attribute key");
    CHECK_ERROR(RUNS, NULL, ORDER("`run name`"), "Invalid attribute key"); /* filter-only alias */
    CHECK_ERROR(RUNS, NULL, ORDER("dataset.name"), "Invalid identifier type 'dataset'");
    teardown();
}

/* ---- experiments (§3) --------------------------------------------------------------------- */

static void test_experiments(void) {
    setup();
    CHECK_STR(experiments(NULL, NO_ORDER), "beta,alpha,Alpha"); /* creation_time DESC */
    CHECK_STR(experiments("name LIKE 'a%'", NO_ORDER), "alpha");
    CHECK_STR(experiments("name ILIKE 'a%'", NO_ORDER), "alpha,Alpha");
    CHECK_STR(experiments("attribute.name != 'Alpha'", NO_ORDER), "beta,alpha");
    CHECK_STR(experiments("tags.k != 'v'", NO_ORDER), "alpha"); /* beta has no tag k */
    CHECK_STR(experiments("tag.k = 'v'", NO_ORDER), "Alpha");
    CHECK_STR(experiments("tags.`k` ILIKE 'W'", NO_ORDER), "alpha");
    CHECK_STR(experiments("creation_time > 150", NO_ORDER), "beta,alpha");
    CHECK_STR(experiments("creation_time >= 150.5 AND last_update_time < 100", NO_ORDER), "beta");
    CHECK_STR(experiments(NULL, ORDER("name")), "Alpha,alpha,beta");
    CHECK_STR(experiments(NULL, ORDER("last_update_time DESC")), "Alpha,beta,alpha");
    mfd_search_sql s = COMPILE(EXPS, NULL, NO_ORDER);
    CHECK_STR(s.order_by, "e.creation_time DESC, e.experiment_id ASC");
    s = COMPILE(EXPS, NULL, ORDER("name DESC", "creation_time"));
    CHECK_STR(s.order_by, "e.name DESC, e.creation_time ASC, e.experiment_id DESC");
    s = COMPILE(EXPS, NULL, ORDER("experiment_id ASC"));
    CHECK_STR(s.order_by, "e.experiment_id ASC");

    CHECK_ERROR(EXPS, "name like 'a%'", NO_ORDER, "Invalid comparator 'like'");
    CHECK_ERROR(EXPS, "name IN ('a')", NO_ORDER, "Only the 'run_id' attribute supports");
    CHECK_ERROR(EXPS, "tags.k IN ('a')", NO_ORDER, "Expected a quoted string value for tag");
    CHECK_ERROR(EXPS, "tags.k > 'a'", NO_ORDER, "Invalid comparator for tag: >");
    CHECK_ERROR(EXPS, "name > 'a'", NO_ORDER, "Invalid comparator for string attribute: >");
    CHECK_ERROR(EXPS, "creation_time = '5'", NO_ORDER, "Expected numeric value type");
    CHECK_ERROR(EXPS, "creation_time LIKE 5", NO_ORDER, "Invalid comparator");
    CHECK_ERROR(EXPS, "experiment_id = 1", NO_ORDER, "Invalid attribute key 'experiment_id'");
    CHECK_ERROR(EXPS, "lifecycle_stage = 'active'", NO_ORDER, "Invalid attribute key");
    CHECK_ERROR(EXPS, "artifact_location = 'x'", NO_ORDER, "Invalid attribute key");
    CHECK_ERROR(EXPS, "metrics.x > 1", NO_ORDER,
                "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', "
                "'tags')");
    CHECK_ERROR(EXPS, "name = 'a' OR name = 'b'", NO_ORDER, "Invalid clause(s)");
    CHECK_ERROR(EXPS, NULL, ORDER("tags.k"), "Invalid order_by entity");
    CHECK_ERROR(EXPS, NULL, ORDER("lifecycle_stage"), "Invalid attribute key");
    teardown();
}

/* ---- registered models and model versions (§4, §5) ---------------------------------------- */

static const char *registered_models(const char *filter, const char *const *order_by, size_t n) {
    mfd_search_sql s = compile_at(__LINE__, RMS, filter, order_by, n);
    return db_ids("rm.name", "registered_models rm", &s);
}

static const char *model_versions(const char *filter, const char *const *order_by, size_t n) {
    mfd_search_sql s = compile_at(__LINE__, MVS, filter, order_by, n);
    return db_ids("mv.name || '/' || mv.version", "model_versions mv", &s);
}

static void test_registered_models(void) {
    setup();
    CHECK_STR(registered_models(NULL, NO_ORDER), "m1,m2"); /* prompts excluded */
    CHECK_STR(registered_models("name ILIKE 'M%'", NO_ORDER), "m1,m2");
    CHECK_STR(registered_models("name like 'm%'", NO_ORDER), "m1,m2");
    CHECK_STR(registered_models("attribute.name = 'm2'", NO_ORDER), "m2");
    CHECK_STR(registered_models("tags.team = 'a'", NO_ORDER), "m1");
    CHECK_STR(registered_models("tags.team != 'a'", NO_ORDER), "m2");
    CHECK_STR(registered_models("tag.team = 'a' AND tags.stage = 'x'", NO_ORDER), "m1");
    CHECK_STR(registered_models("tags.team = 'a' AND tags.team = 'b'", NO_ORDER), "");
    CHECK_STR(registered_models("tags.team LIKE '%' AND tags.team != 'b'", NO_ORDER), "m1");
    /* each key's clauses on its own joined tag row, in any order */
    CHECK_STR(registered_models("tags.stage = 'x' AND tags.team LIKE '%' AND tags.stage != 'y' "
                                "AND tags.team != 'b'",
                                NO_ORDER),
              "m1");
    CHECK_STR(registered_models("tags.stage = 'x' AND tags.team = 'b'", NO_ORDER), "");
    /* keys past the joined list's eight are probed, with the same answer */
    const char *nine = "tags.team = 'a' AND tags.stage = 'x' AND tags.k3 != 'z' AND "
                       "tags.k4 != 'z' AND tags.k5 != 'z' AND tags.k6 != 'z' AND tags.k7 != 'z' "
                       "AND tags.k8 != 'z' AND tags.k9 != 'z'";
    CHECK_STR(registered_models(nine, NO_ORDER), ""); /* a tag clause needs the tag */
    CHECK(strstr(COMPILE(RMS, nine, NO_ORDER).where, "EXISTS (SELECT 1 FROM registered_model_tags "
                                                     "t8 WHERE t8.name = rm.name") != NULL);
    CHECK_STR(registered_models("tags.stage = 'x' AND tags.team = 'a' AND tags.t3 LIKE '%' AND "
                                "tags.t4 LIKE '%' AND tags.t5 LIKE '%' AND tags.t6 LIKE '%' AND "
                                "tags.t7 LIKE '%' AND tags.t8 LIKE '%' AND tags.team LIKE 'a'",
                                NO_ORDER),
              "");
    CHECK_STR(registered_models("tags.`mlflow.prompt.is_prompt` = 'true'", NO_ORDER), "prompt");
    CHECK_STR(registered_models("tags.`mlflow.prompt.is_prompt` = 'TRUE'", NO_ORDER), "");
    CHECK_STR(registered_models("tags.`mlflow.prompt.is_prompt` != 'False'", NO_ORDER), "prompt");
    /* A clause on the prompt tag that does not select prompts is dropped. */
    CHECK_STR(registered_models("tags.`mlflow.prompt.is_prompt` = 'false'", NO_ORDER), "m1,m2");
    CHECK_STR(registered_models(NULL, ORDER("timestamp DESC")), "m1,m2");
    CHECK_STR(registered_models(NULL, ORDER("last_updated_timestamp")), "m2,m1");
    mfd_search_sql s = COMPILE(RMS, NULL, ORDER("timestamp DESC"));
    CHECK_STR(s.order_by, "rm.last_updated_time DESC, rm.name ASC");
    s = COMPILE(RMS, NULL, ORDER("name DESC"));
    CHECK_STR(s.order_by, "rm.name DESC");

    CHECK_ERROR(RMS, "name IN ('a')", NO_ORDER, "Only the 'run_id' attribute supports");
    CHECK_ERROR(RMS, "name = 5", NO_ORDER, "Expected a quoted string value or a list");
    CHECK_ERROR(RMS, "name > 'a'", NO_ORDER, "Invalid comparator for attribute: >");
    CHECK_ERROR(RMS, "tags.x IN ('a')", NO_ORDER, "Expected a quoted string value for tag");
    CHECK_ERROR(RMS, "tags.x < 'a'", NO_ORDER, "Invalid comparator for tag: <");
    CHECK_ERROR(RMS, "creation_timestamp > 1", NO_ORDER, "Invalid attribute key");
    CHECK_ERROR(RMS, "\"name\" = 'a'", NO_ORDER, "Invalid attribute key"); /* checked unquoted */
    CHECK_ERROR(RMS, "metrics.x = 'a'", NO_ORDER, "Invalid entity type 'metrics'");
    CHECK_ERROR(RMS, NULL, ORDER("creation_timestamp"), "Invalid order by key");
    CHECK_ERROR(RMS, NULL, ORDER("name", "name DESC"), "duplicate fields");
    CHECK_ERROR(RMS, NULL, ORDER("timestamp", "last_updated_timestamp"), "duplicate fields");
    teardown();
}

static void test_model_versions(void) {
    setup();
    /* last_updated DESC, name ASC, version DESC; soft-deleted and prompts excluded. */
    CHECK_STR(model_versions(NULL, NO_ORDER), "m1/3,m2/1,m1/1");
    CHECK_STR(model_versions("name = 'm1'", NO_ORDER), "m1/3,m1/1");
    CHECK_STR(model_versions("name='m1' AND version_number > 1", NO_ORDER), "m1/3");
    CHECK_STR(model_versions("version_number = '1'", NO_ORDER), "m2/1,m1/1");
    CHECK_STR(model_versions("version_number <= 1.5", NO_ORDER), "m2/1,m1/1");
    CHECK_STR(model_versions("run_id IN ('aaa', 'BBB')", NO_ORDER), "m2/1,m1/1");
    CHECK_STR(model_versions("run_id = 'bbb'", NO_ORDER), "");
    CHECK_STR(model_versions("source_path LIKE 's3://x/%'", NO_ORDER), "m1/1");
    CHECK_STR(model_versions("tags.env = 'prod'", NO_ORDER), "m1/3");
    CHECK_STR(model_versions("tags.env = 'prod' AND tags.env LIKE 'p%'", NO_ORDER), "m1/3");
    CHECK_STR(model_versions("tags.env = 'prod' AND tags.other = 'x'", NO_ORDER), "");
    CHECK_STR(model_versions("tags.`mlflow.prompt.is_prompt` = 'true'", NO_ORDER), "prompt/1");
    CHECK_STR(model_versions(NULL, ORDER("version_number ASC")), "m1/1,m2/1,m1/3");
    CHECK_STR(model_versions(NULL, ORDER("creation_timestamp DESC")), "m2/1,m1/3,m1/1");
    mfd_search_sql s = COMPILE(MVS, "run_id IN ('BBB')", NO_ORDER);
    CHECK(s.match_nothing);
    s = COMPILE(MVS, NULL, ORDER("name"));
    CHECK_STR(s.order_by, "mv.name ASC, mv.version DESC");
    s = COMPILE(MVS, NULL, NO_ORDER);
    CHECK_STR(s.order_by, "mv.last_updated_time DESC, mv.name ASC, mv.version DESC");

    CHECK_ERROR(MVS, "run_id NOT IN ('a')", NO_ORDER, "Invalid comparator for attribute: NOT IN");
    CHECK_ERROR(MVS, "name IN ('a')", NO_ORDER, "Only the 'run_id' attribute supports");
    CHECK_ERROR(MVS, "name = 3", NO_ORDER, "support comparison with numeric values");
    CHECK_ERROR(MVS, "version_number LIKE '1'", NO_ORDER,
                "Invalid comparator for attribute version_number");
    CHECK_ERROR(MVS, "version_number = 'abc'", NO_ORDER, "Expected numeric value type");
    CHECK_ERROR(MVS, "tags.x > 'a'", NO_ORDER, "Invalid comparator for tag");
    CHECK_ERROR(MVS, "current_stage = 'None'", NO_ORDER, "Invalid attribute key");
    CHECK_ERROR(MVS, NULL, ORDER("tags.x"), "Invalid order_by entity");
    CHECK_ERROR(MVS, NULL, ORDER("source_path"), "Invalid attribute key");
    CHECK_ERROR(MVS, NULL, ORDER("version_number", "version_number DESC"), "duplicate fields");
    teardown();
}

/* ---- logged models (§7) ------------------------------------------------------------------- */

static mfd_err logged_models_sql(const char *filter, const mfd_logged_model_order *order,
                                 size_t n_order, const mfd_logged_model_dataset *datasets,
                                 size_t n_datasets, mfd_search_sql *out) {
    mfd_logged_model_search_input in = {filter, order, n_order, datasets, n_datasets};
    return mfd_search_logged_models(arena, &in, out);
}

static const char *logged_models(const char *filter, const mfd_logged_model_order *order,
                                 size_t n_order, const mfd_logged_model_dataset *datasets,
                                 size_t n_datasets) {
    mfd_search_sql s;
    mfd_err err = logged_models_sql(filter, order, n_order, datasets, n_datasets, &s);
    if (err) {
        const char *message = mfd_arena_sprintf(arena, "ERROR: %s", err->message);
        mfd_err_free(err);
        return message;
    }
    CHECK(!strchr(s.where, '\'') && !strchr(s.order_by, '\''));
    return db_ids("lm.model_id", "logged_models lm", &s);
}

static void check_logged_model_error(int line, const char *filter,
                                     const mfd_logged_model_order *order, size_t n_order,
                                     const char *needle) {
    const char *got = logged_models(filter, order, n_order, NULL, 0);
    if (strncmp(got, "ERROR: ", 7) != 0 || !strstr(got, needle)) {
        fprintf(stderr, "%s:%d: expected an error containing \"%s\", got %s\n", __FILE__, line,
                needle, got);
        mfd_test_failed_checks++;
    }
}
#define CHECK_LM_ERROR(filter, order, n, needle)                                                   \
    check_logged_model_error(__LINE__, filter, order, n, needle)

static void test_logged_models(void) {
    setup();
    static const mfd_logged_model_dataset ds_d1[] = {{"ds", "d1"}}, ds_any[] = {{"ds", NULL}},
                                          other[] = {{"other", ""}},
                                          two[] = {{"x", NULL}, {"ds", "d2"}};
    CHECK_STR(logged_models(NULL, NULL, 0, NULL, 0), "m-d,m-b,m-a"); /* deleted m-c excluded */
    CHECK_STR(logged_models("metrics.acc > 0.5", NULL, 0, NULL, 0), "m-b,m-a"); /* any row */
    CHECK_STR(logged_models("metrics.acc > 0.5", NULL, 0, ds_d1, 1), "m-a");
    CHECK_STR(logged_models("metrics.acc > 0.5", NULL, 0, ds_any, 1), "m-b,m-a");
    CHECK_STR(logged_models("metrics.acc >= 0.5", NULL, 0, two, 2), "m-b");
    CHECK_STR(logged_models(NULL, NULL, 0, other, 1), "m-a"); /* must have a metric there */
    CHECK_STR(logged_models("params.lr = '0.01'", NULL, 0, NULL, 0), "m-a");
    CHECK_STR(logged_models("tags.`t` = 'x' AND name LIKE 'a%'", NULL, 0, NULL, 0), "m-a");
    CHECK_STR(logged_models("name IN ('alpha', 'delta')", NULL, 0, NULL, 0), "m-d,m-a");
    CHECK_STR(logged_models("name NOT IN ('alpha')", NULL, 0, NULL, 0), "m-d,m-b");
    CHECK_STR(logged_models("attributes.name = beta", NULL, 0, NULL, 0), "m-b");
    CHECK_STR(logged_models("status = '2'", NULL, 0, NULL, 0), "m-d,m-a"); /* integer column */
    CHECK_STR(logged_models("creation_time > 150 and model_type != 'sk'", NULL, 0, NULL, 0), "");
    CHECK_STR(logged_models("creation_timestamp > 150", NULL, 0, NULL, 0), "m-d,m-b");
    CHECK_STR(logged_models("model_type = 'sk'", NULL, 0, NULL, 0), "m-a");

    static const mfd_logged_model_order by_acc[] = {{"metrics.acc", true, NULL, NULL}},
                                        by_acc_desc[] = {{"metrics.acc", false, NULL, NULL}},
                                        by_acc_ds[] = {{"metrics.acc", true, "ds", NULL}},
                                        by_name[] = {{"name", true, NULL, NULL}},
                                        by_created[] = {{"creation_time", true, NULL, NULL}};
    CHECK_STR(logged_models(NULL, by_acc, 1, NULL, 0), "m-a,m-b,m-d"); /* latest acc of m-a: 0.2 */
    CHECK_STR(logged_models(NULL, by_acc_desc, 1, NULL, 0), "m-b,m-a,m-d"); /* missing last */
    CHECK_STR(logged_models(NULL, by_acc_ds, 1, NULL, 0), "m-a,m-b,m-d");
    CHECK_STR(logged_models(NULL, by_name, 1, NULL, 0), "m-a,m-b,m-d");
    CHECK_STR(logged_models(NULL, by_created, 1, NULL, 0), "m-a,m-b,m-d");
    mfd_search_sql s;
    CHECK(logged_models_sql(NULL, by_name, 1, NULL, 0, &s) == NULL);
    CHECK_STR(s.order_by, "CASE WHEN lm.name IS NULL THEN 1 ELSE 0 END, lm.name ASC, "
                          "lm.creation_timestamp_ms DESC, lm.model_id ASC");

    static const mfd_logged_model_order by_param[] = {{"params.x", true, NULL, NULL}},
                                        digest_only[] = {{"metrics.acc", true, NULL, "d1"}},
                                        unknown[] = {{"bogus", true, NULL, NULL}},
                                        no_field[] = {{NULL, true, NULL, NULL}};
    CHECK_LM_ERROR("Metrics.x > 1", NULL, 0, "Invalid attribute key");
    CHECK_LM_ERROR("foo.x = 'a'", NULL, 0, "Invalid entity type: 'foo'");
    CHECK_LM_ERROR("metric.x > 1", NULL, 0, "Invalid entity type: 'metric'");
    CHECK_LM_ERROR("name like 'a'", NULL, 0, "Invalid comparison operator");
    CHECK_LM_ERROR("tags.t not in ('a')", NULL, 0, "Invalid comparison operator");
    CHECK_LM_ERROR("metrics.acc LIKE 1", NULL, 0, "Invalid comparison operator");
    CHECK_LM_ERROR("metrics.acc > 'a'", NULL, 0, "Invalid numeric value");
    CHECK_LM_ERROR("name IN 'a'", NULL, 0, "requires a parenthesised list");
    CHECK_LM_ERROR("name = 'a' OR name = 'b'", NULL, 0, "Invalid clause(s)");
    CHECK_LM_ERROR(NULL, by_param, 1, "only `metrics.<name>` is allowed");
    CHECK_LM_ERROR(NULL, digest_only, 1, "`dataset_digest` can only be specified");
    CHECK_LM_ERROR(NULL, unknown, 1, "Invalid order by field name: bogus.");
    CHECK_LM_ERROR(NULL, no_field, 1, "`field_name` in the `order_by` clause must be specified");
    teardown();
}

/* ---- page tokens (§6, §7) ----------------------------------------------------------------- */

static const char *b64(const char *json) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(json);
    char *out = mfd_arena_alloc(arena, 4 * ((n + 2) / 3) + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)json[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)json[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)json[i + 2];
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? alphabet[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static void check_token_error(int line, const char *token, const char *needle) {
    int64_t offset = -1;
    mfd_err err = mfd_page_token_decode(token, &offset);
    if (!err || err->code != MFD_INVALID_PARAMETER_VALUE || !strstr(err->message, needle)) {
        fprintf(stderr, "%s:%d: token [%s] expected error \"%s\", got %s\n", __FILE__, line, token,
                needle, err ? err->message : "success");
        mfd_test_failed_checks++;
    }
    mfd_err_free(err);
}
#define CHECK_TOKEN_ERROR(token, needle) check_token_error(__LINE__, token, needle)

static void test_offset_page_tokens(void) {
    arena = mfd_arena_new();
    CHECK_STR(mfd_page_token_encode(arena, 1000), "eyJvZmZzZXQiOiAxMDAwfQ==");
    int64_t offset = -1;
    CHECK(mfd_page_token_decode("eyJvZmZzZXQiOiAxMDAwfQ==", &offset) == NULL);
    CHECK_INT(offset, 1000);
    static const int64_t values[] = {1, 2, 99, 100, 12345, 200000, INT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        offset = -1;
        CHECK(mfd_page_token_decode(mfd_page_token_encode(arena, values[i]), &offset) == NULL);
        CHECK_INT(offset, values[i]);
    }
    CHECK(mfd_page_token_decode(NULL, &offset) == NULL && offset == 0);
    CHECK(mfd_page_token_decode("", &offset) == NULL && offset == 0);
    CHECK(mfd_page_token_decode(b64("{\"offset\": \"12\"}"), &offset) == NULL && offset == 12);
    CHECK(mfd_page_token_decode(" eyJvZmZzZXQiOiAxMDAwfQ==\n", &offset) == NULL);

    CHECK_TOKEN_ERROR("!!!!", "could not base64-decode");
    CHECK_TOKEN_ERROR("eyJvZmZzZXQiOiAxMDAwfQ", "could not base64-decode"); /* no padding */
    CHECK_TOKEN_ERROR("ey=vZmZzZXQiOiAxMDAwfQ==", "could not base64-decode");
    CHECK_TOKEN_ERROR("====", "could not base64-decode");
    CHECK_TOKEN_ERROR(b64("not json"), "decoded value=not json");
    CHECK_TOKEN_ERROR(b64("[1, 2]"), "decoded value=");
    CHECK_TOKEN_ERROR(b64("\x01\xff"), "decoded value=??");
    CHECK_TOKEN_ERROR(b64("{\"offset\": 0}"), "parsed value=");
    CHECK_TOKEN_ERROR(b64("{\"other\": 5}"), "parsed value=");
    CHECK_TOKEN_ERROR(b64("{\"offset\": null}"), "parsed value=");
    CHECK_TOKEN_ERROR(b64("{\"offset\": \"abc\"}"), "not stringable");
    CHECK_TOKEN_ERROR(b64("{\"offset\": 1.5}"), "not stringable");
    CHECK_TOKEN_ERROR(b64("{\"offset\": [1]}"), "not stringable");
    CHECK_TOKEN_ERROR(b64("{\"offset\": -5}"), "must not be negative");
    mfd_arena_free(arena);
}

/* get-history's tokens: the offset token plus members (its seek position),
 * still read by any offset-token reader; fields come back only with a valid
 * offset. */
static void test_offset_page_tokens_with_fields(void) {
    arena = mfd_arena_new();
    json_t *fields =
        json_pack("{s:[I, I, f, b]}", "after", (json_int_t)1700000000000, (json_int_t)-3, 0.1, 0);
    char *token = mfd_page_token_encode_fields(arena, 25000, fields);
    json_decref(fields);
    CHECK_STR(token, b64("{\"offset\": 25000, \"after\": [1700000000000, -3, 0.10000000000000001, "
                         "false]}"));
    int64_t offset = -1;
    CHECK(mfd_page_token_decode(token, &offset) == NULL);
    CHECK_INT(offset, 25000);
    json_t *got = NULL;
    CHECK(mfd_page_token_decode_fields(token, &offset, &got) == NULL);
    json_t *after = json_object_get(got, "after");
    CHECK(json_array_size(after) == 4 && json_real_value(json_array_get(after, 2)) == 0.1);
    json_decref(got);
    CHECK_STR(mfd_page_token_encode_fields(arena, 7, NULL), mfd_page_token_encode(arena, 7));
    CHECK(mfd_page_token_decode_fields("eyJvZmZzZXQiOiAxMDAwfQ==", &offset, &got) == NULL);
    CHECK(offset == 1000 && json_object_size(got) == 1);
    json_decref(got);
    json_t *stale = json_object();
    got = stale;
    mfd_err err =
        mfd_page_token_decode_fields(b64("{\"offset\": 0, \"after\": []}"), &offset, &got);
    CHECK(err && err->code == MFD_INVALID_PARAMETER_VALUE && got == NULL);
    mfd_err_free(err);
    json_decref(stale);
    CHECK(mfd_page_token_decode_fields("", &offset, &got) == NULL && offset == 0 && got == NULL);
    mfd_arena_free(arena);
}

static void test_logged_model_page_tokens(void) {
    arena = mfd_arena_new();
    const char *ids[] = {"1", "2"}, *other_ids[] = {"1"};
    mfd_logged_model_order order[] = {{"metrics.acc", false, "ds", NULL}, {"name", true, "", ""}};
    mfd_logged_model_page page = {ids, 2, "metrics.acc > 0.5", order, 2};
    const char *token = mfd_logged_model_token_encode(arena, &page, 150);
    CHECK(token != NULL);
    int64_t offset = -1;
    CHECK(mfd_logged_model_token_decode(token, &page, &offset) == NULL);
    CHECK_INT(offset, 150);
    CHECK(mfd_logged_model_token_decode("", &page, &offset) == NULL && offset == 0);

    mfd_logged_model_page changed = page;
    changed.experiment_ids = other_ids;
    changed.n_experiment_ids = 1;
    mfd_err err = mfd_logged_model_token_decode(token, &changed, &offset);
    CHECK(err && strstr(err->message, "Experiment IDs in the page token"));
    mfd_err_free(err);
    changed = page;
    changed.filter = "metrics.acc > 0.6";
    err = mfd_logged_model_token_decode(token, &changed, &offset);
    CHECK(err && strstr(err->message, "Filter string in the page token"));
    mfd_err_free(err);
    changed = page;
    changed.n_order_by = 1;
    err = mfd_logged_model_token_decode(token, &changed, &offset);
    CHECK(err && strstr(err->message, "Order by in the page token"));
    mfd_err_free(err);
    order[0].ascending = true;
    err = mfd_logged_model_token_decode(token, &page, &offset);
    CHECK(err && strstr(err->message, "Order by in the page token"));
    mfd_err_free(err);
    err = mfd_logged_model_token_decode("%%%%", &page, &offset);
    CHECK(err && err->code == MFD_INVALID_PARAMETER_VALUE);
    mfd_err_free(err);
    err = mfd_logged_model_token_decode(b64("[]"), &page, &offset);
    CHECK(err && err->code == MFD_INVALID_PARAMETER_VALUE);
    mfd_err_free(err);

    /* An empty filter and order_by are JSON nulls on both sides. */
    mfd_logged_model_page plain = {ids, 1, "", NULL, 0};
    token = mfd_logged_model_token_encode(arena, &plain, 7);
    CHECK_STR(token, b64("{\"experiment_ids\": [\"1\"], \"filter_string\": null, \"order_by\": "
                         "null, \"offset\": 7}"));
    plain.filter = NULL;
    CHECK(mfd_logged_model_token_decode(token, &plain, &offset) == NULL && offset == 7);
    mfd_arena_free(arena);
}

/* ---- robustness: arbitrary bytes, huge and deep inputs ------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* Every compiler either succeeds with SQL SQLite accepts, or fails cleanly. */
static void fuzz_one(const char *text) {
    const char *order[] = {text};
    mfd_search_input as_filter = {text, NULL, 0}, as_order = {NULL, order, 1};
    static const compile_fn fns[] = {RUNS, EXPS, RMS, MVS};
    static const char *const from[] = {"runs r", "experiments e", "registered_models rm",
                                       "model_versions mv"};
    for (size_t i = 0; i < 4; i++) {
        const mfd_search_input *inputs[] = {&as_filter, &as_order};
        for (size_t k = 0; k < 2; k++) {
            mfd_search_sql s;
            mfd_err err = fns[i](arena, inputs[k], &s);
            if (err) {
                CHECK(err->code == MFD_INVALID_PARAMETER_VALUE && err->message);
                mfd_err_free(err);
                continue;
            }
            const char *ids = db_ids("1", from[i], &s);
            if (strncmp(ids, "SQL ERROR", 9) == 0) {
                fprintf(stderr, "fuzz input [%s] gave bad SQL: %s\n", text, ids);
                mfd_test_failed_checks++;
            }
        }
    }
    mfd_logged_model_order lm_order = {text, true, text, NULL};
    mfd_logged_model_dataset dataset = {text, text};
    mfd_logged_model_search_input lm = {text, &lm_order, 1, &dataset, 1};
    mfd_search_sql s;
    mfd_err err = mfd_search_logged_models(arena, &lm, &s);
    if (err)
        mfd_err_free(err);
    else if (strncmp(db_ids("1", "logged_models lm", &s), "SQL ERROR", 9) == 0)
        mfd_test_failed_checks++;
    int64_t offset;
    mfd_err_free(mfd_page_token_decode(text, &offset));
}

static void test_fuzz_never_crashes(void) {
    setup();
    static const char *const pieces[] = {"metrics.",
                                         "params.",
                                         "tags.",
                                         "dataset.",
                                         "attribute.",
                                         "`",
                                         "\"",
                                         "'",
                                         "(",
                                         ")",
                                         ",",
                                         ";",
                                         " ",
                                         "AND ",
                                         " and ",
                                         "=",
                                         "!=",
                                         "<=",
                                         ">",
                                         "LIKE ",
                                         "ILIKE ",
                                         "IN ",
                                         "NOT ",
                                         "run_id",
                                         "name",
                                         "a",
                                         "B",
                                         "1",
                                         "-2.5e3",
                                         ".",
                                         "\\",
                                         "\t",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xff",
                                         "''",
                                         "``",
                                         "%",
                                         "start_time",
                                         "version_number",
                                         "DESC",
                                         "asc",
                                         "mlflow.prompt.is_prompt",
                                         "true"};
    size_t n_pieces = sizeof pieces / sizeof pieces[0];
    char buf[256];
    for (int round = 0; round < 3000; round++) {
        size_t len = 0, n = next_random() % 12;
        for (size_t k = 0; k < n; k++) {
            const char *p = pieces[next_random() % n_pieces];
            size_t pl = strlen(p);
            if (len + pl >= sizeof buf)
                break;
            memcpy(buf + len, p, pl);
            len += pl;
        }
        buf[len] = '\0';
        fuzz_one(buf);
        for (size_t k = 0; k < len && k < 40; k++) /* and raw bytes, NUL-free */
            buf[k] = (char)(1 + next_random() % 255);
        fuzz_one(buf);
    }
    static const char *const valid[] = {
        "metrics.a > 1 AND params.b = 'x' AND tags.`c d` ILIKE '%e' AND run_id IN ('f')",
        "dataset.context IN ('x', 'y') AND created > 1.5 AND name LIKE 'a'",
        "tags.`mlflow.prompt.is_prompt` = 'true' AND run_id IN ('a') AND version_number > 1"};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        fuzz_one(valid[i]);
    teardown();
}

static void test_huge_and_deep_inputs(void) {
    setup();
    size_t big = 1 << 20;
    char *text = malloc(big + 1);
    memset(text, '(', big);
    text[big] = '\0';
    CHECK_ERROR(RUNS, text, NO_ORDER, "too long"); /* token count is capped */
    text[100] = '\0';
    CHECK_ERROR(RUNS, text, NO_ORDER, "Invalid clause(s)"); /* no recursion */
    text[100] = '(';
    memset(text, 'a', big);
    CHECK_ERROR(RUNS, text, NO_ORDER, "Invalid clause(s)");
    text[0] = '\'';
    CHECK_ERROR(RUNS, text, NO_ORDER, "Invalid clause(s)"); /* unterminated, 1 MB */
    mfd_search_input in = {text, NULL, 0};
    mfd_search_sql out;
    mfd_err err = mfd_search_runs(arena, &in, &out);
    CHECK(err && strlen(err->message) < 400); /* messages quote a bounded excerpt */
    mfd_err_free(err);
    /* Many unclosed quotes: each string's escape reading ran to the end of the input
     * before falling back (quadratic: 200,000 quotes took 40 s); linear now. */
    static const char quotes[] = {'\'', '"', '`'};
    for (size_t q = 0; q < 3; q++) {
        memset(text, quotes[q], big);
        text[big] = '\0';
        clock_t t0 = clock();
        in = (mfd_search_input){text, NULL, 0};
        err = mfd_search_runs(arena, &in, &out);
        double seconds = (double)(clock() - t0) / CLOCKS_PER_SEC;
        CHECK(err != NULL);
        mfd_err_free(err);
        if (seconds >= 2)
            fprintf(stderr, "%zu MB of %c took %.1f s to lex\n", big >> 20, quotes[q], seconds);
        CHECK(seconds < 2);
    }

    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    for (int i = 0; i < 201; i++)
        mfd_strbuf_appendf(&sb, "%smetrics.m%d > %d", i ? " AND " : "", i, i);
    CHECK_ERROR(RUNS, sb.data, NO_ORDER, "Too many clauses");
    mfd_strbuf_init(&sb, arena);
    for (int i = 0; i < 200; i++)
        mfd_strbuf_appendf(&sb, "%smetrics.m%d > %d", i ? " AND " : "", i, i);
    CHECK_STR(runs(sb.data, NO_ORDER), ""); /* the largest allowed filter still runs */
    mfd_strbuf_init(&sb, arena);
    mfd_strbuf_append(&sb, "run_id IN (");
    for (int i = 0; i < 40000; i++)
        mfd_strbuf_appendf(&sb, "%s'r%d'", i ? "," : "", i);
    mfd_strbuf_append(&sb, ")");
    CHECK_ERROR(RUNS, sb.data, NO_ORDER, "too large");
    /* a search at the limit whose PostgreSQL window would pass it: no window, no error */
    mfd_strbuf_init(&sb, arena);
    mfd_strbuf_append(&sb, "run_id IN (");
    for (int i = 0; i < 29999; i++)
        mfd_strbuf_appendf(&sb, "%s'r%d'", i ? "," : "", i);
    mfd_strbuf_append(&sb, ")");
    mfd_search_sql at_limit = COMPILE(RUNS_PG, sb.data, ORDER("metrics.m"));
    CHECK_INT(at_limit.params.count, 30000);
    CHECK(at_limit.window == NULL);
    free(text);
    teardown();
}

MFD_TEST_MAIN(MFD_TEST(test_identifier_split_and_quoting),
              MFD_TEST(test_values_are_taken_literally), MFD_TEST(test_grammar_errors),
              MFD_TEST(test_in_lists_keep_lower_case_only), MFD_TEST(test_unicode_whitespace),
              MFD_TEST(test_runs_filters_execute), MFD_TEST(test_runs_order_by_execute),
              MFD_TEST(test_experiments), MFD_TEST(test_registered_models),
              MFD_TEST(test_model_versions), MFD_TEST(test_logged_models),
              MFD_TEST(test_offset_page_tokens), MFD_TEST(test_offset_page_tokens_with_fields),
              MFD_TEST(test_logged_model_page_tokens), MFD_TEST(test_fuzz_never_crashes),
              MFD_TEST(test_huge_and_deep_inputs))
