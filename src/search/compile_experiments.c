/* compile_experiments.c — experiments/search (search-grammar.md §3): filter
 * and order_by compiled against `experiments e`.
 *
 * Unlike runs, comparators are case-sensitive here (`like` is an error, as
 * upstream checks them as written), IN is refused, and only `attribute.`,
 * `tag.` and `tags.` prefixes exist. A tag clause is a correlated EXISTS, so
 * an experiment without the tag never matches. Ordering keeps the engines'
 * own NULL placement (upstream adds no missing-rank here) and ends with
 * experiment_id DESC unless experiment_id was ordered on. */
#include "search_internal.h"

#include <string.h>

typedef struct experiment_attribute {
    const char *name;
    const char *column;
    bool numeric;
    bool filterable;
} experiment_attribute;

static const experiment_attribute attributes[] = {
    {"name", "e.name", false, true},
    {"creation_time", "e.creation_time", true, true},
    {"last_update_time", "e.last_update_time", true, true},
    {"experiment_id", "e.experiment_id", true, false},
};

enum { N_ATTRIBUTES = sizeof attributes / sizeof attributes[0] };

/* Upstream's SearchExperimentsUtils._get_identifier. *attr is NULL for tags. */
static mfd_err experiment_identifier(mfd_arena *arena, const char *identifier, bool for_order_by,
                                     const char **key, const experiment_attribute **attr) {
    const char *entity, *raw_key;
    mfd_search_split_identifier(arena, identifier, &entity, &raw_key);
    *attr = NULL;
    bool is_tag = false;
    mfd_err err = mfd_search_attribute_or_tag(arena, entity, &is_tag);
    if (err)
        return err;
    *key = mfd_search_trim_backticks(arena, mfd_search_strip_quotes(arena, raw_key));
    if (is_tag)
        return NULL;
    for (size_t i = 0; i < N_ATTRIBUTES && !*attr; i++)
        if (strcmp(*key, attributes[i].name) == 0 && (for_order_by || attributes[i].filterable))
            *attr = &attributes[i];
    if (!*attr)
        return mfd_search_error(
            "Invalid attribute key '%s' specified. Valid keys are '%s'",
            mfd_search_excerpt(arena, *key),
            for_order_by ? "{'name', 'experiment_id', 'creation_time', 'last_update_time'}"
                         : "{'name', 'creation_time', 'last_update_time'}");
    return NULL;
}

static mfd_err compile_clause(mfd_arena *arena, const mfd_search_clause *c, mfd_search_builder *w) {
    const char *key = NULL, *text = NULL;
    const experiment_attribute *attr = NULL;
    mfd_err err = experiment_identifier(arena, c->identifier, false, &key, &attr);
    if (err)
        return err;
    const mfd_search_value *v = &c->value;
    const char *comparator = mfd_search_excerpt(arena, c->comparator);
    mfd_search_cmp cmp = mfd_search_comparator(c->comparator, false);

    if (!attr) {
        if ((err = mfd_search_string_value(arena, v, "tag (e.g. 'my-value')", &text)))
            return err;
        if (!mfd_search_cmp_is_string(cmp))
            return mfd_search_error("Invalid comparator for tag: %s", comparator);
        mfd_search_builder_and(w);
        mfd_search_emit(w, "EXISTS (SELECT 1 FROM experiment_tags et WHERE et.experiment_id = "
                           "e.experiment_id AND et.key = ");
        mfd_search_bind_text(w, key);
        mfd_search_emit(w, " AND ");
        mfd_search_text_cmp(w, "et.value", cmp, text);
        mfd_search_emit(w, ")");
        return NULL;
    }
    if (attr->numeric) {
        if (v->kind != MFD_VAL_NUMBER)
            return mfd_search_error(
                "Expected numeric value type for numeric attribute: %s. Found %s", attr->name,
                mfd_search_excerpt(arena, v->raw));
        if (!mfd_search_cmp_is_numeric(cmp))
            return mfd_search_error("Invalid comparator for numeric attribute: %s", comparator);
        mfd_search_builder_and(w);
        mfd_search_number_cmp(w, attr->column, cmp, &v->number, true);
        return NULL;
    }
    if (v->kind == MFD_VAL_LIST)
        return mfd_search_error("Only the 'run_id' attribute supports comparison with a list of "
                                "quoted string values.");
    if ((err = mfd_search_string_value(arena, v, "attributes", &text)))
        return err;
    if (cmp == MFD_CMP_INVALID)
        return mfd_search_error("Invalid comparator '%s' not one of '{'!=', '=', 'LIKE', "
                                "'ILIKE', 'IN', 'NOT IN'}'",
                                comparator);
    if (!mfd_search_cmp_is_string(cmp))
        return mfd_search_error("Invalid comparator for string attribute: %s", comparator);
    mfd_search_builder_and(w);
    mfd_search_text_cmp(w, attr->column, cmp, text);
    return NULL;
}

static mfd_err compile_order_by(mfd_arena *arena, const mfd_search_input *in,
                                mfd_search_builder *o) {
    size_t n = in->order_by ? in->n_order_by : 0;
    if (n > MFD_SEARCH_MAX_ORDER_BY)
        return mfd_search_error("Too many order_by fields (at most %d)", MFD_SEARCH_MAX_ORDER_BY);
    if (n == 0) {
        mfd_search_builder_comma(o);
        mfd_search_emit(o, "e.creation_time DESC, e.experiment_id ASC");
        return NULL;
    }
    bool experiment_id_seen = false;
    for (size_t i = 0; i < n; i++) {
        const char *identifier = NULL, *key = NULL;
        const experiment_attribute *attr = NULL;
        bool ascending = true;
        mfd_err err = mfd_search_parse_order_by(arena, in->order_by[i], &identifier, &ascending);
        if (!err)
            err = experiment_identifier(arena, identifier, true, &key, &attr);
        if (err)
            return err;
        if (!attr)
            return mfd_search_error("Invalid order_by entity: tag");
        experiment_id_seen = experiment_id_seen || strcmp(attr->name, "experiment_id") == 0;
        mfd_search_builder_comma(o);
        mfd_strbuf_appendf(&o->sql, "%s %s", attr->column, ascending ? "ASC" : "DESC");
    }
    if (!experiment_id_seen) {
        mfd_search_builder_comma(o);
        mfd_search_emit(o, "e.experiment_id DESC");
    }
    return NULL;
}

mfd_err mfd_search_experiments(mfd_arena *arena, const mfd_search_input *in, mfd_search_sql *out) {
    in = mfd_search_start(in, out);
    mfd_search_clause *clauses;
    size_t n_clauses;
    mfd_err err = mfd_search_parse_filter(arena, in->filter, &clauses, &n_clauses);
    if (err)
        return err;
    mfd_search_builder where, order;
    mfd_search_builder_init(&where, arena);
    mfd_search_builder_init(&order, arena);
    for (size_t i = 0; i < n_clauses; i++)
        if ((err = compile_clause(arena, &clauses[i], &where)))
            return err;
    if ((err = compile_order_by(arena, in, &order)))
        return err;
    return mfd_search_finish(&where, &order, out);
}
