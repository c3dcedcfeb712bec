/* compile_runs_window.c — PostgreSQL's faster forms of a run search ordered
 * on a metric (mfd_search_sql.window): the window (the metric's index walked
 * in order, each entry tested against the filter's candidates hashed once)
 * and, before it when the page is known, the probe (the walk's first entries,
 * each run's other clauses probed by primary key).
 *
 * Invariant: either form gives exactly the rows and order of the plain search
 * when it fills the page (it holds whole groups of ties, and NaN and absent
 * values come after every value), and the store falls back to the plain
 * search when it does not; a form over the parameter limit is simply left out. */
#include "compile_runs.h"

/* The experiments whose walks in a metric's order read their own ranges of
 * the per-experiment index, or NULL (the index over every experiment): one
 * range gives the order, and up to MAX_MERGED_WALKS are each read in order
 * and merged (walk_source). Each range is a subquery to plan (≈ 0.05 ms:
 * 1.4 ms for 20) and a scan to start, a cost without gain when the
 * experiments are most of the database; the cap bounds it. */
enum { MAX_MERGED_WALKS = 20 };

static const mfd_search_scope *walked_experiments(const mfd_search_scope *indexed) {
    return indexed && indexed->n_experiment_ids <= MAX_MERGED_WALKS ? indexed : NULL;
}

/* Index entries of the window per candidate: reading one in order costs about
 * a twentieth of looking one candidate's metric up, so a window that comes up
 * short costs about what the search it falls back to does. At most
 * WINDOW_MAX_CANDIDATES candidates: PostgreSQL hashes an IN subquery only
 * when it expects the rows to fit in hash_mem, and tests each entry against
 * every row otherwise (300 ms instead of 25 over 100,000 runs). Bounding the
 * subquery with LIMIT bounds the estimate (64 bytes a row: 12.8 MB), which
 * the store's work_mem for a window covers (MFD_RUNS_WINDOW_WORK_MEM), and the
 * memory; more candidates than that give an empty window, and the other form
 * answers. */
enum { WINDOW_ENTRIES_PER_CANDIDATE = 20, WINDOW_MAX_CANDIDATES = 200000 };

/* Without key clauses there are no candidates to hash: each entry of the
 * window is looked up in runs (the scope and any runs conditions), which
 * costs about what the other form pays per run of the experiments, so the
 * window holds at most as many entries as the experiments have runs, and at
 * most WINDOW_MAX_SCOPE_ENTRIES (≈ 25 ms of lookups): an experiment that is a
 * small part of the database falls back soon, a large one (where the other
 * form reads every run's value) finds its page in the first entries. */
enum { WINDOW_MAX_SCOPE_ENTRIES = 5000 };

/* ` AND w.value <cmp> ?` for each clause on the order's metric: the walk
 * reads only the entries that meet them, from the index's range. A run's
 * entry is its one latest_metrics row for the key, the row such a clause
 * tests as a candidate list would (NaN values, left out of the walk, come
 * after every other value whatever the clause). */
static void walk_conditions(mfd_search_builder *b, const key_clause *walk, size_t n_walk) {
    for (size_t i = 0; i < n_walk; i++) {
        mfd_search_emit(b, " AND ");
        mfd_search_number_cmp(b, "w.value", walk[i].cmp, walk[i].number, false);
    }
}

/* One range of the walk: `SELECT w.run_uuid, w.value FROM latest_metrics w
 * WHERE w.key = ? [AND <experiment of run>(w.run_uuid) IN (?, ...)] [AND
 * w.value <cmp> ?] AND NOT w.is_nan ORDER BY w.value <dir> FETCH FIRST
 * <limit> ROWS WITH TIES`. */
