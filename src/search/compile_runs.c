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
 * before runs (compile_from_and_order); in a database with mlflowd's
 * per-experiment indexes, the lists (and the walks, in one experiment) read
 * only the scope's entries (indexed_experiments). Other attributes are plain conditions
 * on r, dataset clauses a list of their own (several inputs per run). Each
 * metric/param/tag order_by key is one LEFT JOIN on its table's primary key —
 * unique, so no run is duplicated — giving rank and value from one lookup.
 * Ordering puts a "missing" rank before each value (metrics: 0 value, 1 NaN,
 * 2 absent) so absent keys sort last both ways, then start_time DESC unless
 * already ordered on, then run_uuid. */
#include "search_internal.h"

#include <string.h>

#include "../core/utf8.h"

typedef enum run_entity { RUN_METRIC, RUN_PARAM, RUN_TAG, RUN_ATTRIBUTE, RUN_DATASET } run_entity;

static const struct {
    const char *name;
    run_entity entity;
} entity_names[] = {
    {"metric", RUN_METRIC},
    {"metrics", RUN_METRIC},
    {"parameter", RUN_PARAM},
    {"parameters", RUN_PARAM},
    {"param", RUN_PARAM},
    {"params", RUN_PARAM},
    {"tag", RUN_TAG},
    {"tags", RUN_TAG},
    {"attribute", RUN_ATTRIBUTE},
    {"attributes", RUN_ATTRIBUTE},
    {"attr", RUN_ATTRIBUTE},
    {"run", RUN_ATTRIBUTE},
    {"dataset", RUN_DATASET},
    {"datasets", RUN_DATASET},
};

typedef struct run_attribute {
    const char *name;      /* as the user writes it */
    const char *canonical; /* upstream's translate_key_alias */
    const char *column;    /* ordering column; run_name filters use the tag instead */
    bool numeric;
    bool orderable; /* the "run name" spellings are filter-only */
} run_attribute;

static const run_attribute attributes[] = {
    {"artifact_uri", "artifact_uri", "r.artifact_uri", false, true},
    {"created", "start_time", "r.start_time", true, true},
    {"Created", "start_time", "r.start_time", true, true},
    {"end_time", "end_time", "r.end_time", true, true},
    {"run name", "run_name", "r.name", false, false},
    {"Run name", "run_name", "r.name", false, false},
    {"Run Name", "run_name", "r.name", false, false},
    {"run_id", "run_id", "r.run_uuid", false, true},
    {"run_name", "run_name", "r.name", false, true},
    {"start_time", "start_time", "r.start_time", true, true},
    {"status", "status", "r.status", false, true},
    {"user_id", "user_id", "r.user_id", false, true},
};

enum { N_ATTRIBUTES = sizeof attributes / sizeof attributes[0] };

/* SQLite joins at most 64 tables and its parser takes few nested subqueries:
 * longer filters take several lists. */
enum { MAX_TABLES_PER_LIST = 16, MAX_NESTED_LISTS = 4 };

static const char METRIC_COMPARATORS[] = "{'>', '>=', '!=', '=', '<', '<='}";
static const char STRING_COMPARATORS[] = "{'!=', '=', 'LIKE', 'ILIKE'}";
static const char LIST_COMPARATORS[] = "{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}";

static const char *valid_attribute_keys(mfd_arena *arena, bool for_order_by) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_strbuf_append(&sb, "{");
    bool first = true;
    for (size_t i = 0; i < N_ATTRIBUTES; i++) {
        if (for_order_by && !attributes[i].orderable)
            continue;
        mfd_strbuf_appendf(&sb, "%s'%s'", first ? "" : ", ", attributes[i].name);
        first = false;
    }
    mfd_strbuf_append(&sb, "}");
    return sb.data;
}

/* Upstream's SearchUtils._get_identifier: split at the first dot, entity
 * (backticks trimmed) from the table above, key with quotes then backticks
 * removed; attribute and dataset keys are checked here. */
