/* compile_runs.c — POST runs/search (search-grammar.md §2): filter clauses
 * and order_by elements compiled against `runs r`.
 *
 * Every metric/param/tag clause is `r.run_uuid IN (SELECT run_uuid FROM
 * <table> WHERE key = ? AND value <cmp> ?)`, so a run lacking the key never
 * matches, not even for `!=`; SQLite materialises each list once and probes
 * it, which is about twice as fast over 10,000 runs as a correlated EXISTS.
 * `run_name` clauses read the tag mlflow.runName; dataset clauses stay
 * correlated EXISTS (several inputs per run). Each metric/param/tag order_by
 * key is one LEFT JOIN on its table's (key, run_uuid) primary key — unique,
 * so no run is duplicated — giving rank and value from one lookup. Ordering
 * puts a "missing" rank before each value (metrics: 0 value, 1 NaN, 2 absent)
 * so absent keys sort last both ways, then start_time DESC unless already
 * ordered on, then run_uuid. */
#include "search_internal.h"

#include <string.h>

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

/* `r.run_uuid IN (SELECT <alias>.run_uuid FROM <table> <alias> WHERE <alias>.key = ? AND ` —
 * the caller appends the value condition and the closing parenthesis. */
static void key_list_open(mfd_search_builder *w, const char *table, const char *alias,
                          const char *key) {
    mfd_strbuf_appendf(&w->sql,
                       "r.run_uuid IN (SELECT %s.run_uuid FROM %s %s WHERE %s.key = ", alias, table,
                       alias, alias);
    mfd_search_bind_text(w, key);
    mfd_search_emit(w, " AND ");
}

static void key_value_in(mfd_search_builder *w, const char *table, const char *alias,
                         const char *key, mfd_search_cmp cmp, const char *text) {
    key_list_open(w, table, alias, key);
    mfd_search_text_cmp(w, mfd_arena_sprintf(w->arena, "%s.value", alias), cmp, text);
    mfd_search_emit(w, ")");
}

static mfd_err compile_clause(mfd_arena *arena, const mfd_search_clause *c, mfd_search_builder *w) {
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

    mfd_search_builder_and(w);
    switch (entity) {
    case RUN_METRIC:
        key_list_open(w, "latest_metrics", "m", key);
        mfd_search_number_cmp(w, "m.value", cmp, &c->value.number, false);
        mfd_search_emit(w, ")");
        break;
    case RUN_PARAM:
        key_value_in(w, "params", "p", key, cmp, text);
        break;
    case RUN_TAG:
        key_value_in(w, "tags", "t", key, cmp, text);
        break;
    case RUN_ATTRIBUTE:
        if (strcmp(attr->canonical, "run_name") == 0)
            key_value_in(w, "tags", "t", "mlflow.runName", cmp, text);
        else if (attr->numeric)
            mfd_search_number_cmp(w, attr->column, cmp, &c->value.number, true);
        else
            string_condition(w, attr->column, cmp, text, items, n_items);
        break;
    case RUN_DATASET: {
        bool context = strcmp(key, "context") == 0;
        mfd_search_emit(w, "EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = "
                           "i.source_id");
        if (context)
            mfd_search_emit(w, " JOIN input_tags it ON it.input_uuid = i.input_uuid");
        mfd_search_emit(w, " WHERE i.destination_id = r.run_uuid AND i.source_type = ");
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
        break;
    }
    }
    return NULL;
}

/* LEFT JOIN of the run's row of `table` for the bound key, as alias o<i>. */
static const char *key_join(mfd_search_builder *j, const char *table, size_t i, const char *key) {
    const char *alias = mfd_arena_sprintf(j->arena, "o%zu", i);
    mfd_strbuf_appendf(&j->sql, " LEFT JOIN %s %s ON %s.run_uuid = r.run_uuid AND %s.key = ", table,
                       alias, alias, alias);
    mfd_search_bind_text(j, key);
    return alias;
}

