/* runs_search.c — POST runs/search (rest-api.md §5.9, search-grammar.md §2,
 * §6, §9): the filter and order_by compiled by src/search, the experiment
 * and view-type scope, offset page tokens, and the page of runs with their
 * data, dataset inputs and model outputs. */
#include <stdlib.h>

#include "runs_internal.h"
#include "search/search.h"
#include "store/experiments.h"
#include "store/run_cache.h"
#include "validate.h"

enum { DEFAULT_MAX_RESULTS = 1000, MAX_RESULTS_LIMIT = 50000 };

/* Experiments with at most this many runs (any lifecycle stage) have their
 * PostgreSQL search restricted to their runs (mfd_search_scope.only_its_runs):
 * starting from 2,000 runs costs at most ~25 ms of lookups, less than the
 * filter's runs in a database where other experiments share its keys. */
enum { SMALL_SCOPE_RUNS = 2000 };

/* SQLite: experiments whose runs are at most a quarter of the database's,
 * and at most 50,000, have their search start from their runs
 * (mfd_search_scope.by_experiment), unless the filter's lists start from
 * fewer rows than that (a run's name, a value few runs have: reading them
 * from the key's index is cheaper than looking every run up), or it names
 * run_id (its primary key is cheaper still). Each count reads at most
 * 50,000 index entries (≈ 2 ms). A larger share is read faster by the
 * whole-table form. */
enum { BY_EXPERIMENT_SHARE = 4, BY_EXPERIMENT_MAX_RUNS = 50000 };

/* Whether a SQLite search over these experiments starts from their runs. */
static mfd_err sqlite_by_experiment(mfd_conn *conn, mfd_arena *arena, const int64_t *ids, size_t n,
                                    const mfd_search_sql *sql, bool *by_experiment) {
    int64_t bound = 0, runs = 0, rows = 0;
    *by_experiment = false;
    mfd_err err = mfd_runs_sqlite_bound(conn, &bound);
    if (err || n == 0 || sql->names_run_id)
        return err;
    int64_t at_most = bound / BY_EXPERIMENT_SHARE;
    if (at_most > BY_EXPERIMENT_MAX_RUNS)
        at_most = BY_EXPERIMENT_MAX_RUNS;
    if ((err = mfd_runs_count_in_experiments(conn, arena, ids, n, at_most + 1, &runs)) ||
        runs > at_most)
        return err;
    if (sql->first_clause &&
        (err = mfd_runs_count_rows(conn, arena, sql->first_clause->where,
                                   &sql->first_clause->params, runs + 1, &rows)))
        return err;
    *by_experiment = !sql->first_clause || rows > runs;
    return NULL;
}

/* The compiled SQL of one form of the search into the store's request, with
 * the faster forms to try before it (mfd_search_sql.window), each on the
 * same scope and page. */
static void set_query(mfd_arena *arena, mfd_run_search *search, const mfd_search_sql *sql) {
    search->from = sql->from;
    search->n_join_params = sql->n_join_params;
    search->where = sql->where;
    search->order_by = sql->order_by;
    search->params = &sql->params;
    search->window = NULL;
    if (sql->window) {
        mfd_run_search *window = mfd_arena_alloc(arena, sizeof *window);
        *window = *search;
        set_query(arena, window, sql->window);
        search->window = window;
    }
}

/* Each part of the page as the store loads it (mfd_runs_search). */
static void write_runs(void *page, const mfd_run *runs, size_t n) {
    for (size_t i = 0; i < n; i++)
        mfd_api_append_run(mfd_msg_page_item(page), &runs[i], true);
}

