/* compile_runs_order.c — a run search's order_by: its elements checked, and
 * the FROM clause and ORDER BY list they make (PostgreSQL's candidates-first
 * subquery included).
 *
 * Invariants: each metric/param/tag order key is one LEFT JOIN on its table's
 * primary key (o<i>, i its place in order_by), so no run is duplicated; each
 * such key sorts on a "missing" rank before its value so absent keys come last
 * both ways; the order always ends with start_time DESC (unless already there)
 * and run_uuid, so it is total. */
#include "compile_runs.h"

#include <string.h>

static const char *order_table(run_entity entity) {
    return entity == RUN_METRIC ? "latest_metrics" : entity == RUN_PARAM ? "params" : "tags";
}

/* Upstream's order_by checks, in its order: parse, identifier, no dataset, no
 * field twice; then at most MFD_SEARCH_MAX_ORDER_KEYS joined keys (upstream
 * has no bound: on SQLite its 64-table join limit fails the query). */
mfd_err mfd_search_runs_check_order_by(mfd_arena *arena, const mfd_search_input *in,
                                       order_key **out, size_t *count) {
    size_t n = in->order_by ? in->n_order_by : 0;
    if (n > MFD_SEARCH_MAX_ORDER_BY)
        return mfd_search_error("Too many order_by fields (at most %d)", MFD_SEARCH_MAX_ORDER_BY);
    order_key *keys = mfd_arena_calloc(arena, n ? n : 1, sizeof *keys);
    for (size_t i = 0; i < n; i++) {
        const char *identifier = NULL;
        order_key *k = &keys[i];
        k->entity = RUN_ATTRIBUTE;
        k->ascending = true;
        mfd_err err = mfd_search_parse_order_by(arena, in->order_by[i], &identifier, &k->ascending);
        if (!err)
            err =
                mfd_search_runs_identifier(arena, identifier, true, &k->entity, &k->key, &k->attr);
        if (err)
            return err;
        if (k->entity == RUN_DATASET)
            return mfd_search_error("Invalid identifier type 'dataset'");
        if (k->attr)
            k->key = k->attr->canonical;
        for (size_t j = 0; j < i; j++)
            if (keys[j].entity == k->entity && strcmp(keys[j].key, k->key) == 0)
                return mfd_search_error("`order_by` contains duplicate fields: %s",
                                        mfd_search_order_by_repr(arena, in->order_by, n));
    }
    size_t joined = 0;
    for (size_t i = 0; i < n; i++)
        joined += keys[i].entity != RUN_ATTRIBUTE;
    if (joined > MFD_SEARCH_MAX_ORDER_KEYS)
        return mfd_search_error("Too many metrics, params and tags in order_by (at most %d)",
                                MFD_SEARCH_MAX_ORDER_KEYS);
    *out = keys;
    *count = n;
    return NULL;
}

/* ` LEFT JOIN <table> o<i> ON o<i>.run_uuid = <run_uuid> AND o<i>.key = ?`. */
static void order_join(mfd_search_builder *b, const order_key *k, size_t i, const char *run_uuid) {
    mfd_strbuf_appendf(&b->sql, " LEFT JOIN %s o%zu ON o%zu.run_uuid = %s AND o%zu.key = ",
                       order_table(k->entity), i, i, run_uuid, i);
    mfd_search_bind_text(b, k->key);
}

/* The two sort terms of a metric/param/tag order key: a rank that puts
 * missing values last (metrics: 0 value, 1 NaN, 2 absent), then the value. */
static const char *order_rank(mfd_arena *arena, const order_key *k, size_t i) {
    if (k->entity == RUN_METRIC)
        return mfd_arena_sprintf(arena,
                                 "CASE WHEN o%zu.run_uuid IS NULL THEN 2 WHEN CAST(o%zu.is_nan AS "
                                 "INTEGER) = 1 THEN 1 ELSE 0 END",
                                 i, i);
    return mfd_arena_sprintf(arena, "CASE WHEN o%zu.value IS NULL THEN 1 ELSE 0 END", i);
}

static const char *order_value(mfd_arena *arena, size_t i) {
    return mfd_arena_sprintf(arena, "o%zu.value", i);
}

/* The order keys from `first` on, then the tie-breakers: a metric/param/tag
 * key is a LEFT JOIN (into `from`) and its two sort terms (into `order`), a
 * runs column is itself with NULLS LAST (both engines; the default order
 * matches PostgreSQL's index mlflowd_runs_experiment_start_time). With
 * `values_only`, the first key's rank is left out: the filter keeps only
 * runs whose value it has and is a number, so the rank is 0 for them all. */
