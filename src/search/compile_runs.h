/* compile_runs.h — what the compile_runs*.c files share and nobody else sees:
 * the run search compiler (POST runs/search) cut into its parts. The design
 * of the SQL it writes is told once, at the top of compile_runs.c.
 *
 *   compile_runs.c             the whole compile: clauses split into key clauses
 *                              and conditions on r, then lists, order, window
 *   compile_runs_identifiers.c entities, attributes, values and comparators checked
 *   compile_runs_lists.c       key clauses as lists of run ids (joined, nested, probed)
 *   compile_runs_order.c       order_by checked, and the FROM clause and ORDER BY list
 *   compile_runs_window.c      PostgreSQL's window and probe forms (the metric walk)
 *
 * Invariants they keep together, beyond search_internal.h's: every key clause
 * is met by the run's one row of its table for its key ((key, run_uuid) is the
 * primary key), so no run comes twice and a run lacking the key never
 * matches; each builder's values are bound in the order its text is written,
 * so callers write `from`, the lists, the where and the order in that order. */
#ifndef MFD_SEARCH_COMPILE_RUNS_H
#define MFD_SEARCH_COMPILE_RUNS_H

#include "search_internal.h"

typedef enum run_entity { RUN_METRIC, RUN_PARAM, RUN_TAG, RUN_ATTRIBUTE, RUN_DATASET } run_entity;

typedef struct run_attribute {
    const char *name;      /* as the user writes it */
    const char *canonical; /* upstream's translate_key_alias */
    const char *column;    /* ordering column; run_name filters use the tag instead */
    bool numeric;
    bool orderable; /* the "run name" spellings are filter-only */
} run_attribute;

/* SQLite joins at most 64 tables and its parser takes few nested subqueries:
 * longer filters take several lists. */
enum { MAX_TABLES_PER_LIST = 16, MAX_NESTED_LISTS = 4 };

/* A metric/param/tag clause (run_name too: the tag mlflow.runName), met by
 * the run's one row of `table` for `key`. */
typedef struct key_clause {
    const char *table;
    const char *key;
    mfd_search_cmp cmp;
    const char *text;                /* param/tag value */
    const mfd_search_number *number; /* metric value */
    int rank;                        /* guessed selectivity, most selective 0 */
} key_clause;

/* One order_by element, checked. */
typedef struct order_key {
    run_entity entity;
    const char *key;           /* canonical for attributes */
    const run_attribute *attr; /* attributes only */
    bool ascending;
} order_key;

/* ---- compile_runs_identifiers.c ------------------------------------------------------------- */

/* Upstream's SearchUtils._get_identifier: entity, key and (attributes) the
 * attribute; attribute and dataset keys are checked. */
mfd_err mfd_search_runs_identifier(mfd_arena *arena, const char *identifier, bool for_order_by,
                                   run_entity *entity, const char **key,
                                   const run_attribute **attr);
/* The clause's value checked against its entity (upstream's _get_value):
 * *text for a string, *items for a list; a number stays in the clause. */
mfd_err mfd_search_runs_clause_value(mfd_arena *arena, const mfd_search_clause *c,
                                     run_entity entity, const char *key, const run_attribute *attr,
                                     const char **text, const char ***items, size_t *n_items);
/* The comparator allowed for the entity, and a list value with IN/NOT IN only. */
mfd_err mfd_search_runs_check_comparator(mfd_arena *arena, const mfd_search_clause *c,
                                         run_entity entity, const run_attribute *attr,
                                         mfd_search_cmp cmp);

/* ---- compile_runs_lists.c ------------------------------------------------------------------- */

int mfd_search_runs_key_clause_rank(bool metric, mfd_search_cmp cmp);
void mfd_search_runs_sort_key_clauses(key_clause *k, size_t n);
void mfd_search_runs_key_clause_condition(mfd_search_builder *b, const key_clause *k, size_t i);
void mfd_search_runs_bind_scope(mfd_search_builder *b, const mfd_search_scope *scope);
const mfd_search_scope *mfd_search_runs_indexed_experiments(const mfd_search_scope *scope);
bool mfd_search_runs_in_experiment_index(const key_clause *k);
void mfd_search_runs_experiment_indexed_first(key_clause *k, size_t n);
void mfd_search_runs_experiment_condition(mfd_search_builder *b, const char *alias,
                                          const mfd_search_scope *indexed);
void mfd_search_runs_key_clause_list_from(mfd_search_builder *b, const key_clause *k, size_t n);
void mfd_search_runs_key_clause_list_where(mfd_search_builder *b, const key_clause *k, size_t n,
                                           const mfd_search_scope *only,
                                           const mfd_search_scope *exp);
mfd_search_sql *mfd_search_runs_first_clause_matches(mfd_arena *arena, const key_clause *k);
void mfd_search_runs_key_clause_probes(mfd_search_builder *lists, const key_clause *keys,
                                       size_t n_keys);
void mfd_search_runs_key_clause_lists(mfd_search_builder *lists, const key_clause *keys,
                                      size_t start, size_t n_keys, bool candidates_first,
                                      const mfd_search_scope *only, const mfd_search_scope *exp);

/* ---- compile_runs_order.c ------------------------------------------------------------------- */

mfd_err mfd_search_runs_check_order_by(mfd_arena *arena, const mfd_search_input *in,
                                       order_key **out, size_t *count);
void mfd_search_runs_order_rest(mfd_search_builder *from, mfd_search_builder *order,
                                const order_key *keys, size_t n_keys, size_t first,
                                bool values_only);
bool mfd_search_runs_from_and_order(mfd_search_builder *from, mfd_search_builder *order,
                                    const order_key *keys, size_t n_keys, const key_clause *list,
                                    size_t n_list, bool candidates_first,
                                    const mfd_search_scope *only, const mfd_search_scope *exp,
                                    bool values_only);

/* ---- compile_runs_window.c ------------------------------------------------------------------ */

mfd_err mfd_search_runs_window(mfd_arena *arena, const order_key *keys, size_t n_order_keys,
                               const key_clause *list, size_t n_list, size_t n_keys,
                               const key_clause *walk, size_t n_walk,
                               const mfd_search_builder *where, const mfd_search_scope *scope,
                               mfd_search_sql *out);
mfd_err mfd_search_runs_probe(mfd_arena *arena, const order_key *keys, size_t n_order_keys,
                              const key_clause *rest, size_t n_rest, const key_clause *walk,
                              size_t n_walk, const mfd_search_builder *where, int64_t page_rows,
                              const mfd_search_scope *exp, mfd_search_sql *out);

#endif
