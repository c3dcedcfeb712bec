/* compile_runs_identifiers.c — the words of a run filter or order_by element
 * checked as upstream's SearchUtils checks them: the entity before the first
 * dot (metric, param, tag, attribute, dataset and their spellings), the
 * attribute keys and their aliases, the value each entity takes and the
 * comparators it allows.
 *
 * Invariants: the two tables below are the only lists of valid names, and the
 * error messages quote them from there; every message is MLflow's, word for
 * word, with user text cut by mfd_search_excerpt. */
#include "compile_runs.h"

#include <string.h>

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
mfd_err mfd_search_runs_identifier(mfd_arena *arena, const char *identifier, bool for_order_by,
                                   run_entity *entity, const char **key,
                                   const run_attribute **attr) {
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
mfd_err mfd_search_runs_clause_value(mfd_arena *arena, const mfd_search_clause *c,
                                     run_entity entity, const char *key, const run_attribute *attr,
                                     const char **text, const char ***items, size_t *n_items) {
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

mfd_err mfd_search_runs_check_comparator(mfd_arena *arena, const mfd_search_clause *c,
                                         run_entity entity, const run_attribute *attr,
                                         mfd_search_cmp cmp) {
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