void mfd_search_runs_order_rest(mfd_search_builder *from, mfd_search_builder *order,
                                const order_key *keys, size_t n_keys, size_t first,
                                bool values_only) {
    bool start_time_seen = false;
    for (size_t i = first; i < n_keys; i++) {
        const order_key *k = &keys[i];
        const char *direction = k->ascending ? "ASC" : "DESC";
        mfd_search_builder_comma(order);
        if (k->entity != RUN_ATTRIBUTE) {
            order_join(from, k, i, "r.run_uuid");
            if (i > 0 || !values_only)
                mfd_strbuf_appendf(&order->sql, "%s, ", order_rank(from->arena, k, i));
            mfd_strbuf_appendf(&order->sql, "%s %s", order_value(from->arena, i), direction);
        } else {
            start_time_seen = start_time_seen || strcmp(k->key, "start_time") == 0;
            mfd_strbuf_appendf(&order->sql, "%s %s NULLS LAST", k->attr->column, direction);
        }
    }
    if (!start_time_seen) {
        mfd_search_builder_comma(order);
        mfd_search_emit(order, "r.start_time DESC NULLS LAST");
    }
    mfd_search_builder_comma(order);
    mfd_search_emit(order, "r.run_uuid ASC");
}

/* The FROM clause (into `from`) and the ORDER BY list (into `order`).
 *
 * Usually `runs r` and one LEFT JOIN per metric/param/tag order key. With
 * `candidates_first` (PostgreSQL), when the filter has key clauses and the
 * order starts with metric/param/tag keys, those leading keys are read with
 * the first key-clause list instead, in a subquery of candidates ordered on
 * them, and runs are joined after it:
 *   (SELECT f0.run_uuid, <rank> AS k0r, o0.value AS k0v FROM <list> LEFT JOIN
 *    ... o0 ON o0.run_uuid = f0.run_uuid ... WHERE <list conditions>
 *    ORDER BY k0r, k0v DESC) s CROSS JOIN runs r
 * with `r.run_uuid = s.run_uuid` in the where. The rows and their order are
 * the same; PostgreSQL reads the candidates in order and stops looking runs up
 * once the page is full (an incremental sort settles the ties) instead of
 * joining every candidate to runs (over 100,000 runs, 70 -> 60 ms against the
 * plain IN list). SQLite would flatten it into one join reading four tables
 * interleaved, which overflows its page cache (20% slower when most runs
 * match): it keeps the nested lists, then runs. Returns whether the first
 * list went into the subquery. */
bool mfd_search_runs_from_and_order(mfd_search_builder *from, mfd_search_builder *order,
                                    const order_key *keys, size_t n_keys, const key_clause *list,
                                    size_t n_list, bool candidates_first,
                                    const mfd_search_scope *only, const mfd_search_scope *exp,
                                    bool values_only) {
    mfd_arena *arena = from->arena;
    size_t prefix = 0;
    if (n_list && candidates_first)
        while (prefix < n_keys && keys[prefix].entity != RUN_ATTRIBUTE)
            prefix++;
    if (prefix) {
        mfd_search_emit(from, "(SELECT f0.run_uuid");
        for (size_t i = 0; i < prefix; i++)
            mfd_strbuf_appendf(&from->sql, ", %s AS k%zur, %s AS k%zuv",
                               order_rank(arena, &keys[i], i), i, order_value(arena, i), i);
        mfd_search_runs_key_clause_list_from(from, list, n_list);
        for (size_t i = 0; i < prefix; i++)
            order_join(from, &keys[i], i, "f0.run_uuid");
        mfd_search_runs_key_clause_list_where(from, list, n_list, only, exp);
        mfd_search_emit(from, " ORDER BY ");
        for (size_t i = 0; i < prefix; i++)
            mfd_strbuf_appendf(&from->sql, "%sk%zur, k%zuv%s", i ? ", " : "", i, i,
                               keys[i].ascending ? " ASC" : " DESC");
        mfd_search_emit(from, ") s CROSS JOIN runs r");
    } else {
        mfd_search_emit(from, "runs r");
    }
    for (size_t i = 0; i < prefix; i++) {
        mfd_search_builder_comma(order);
        mfd_strbuf_appendf(&order->sql, "s.k%zur, s.k%zuv%s", i, i,
                           keys[i].ascending ? " ASC" : " DESC");
    }
    mfd_search_runs_order_rest(from, order, keys, n_keys, prefix, values_only && prefix == 0);
    return prefix > 0;
}