static void walk_range(mfd_search_builder *b, const char *key, const mfd_search_scope *exp,
                       const key_clause *walk, size_t n_walk, const char *direction,
                       const char *limit) {
    mfd_search_emit(b, "SELECT w.run_uuid, w.value FROM latest_metrics w WHERE w.key = ");
    mfd_search_bind_text(b, key);
    if (exp)
        mfd_search_runs_experiment_condition(b, "w", exp);
    walk_conditions(b, walk, n_walk);
    mfd_strbuf_appendf(&b->sql,
                       " AND NOT w.is_nan ORDER BY w.value %s FETCH FIRST %s ROWS WITH TIES",
                       direction, limit);
}

/* The walk of the order's metric as a FROM item, `(...) w`: its first
 * `limit` entries in order (whole groups of ties), NaN values left out. With
 * `exp` (walked_experiments) only their entries: one experiment's range, or
 * several ranges each walked to `limit` and merged, `(SELECT ... FROM ((<range
 * 1>) UNION ALL (<range 2>) ...) w ORDER BY w.value <dir> FETCH FIRST <limit>
 * ROWS WITH TIES) w`; their first entries together hold the first of all.
 * PostgreSQL merges the ranges in order (Merge Append) only when each is a
 * subquery with its own order and limit; one scan of several ranges, or a
 * UNION ALL of plain scans, is sorted whole. Over a 100,000- and a
 * 10,000-run experiment of 510,000 runs, #6's search 125 -> 58 ms,
 * independent values 53 -> 18 ms. */
static void walk_source(mfd_search_builder *b, const char *key, const mfd_search_scope *exp,
                        const key_clause *walk, size_t n_walk, const char *direction,
                        const char *limit) {
    mfd_search_emit(b, "(");
    if (!exp || exp->n_experiment_ids == 1) {
        walk_range(b, key, exp, walk, n_walk, direction, limit);
        mfd_search_emit(b, ") w");
        return;
    }
    mfd_search_emit(b, "SELECT w.run_uuid, w.value FROM (");
    for (size_t i = 0; i < exp->n_experiment_ids; i++) {
        mfd_search_scope one = {.experiment_ids = &exp->experiment_ids[i], .n_experiment_ids = 1};
        mfd_search_emit(b, i ? " UNION ALL (" : "(");
        walk_range(b, key, &one, walk, n_walk, direction, limit);
        mfd_search_emit(b, ")");
    }
    mfd_strbuf_appendf(&b->sql, ") w ORDER BY w.value %s FETCH FIRST %s ROWS WITH TIES) w",
                       direction, limit);
}

/* The rest of a window form after its FROM (`... o0 CROSS JOIN runs r`):
 * ordered on o0.value, then the other order keys and tie-breakers; the runs
 * of o0, the key clauses from `n_list` on as lists, and `where`. */
static mfd_err finish_window(mfd_search_builder *from, const order_key *keys, size_t n_order_keys,
                             const key_clause *list, size_t n_list, size_t n_keys,
                             const mfd_search_builder *where, const mfd_search_scope *exp,
                             mfd_search_sql *out) {
    mfd_search_builder lists, order;
    mfd_search_builder_init(&lists, from->arena);
    mfd_search_builder_init(&order, from->arena);
    mfd_search_builder_comma(&order);
    mfd_strbuf_appendf(&order.sql, "o0.value %s", keys[0].ascending ? "ASC" : "DESC");
    mfd_search_runs_order_rest(from, &order, keys, n_order_keys, 1, false);
    mfd_search_builder_and(&lists);
    mfd_search_emit(&lists, "r.run_uuid = o0.run_uuid");
    mfd_search_runs_key_clause_lists(&lists, list, n_list, n_keys, true, NULL, exp);
    mfd_search_builder_and_all(&lists, where);
    return mfd_search_finish_joined(from, &lists, &order, out);
}