static mfd_err run_identifier(mfd_arena *arena, const char *identifier, bool for_order_by,
                              run_entity *entity, const char **key, const run_attribute **attr) {
    const char *entity_text, *raw_key;
    mfd_search_split_identifier(arena, identifier, &entity_text, &raw_key);
    *attr = NULL;
    *entity = RUN_ATTRIBUTE;
    if (entity_text) {
        const char *name = mfd_search_trim_backticks(arena, entity_text);
        size_t i = 0, n = sizeof entity_names / sizeof entity_names[0];
        while (i < n && strcmp(name, entity_names[i].name) != 0)
            i++;
        if (i == n)
            return mfd_search_error("Invalid entity type '%s'. Valid values are ['metric', "
                                    "'parameter', 'tag', 'attribute', 'dataset']",
                                    mfd_search_excerpt(arena, name));
        *entity = entity_names[i].entity;
    }
    *key = mfd_search_trim_backticks(arena, mfd_search_strip_quotes(arena, raw_key));
    if (*entity == RUN_ATTRIBUTE) {
        for (size_t i = 0; i < N_ATTRIBUTES && !*attr; i++)
            if (strcmp(*key, attributes[i].name) == 0 && (!for_order_by || attributes[i].orderable))
                *attr = &attributes[i];
        if (!*attr)
            return mfd_search_error("Invalid attribute key '%s' specified. Valid keys are '%s'",
                                    mfd_search_excerpt(arena, *key),
                                    valid_attribute_keys(arena, for_order_by));
    } else if (*entity == RUN_DATASET && strcmp(*key, "name") != 0 && strcmp(*key, "digest") != 0 &&
               strcmp(*key, "context") != 0) {
        return mfd_search_error("Invalid dataset key '%s' specified. Valid keys are "
                                "'{'name', 'digest', 'context'}'",
                                mfd_search_excerpt(arena, *key));
    }
    return NULL;
}

/* The clause's value checked against its entity, as upstream's _get_value. */
static mfd_err clause_value(mfd_arena *arena, const mfd_search_clause *c, run_entity entity,
                            const char *key, const run_attribute *attr, const char **text,
                            const char ***items, size_t *n_items) {
    const mfd_search_value *v = &c->value;
    const char *raw = mfd_search_excerpt(arena, v->raw);
    switch (entity) {
    case RUN_METRIC:
        if (v->kind != MFD_VAL_NUMBER)
            return mfd_search_error("Expected numeric value type for metric. Found %s", raw);
        return NULL;
    case RUN_PARAM:
        return mfd_search_string_value(arena, v, "parameter (e.g. 'my-value')", text);
    case RUN_TAG:
        return mfd_search_string_value(arena, v, "tag (e.g. 'my-value')", text);
    case RUN_ATTRIBUTE:
        if (attr->numeric) {
            if (v->kind != MFD_VAL_NUMBER)
                return mfd_search_error(
                    "Expected numeric value type for numeric attribute: %s. Found %s",
                    mfd_search_excerpt(arena, key), raw);
            return NULL;
        }
        if (v->kind == MFD_VAL_LIST) {
            if (strcmp(key, "run_id") != 0)
                return mfd_search_error("Only the 'run_id' attribute supports comparison with a "
                                        "list of quoted string values.");
            return mfd_search_list_items(arena, v, true, items, n_items);
        }
        return mfd_search_string_value(arena, v, "attributes", text);
    case RUN_DATASET:
        if (v->kind == MFD_VAL_LIST)
            return mfd_search_list_items(arena, v, true, items, n_items);
        return mfd_search_string_value(arena, v, "dataset attributes", text);
    }
    return NULL;
}

