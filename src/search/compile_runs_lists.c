/* compile_runs_lists.c — metric/param/tag clauses (key clauses) as lists of
 * run ids: PostgreSQL's joined list, SQLite's nested one, SQLite's
 * per-run probes (by_experiment), the order their clauses are read in, and
 * the per-experiment index conditions of a scope.
 *
 * Invariants: a key clause is tested on its table's row for (key, run_uuid)
 * aliased f<i>, i its place in the list, so a list never yields a run twice;
 * the clause read first (f0, the innermost on SQLite) is the one most likely
 * to keep few runs; experiment conditions are written only on clauses whose
 * entries a per-experiment index holds (mfd_search_runs_in_experiment_index). */
#include "compile_runs.h"

#include "../core/utf8.h"

/* Equality usually keeps few runs, != nearly all: the order in which the
 * clauses of one list are joined (no statistics to go by on SQLite). */
int mfd_search_runs_key_clause_rank(bool metric, mfd_search_cmp cmp) {
    if (cmp == MFD_CMP_EQ)
        return 0;
    if (cmp == MFD_CMP_NE)
        return 3;
    return metric ? 2 : 1; /* a range, or LIKE/ILIKE */
}

/* Stable, by rank (at most MFD_SEARCH_MAX_CLAUSES items). */
void mfd_search_runs_sort_key_clauses(key_clause *k, size_t n) {
    for (size_t i = 1; i < n; i++) {
        key_clause item = k[i];
        size_t j = i;
        for (; j > 0 && k[j - 1].rank > item.rank; j--)
            k[j] = k[j - 1];
        k[j] = item;
    }
}

/* `f<i>.key = ? AND f<i>.value <cmp> ?` */
void mfd_search_runs_key_clause_condition(mfd_search_builder *b, const key_clause *k, size_t i) {
    mfd_strbuf_appendf(&b->sql, "f%zu.key = ", i);
    mfd_search_bind_text(b, k->key);
    mfd_search_emit(b, " AND ");
    const char *value = mfd_arena_sprintf(b->arena, "f%zu.value", i);
    if (k->number)
        mfd_search_number_cmp(b, value, k->cmp, k->number, false);
    else
        mfd_search_text_cmp(b, value, k->cmp, k->text);
}

/* `?, ?, ...`: the scope's experiment ids. */
void mfd_search_runs_bind_scope(mfd_search_builder *b, const mfd_search_scope *scope) {
    for (size_t i = 0; i < scope->n_experiment_ids; i++) {
        mfd_search_emit(b, i ? ", " : "");
        mfd_search_bind_int(b, scope->experiment_ids[i]);
    }
}

/* The scope whose experiments' entries a PostgreSQL search reads through
 * the per-experiment indexes (MFD_SEARCH_EXPERIMENT_OF_RUN), or NULL: a
 * database that has them, and at most MAX_INDEXED_EXPERIMENTS experiments
 * (each is one range of each index read; past that, reading every
 * experiment's entries of a key once is as cheap). */
enum { MAX_INDEXED_EXPERIMENTS = 100 };

const mfd_search_scope *mfd_search_runs_indexed_experiments(const mfd_search_scope *scope) {
    return scope && scope->experiment_indexes && scope->n_experiment_ids > 0 &&
                   scope->n_experiment_ids <= MAX_INDEXED_EXPERIMENTS
               ? scope
               : NULL;
}

/* Whether the clause's entries are in a per-experiment index: every metric
 * clause; a param or tag clause when it reads the partial index of short
 * values (`=` on a short value, see mfd_search_runs_key_clause_list_where). */
bool mfd_search_runs_in_experiment_index(const key_clause *k) {
    return k->number || (k->cmp == MFD_CMP_EQ && k->text &&
                         mfd_utf8_chars(k->text) <= MFD_SEARCH_SHORT_VALUE_CHARS);
}

/* Stable: the clauses in a per-experiment index first, so that a list over
 * one experiment starts from one of them. */
void mfd_search_runs_experiment_indexed_first(key_clause *k, size_t n) {
    for (size_t i = 1; i < n; i++) {
        key_clause item = k[i];
        size_t j = i;
        for (; j > 0 && mfd_search_runs_in_experiment_index(&item) &&
               !mfd_search_runs_in_experiment_index(&k[j - 1]);
             j--)
            k[j] = k[j - 1];
        k[j] = item;
    }
}

/* ` AND <MFD_SEARCH_EXPERIMENT_OF_RUN>(<alias>.run_uuid) IN (?, ...)` */
void mfd_search_runs_experiment_condition(mfd_search_builder *b, const char *alias,
                                          const mfd_search_scope *indexed) {
    mfd_strbuf_appendf(&b->sql, " AND " MFD_SEARCH_EXPERIMENT_OF_RUN "(%s.run_uuid) IN (", alias);
    mfd_search_runs_bind_scope(b, indexed);
    mfd_search_emit(b, ")");
}

/* PostgreSQL's list, joined: ` FROM <t0> f0 CROSS JOIN <t1> f1 ...` (from)
 * and ` WHERE <f0 condition> AND f1.run_uuid = f0.run_uuid AND <f1
 * condition> ...` (where), after `SELECT f0.run_uuid`. With `exp`
 * (mfd_search_runs_indexed_experiments) each clause in a per-experiment index reads only the
 * entries of the scope's experiments. */
void mfd_search_runs_key_clause_list_from(mfd_search_builder *b, const key_clause *k, size_t n) {
    for (size_t i = 0; i < n; i++)
        mfd_strbuf_appendf(&b->sql, "%s%s f%zu", i ? " CROSS JOIN " : " FROM ", k[i].table, i);
}

