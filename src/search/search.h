/* search.h — the whole face of the search module: filter and order_by strings
 * of every MLflow search endpoint compiled to SQL fragments plus bound values.
 *
 * It knows SQL and the grammar of search-grammar.md, nothing else: no HTTP, no
 * store. User values never appear in the SQL text, only as `?` placeholders
 * whose values are in `params`, in order of appearance (from, where, order_by).
 * All memory comes from the arena. Errors are INVALID_PARAMETER_VALUE mfd_errs
 * with MLflow's messages.
 *
 * Table aliases the fragments assume (the store writes the FROM clause, except
 * for runs): runs: `runs r` (in `from`); experiments: `experiments e`;
 * registered models: `registered_models rm`; model versions: `model_versions
 * mv`; logged models: `logged_models lm`.
 *
 * How a store uses the result:
 *   SELECT r.<columns> FROM <from>                                       -- params[0..n_join)
 *   WHERE r.experiment_id IN (?, ...) AND r.lifecycle_stage IN (?, ...)   -- the store's own
 *     AND (<where>)                                                      -- the next n_where
 *   ORDER BY <order_by>                                                  -- the rest
 *   LIMIT ? OFFSET ?
 * i.e. bind the `from` values, the store's, the where and order_by values,
 * then its own again (other endpoints: FROM <table>, no `from` values). The
 * SQL text never contains a string literal, so every `?` in it is a
 * placeholder (a `?` -> `$n` rewrite for PostgreSQL is safe). Related tables
 * are reached through IN / EXISTS subqueries or joins on a unique key, so
 * rows are never duplicated: do not add DISTINCT (PostgreSQL would then
 * reject ORDER BY expressions missing from the select list).
 *
 * What each where already contains beyond the filter: model versions exclude
 * current_stage 'Deleted_Internal'; registered models and model versions
 * exclude prompts unless the filter asks for them; logged models exclude
 * lifecycle_stage 'deleted' (the caller adds `lm.experiment_id IN (...)`).
 * Runs and experiments: the caller adds experiment ids and view type.
 * Booleans (latest_metrics.is_nan) are read via CAST(... AS INTEGER), so
 * 0/1 integers (SQLite) and PostgreSQL booleans both work. LIKE must be
 * case-sensitive: on SQLite run `PRAGMA case_sensitive_like=true`. */
#ifndef MFD_SEARCH_H
#define MFD_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/arena.h"
#include "../core/err.h"
#include "../core/sql_params.h"

/* A run search in the form the run-search cache answers (store/run_cache.h):
 * key clauses and an order over metrics and start_time only. Semantics as
 * the SQL's (compile_runs.c): a clause is met by the run's value for its key
 * (a run without the key meets none, `!=` included); metric clauses compare
 * the stored value (NaN is stored as 0); each metric order key puts values
 * first, then NaN, then runs without it, both ways; start_time sorts NULL
 * last; the order ends with start_time DESC (unless ordered on) and run_uuid. */
typedef enum mfd_run_plan_table {
    MFD_PLAN_METRIC,
    MFD_PLAN_PARAM,
    MFD_PLAN_TAG
} mfd_run_plan_table;
typedef enum mfd_run_plan_cmp {
    MFD_PLAN_EQ,
    MFD_PLAN_NE,
    MFD_PLAN_LT,
    MFD_PLAN_LE,
    MFD_PLAN_GT,
    MFD_PLAN_GE
} mfd_run_plan_cmp;
typedef struct mfd_run_plan_clause {
    mfd_run_plan_table table;
    const char *key;
    mfd_run_plan_cmp cmp; /* params and tags: EQ or NE */
    double number;        /* metrics */
    const char *text;     /* params and tags */
} mfd_run_plan_clause;
typedef struct mfd_run_plan_order {
    bool metric;     /* else the start_time attribute */
    const char *key; /* the metric */
    bool ascending;
} mfd_run_plan_order;
typedef struct mfd_run_plan {
    const mfd_run_plan_clause *clauses;
    size_t n_clauses;
    const mfd_run_plan_order *order;
    size_t n_order;
} mfd_run_plan;

