/* compile_registry.c — registered-models/search and model-versions/search
 * (search-grammar.md §4, §5), compiled against `registered_models rm` and
 * `model_versions mv`.
 *
 * Both share upstream's tag handling: tag clauses are grouped by key, and a
 * row matches only if, for every key, its tag row satisfies all clauses on
 * that key (one IN-list joining a tag row per key). Prompts (tag
 * mlflow.prompt.is_prompt = 'true') are excluded unless the first clause on that tag selects them;
 * when excluded, clauses on that tag are dropped. As upstream, a model version is excluded when any
 * version of the same model carries the prompt tag (its anti-join matches on name only).
 * Model-version where clauses always skip soft-deleted versions (current_stage 'Deleted_Internal').
 */
#include "search_internal.h"

#include <string.h>
#include <strings.h>

static const char IS_PROMPT_TAG[] = "mlflow.prompt.is_prompt";

typedef struct registry_table {
    const char *tag_from; /* tag table and alias */
    const char *tag_alias;
    const char *tag_table;
    const char *const *key_cols; /* a tag row's columns naming its model (version) */
    const char *tag_in_lhs;      /* the searched row's key, for `<lhs> IN (SELECT <cols> ...)` */
    const char *prompt_join;     /* correlation of the prompt anti-join */
    const char *const *attrs;    /* filterable attribute names */
    const char *attrs_repr;
} registry_table;

static const char *const rm_attrs[] = {"name", NULL};
static const char *const mv_attrs[] = {"name", "version_number", "run_id", "source_path", NULL};
static const char *const rm_key_cols[] = {"name", NULL};
static const char *const mv_key_cols[] = {"name", "version", NULL};

static const registry_table registered_models = {
    "registered_model_tags rmt",
    "rmt",
    "registered_model_tags",
    rm_key_cols,
    "rm.name",
    "rmt.name = rm.name",
    rm_attrs,
    "{'name'}",
};

static const registry_table model_versions = {
    "model_version_tags mvt",
    "mvt",
    "model_version_tags",
    mv_key_cols,
    "(mv.name, mv.version)",
    "mvt.name = mv.name",
    mv_attrs,
    "{'name', 'version_number', 'run_id', 'source_path'}",
};

/* Tag keys joined in one list; a filter on more keys probes the rest. */
enum { MAX_JOINED_TAG_KEYS = 8 };

typedef struct tag_condition {
    const char *key;
    mfd_search_cmp cmp;
    const char *value;
    bool emitted;
} tag_condition;

/* Upstream's _get_model_search_identifier: attribute keys are checked before
 * their quotes are removed. *is_tag false means an attribute. */
static mfd_err registry_identifier(mfd_arena *arena, const registry_table *table,
                                   const char *identifier, bool *is_tag, const char **key) {
    const char *entity, *raw_key;
    mfd_search_split_identifier(arena, identifier, &entity, &raw_key);
    mfd_err err = mfd_search_attribute_or_tag(arena, entity, is_tag);
    if (err)
        return err;
    if (!*is_tag) {
        size_t i = 0;
        while (table->attrs[i] && strcmp(table->attrs[i], raw_key) != 0)
            i++;
        if (!table->attrs[i])
            return mfd_search_error("Invalid attribute key '%s' specified. Valid keys are '%s'",
                                    mfd_search_excerpt(arena, raw_key), table->attrs_repr);
    }
    *key = mfd_search_trim_backticks(arena, mfd_search_strip_quotes(arena, raw_key));
    return NULL;
}

/* A model-version attribute clause (registered models have only `name`,
 * which is the first case below). */