mfd_err mfd_api_runs_search(mfd_request *req, mfd_response *res) {
    const char **experiment_ids, **order_by, *filter, *page_token;
    size_t n_experiment_ids, n_order_by;
    bool has_view, has_max;
    int view = 1;
    int64_t max_results = DEFAULT_MAX_RESULTS;
    mfd_err err;
    if ((err = mfd_msg_string_list(req, "experiment_ids", &experiment_ids, &n_experiment_ids)) ||
        (err = mfd_msg_string(req, "filter", &filter)) ||
        (err = mfd_msg_enum(req, "run_view_type", mfd_msg_view_types, &has_view, &view)) ||
        (err = mfd_msg_int64(req, "max_results", &has_max, &max_results)) ||
        (err = mfd_msg_string_list(req, "order_by", &order_by, &n_order_by)) ||
        (err = mfd_msg_string(req, "page_token", &page_token)))
        return err;
    if (!has_max)
        max_results = DEFAULT_MAX_RESULTS;
    if (max_results > MAX_RESULTS_LIMIT)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid value %lld for parameter 'max_results' supplied. It must be at "
                           "most %d",
                           (long long)max_results, MAX_RESULTS_LIMIT);
    if (max_results < 1)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid value %lld for parameter 'max_results' supplied. It must be a "
                           "positive integer",
                           (long long)max_results);
    if (!has_view)
        view = 1;

    int64_t *ids;
    mfd_search_scope scope = {0};
    if ((err = mfd_search_experiment_ids(req->arena, mfd_db_dialect(req->app->tracking_db),
                                         experiment_ids, n_experiment_ids, &ids,
                                         &scope.n_experiment_ids)))
        return err;
    scope.experiment_ids = ids;
    scope.experiment_indexes = req->app->experiment_indexes;
    mfd_search_input input = {filter, order_by, n_order_by};
    mfd_search_sql sql;
    int64_t offset;
    /* Same rows either way; PostgreSQL plans the candidates-first form better. */
    bool postgres =
        req->app->tracking_db && mfd_db_dialect(req->app->tracking_db) == MFD_DIALECT_POSTGRES;
    /* the page sizes PostgreSQL's walks; a bad token is reported after the filter's errors */
    mfd_err token_err = mfd_page_token_decode(page_token, &offset);
    if (!token_err && offset >= 0 && offset <= INT64_MAX - max_results)
        scope.page_rows = offset + max_results;
    err = postgres ? mfd_search_runs_candidates_first(req->arena, &input, &scope, &sql)
                   : mfd_search_runs(req->arena, &input, &sql);
    if (err) {
        mfd_err_free(token_err);
        return err;
    }
    if (token_err)
        return token_err;
    if (offset < 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid page token: the offset must not be negative");

    /* room for up to 100 runs (500-1000 bytes each); a larger page grows in
     * place (realloc) */
    mfd_msg_page page;
    mfd_msg_page_begin(req, &page, "runs", (size_t)(max_results < 100 ? max_results : 100) * 768);
    size_t count = 0;
    mfd_conn *conn;
    if (!sql.match_nothing) {
        if ((err = mfd_api_conn(req, &conn)))
            return err;
        /* A search the run-search cache holds the data of: the page is
         * picked in memory, and only its runs are read. */
        const char **page_ids = NULL;
        size_t n_page_ids = 0;
        bool cached = false;
        if (postgres && req->app->run_cache && sql.plan) {
            mfd_run_cache_query q = {.plan = sql.plan,
                                     .experiment_ids = ids,
                                     .n_experiment_ids = scope.n_experiment_ids,
                                     .active = view == 1 || view == 3,
                                     .deleted = view == 2 || view == 3,
                                     .offset = offset,
                                     .limit = max_results};
            if ((err = mfd_run_cache_page(req->app->run_cache, conn, req->arena, &q, &page_ids,
                                          &n_page_ids, &cached)))
                return err;
        }
        /* A filter on metrics/params/tags over experiments with few runs:
         * restricted to their runs, not the filter's runs in every experiment. */
        int64_t scope_runs = 0;
        if (!cached && postgres && sql.has_key_clauses && scope.n_experiment_ids &&
            (!scope.experiment_indexes || sql.outside_experiment_indexes)) {
            if ((err = mfd_runs_count_in_experiments(conn, req->arena, ids, scope.n_experiment_ids,
                                                     SMALL_SCOPE_RUNS + 1, &scope_runs)))
                return err;
            /* with the per-experiment indexes, only for clauses none of
             * them holds (LIKE, !=, long values), which would read every
             * experiment's entries: the runs are counted only then */
            scope.only_its_runs = scope_runs <= SMALL_SCOPE_RUNS;
            scope.experiment_indexes = scope.experiment_indexes && !scope.only_its_runs;
            if (scope.only_its_runs &&
                (err = mfd_search_runs_candidates_first(req->arena, &input, &scope, &sql)))
                return err;
        }
        if (!cached && !postgres && scope.experiment_indexes) {
            if ((err = sqlite_by_experiment(conn, req->arena, ids, scope.n_experiment_ids, &sql,
                                            &scope.by_experiment)))
                return err;
            if (scope.by_experiment && sql.has_key_clauses &&
                (err = mfd_search_runs_in_scope(req->arena, &input, &scope, &sql)))
                return err;
        }
        mfd_run_search search = {0};
        search.by_experiment = scope.by_experiment;
        search.n_experiment_ids = scope.n_experiment_ids;
        search.experiment_ids = ids;
        search.active = view == 1 || view == 3;
        search.deleted = view == 2 || view == 3;
        search.offset = offset;
        search.limit = max_results;
        set_query(req->arena, &search, &sql);
        if (cached) {
            search.page_ids = page_ids;
            search.n_page_ids = n_page_ids;
            search.window = NULL;
        }
        if ((err = mfd_runs_search(conn, req->arena, &search, write_runs, &page, &count)))
            return err;
    }
    /* upstream hands out a token whenever the page is full */
    const char *token = (int64_t)count == max_results
                            ? mfd_page_token_encode(req->arena, offset + max_results)
                            : NULL;
    mfd_msg_page_end(&page, res, token);
    return NULL;
}
