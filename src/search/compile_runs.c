/* compile_runs.c — POST runs/search (search-grammar.md §2): filter clauses
 * and order_by elements compiled against `runs r`.
 *
 * The metric/param/tag clauses (and run_name, the tag mlflow.runName) of a
 * filter become one list of run ids, `r.run_uuid IN (...)`: each clause is
 * met by the run's row of its table for its key; (key, run_uuid) is the
 * primary key, so a run lacking the key never matches (not even for `!=`)
 * and no run comes twice. The clause most likely to keep few runs (=, then
 * LIKE, then ranges, then !=) is scanned on its key, each other one is a
 * primary-key probe of the runs still in, so `metrics.a > 0.5 and params.m =
 * 'x'` reads only the runs with m = 'x': over 10,000 runs half the work of
 * one list per clause. SQLite gets the lists nested, the scanned one
 * innermost (it builds each before the next probes it, one table at a time);
 * PostgreSQL gets them joined (it orders the join from its statistics) and,
 * when the order starts with metric/param/tag keys, reads them with the list
 * before runs (mfd_search_runs_from_and_order); in a database with
 * mlflowd's per-experiment indexes, the lists (and the walks, in one
 * experiment) read only the scope's entries
 * (mfd_search_runs_indexed_experiments). Other attributes are plain conditions
 * on r, dataset clauses a list of their own (several inputs per run). Each
 * metric/param/tag order_by key is one LEFT JOIN on its table's primary key —
 * unique, so no run is duplicated — giving rank and value from one lookup.
 * Ordering puts a "missing" rank before each value (metrics: 0 value, 1 NaN,
 * 2 absent) so absent keys sort last both ways, then start_time DESC unless
 * already ordered on, then run_uuid.
 *
 * This file holds the whole compile in order; its parts are in
 * compile_runs_*.c, listed in compile_runs.h. */
#include "compile_runs.h"

#include <string.h>

/* `column <cmp> value` for a string clause, list or scalar. */
static void string_condition(mfd_search_builder *w, const char *column, mfd_search_cmp cmp,
                             const char *text, const char *const *items, size_t n_items) {
    if (cmp == MFD_CMP_IN || cmp == MFD_CMP_NOT_IN)
        mfd_search_list_cmp(w, column, cmp, items, n_items);
    else
        mfd_search_text_cmp(w, column, cmp, text);
}

/* Checks one clause; metric/param/tag/run_name clauses go to `keys` (the
 * caller joins them), the others are written to `w`. */