static mfd_err attribute_clause(mfd_arena *arena, const mfd_search_clause *c, const char *key,
                                mfd_search_cmp cmp, bool model_versions_search,
                                mfd_search_builder *w) {
    const mfd_search_value *v = &c->value;
    const char *comparator = mfd_search_excerpt(arena, c->comparator);
    const char *raw = mfd_search_excerpt(arena, v->raw);
    mfd_err err;
    if (v->kind == MFD_VAL_LIST && strcmp(key, "run_id") != 0)
        return mfd_search_error("Only the 'run_id' attribute supports comparison with a list of "
                                "quoted string values.");
    if (strcmp(key, "version_number") == 0) {
        mfd_search_number number = v->number;
        const char *text;
        if (v->kind != MFD_VAL_NUMBER) {
            if ((err = mfd_search_string_value(arena, v, "attributes", &text)))
                return err;
            if (!mfd_search_parse_number(text, &number))
                return mfd_search_error(
                    "Expected numeric value type for numeric attribute: version_number. Found %s",
                    raw);
        }
        if (!mfd_search_cmp_is_numeric(cmp))
            return mfd_search_error("Invalid comparator for attribute version_number: %s",
                                    comparator);
        mfd_search_builder_and(w);
        mfd_search_number_cmp(w, "mv.version", cmp, &number, true);
        return NULL;
    }
    if (v->kind == MFD_VAL_NUMBER)
        return model_versions_search
                   ? mfd_search_error("Only the '{'version_number', 'creation_timestamp', "
                                      "'last_updated_timestamp'}' attributes support comparison "
                                      "with numeric values.")
                   : mfd_search_error("Expected a quoted string value or a list of quoted string "
                                      "values for attributes. Got value %s",
                                      raw);
    bool is_run_id = strcmp(key, "run_id") == 0;
    if (!(mfd_search_cmp_is_string(cmp) || (cmp == MFD_CMP_IN && is_run_id)))
        return mfd_search_error("Invalid comparator for attribute: %s", comparator);
    const char *column = !model_versions_search     ? "rm.name"
                         : strcmp(key, "name") == 0 ? "mv.name"
                         : is_run_id                ? "mv.run_id"
                                                    : "mv.source";
    if (cmp == MFD_CMP_IN) {
        const char **items;
        size_t n_items;
        if (v->kind != MFD_VAL_LIST)
            return mfd_search_error("Comparator 'IN' requires a parenthesised list of quoted "
                                    "string values, e.g. ('a', 'b')");
        if ((err = mfd_search_list_items(arena, v, true, &items, &n_items)))
            return err;
        mfd_search_builder_and(w);
        mfd_search_list_cmp(w, column, cmp, items, n_items);
        return NULL;
    }
    if (v->kind == MFD_VAL_LIST)
        return mfd_search_error("Comparator '%s' cannot compare with a list of values; use IN",
                                comparator);
    const char *text;
    if ((err = mfd_search_string_value(arena, v, "attributes", &text)))
        return err;
    mfd_search_builder_and(w);
    mfd_search_text_cmp(w, column, cmp, text);
    return NULL;
}

/* True when the first clause on the prompt tag asks for prompts. */
static bool querying_prompts(const tag_condition *tags, size_t n_tags) {
    for (size_t i = 0; i < n_tags; i++) {
        if (strcmp(tags[i].key, IS_PROMPT_TAG) != 0)
            continue;
        return (tags[i].cmp == MFD_CMP_EQ && strcasecmp(tags[i].value, "true") == 0) ||
               (tags[i].cmp == MFD_CMP_NE && strcasecmp(tags[i].value, "false") == 0);
    }
    return false;
}

/* `t<row>.key = ? AND <each clause on that key over t<row>.value>`, the
 * clauses on tags[first]'s key marked emitted. */
static void key_group(mfd_search_builder *w, tag_condition *tags, size_t n_tags, size_t first,
                      size_t row) {
    mfd_strbuf_appendf(&w->sql, "t%zu.key = ", row);
    mfd_search_bind_text(w, tags[first].key);
    const char *value_column = mfd_arena_sprintf(w->arena, "t%zu.value", row);
    for (size_t k = first; k < n_tags; k++) {
        if (tags[k].emitted || strcmp(tags[k].key, tags[first].key) != 0)
            continue;
        mfd_search_emit(w, " AND ");
        mfd_search_text_cmp(w, value_column, tags[k].cmp, tags[k].value);
        tags[k].emitted = true;
    }
}

/* `t<row>.name = <other>.name [AND t<row>.version = <other>.version]`. */
static void same_key(mfd_search_builder *w, const registry_table *table, size_t row,
                     const char *other) {
    for (size_t c = 0; table->key_cols[c]; c++)
        mfd_strbuf_appendf(&w->sql, "%st%zu.%s = %s.%s", c ? " AND " : "", row, table->key_cols[c],
                           other, table->key_cols[c]);
}