typedef struct mfd_search_sql {
    const char *from;     /* runs only (else NULL): the FROM clause, `runs r` and its joins */
    const char *where;    /* boolean SQL expression; "1=1" when there is no filter */
    const char *order_by; /* comma list for ORDER BY (no keyword), tie-breakers included */
    mfd_sql_params params;
    bool match_nothing;    /* e.g. an IN list that became empty: the store may skip the query */
    size_t n_join_params;  /* params[0 .. n_join_params) belong to `from` */
    size_t n_where_params; /* the next n_where_params belong to `where`, the rest to
                              `order_by` (e.g. for a COUNT query without ORDER BY) */
    /* Runs on PostgreSQL only, else NULL: a faster form of the same search
     * that is exact only when it fills the page (LIMIT rows): it walks the
     * first order key's metric index and may stop before the end (see
     * compile_runs_window.c). Run it first (its own window before it, and so on);
     * on a short page run this one. */
    struct mfd_search_sql *window;
    bool has_key_clauses; /* runs: the filter names metrics, params or tags */
    bool names_run_id;    /* runs: the filter names the run_id attribute */
    /* runs: a key clause that no per-experiment index of PostgreSQL holds
     * (LIKE, ILIKE, != and long values of params and tags) */
    bool outside_experiment_indexes;
    /* runs on SQLite, else NULL: `SELECT 1 FROM ... WHERE ...` (in `where`,
     * its values in `params`) giving the rows the filter's lists start from */
    struct mfd_search_sql *first_clause;
    /* runs: the same search for the run-search cache, or NULL when it has
     * other clauses or order keys (attributes, datasets, LIKE, params or tags
     * in the order), or neither a key clause nor a metric order */
    const mfd_run_plan *plan;
} mfd_search_sql;

/* PostgreSQL: parameter and tag values up to this many characters are in a
 * partial index on (key, value, run_uuid) (schema.c), which `=` clauses on
 * short values use through the implied `length(value) <= N`. Longer values
 * cannot be in a B-tree entry (at most 2,704 bytes). */
#define MFD_SEARCH_SHORT_VALUE_CHARS 300

/* PostgreSQL: the function giving a run's experiment, leading mlflowd's
 * per-experiment indexes of latest_metrics, params and tags (schema.c). A
 * search in one experiment states `<it>(t.run_uuid) = <id>` for the entries
 * it reads, and reads that experiment's only (mfd_search_scope). */
#define MFD_SEARCH_EXPERIMENT_OF_RUN "mlflowd_run_experiment"

/* Input shape shared by the string-grammar endpoints. */
typedef struct mfd_search_input {
    const char *filter;          /* NULL or "" = no filter */
    const char *const *order_by; /* each element one "<identifier> [ASC|DESC]" */
    size_t n_order_by;
} mfd_search_input;

/* On error *out is zeroed and the mfd_err (INVALID_PARAMETER_VALUE) says why. */
mfd_err mfd_search_runs(mfd_arena *arena, const mfd_search_input *in, mfd_search_sql *out);
/* The experiments a run search covers (the store adds them to the query as
 * well): PostgreSQL's window form of an unfiltered search reads them, and
 * with `only_its_runs` (a scope of few runs, see the store's
 * mfd_runs_count_in_experiments) each metric/param/tag list is restricted to
 * the scope's runs, so the planner can start from them rather than from the
 * filter's runs in every experiment; there is no window form then. */
typedef struct mfd_search_scope {
    const int64_t *experiment_ids;
    size_t n_experiment_ids;
    bool only_its_runs;
    /* the database has the per-experiment indexes (PostgreSQL): a search in
     * one experiment reads its entries through them */
    bool experiment_indexes;
    /* SQLite: the experiments are a small part of the database: their runs,
     * read through mlflowd_runs_experiment, each have their key clauses
     * looked up, rather than the clauses' matches in every experiment */
    bool by_experiment;
    /* offset + max_results of the page asked for, or 0: sizes the walk of
     * the probe form that a filtered metric order gets before its window */
    int64_t page_rows;
} mfd_search_scope;