/* PostgreSQL's window form of a search whose filter has key clauses and whose
 * order starts with a metric (mfd_search_sql.window):
 *   (WITH c AS MATERIALIZED (<candidates: the first list> LIMIT 200001),
 *         n AS (SELECT <20 * count(*), 0 past 200000> AS n FROM c)
 *    SELECT w.run_uuid, w.value FROM (SELECT ... FROM latest_metrics w
 *      WHERE w.key = ? [AND w.value <cmp> ?] AND NOT w.is_nan ORDER BY w.value DESC
 *      FETCH FIRST (SELECT n.n FROM n) ROWS WITH TIES) w (walk_source)
 *    WHERE (w.run_uuid IN (SELECT c.run_uuid FROM c)) IS TRUE
 *    ORDER BY w.value DESC) o0 CROSS JOIN runs r
 * ordered on o0.value, then the other keys and tie-breakers as usual.
 * PostgreSQL reads the metric's (key, value) index in order, tests each run
 * against the candidates hashed once (`IS TRUE` keeps the IN a hashed
 * subplan rather than a join, which would probe an index per entry or lose
 * the order), and stops when the page is full. The other form looks the
 * metric up for every candidate: over 100,000 runs with 10,000 candidates,
 * 60 ms against 25 ms. The window holds whole groups of equal values (WITH
 * TIES) and every metric value of rank 0 (not NaN) comes before NaN and
 * absent ones, so a full page from it is the other form's page; a short one
 * (NaN or absent values needed, a last page, few candidates) is not, and the
 * store then runs the other form. A window that falls short costs at most
 * about as much again as the other form. Without key clauses (or with
 * clauses on the sorted metric only, `walk`) the window is the metric's
 * entries alone, FETCH FIRST <the scope's runs, at most 5000>, each looked up
 * in runs by the outer query. */
mfd_err mfd_search_runs_window(mfd_arena *arena, const order_key *keys, size_t n_order_keys,
                               const key_clause *list, size_t n_list, size_t n_keys,
                               const key_clause *walk, size_t n_walk,
                               const mfd_search_builder *where, const mfd_search_scope *scope,
                               mfd_search_sql *out) {
    mfd_search_builder from;
    mfd_search_builder_init(&from, arena);
    const char *direction = keys[0].ascending ? "ASC" : "DESC";
    const mfd_search_scope *exp = mfd_search_runs_indexed_experiments(scope),
                           *walk_exp = walked_experiments(exp);
    /* the walk's length, `n` (a merged walk reads it once per range) */
    if (!n_list) {
        mfd_search_emit(&from, "(WITH n AS (SELECT count(*) AS n FROM (SELECT 1 FROM runs rc "
                               "WHERE rc.experiment_id IN (");
        mfd_search_runs_bind_scope(&from, scope);
        mfd_strbuf_appendf(&from.sql, ") LIMIT %d) rc) SELECT w.run_uuid, w.value FROM ",
                           WINDOW_MAX_SCOPE_ENTRIES);
        walk_source(&from, keys[0].key, walk_exp, walk, n_walk, direction, "(SELECT n.n FROM n)");
        /* restated: the order of a subquery with a WITH is known outside only from its ORDER BY
         * (without it the outer query joined every entry of the window, then sorted) */
        mfd_strbuf_appendf(&from.sql, " ORDER BY w.value %s) o0 CROSS JOIN runs r", direction);
    } else {
        mfd_search_emit(&from, "(WITH c AS MATERIALIZED (SELECT f0.run_uuid");
        mfd_search_runs_key_clause_list_from(&from, list, n_list);
        mfd_search_runs_key_clause_list_where(&from, list, n_list, NULL, exp);
        mfd_strbuf_appendf(&from.sql,
                           " LIMIT %d), n AS (SELECT CASE WHEN count(*) <= %d THEN %d * count(*) "
                           "ELSE 0 END AS n FROM c) SELECT w.run_uuid, w.value FROM ",
                           WINDOW_MAX_CANDIDATES + 1, WINDOW_MAX_CANDIDATES,
                           WINDOW_ENTRIES_PER_CANDIDATE);
        walk_source(&from, keys[0].key, walk_exp, walk, n_walk, direction, "(SELECT n.n FROM n)");
        mfd_strbuf_appendf(&from.sql,
                           " WHERE (w.run_uuid IN (SELECT c.run_uuid FROM c)) IS TRUE ORDER BY "
                           "w.value %s) o0 CROSS JOIN runs r",
                           direction);
    }
    return finish_window(&from, keys, n_order_keys, list, n_list, n_keys, where, exp, out);
}