typedef struct seen_field {
    run_entity entity;
    const char *key;
} seen_field;

static mfd_err compile_order_by(mfd_arena *arena, const mfd_search_input *in, mfd_search_builder *j,
                                mfd_search_builder *o) {
    size_t n = in->order_by ? in->n_order_by : 0;
    if (n > MFD_SEARCH_MAX_ORDER_BY)
        return mfd_search_error("Too many order_by fields (at most %d)", MFD_SEARCH_MAX_ORDER_BY);
    seen_field *seen = mfd_arena_calloc(arena, n ? n : 1, sizeof *seen);
    bool start_time_seen = false;
    for (size_t i = 0; i < n; i++) {
        const char *identifier = NULL, *key = NULL;
        bool ascending = true;
        run_entity entity = RUN_ATTRIBUTE;
        const run_attribute *attr = NULL;
        mfd_err err = mfd_search_parse_order_by(arena, in->order_by[i], &identifier, &ascending);
        if (!err)
            err = run_identifier(arena, identifier, true, &entity, &key, &attr);
        if (err)
            return err;
        if (entity == RUN_DATASET)
            return mfd_search_error("Invalid identifier type 'dataset'");
        if (attr)
            key = attr->canonical;
        for (size_t k = 0; k < i; k++)
            if (seen[k].entity == entity && strcmp(seen[k].key, key) == 0)
                return mfd_search_error("`order_by` contains duplicate fields: %s",
                                        mfd_search_order_by_repr(arena, in->order_by, n));
        seen[i] = (seen_field){entity, key};
        const char *direction = ascending ? " ASC" : " DESC";

        mfd_search_builder_comma(o);
        switch (entity) {
        case RUN_METRIC: {
            const char *a = key_join(j, "latest_metrics", i, key);
            mfd_strbuf_appendf(&o->sql,
                               "CASE WHEN %s.run_uuid IS NULL THEN 2 WHEN CAST(%s.is_nan AS "
                               "INTEGER) = 1 THEN 1 ELSE 0 END, %s.value",
                               a, a, a);
            break;
        }
        case RUN_PARAM:
        case RUN_TAG: {
            const char *a = key_join(j, entity == RUN_PARAM ? "params" : "tags", i, key);
            mfd_strbuf_appendf(&o->sql, "CASE WHEN %s.value IS NULL THEN 1 ELSE 0 END, %s.value", a,
                               a);
            break;
        }
        default:
            start_time_seen = start_time_seen || strcmp(key, "start_time") == 0;
            mfd_strbuf_appendf(&o->sql, "CASE WHEN %s IS NULL THEN 1 ELSE 0 END, %s", attr->column,
                               attr->column);
            break;
        }
        mfd_search_emit(o, direction);
    }
    if (!start_time_seen) {
        mfd_search_builder_comma(o);
        mfd_search_emit(o, "r.start_time DESC");
    }
    mfd_search_builder_comma(o);
    mfd_search_emit(o, "r.run_uuid ASC");
    return NULL;
}

mfd_err mfd_search_runs(mfd_arena *arena, const mfd_search_input *in, mfd_search_sql *out) {
    static const mfd_search_input none = {0};
    memset(out, 0, sizeof *out);
    if (!in)
        in = &none;
    mfd_search_clause *clauses;
    size_t n_clauses;
    mfd_err err = mfd_search_parse_filter(arena, in->filter, &clauses, &n_clauses);
    if (err)
        return err;
    mfd_search_builder joins, where, order;
    mfd_search_builder_init(&joins, arena);
    mfd_search_builder_init(&where, arena);
    mfd_search_builder_init(&order, arena);
    for (size_t i = 0; i < n_clauses; i++)
        if ((err = compile_clause(arena, &clauses[i], &where)))
            return err;
    if ((err = compile_order_by(arena, in, &joins, &order)))
        return err;
    return mfd_search_finish_joined(&joins, &where, &order, out);
}