static void tag_conditions(const registry_table *table, tag_condition *tags, size_t n_tags,
                           mfd_search_builder *w) {
    if (!querying_prompts(tags, n_tags)) {
        for (size_t i = 0; i < n_tags; i++)
            if (strcmp(tags[i].key, IS_PROMPT_TAG) == 0)
                tags[i].emitted = true; /* dropped */
        mfd_search_builder_and(w);
        mfd_strbuf_appendf(&w->sql,
                           "NOT EXISTS (SELECT 1 FROM %s WHERE %s AND %s.key = ", table->tag_from,
                           table->prompt_join, table->tag_alias);
        mfd_search_bind_text(w, IS_PROMPT_TAG);
        mfd_strbuf_appendf(&w->sql, " AND %s.value = ", table->tag_alias);
        mfd_search_bind_text(w, "true");
        mfd_search_emit(w, ")");
    }
    /* The first clause of each key, in order. */
    size_t *groups = mfd_arena_alloc(w->arena, (n_tags ? n_tags : 1) * sizeof *groups);
    size_t n_groups = 0;
    for (size_t i = 0; i < n_tags; i++) {
        bool seen = tags[i].emitted;
        for (size_t g = 0; g < n_groups && !seen; g++)
            seen = strcmp(tags[groups[g]].key, tags[i].key) == 0;
        if (!seen)
            groups[n_groups++] = i;
    }
    if (n_groups == 0)
        return;
    /* One list of the models (versions) with a matching tag row for each key,
     * joined by primary key from the first key's rows: SQLite builds it once
     * and looks up only its models, where a probe per key for each row of the
     * first key's list looked up every one of those (3 keys over 5,000
     * models: 2.5 -> 1.3 ms). */
    size_t joined = n_groups < MAX_JOINED_TAG_KEYS ? n_groups : MAX_JOINED_TAG_KEYS;
    mfd_search_builder_and(w);
    mfd_strbuf_appendf(&w->sql, "%s IN (SELECT ", table->tag_in_lhs);
    for (size_t c = 0; table->key_cols[c]; c++)
        mfd_strbuf_appendf(&w->sql, "%st0.%s", c ? ", " : "", table->key_cols[c]);
    mfd_strbuf_appendf(&w->sql, " FROM %s t0", table->tag_table);
    for (size_t g = 1; g < joined; g++) {
        mfd_strbuf_appendf(&w->sql, " JOIN %s t%zu ON ", table->tag_table, g);
        same_key(w, table, g, "t0");
        mfd_search_emit(w, " AND ");
        key_group(w, tags, n_tags, groups[g], g);
    }
    mfd_search_emit(w, " WHERE ");
    key_group(w, tags, n_tags, groups[0], 0);
    mfd_search_emit(w, ")");
    for (size_t g = joined; g < n_groups; g++) {
        mfd_search_builder_and(w);
        mfd_strbuf_appendf(&w->sql, "EXISTS (SELECT 1 FROM %s t%zu WHERE ", table->tag_table, g);
        same_key(w, table, g, table == &model_versions ? "mv" : "rm");
        mfd_search_emit(w, " AND ");
        key_group(w, tags, n_tags, groups[g], g);
        mfd_search_emit(w, ")");
    }
}

static mfd_err compile_filter(mfd_arena *arena, const registry_table *table, const char *filter,
                              mfd_search_builder *w) {
    mfd_search_clause *clauses;
    size_t n_clauses, n_tags = 0;
    mfd_err err = mfd_search_parse_filter(arena, filter, &clauses, &n_clauses);
    if (err)
        return err;
    bool model_versions_search = table == &model_versions;
    if (model_versions_search) {
        mfd_search_builder_and(w);
        mfd_search_emit(w, "mv.current_stage != ");
        mfd_search_bind_text(w, "Deleted_Internal");
    }
    tag_condition *tags = mfd_arena_calloc(arena, n_clauses ? n_clauses : 1, sizeof *tags);
    for (size_t i = 0; i < n_clauses; i++) {
        const mfd_search_clause *c = &clauses[i];
        bool is_tag = false;
        const char *key = NULL;
        if ((err = registry_identifier(arena, table, c->identifier, &is_tag, &key)))
            return err;
        mfd_search_cmp cmp = mfd_search_comparator(c->comparator, true);
        if (!is_tag) {
            if ((err = attribute_clause(arena, c, key, cmp, model_versions_search, w)))
                return err;
            continue;
        }
        const char *value;
        if ((err = mfd_search_string_value(arena, &c->value, "tag (e.g. 'my-value')", &value)))
            return err;
        if (!mfd_search_cmp_is_string(cmp))
            return mfd_search_error("Invalid comparator for tag: %s",
                                    mfd_search_excerpt(arena, c->comparator));
        tags[n_tags++] = (tag_condition){key, cmp, value, false};
    }
    tag_conditions(table, tags, n_tags, w);
    return NULL;
}

typedef struct order_key {
    const char *name;   /* as written in order_by */
    const char *column; /* duplicates are detected per column */
} order_key;

static const order_key rm_order_keys[] = {
    {"name", "rm.name"},
    {"timestamp", "rm.last_updated_time"},
    {"last_updated_timestamp", "rm.last_updated_time"},
};

static const order_key mv_order_keys[] = {
    {"name", "mv.name"},
    {"version_number", "mv.version"},
    {"creation_timestamp", "mv.creation_time"},
    {"last_updated_timestamp", "mv.last_updated_time"},
};