static mfd_err check_comparator(mfd_arena *arena, const mfd_search_clause *c, run_entity entity,
                                const run_attribute *attr, mfd_search_cmp cmp) {
    bool numeric = entity == RUN_METRIC || (entity == RUN_ATTRIBUTE && attr->numeric);
    bool lists = entity == RUN_DATASET || entity == RUN_ATTRIBUTE;
    const char *allowed = numeric ? METRIC_COMPARATORS
                          : lists ? LIST_COMPARATORS
                                  : STRING_COMPARATORS;
    bool ok = numeric ? mfd_search_cmp_is_numeric(cmp)
                      : mfd_search_cmp_is_string(cmp) ||
                            (lists && (cmp == MFD_CMP_IN || cmp == MFD_CMP_NOT_IN));
    if (!ok)
        return mfd_search_error("Invalid comparator '%s' not one of '%s'",
                                mfd_search_excerpt(arena, c->comparator), allowed);
    bool is_list_cmp = cmp == MFD_CMP_IN || cmp == MFD_CMP_NOT_IN;
    if (is_list_cmp && c->value.kind != MFD_VAL_LIST)
        return mfd_search_error("Comparator '%s' requires a parenthesised list of quoted string "
                                "values, e.g. ('a', 'b')",
                                mfd_search_excerpt(arena, c->comparator));
    if (!is_list_cmp && c->value.kind == MFD_VAL_LIST)
        return mfd_search_error("Comparator '%s' cannot compare with a list of values; use IN "
                                "or NOT IN",
                                mfd_search_excerpt(arena, c->comparator));
    return NULL;
}

/* `column <cmp> value` for a string clause, list or scalar. */
static void string_condition(mfd_search_builder *w, const char *column, mfd_search_cmp cmp,
                             const char *text, const char *const *items, size_t n_items) {
    if (cmp == MFD_CMP_IN || cmp == MFD_CMP_NOT_IN)
        mfd_search_list_cmp(w, column, cmp, items, n_items);
    else
        mfd_search_text_cmp(w, column, cmp, text);
}

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

/* Equality usually keeps few runs, != nearly all: the order in which the
 * clauses of one list are joined (no statistics to go by on SQLite). */
static int key_clause_rank(bool metric, mfd_search_cmp cmp) {
    if (cmp == MFD_CMP_EQ)
        return 0;
    if (cmp == MFD_CMP_NE)
        return 3;
    return metric ? 2 : 1; /* a range, or LIKE/ILIKE */
}

/* Stable, by rank (at most MFD_SEARCH_MAX_CLAUSES items). */
static void sort_key_clauses(key_clause *k, size_t n) {
    for (size_t i = 1; i < n; i++) {
        key_clause item = k[i];
        size_t j = i;
        for (; j > 0 && k[j - 1].rank > item.rank; j--)
            k[j] = k[j - 1];
        k[j] = item;
    }
}