static mfd_err compile_clause(mfd_arena *arena, const mfd_search_clause *c, mfd_search_builder *w,
                              key_clause *keys, size_t *n_keys, bool *names_run_id) {
    run_entity entity = RUN_ATTRIBUTE;
    const char *key = NULL, *text = NULL, **items = NULL;
    const run_attribute *attr = NULL;
    size_t n_items = 0;
    mfd_err err = mfd_search_runs_identifier(arena, c->identifier, false, &entity, &key, &attr);
    if (!err)
        err = mfd_search_runs_clause_value(arena, c, entity, key, attr, &text, &items, &n_items);
    mfd_search_cmp cmp = mfd_search_comparator(c->comparator, true);
    if (!err)
        err = mfd_search_runs_check_comparator(arena, c, entity, attr, cmp);
    if (err)
        return err;

    key_clause *k = &keys[*n_keys];
    *k = (key_clause){.key = key, .cmp = cmp, .text = text};
    switch (entity) {
    case RUN_METRIC:
        k->table = "latest_metrics";
        k->number = &c->value.number;
        break;
    case RUN_PARAM:
        k->table = "params";
        break;
    case RUN_TAG:
        k->table = "tags";
        break;
    case RUN_ATTRIBUTE:
        if (strcmp(attr->canonical, "run_name") == 0) {
            k->table = "tags";
            k->key = "mlflow.runName";
            break;
        }
        *names_run_id = *names_run_id || strcmp(attr->canonical, "run_id") == 0;
        mfd_search_builder_and(w);
        if (attr->numeric)
            mfd_search_number_cmp(w, attr->column, cmp, &c->value.number, true);
        else
            string_condition(w, attr->column, cmp, text, items, n_items);
        return NULL;
    case RUN_DATASET: {
        bool context = strcmp(key, "context") == 0;
        mfd_search_builder_and(w);
        /* One list of the runs, built once: a subquery correlated on the run
         * made SQLite scan every dataset input once per run of the scope
         * (~12 s over 68,000 runs and 10,000 inputs). */
        mfd_search_emit(w, "r.run_uuid IN (SELECT i.destination_id FROM inputs i JOIN datasets d "
                           "ON d.dataset_uuid = i.source_id");
        if (context)
            mfd_search_emit(w, " JOIN input_tags it ON it.input_uuid = i.input_uuid");
        mfd_search_emit(w, " WHERE i.source_type = ");
        mfd_search_bind_text(w, "DATASET");
        mfd_search_emit(w, " AND i.destination_type = ");
        mfd_search_bind_text(w, "RUN");
        if (context) {
            mfd_search_emit(w, " AND it.name = ");
            mfd_search_bind_text(w, "mlflow.data.context");
        }
        mfd_search_emit(w, " AND ");
        string_condition(w,
                         context                    ? "it.value"
                         : strcmp(key, "name") == 0 ? "d.name"
                                                    : "d.digest",
                         cmp, text, items, n_items);
        mfd_search_emit(w, ")");
        return NULL;
    }
    }
    k->rank = mfd_search_runs_key_clause_rank(entity == RUN_METRIC, cmp);
    (*n_keys)++;
    return NULL;
}

/* Whether a clause on a metric's value keeps a NaN, which is stored as 0
 * (MLflow's storage; the comparison is on the stored value). */
static bool keeps_nan(const key_clause *k) {
    double v = k->number->f64;
    switch (k->cmp) {
    case MFD_CMP_EQ:
        return 0.0 == v;
    case MFD_CMP_NE:
        return 0.0 != v;
    case MFD_CMP_LT:
        return 0.0 < v;
    case MFD_CMP_LE:
        return 0.0 <= v;
    case MFD_CMP_GT:
        return 0.0 > v;
    case MFD_CMP_GE:
        return 0.0 >= v;
    default:
        return true;
    }
}

/* The key clauses on metric `key` (`on`) and the others (`rest`), each in
 * their order. */
static void split_on_metric(mfd_arena *arena, const key_clause *keys, size_t n_keys,
                            const char *key, key_clause **on, size_t *n_on, key_clause **rest,
                            size_t *n_rest) {
    *on = mfd_arena_calloc(arena, n_keys ? n_keys : 1, sizeof **on);
    *rest = mfd_arena_calloc(arena, n_keys ? n_keys : 1, sizeof **rest);
    *n_on = *n_rest = 0;
    for (size_t i = 0; i < n_keys; i++) {
        if (keys[i].number && strcmp(keys[i].key, key) == 0)
            (*on)[(*n_on)++] = keys[i];
        else
            (*rest)[(*n_rest)++] = keys[i];
    }
}