/* The column an order_by identifier names, as upstream resolves it. */
static mfd_err order_column(mfd_arena *arena, bool model_versions_search, const char *identifier,
                            const char **column) {
    const order_key *keys = model_versions_search ? mv_order_keys : rm_order_keys;
    size_t n = model_versions_search ? sizeof mv_order_keys / sizeof mv_order_keys[0]
                                     : sizeof rm_order_keys / sizeof rm_order_keys[0];
    const char *key = identifier;
    if (model_versions_search) {
        const char *entity;
        mfd_search_split_identifier(arena, identifier, &entity, &key);
        if (entity && strcmp(entity, "attribute") != 0) {
            if (strcmp(entity, "tag") != 0 && strcmp(entity, "tags") != 0)
                return mfd_search_error("Invalid entity type '%s'. Valid entity types are "
                                        "('attribute', 'tag', 'tags')",
                                        mfd_search_excerpt(arena, entity));
            return mfd_search_error("Invalid order_by entity: tag");
        }
        key = mfd_search_trim_backticks(arena, mfd_search_strip_quotes(arena, key));
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(key, keys[i].name) == 0) {
            *column = keys[i].column;
            return NULL;
        }
    }
    if (model_versions_search)
        return mfd_search_error("Invalid attribute key '%s' specified. Valid keys are '{'name', "
                                "'version_number', 'creation_timestamp', "
                                "'last_updated_timestamp'}'",
                                mfd_search_excerpt(arena, key));
    return mfd_search_error("Invalid order by key '%s' specified. Valid keys are '{'name', "
                            "'timestamp'}'",
                            mfd_search_excerpt(arena, key));
}

static mfd_err compile_order_by(mfd_arena *arena, bool model_versions_search,
                                const mfd_search_input *in, mfd_search_builder *o) {
    static const char *const mv_default[] = {"last_updated_timestamp DESC"};
    const char *const *elements = in->order_by;
    size_t n = in->order_by ? in->n_order_by : 0;
    if (n > MFD_SEARCH_MAX_ORDER_BY)
        return mfd_search_error("Too many order_by fields (at most %d)", MFD_SEARCH_MAX_ORDER_BY);
    if (n == 0 && model_versions_search) {
        elements = mv_default;
        n = 1;
    }
    const char **seen = mfd_arena_calloc(arena, n ? n : 1, sizeof *seen);
    bool name_seen = false, version_seen = false;
    for (size_t i = 0; i < n; i++) {
        const char *identifier = NULL, *column = NULL;
        bool ascending;
        mfd_err err = mfd_search_parse_order_by(arena, elements[i], &identifier, &ascending);
        if (!err)
            err = order_column(arena, model_versions_search, identifier, &column);
        if (err)
            return err;
        for (size_t k = 0; k < i; k++)
            if (strcmp(seen[k], column) == 0)
                return mfd_search_error("`order_by` contains duplicate fields: %s",
                                        mfd_search_order_by_repr(arena, elements, n));
        seen[i] = column;
        name_seen = name_seen || strcmp(column, "rm.name") == 0 || strcmp(column, "mv.name") == 0;
        version_seen = version_seen || strcmp(column, "mv.version") == 0;
        mfd_search_builder_comma(o);
        mfd_strbuf_appendf(&o->sql, "%s %s", column, ascending ? "ASC" : "DESC");
    }
    if (!name_seen) {
        mfd_search_builder_comma(o);
        mfd_search_emit(o, model_versions_search ? "mv.name ASC" : "rm.name ASC");
    }
    if (model_versions_search && !version_seen) {
        mfd_search_builder_comma(o);
        mfd_search_emit(o, "mv.version DESC");
    }
    return NULL;
}

static mfd_err compile(mfd_arena *arena, const registry_table *table, const mfd_search_input *in,
                       mfd_search_sql *out) {
    in = mfd_search_start(in, out);
    mfd_search_builder where, order;
    mfd_search_builder_init(&where, arena);
    mfd_search_builder_init(&order, arena);
    mfd_err err = compile_filter(arena, table, in->filter, &where);
    if (!err)
        err = compile_order_by(arena, table == &model_versions, in, &order);
    if (err)
        return err;
    return mfd_search_finish(&where, &order, out);
}

mfd_err mfd_search_registered_models(mfd_arena *arena, const mfd_search_input *in,
                                     mfd_search_sql *out) {
    return compile(arena, &registered_models, in, out);
}

mfd_err mfd_search_model_versions(mfd_arena *arena, const mfd_search_input *in,
                                  mfd_search_sql *out) {
    return compile(arena, &model_versions, in, out);
}