/* `f<i>.key = ? AND f<i>.value <cmp> ?` */
static void key_clause_condition(mfd_search_builder *b, const key_clause *k, size_t i) {
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
static void bind_scope(mfd_search_builder *b, const mfd_search_scope *scope) {
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

static const mfd_search_scope *indexed_experiments(const mfd_search_scope *scope) {
    return scope && scope->experiment_indexes && scope->n_experiment_ids > 0 &&
                   scope->n_experiment_ids <= MAX_INDEXED_EXPERIMENTS
               ? scope
               : NULL;
}

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

/* Whether the clause's entries are in a per-experiment index: every metric
 * clause; a param or tag clause when it reads the partial index of short
 * values (`=` on a short value, see key_clause_list_where). */
static bool in_experiment_index(const key_clause *k) {
    return k->number || (k->cmp == MFD_CMP_EQ && k->text &&
                         mfd_utf8_chars(k->text) <= MFD_SEARCH_SHORT_VALUE_CHARS);
}

/* Stable: the clauses in a per-experiment index first, so that a list over
 * one experiment starts from one of them. */
static void experiment_indexed_first(key_clause *k, size_t n) {
    for (size_t i = 1; i < n; i++) {
        key_clause item = k[i];
        size_t j = i;
        for (; j > 0 && in_experiment_index(&item) && !in_experiment_index(&k[j - 1]); j--)
            k[j] = k[j - 1];
        k[j] = item;
    }
}

/* ` AND <MFD_SEARCH_EXPERIMENT_OF_RUN>(<alias>.run_uuid) IN (?, ...)` */
static void experiment_condition(mfd_search_builder *b, const char *alias,
                                 const mfd_search_scope *indexed) {
    mfd_strbuf_appendf(&b->sql, " AND " MFD_SEARCH_EXPERIMENT_OF_RUN "(%s.run_uuid) IN (", alias);
    bind_scope(b, indexed);
    mfd_search_emit(b, ")");
}

/* PostgreSQL's list, joined: ` FROM <t0> f0 CROSS JOIN <t1> f1 ...` (from)
 * and ` WHERE <f0 condition> AND f1.run_uuid = f0.run_uuid AND <f1
 * condition> ...` (where), after `SELECT f0.run_uuid`. With `exp`
 * (indexed_experiments) each clause in a per-experiment index reads only the
 * entries of the scope's experiments. */
static void key_clause_list_from(mfd_search_builder *b, const key_clause *k, size_t n) {
    for (size_t i = 0; i < n; i++)
        mfd_strbuf_appendf(&b->sql, "%s%s f%zu", i ? " CROSS JOIN " : " FROM ", k[i].table, i);
}

static void key_clause_list_where(mfd_search_builder *b, const key_clause *k, size_t n,
                                  const mfd_search_scope *only, const mfd_search_scope *exp) {
    for (size_t i = 0; i < n; i++) {
        mfd_search_emit(b, i ? " AND " : " WHERE ");
        if (i)
            mfd_strbuf_appendf(&b->sql, "f%zu.run_uuid = f0.run_uuid AND ", i);
        key_clause_condition(b, &k[i], i);
        /* `=` on a short param/tag value also states what the equality
         * implies, the predicate of the partial indexes on short values, so
         * the planner reads such an index alone (MFD_SEARCH_SHORT_VALUE_CHARS). */
        if (k[i].text && k[i].cmp == MFD_CMP_EQ &&
            mfd_utf8_chars(k[i].text) <= MFD_SEARCH_SHORT_VALUE_CHARS)
            mfd_strbuf_appendf(&b->sql, " AND length(f%zu.value) <= %d", i,
                               MFD_SEARCH_SHORT_VALUE_CHARS);
        if (exp && in_experiment_index(&k[i]))
            experiment_condition(b, mfd_arena_sprintf(b->arena, "f%zu", i), exp);
    }
    if (only && n) { /* a small scope: the planner can start from its runs */
        mfd_search_emit(b, " AND f0.run_uuid IN (SELECT rs.run_uuid FROM runs rs WHERE "
                           "rs.experiment_id IN (");
        bind_scope(b, only);
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
        key_clause_condition(b, &k[i], i);
        if (i)
            mfd_strbuf_appendf(&b->sql, " AND f%zu.run_uuid IN (", i);
    }
    for (size_t i = 0; i < n; i++)
        mfd_search_emit(b, ")");
}

/* Checks one clause; metric/param/tag/run_name clauses go to `keys` (the
 * caller joins them), the others are written to `w`. */
static mfd_err compile_clause(mfd_arena *arena, const mfd_search_clause *c, mfd_search_builder *w,
                              key_clause *keys, size_t *n_keys, bool *names_run_id) {
    run_entity entity = RUN_ATTRIBUTE;
    const char *key = NULL, *text = NULL, **items = NULL;
    const run_attribute *attr = NULL;
    size_t n_items = 0;
    mfd_err err = run_identifier(arena, c->identifier, false, &entity, &key, &attr);
    if (!err)
        err = clause_value(arena, c, entity, key, attr, &text, &items, &n_items);
    mfd_search_cmp cmp = mfd_search_comparator(c->comparator, true);
    if (!err)
        err = check_comparator(arena, c, entity, attr, cmp);
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
    k->rank = key_clause_rank(entity == RUN_METRIC, cmp);
    (*n_keys)++;
    return NULL;
}

/* One order_by element, checked. */
typedef struct order_key {
    run_entity entity;
    const char *key;           /* canonical for attributes */
    const run_attribute *attr; /* attributes only */
    bool ascending;
} order_key;

static const char *order_table(run_entity entity) {
    return entity == RUN_METRIC ? "latest_metrics" : entity == RUN_PARAM ? "params" : "tags";
}

/* Upstream's order_by checks, in its order: parse, identifier, no dataset, no
 * field twice. */
static mfd_err check_order_by(mfd_arena *arena, const mfd_search_input *in, order_key **out,
                              size_t *count) {
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
            err = run_identifier(arena, identifier, true, &k->entity, &k->key, &k->attr);
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
static void order_rest(mfd_search_builder *from, mfd_search_builder *order, const order_key *keys,
                       size_t n_keys, size_t first, bool values_only) {
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
static bool compile_from_and_order(mfd_search_builder *from, mfd_search_builder *order,
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
        key_clause_list_from(from, list, n_list);
        for (size_t i = 0; i < prefix; i++)
            order_join(from, &keys[i], i, "f0.run_uuid");
        key_clause_list_where(from, list, n_list, only, exp);
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
    order_rest(from, order, keys, n_keys, prefix, values_only && prefix == 0);
    return prefix > 0;
}

/* SQLite: the rows that the lists' innermost clause (the first) reads, as
 * `SELECT 1 FROM <t> f0 WHERE <condition>` in `where`: how many there are
 * against the experiments' runs chooses by_experiment. */
static mfd_search_sql *first_clause_matches(mfd_arena *arena, const key_clause *k) {
    mfd_search_builder b;
    mfd_search_builder_init(&b, arena);
    mfd_strbuf_appendf(&b.sql, "SELECT 1 FROM %s f0 WHERE ", k->table);
    key_clause_condition(&b, k, 0);
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
static void key_clause_probes(mfd_search_builder *lists, const key_clause *keys, size_t n_keys) {
    for (size_t i = 0; i < n_keys; i++) {
        mfd_search_builder_and(lists);
        mfd_strbuf_appendf(&lists->sql,
                           "EXISTS (SELECT 1 FROM %s f%zu WHERE f%zu.run_uuid = r.run_uuid AND ",
                           keys[i].table, i, i);
        key_clause_condition(lists, &keys[i], i);
        mfd_search_emit(lists, ")");
    }
}

/* `r.run_uuid IN (<list>)` for the key clauses from `start` on: joined lists
 * (PostgreSQL) or nested ones (SQLite), as many clauses per list as each takes. */
static void key_clause_lists(mfd_search_builder *lists, const key_clause *keys, size_t start,
                             size_t n_keys, bool candidates_first, const mfd_search_scope *only,
                             const mfd_search_scope *exp) {
    size_t per_list = candidates_first ? MAX_TABLES_PER_LIST : MAX_NESTED_LISTS;
    for (size_t i = start; i < n_keys; i += per_list) {
        size_t n = n_keys - i < per_list ? n_keys - i : per_list;
        mfd_search_builder_and(lists);
        if (candidates_first) {
            mfd_search_emit(lists, "r.run_uuid IN (SELECT f0.run_uuid");
            key_clause_list_from(lists, keys + i, n);
            key_clause_list_where(lists, keys + i, n, only, exp);
            mfd_search_emit(lists, ")");
        } else {
            key_clause_chain(lists, keys + i, n);
        }
    }
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
        experiment_condition(b, "w", exp);
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
    order_rest(from, &order, keys, n_order_keys, 1, false);
    mfd_search_builder_and(&lists);
    mfd_search_emit(&lists, "r.run_uuid = o0.run_uuid");
    key_clause_lists(&lists, list, n_list, n_keys, true, NULL, exp);
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
static mfd_err compile_window(mfd_arena *arena, const order_key *keys, size_t n_order_keys,
                              const key_clause *list, size_t n_list, size_t n_keys,
                              const key_clause *walk, size_t n_walk,
                              const mfd_search_builder *where, const mfd_search_scope *scope,
                              mfd_search_sql *out) {
    mfd_search_builder from;
    mfd_search_builder_init(&from, arena);
    const char *direction = keys[0].ascending ? "ASC" : "DESC";
    const mfd_search_scope *exp = indexed_experiments(scope), *walk_exp = walked_experiments(exp);
    /* the walk's length, `n` (a merged walk reads it once per range) */
    if (!n_list) {
        mfd_search_emit(&from, "(WITH n AS (SELECT count(*) AS n FROM (SELECT 1 FROM runs rc "
                               "WHERE rc.experiment_id IN (");
        bind_scope(&from, scope);
        mfd_strbuf_appendf(&from.sql, ") LIMIT %d) rc) SELECT w.run_uuid, w.value FROM ",
                           WINDOW_MAX_SCOPE_ENTRIES);
        walk_source(&from, keys[0].key, walk_exp, walk, n_walk, direction, "(SELECT n.n FROM n)");
        /* restated: the order of a subquery with a WITH is known outside only from its ORDER BY
         * (without it the outer query joined every entry of the window, then sorted) */
        mfd_strbuf_appendf(&from.sql, " ORDER BY w.value %s) o0 CROSS JOIN runs r", direction);
    } else {
        mfd_search_emit(&from, "(WITH c AS MATERIALIZED (SELECT f0.run_uuid");
        key_clause_list_from(&from, list, n_list);
        key_clause_list_where(&from, list, n_list, NULL, exp);
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
static mfd_err compile_probe(mfd_arena *arena, const order_key *keys, size_t n_order_keys,
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
        key_clause_condition(&from, &rest[i], i);
        /* OFFSET 0 keeps the EXISTS a probe per entry, evaluated only until
         * the page is full: without it PostgreSQL may make it a semi-join or a
         * hashed subplan, reading every run's row for the key first (over
         * 100,000 runs, 5 -> 30 ms). */
        mfd_search_emit(&from, " OFFSET 0)");
    }
    mfd_strbuf_appendf(&from.sql, " ORDER BY w.value %s) o0 CROSS JOIN runs r", direction);
    return finish_window(&from, keys, n_order_keys, rest, n_rest, n_rest, where, exp, out);
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

static mfd_err compile_runs(mfd_arena *arena, const mfd_search_input *in, bool candidates_first,
                            const mfd_search_scope *scope, mfd_search_sql *out) {
    static const mfd_search_input none = {0};
    memset(out, 0, sizeof *out);
    if (!in)
        in = &none;
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
    if ((err = check_order_by(arena, in, &order_keys, &n_order_keys)))
        return err;
    sort_key_clauses(keys, n_keys);
    const mfd_search_scope *exp = candidates_first ? indexed_experiments(scope) : NULL;
    if (exp)
        experiment_indexed_first(keys, n_keys);
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
    bool in_from = compile_from_and_order(&from, &order, order_keys, n_order_keys, listed, first,
                                          candidates_first, only, exp, values_only);
    if (in_from) {
        mfd_search_builder_and(&lists);
        mfd_search_emit(&lists, "r.run_uuid = s.run_uuid");
    }
    if (!candidates_first && scope && scope->by_experiment)
        key_clause_probes(&lists, listed, n_listed);
    else
        key_clause_lists(&lists, listed, in_from ? first : 0, n_listed, candidates_first, only,
                         exp);
    for (size_t i = 0; i < n_on_order; i++) {
        mfd_search_builder_and(&lists);
        mfd_search_number_cmp(&lists, "o0.value", on_order[i].cmp, on_order[i].number, false);
    }
    mfd_search_builder_and_all(&lists, &where);
    if ((err = mfd_search_finish_joined(&from, &lists, &order, out)))
        return err;
    out->has_key_clauses = n_keys > 0;
    out->names_run_id = names_run_id;
    for (size_t i = 0; i < n_keys; i++)
        out->outside_experiment_indexes =
            out->outside_experiment_indexes || !in_experiment_index(&keys[i]);
    if (!candidates_first && n_listed)
        out->first_clause = first_clause_matches(arena, &listed[0]);
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
            mfd_err too_large = compile_window(arena, order_keys, n_order_keys, rest, first_rest,
                                               n_rest, walk, n_walk, &where, scope, window);
            out->window = too_large ? NULL : window;
            mfd_err_free(too_large);
            if (out->window && n_rest && scope && scope->page_rows > 0) {
                mfd_search_sql *probe = mfd_arena_calloc(arena, 1, sizeof *probe);
                too_large = compile_probe(arena, order_keys, n_order_keys, rest, n_rest, walk,
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