void mfd_search_runs_key_clause_list_where(mfd_search_builder *b, const key_clause *k, size_t n,
                                           const mfd_search_scope *only,
                                           const mfd_search_scope *exp) {
    for (size_t i = 0; i < n; i++) {
        mfd_search_emit(b, i ? " AND " : " WHERE ");
        if (i)
            mfd_strbuf_appendf(&b->sql, "f%zu.run_uuid = f0.run_uuid AND ", i);
        mfd_search_runs_key_clause_condition(b, &k[i], i);
        /* `=` on a short param/tag value also states what the equality
         * implies, the predicate of the partial indexes on short values, so
         * the planner reads such an index alone (MFD_SEARCH_SHORT_VALUE_CHARS). */
        if (k[i].text && k[i].cmp == MFD_CMP_EQ &&
            mfd_utf8_chars(k[i].text) <= MFD_SEARCH_SHORT_VALUE_CHARS)
            mfd_strbuf_appendf(&b->sql, " AND length(f%zu.value) <= %d", i,
                               MFD_SEARCH_SHORT_VALUE_CHARS);
        if (exp && mfd_search_runs_in_experiment_index(&k[i]))
            mfd_search_runs_experiment_condition(b, mfd_arena_sprintf(b->arena, "f%zu", i), exp);
    }
    if (only && n) { /* a small scope: the planner can start from its runs */
        mfd_search_emit(b, " AND f0.run_uuid IN (SELECT rs.run_uuid FROM runs rs WHERE "
                           "rs.experiment_id IN (");
        mfd_search_runs_bind_scope(b, only);
        mfd_search_emit(b, "))");
    }
}

/* SQLite's list, nested, the first clause innermost: `r.run_uuid IN (SELECT
 * f1.run_uuid FROM <t1> f1 WHERE <f1 condition> AND f1.run_uuid IN (SELECT
 * f0.run_uuid FROM <t0> f0 WHERE <f0 condition>))`. SQLite builds the inner
 * list first, then probes the outer table's primary key with it in run_uuid
 * order: one table at a time. Probing both from one join interleaves reads
 * of four B-trees, which overflow its 2 MB page cache (a third more page
 * reads over 10,000 runs). */
static void key_clause_chain(mfd_search_builder *b, const key_clause *k, size_t n) {
    mfd_search_emit(b, "r.run_uuid IN (");
    for (size_t i = n; i-- > 0;) {
        mfd_strbuf_appendf(&b->sql, "SELECT f%zu.run_uuid FROM %s f%zu WHERE ", i, k[i].table, i);
        mfd_search_runs_key_clause_condition(b, &k[i], i);
        if (i)
            mfd_strbuf_appendf(&b->sql, " AND f%zu.run_uuid IN (", i);
    }
    for (size_t i = 0; i < n; i++)
        mfd_search_emit(b, ")");
}

/* SQLite: the rows that the lists' innermost clause (the first) reads, as
 * `SELECT 1 FROM <t> f0 WHERE <condition>` in `where`: how many there are
 * against the experiments' runs chooses by_experiment. */
mfd_search_sql *mfd_search_runs_first_clause_matches(mfd_arena *arena, const key_clause *k) {
    mfd_search_builder b;
    mfd_search_builder_init(&b, arena);
    mfd_strbuf_appendf(&b.sql, "SELECT 1 FROM %s f0 WHERE ", k->table);
    mfd_search_runs_key_clause_condition(&b, k, 0);
    mfd_search_sql *out = mfd_arena_calloc(arena, 1, sizeof *out);
    out->where = b.sql.data;
    out->params = b.params;
    return out;
}

/* SQLite, runs read from a small part of the database (by_experiment): each
 * clause looked up for the run, `EXISTS (SELECT 1 FROM <t> f<i> WHERE
 * f<i>.run_uuid = r.run_uuid AND <condition>)`, by primary key (key,
 * run_uuid). In a database of 510,000 runs whose experiments log the same
 * keys, a filter over one of 10,000 runs: 270 -> 33 ms; over one making up
 * the whole database it would be twice as slow as the lists. */
void mfd_search_runs_key_clause_probes(mfd_search_builder *lists, const key_clause *keys,
                                       size_t n_keys) {
    for (size_t i = 0; i < n_keys; i++) {
        mfd_search_builder_and(lists);
        mfd_strbuf_appendf(&lists->sql,
                           "EXISTS (SELECT 1 FROM %s f%zu WHERE f%zu.run_uuid = r.run_uuid AND ",
                           keys[i].table, i, i);
        mfd_search_runs_key_clause_condition(lists, &keys[i], i);
        mfd_search_emit(lists, ")");
    }
}

/* `r.run_uuid IN (<list>)` for the key clauses from `start` on: joined lists
 * (PostgreSQL) or nested ones (SQLite), as many clauses per list as each takes. */
void mfd_search_runs_key_clause_lists(mfd_search_builder *lists, const key_clause *keys,
                                      size_t start, size_t n_keys, bool candidates_first,
                                      const mfd_search_scope *only, const mfd_search_scope *exp) {
    size_t per_list = candidates_first ? MAX_TABLES_PER_LIST : MAX_NESTED_LISTS;
    for (size_t i = start; i < n_keys; i += per_list) {
        size_t n = n_keys - i < per_list ? n_keys - i : per_list;
        mfd_search_builder_and(lists);
        if (candidates_first) {
            mfd_search_emit(lists, "r.run_uuid IN (SELECT f0.run_uuid");
            mfd_search_runs_key_clause_list_from(lists, keys + i, n);
            mfd_search_runs_key_clause_list_where(lists, keys + i, n, only, exp);
            mfd_search_emit(lists, ")");
        } else {
            key_clause_chain(lists, keys + i, n);
        }
    }
}
