/* store/run_cache_data.h: the run-search cache's search gives the SQL's
 * rows and order (compile_runs.c): a clause is met only by a run with the
 * key; metric order keys put values, then NaN, then absent, both ways;
 * start_time sorts NULL last; ties fall to start_time DESC, then run id;
 * lifecycle stages, removed runs, pages and the top-k path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/run_cache_data.h"
#include "test.h"

static const char *id(int i) {
    static char buf[8][33];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, 33, "%032x", i);
    return b;
}

/* runs 0..n-1, start_time = i (run 3 has none), all active */
static rc_experiment *runs(int n) {
    rc_experiment *e = rc_experiment_new(7);
    for (int i = 0; i < n; i++)
        rc_set_run(e, id(i), i != 3, i, "active");
    return e;
}

static void metric(rc_experiment *e, const char *key, int run, double v, bool nan) {
    rc_column *c = rc_column_of(e, MFD_PLAN_METRIC, key, true);
    rc_set_number(e, c, rc_slot(e, id(run), false), v, nan);
}

static void text(rc_experiment *e, mfd_run_plan_table t, const char *key, int run, const char *v) {
    rc_column *c = rc_column_of(e, t, key, true);
    rc_set_text(e, c, rc_slot(e, id(run), false), v);
}

/* The page as run numbers, "a,b,c". */
static const char *page(rc_experiment *e, const mfd_run_plan *plan, bool active, bool deleted,
                        int64_t offset, int64_t limit, size_t *total) {
    static char out[512];
    mfd_arena *arena = mfd_arena_new();
    size_t n, t;
    const char **ids = rc_select(&e, 1, plan, active, deleted, offset, limit, arena, &n, &t);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%ld", i ? "," : "",
                 strtol(ids[i], NULL, 16));
    mfd_arena_free(arena);
    if (total)
        *total = t;
    return out;
}

static void test_metric_order_ranks_values_then_nan_then_absent(void) {
    rc_experiment *e = runs(6);
    rc_column_of(e, MFD_PLAN_METRIC, "m", true);
    metric(e, "m", 0, 0.5, false);
    metric(e, "m", 1, 0.0, true); /* NaN, stored as 0 */
    metric(e, "m", 2, 0.9, false);
    metric(e, "m", 4, -1, false);
    /* 3 and 5 have no value */
    mfd_run_plan_order desc = {true, "m", false}, asc = {true, "m", true};
    mfd_run_plan p = {NULL, 0, &desc, 1};
    /* absent ones: start_time DESC, run 3 (no start_time) last */
    CHECK_STR(page(e, &p, true, false, 0, 100, NULL), "2,0,4,1,5,3");
    p.order = &asc;
    CHECK_STR(page(e, &p, true, false, 0, 100, NULL), "4,0,2,1,5,3");
    rc_experiment_free(e);
}

static void test_clauses_need_the_key_and_compare_stored_values(void) {
    rc_experiment *e = runs(6);
    metric(e, "acc", 0, 0.7, false);
    metric(e, "acc", 1, 0.0, true);
    metric(e, "acc", 2, 0.2, false);
    text(e, MFD_PLAN_PARAM, "model", 0, "m1");
    text(e, MFD_PLAN_PARAM, "model", 1, "m1");
    text(e, MFD_PLAN_PARAM, "model", 2, "m2");
    text(e, MFD_PLAN_TAG, "team", 4, "t");
    mfd_run_plan_clause ne = {MFD_PLAN_PARAM, "model", MFD_PLAN_NE, 0, "m1"};
    mfd_run_plan p = {&ne, 1, NULL, 0};
    /* != keeps only runs with the key */
    CHECK_STR(page(e, &p, true, false, 0, 100, NULL), "2");
    mfd_run_plan_clause le0[] = {{MFD_PLAN_METRIC, "acc", MFD_PLAN_LE, 0.0, NULL}};
    p = (mfd_run_plan){le0, 1, NULL, 0};
    CHECK_STR(page(e, &p, true, false, 0, 100, NULL), "1"); /* NaN compares as its stored 0 */
    mfd_run_plan_clause both[] = {{MFD_PLAN_METRIC, "acc", MFD_PLAN_GT, 0.1, NULL},
                                  {MFD_PLAN_PARAM, "model", MFD_PLAN_EQ, 0, "m1"}};
    p = (mfd_run_plan){both, 2, NULL, 0};
    CHECK_STR(page(e, &p, true, false, 0, 100, NULL), "0");
    mfd_run_plan_clause none = {MFD_PLAN_TAG, "team", MFD_PLAN_EQ, 0, "x"};
    p = (mfd_run_plan){&none, 1, NULL, 0};
    CHECK_STR(page(e, &p, true, false, 0, 100, NULL), "");
    rc_experiment_free(e);
}

static void test_start_time_order_and_stages(void) {
    rc_experiment *e = runs(5);
    rc_set_run(e, id(1), true, 1, "deleted");
    rc_set_run(e, id(2), true, 2, "archived?"); /* in neither view */
    mfd_run_plan_order asc = {false, NULL, true};
    mfd_run_plan p = {NULL, 0, &asc, 1};
    CHECK_STR(page(e, &p, true, false, 0, 100, NULL), "0,4,3");
    CHECK_STR(page(e, &p, false, true, 0, 100, NULL), "1");
    CHECK_STR(page(e, &p, true, true, 0, 100, NULL), "0,1,4,3");
    rc_remove_run(e, id(4));
    CHECK_STR(page(e, &p, true, true, 0, 100, NULL), "0,1,3");
    CHECK(rc_slot(e, id(4), false) >= 0 && (e->flags[rc_slot(e, id(4), false)] & RC_GONE));
    rc_set_run(e, id(4), false, 0, "active"); /* back, without start_time: ties with 3 */
    CHECK_STR(page(e, &p, true, false, 0, 100, NULL), "0,3,4");
    rc_experiment_free(e);
}