/* The search as the run-search cache takes it, or NULL (mfd_search_sql.plan). */
static const mfd_run_plan *cache_plan(mfd_arena *arena, const mfd_search_builder *where,
                                      const key_clause *keys, size_t n_keys, const order_key *order,
                                      size_t n_order) {
    if (where->n_terms)
        return NULL; /* attribute or dataset clauses */
    bool metric_order = false;
    for (size_t i = 0; i < n_order; i++) {
        if (order[i].entity != RUN_METRIC &&
            !(order[i].entity == RUN_ATTRIBUTE && strcmp(order[i].key, "start_time") == 0))
            return NULL;
        metric_order = metric_order || order[i].entity == RUN_METRIC;
    }
    if (!n_keys && !metric_order)
        return NULL; /* the SQL reads the experiment's runs in order from an index */
    mfd_run_plan *plan = mfd_arena_calloc(arena, 1, sizeof *plan);
    mfd_run_plan_clause *clauses = mfd_arena_calloc(arena, n_keys ? n_keys : 1, sizeof *clauses);
    mfd_run_plan_order *orders = mfd_arena_calloc(arena, n_order ? n_order : 1, sizeof *orders);
    for (size_t i = 0; i < n_keys; i++) {
        const key_clause *k = &keys[i];
        if (k->cmp > MFD_CMP_GE)
            return NULL; /* LIKE, ILIKE */
        clauses[i] =
            (mfd_run_plan_clause){.table = k->number                         ? MFD_PLAN_METRIC
                                           : strcmp(k->table, "params") == 0 ? MFD_PLAN_PARAM
                                                                             : MFD_PLAN_TAG,
                                  .key = k->key,
                                  .cmp = (mfd_run_plan_cmp)k->cmp,
                                  .number = k->number ? k->number->f64 : 0,
                                  .text = k->text};
    }
    for (size_t i = 0; i < n_order; i++)
        orders[i] = (mfd_run_plan_order){.metric = order[i].entity == RUN_METRIC,
                                         .key = order[i].key,
                                         .ascending = order[i].ascending};
    *plan = (mfd_run_plan){clauses, n_keys, orders, n_order};
    return plan;
}