/* The same search, rows and order, written for PostgreSQL: runs sorted on
 * metric/param/tag keys are ordered among the filter's candidates before the
 * runs table is read, and a metric order gets a window form (see
 * compile_runs.c and compile_runs_window.c). */
mfd_err mfd_search_runs_candidates_first(mfd_arena *arena, const mfd_search_input *in,
                                         const mfd_search_scope *scope, mfd_search_sql *out);
/* SQLite's form with the scope's by_experiment. */
mfd_err mfd_search_runs_in_scope(mfd_arena *arena, const mfd_search_input *in,
                                 const mfd_search_scope *scope, mfd_search_sql *out);
mfd_err mfd_search_experiments(mfd_arena *arena, const mfd_search_input *in, mfd_search_sql *out);
mfd_err mfd_search_registered_models(mfd_arena *arena, const mfd_search_input *in,
                                     mfd_search_sql *out);
mfd_err mfd_search_model_versions(mfd_arena *arena, const mfd_search_input *in,
                                  mfd_search_sql *out);

/* Logged models: order_by is structured, datasets restrict metric clauses. */
typedef struct mfd_logged_model_order {
    const char *field_name;
    bool ascending;
    const char *dataset_name, *dataset_digest; /* NULL when absent */
} mfd_logged_model_order;

typedef struct mfd_logged_model_dataset {
    const char *dataset_name, *dataset_digest; /* digest may be NULL */
} mfd_logged_model_dataset;

typedef struct mfd_logged_model_search_input {
    const char *filter;
    const mfd_logged_model_order *order_by;
    size_t n_order_by;
    const mfd_logged_model_dataset *datasets;
    size_t n_datasets;
} mfd_logged_model_search_input;

mfd_err mfd_search_logged_models(mfd_arena *arena, const mfd_logged_model_search_input *in,
                                 mfd_search_sql *out);

/* Offset page tokens: base64 of {"offset": N} (search-grammar.md §6).
 * NULL or "" decodes to 0. encode returns an arena string. */
mfd_err mfd_page_token_decode(const char *token, int64_t *offset);
char *mfd_page_token_encode(mfd_arena *arena, int64_t offset);

/* Offset tokens that carry more members next to "offset" (the metric
 * history keeps its seek position there; a client or upstream token without
 * them still decodes). encode writes {"offset": N, <the members of fields>}
 * (fields borrowed, may be NULL). decode checks the offset exactly as
 * mfd_page_token_decode does and hands back the whole JSON object in *fields
 * (the caller decrefs; NULL for an empty token or on error). */
struct json_t;
char *mfd_page_token_encode_fields(mfd_arena *arena, int64_t offset, struct json_t *fields);
mfd_err mfd_page_token_decode_fields(const char *token, int64_t *offset, struct json_t **fields);

/* Logged-model page tokens (search-grammar.md §7): Base64 of the JSON
 * {"experiment_ids": [...], "filter_string": str|null, "order_by": [...]|null,
 * "offset": N}. The token is bound to its request: decode checks that the
 * experiment ids, filter and order_by of `request` match the token's (empty
 * filter = null, empty order_by = null, "" dataset name/digest = null) and
 * returns its offset; NULL or "" decodes to 0 without checking. */
/* encode returns an arena string, or NULL when a request string is not valid
 * UTF-8 (it cannot be written as JSON). */
typedef struct mfd_logged_model_page {
    const char *const *experiment_ids;
    size_t n_experiment_ids;
    const char *filter;
    const mfd_logged_model_order *order_by;
    size_t n_order_by;
} mfd_logged_model_page;

char *mfd_logged_model_token_encode(mfd_arena *arena, const mfd_logged_model_page *request,
                                    int64_t offset);
mfd_err mfd_logged_model_token_decode(const char *token, const mfd_logged_model_page *request,
                                      int64_t *offset);

#endif