/* The probe form, tried before the window when the page is known: the walk's
 * first entries, twenty per row of the page (offset + max_results), at most
 * PROBE_MAX_ENTRIES. Each entry's run has its other key clauses probed by
 * primary key (~2 us a clause) until the page is full, so the probe pays
 * when the filter keeps a twentieth or more of the runs at the head of the
 * order: over 100,000 runs, `metrics.accuracy > 0.5 and params.model = 'm1'`
 * with independent values (a tenth kept) 18 -> 5 ms, sorted on loss
 * ascending where the filter keeps the head 24 -> 5 ms. When the filter
 * rejects the head of the order it costs ~4 us an entry before the window
 * answers, once a minute (src/store/short_forms.h). */
enum { PROBE_ENTRIES_PER_ROW = 20, PROBE_MAX_ENTRIES = 2000 };

/*   (SELECT w.run_uuid, w.value FROM (SELECT ... FROM latest_metrics w
 *      WHERE w.key = ? [AND w.value <cmp> ?] AND NOT w.is_nan ORDER BY
 *      w.value DESC FETCH FIRST <entries> ROWS WITH TIES) w
 *    WHERE EXISTS (SELECT 1 FROM <t0> f0 WHERE f0.run_uuid = w.run_uuid AND
 *      <f0 condition> OFFSET 0) AND ... ORDER BY w.value DESC) o0 CROSS JOIN runs r
 * The first entries of the order's metric, each run's other key clauses
 * tested by primary-key probes (key, run_uuid). Exact when it fills the page,
 * as the window is (whole groups of ties, NaN and absent values after). */
mfd_err mfd_search_runs_probe(mfd_arena *arena, const order_key *keys, size_t n_order_keys,
                              const key_clause *rest, size_t n_rest, const key_clause *walk,
                              size_t n_walk, const mfd_search_builder *where, int64_t page_rows,
                              const mfd_search_scope *exp, mfd_search_sql *out) {
    mfd_search_builder from;
    mfd_search_builder_init(&from, arena);
    const char *direction = keys[0].ascending ? "ASC" : "DESC";
    int64_t entries = page_rows < PROBE_MAX_ENTRIES / PROBE_ENTRIES_PER_ROW
                          ? page_rows * PROBE_ENTRIES_PER_ROW
                          : PROBE_MAX_ENTRIES;
    mfd_search_emit(&from, "(SELECT w.run_uuid, w.value FROM ");
    walk_source(&from, keys[0].key, walked_experiments(exp), walk, n_walk, direction,
                mfd_arena_sprintf(arena, "%lld", (long long)entries));
    for (size_t i = 0; i < n_rest; i++) {
        mfd_strbuf_appendf(&from.sql,
                           "%sEXISTS (SELECT 1 FROM %s f%zu WHERE f%zu.run_uuid = "
                           "w.run_uuid AND ",
                           i ? " AND " : " WHERE ", rest[i].table, i, i);
        mfd_search_runs_key_clause_condition(&from, &rest[i], i);
        /* OFFSET 0 keeps the EXISTS a probe per entry, evaluated only until
         * the page is full: without it PostgreSQL may make it a semi-join or a
         * hashed subplan, reading every run's row for the key first (over
         * 100,000 runs, 5 -> 30 ms). */
        mfd_search_emit(&from, " OFFSET 0)");
    }
    mfd_strbuf_appendf(&from.sql, " ORDER BY w.value %s) o0 CROSS JOIN runs r", direction);
    return finish_window(&from, keys, n_order_keys, rest, n_rest, n_rest, where, exp, out);
}