static mfd_err compile_runs(mfd_arena *arena, const mfd_search_input *in, bool candidates_first,
                            const mfd_search_scope *scope, mfd_search_sql *out) {
    in = mfd_search_start(in, out);
    mfd_search_clause *clauses;
    size_t n_clauses;
    mfd_err err = mfd_search_parse_filter(arena, in->filter, &clauses, &n_clauses);
    if (err)
        return err;
    mfd_search_builder from, lists, where, order;
    mfd_search_builder_init(&from, arena);
    mfd_search_builder_init(&lists, arena);
    mfd_search_builder_init(&where, arena);
    mfd_search_builder_init(&order, arena);
    key_clause *keys = mfd_arena_calloc(arena, n_clauses ? n_clauses : 1, sizeof *keys);
    size_t n_keys = 0;
    bool names_run_id = false;
    for (size_t i = 0; i < n_clauses; i++)
        if ((err = compile_clause(arena, &clauses[i], &where, keys, &n_keys, &names_run_id)))
            return err;
    order_key *order_keys = NULL;
    size_t n_order_keys = 0;
    if ((err = mfd_search_runs_check_order_by(arena, in, &order_keys, &n_order_keys)))
        return err;
    const mfd_run_plan *plan = cache_plan(arena, &where, keys, n_keys, order_keys, n_order_keys);
    mfd_search_runs_sort_key_clauses(keys, n_keys);
    const mfd_search_scope *exp =
        candidates_first ? mfd_search_runs_indexed_experiments(scope) : NULL;
    if (exp)
        mfd_search_runs_experiment_indexed_first(keys, n_keys);
    /* SQLite: a clause on the first order key's metric tests the row the
     * order joins anyway (o0, the run's one latest_metrics row for the key,
     * the row a list would test), not a list of its own; the join then starts
     * from that metric's entries: `metrics.acc > 0.1` ordered by
     * metrics.acc over 10,000 runs, 16 -> 11 ms. */
    key_clause *listed = keys, *on_order = NULL;
    size_t n_listed = n_keys, n_on_order = 0;
    if (!candidates_first && n_order_keys && order_keys[0].entity == RUN_METRIC)
        split_on_metric(arena, keys, n_keys, order_keys[0].key, &on_order, &n_on_order, &listed,
                        &n_listed);
    size_t first = n_listed < MAX_TABLES_PER_LIST ? n_listed : MAX_TABLES_PER_LIST;
    const mfd_search_scope *only = scope && scope->only_its_runs ? scope : NULL;
    /* A clause on it that keeps no NaN keeps only runs with a number for
     * the metric (absent values fail any comparison): the order is then the
     * value alone, which mlflowd's index on (key, value) gives, so the join
     * walks it and stops once the page is full (the example above, 11 ->
     * 0.2 ms; with the metric's rank first it sorts every matching run). */
    bool values_only = false;
    for (size_t i = 0; i < n_on_order; i++)
        values_only = values_only || !keeps_nan(&on_order[i]);
    bool in_from = mfd_search_runs_from_and_order(&from, &order, order_keys, n_order_keys, listed,
                                                  first, candidates_first, only, exp, values_only);
    if (in_from) {
        mfd_search_builder_and(&lists);
        mfd_search_emit(&lists, "r.run_uuid = s.run_uuid");
    }
    if (!candidates_first && scope && scope->by_experiment)
        mfd_search_runs_key_clause_probes(&lists, listed, n_listed);
    else
        mfd_search_runs_key_clause_lists(&lists, listed, in_from ? first : 0, n_listed,
                                         candidates_first, only, exp);
    for (size_t i = 0; i < n_on_order; i++) {
        mfd_search_builder_and(&lists);
        mfd_search_number_cmp(&lists, "o0.value", on_order[i].cmp, on_order[i].number, false);
    }
    mfd_search_builder_and_all(&lists, &where);
    if ((err = mfd_search_finish_joined(&from, &lists, &order, out)))
        return err;
    out->has_key_clauses = n_keys > 0;
    out->plan = plan;
    out->names_run_id = names_run_id;
    for (size_t i = 0; i < n_keys; i++)
        out->outside_experiment_indexes =
            out->outside_experiment_indexes || !mfd_search_runs_in_experiment_index(&keys[i]);
    if (!candidates_first && n_listed)
        out->first_clause = mfd_search_runs_first_clause_matches(arena, &listed[0]);
    if (candidates_first && !only && n_order_keys && order_keys[0].entity == RUN_METRIC) {
        /* Clauses on the order's metric are tested by the walk itself; the
         * others are the candidates. */
        key_clause *walk, *rest;
        size_t n_walk, n_rest;
        split_on_metric(arena, keys, n_keys, order_keys[0].key, &walk, &n_walk, &rest, &n_rest);
        size_t first_rest = n_rest < MAX_TABLES_PER_LIST ? n_rest : MAX_TABLES_PER_LIST;
        bool scoped = scope && scope->n_experiment_ids > 0;
        if (n_rest || scoped) {
            mfd_search_sql *window = mfd_arena_calloc(arena, 1, sizeof *window);
            /* only an optimisation: a window over the parameter limit is left out */
            mfd_err too_large =
                mfd_search_runs_window(arena, order_keys, n_order_keys, rest, first_rest, n_rest,
                                       walk, n_walk, &where, scope, window);
            out->window = too_large ? NULL : window;
            mfd_err_free(too_large);
            if (out->window && n_rest && scope && scope->page_rows > 0) {
                mfd_search_sql *probe = mfd_arena_calloc(arena, 1, sizeof *probe);
                too_large =
                    mfd_search_runs_probe(arena, order_keys, n_order_keys, rest, n_rest, walk,
                                          n_walk, &where, scope->page_rows, exp, probe);
                window->window = too_large ? NULL : probe;
                mfd_err_free(too_large);
            }
        }
    }
    return NULL;
}

mfd_err mfd_search_runs(mfd_arena *arena, const mfd_search_input *in, mfd_search_sql *out) {
    return compile_runs(arena, in, false, NULL, out);
}

mfd_err mfd_search_runs_in_scope(mfd_arena *arena, const mfd_search_input *in,
                                 const mfd_search_scope *scope, mfd_search_sql *out) {
    return compile_runs(arena, in, false, scope, out);
}

mfd_err mfd_search_runs_candidates_first(mfd_arena *arena, const mfd_search_input *in,
                                         const mfd_search_scope *scope, mfd_search_sql *out) {
    return compile_runs(arena, in, true, scope, out);
}