/* Ties on the order's value: start_time DESC, then the run id. */
static void test_ties_and_pages_and_top_k(void) {
    rc_experiment *e = rc_experiment_new(1);
    for (int i = 0; i < 1000; i++) {
        rc_set_run(e, id(i), true, i % 10, "active");
        metric(e, "m", i, (double)(i % 7), false);
    }
    mfd_run_plan_order desc = {true, "m", false};
    mfd_run_plan p = {NULL, 0, &desc, 1};
    size_t total = 0;
    /* value 6: runs 6, 13, 20, ... ; start_time i % 10 DESC; then id */
    CHECK_STR(page(e, &p, true, false, 0, 4, &total), "69,139,209,279");
    CHECK_INT(total, 1000);
    /* the same rows whether the top-k heap or the whole sort made them */
    char first[512];
    snprintf(first, sizeof first, "%s", page(e, &p, true, false, 0, 40, NULL));
    char all[512];
    snprintf(all, sizeof all, "%s", page(e, &p, true, false, 20, 20, NULL));
    CHECK(strstr(first, all) != NULL);
    /* the last: value 0, start_time 0, the highest id of those */
    CHECK_STR(page(e, &p, true, false, 999, 5, NULL), "980");
    CHECK_STR(page(e, &p, true, false, 1000, 5, NULL), "");
    CHECK_STR(page(e, &p, true, false, INT64_MAX - 2, 5, NULL), "");
    rc_experiment_free(e);
}

static void test_values_replaced_and_cleared(void) {
    rc_experiment *e = runs(3);
    text(e, MFD_PLAN_TAG, "t", 0, "a");
    text(e, MFD_PLAN_TAG, "t", 0, "b");
    rc_column *c = rc_column_of(e, MFD_PLAN_TAG, "t", false);
    mfd_run_plan_clause eq = {MFD_PLAN_TAG, "t", MFD_PLAN_EQ, 0, "b"};
    mfd_run_plan p = {&eq, 1, NULL, 0};
    CHECK_STR(page(e, &p, true, false, 0, 10, NULL), "0");
    rc_clear_value(e, c, rc_slot(e, id(0), false));
    CHECK_STR(page(e, &p, true, false, 0, 10, NULL), "");
    /* a slot beyond the column's room reads as absent */
    for (int i = 3; i < 200; i++)
        rc_set_run(e, id(i), true, i, "active");
    CHECK_STR(page(e, &p, true, false, 0, 10, NULL), "");
    CHECK(rc_has_columns(e, &p));
    mfd_run_plan_clause other = {MFD_PLAN_PARAM, "t", MFD_PLAN_EQ, 0, "b"};
    p.clauses = &other;
    CHECK(!rc_has_columns(e, &p));
    rc_experiment_free(e);
}

/* Reading runs again: those the database still has are set (unmarked), the
 * others removed. */
static void test_marked_runs_not_read_again_are_removed(void) {
    rc_experiment *e = runs(4);
    rc_mark_run(e, id(1));
    rc_mark_run(e, id(2));
    rc_mark_run(e, "not held");
    rc_set_run(e, id(1), true, 1, "active");
    rc_remove_if_marked(e, id(1));
    rc_remove_if_marked(e, id(2));
    rc_remove_if_marked(e, "not held");
    CHECK(!(e->flags[rc_slot(e, id(1), false)] & (RC_GONE | RC_MARK)));
    CHECK(e->flags[rc_slot(e, id(2), false)] & RC_GONE);
    CHECK(rc_slot(e, "not held", false) < 0);
    mfd_run_plan_order asc = {false, NULL, true};
    mfd_run_plan p = {NULL, 0, &asc, 1};
    CHECK_STR(page(e, &p, true, false, 0, 10, NULL), "0,1,3");
    rc_experiment_free(e);
}

static void test_odd_run_ids_are_left_to_the_database(void) {
    rc_experiment *e = runs(2);
    rc_column_of(e, MFD_PLAN_METRIC, "m", true);
    mfd_run_plan_order o = {true, "m", true};
    mfd_run_plan p = {NULL, 0, &o, 1};
    CHECK(rc_has_columns(e, &p));
    rc_set_run(e, "Run-Imported", true, 1, "active");
    CHECK(!rc_has_columns(e, &p));
    rc_experiment_free(e);
}

MFD_TEST_MAIN(MFD_TEST(test_metric_order_ranks_values_then_nan_then_absent),
              MFD_TEST(test_clauses_need_the_key_and_compare_stored_values),
              MFD_TEST(test_start_time_order_and_stages), MFD_TEST(test_ties_and_pages_and_top_k),
              MFD_TEST(test_values_replaced_and_cleared),
              MFD_TEST(test_marked_runs_not_read_again_are_removed),
              MFD_TEST(test_odd_run_ids_are_left_to_the_database))
