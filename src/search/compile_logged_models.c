/* compile_logged_models.c — logged-models/search (search-grammar.md §7),
 * compiled against `logged_models lm`.
 *
 * Upstream uses a separate, looser reader here: an identifier is
 * `<entity>.<key>` only when the entity is lower-case letters (then it must
 * be attributes/metrics/params/tags), backticks are stripped from the key,
 * operators are case-sensitive, and a string value only loses its single
 * quotes. The clause shape itself is the shared grammar (parser.c).
 *
 * Metric clauses match any logged_model_metrics row of the model (not only
 * the latest), restricted to the request's datasets; ordering on a metric
 * uses the model's latest row (timestamp, then step). Every sort key puts
 * NULL/missing last; creation_timestamp_ms DESC and model_id ASC close the
 * list. The where clause always excludes deleted models; the caller adds
 * `lm.experiment_id IN (...)`. */
#include "search_internal.h"

#include <string.h>

typedef enum lm_entity { LM_ATTRIBUTE, LM_METRIC, LM_PARAM, LM_TAG } lm_entity;

typedef struct lm_column {
    const char *name;
    const char *column;  /* for ordering */
    const char *compare; /* for string comparisons: integer columns compare as text */
    bool numeric;
} lm_column;

static const lm_column columns[] = {
    {"model_id", "lm.model_id", "lm.model_id", false},
    {"name", "lm.name", "lm.name", false},
    {"model_type", "lm.model_type", "lm.model_type", false},
    {"source_run_id", "lm.source_run_id", "lm.source_run_id", false},
    {"status", "lm.status", "CAST(lm.status AS TEXT)", false},
    {"artifact_location", "lm.artifact_location", "lm.artifact_location", false},
    {"creation_timestamp_ms", "lm.creation_timestamp_ms", NULL, true},
    {"last_updated_timestamp_ms", "lm.last_updated_timestamp_ms", NULL, true},
    {"experiment_id", "lm.experiment_id", "CAST(lm.experiment_id AS TEXT)", false},
    {"lifecycle_stage", "lm.lifecycle_stage", "lm.lifecycle_stage", false},
    {"status_message", "lm.status_message", "lm.status_message", false},
};

static const char VALID_COLUMNS[] =
    "{'model_id', 'name', 'model_type', 'source_run_id', 'status', 'artifact_location', "
    "'creation_timestamp_ms', 'last_updated_timestamp_ms', 'experiment_id', 'lifecycle_stage', "
    "'status_message'}";

static const lm_column *find_column(const char *name) {
    static const struct {
        const char *alias, *name;
    } aliases[] = {
        {"creation_time", "creation_timestamp_ms"},
        {"creation_timestamp", "creation_timestamp_ms"},
        {"last_updated_timestamp", "last_updated_timestamp_ms"},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].alias) == 0)
            name = aliases[i].name;
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++)
        if (strcmp(name, columns[i].name) == 0)
            return &columns[i];
    return NULL;
}

/* Python's str.strip(ch). */
static const char *strip_char(mfd_arena *arena, const char *s, char ch) {
    size_t start = 0, end = strlen(s);
    while (start < end && s[start] == ch)
        start++;
    while (end > start && s[end - 1] == ch)
        end--;
    return mfd_arena_strndup(arena, s + start, end - start);
}

/* Upstream's Entity.from_str: `^([a-z]+)\.(.+)$` decides whether there is an
 * entity prefix. */
static mfd_err lm_identifier(mfd_arena *arena, const char *identifier, lm_entity *entity,
                             const char **key, const lm_column **column) {
    static const struct {
        const char *name;
        lm_entity entity;
    } entities[] = {{"attributes", LM_ATTRIBUTE},
                    {"metrics", LM_METRIC},
                    {"params", LM_PARAM},
                    {"tags", LM_TAG}};
    const char *dot = strchr(identifier, '.');
    size_t prefix = dot ? (size_t)(dot - identifier) : 0;
    bool has_prefix = dot && prefix > 0 && dot[1] != '\0' &&
                      strspn(identifier, "abcdefghijklmnopqrstuvwxyz") == prefix;
    *entity = LM_ATTRIBUTE;
    *column = NULL;
    *key = strip_char(arena, has_prefix ? dot + 1 : identifier, '`');
    if (has_prefix) {
        size_t i = 0, n = sizeof entities / sizeof entities[0];
        while (i < n && (strlen(entities[i].name) != prefix ||
                         strncmp(entities[i].name, identifier, prefix) != 0))
            i++;
        if (i == n)
            return mfd_search_error(
                "Invalid entity type: '%s'. Expected one of ['attributes', "
                "'metrics', 'params', 'tags'].",
                mfd_search_excerpt(arena, mfd_arena_strndup(arena, identifier, prefix)));
        *entity = entities[i].entity;
    }
    if (*entity == LM_ATTRIBUTE && !(*column = find_column(*key)))
        return mfd_search_error("Invalid attribute key '%s' specified. Valid keys are '%s'",
                                mfd_search_excerpt(arena, *key), VALID_COLUMNS);
    return NULL;
}

/* OR of the request's datasets, for a metric row aliased lmm. */
static void dataset_condition(mfd_search_builder *w, const mfd_logged_model_search_input *in) {
    mfd_search_emit(w, "(");
    for (size_t i = 0; i < in->n_datasets; i++) {
        const mfd_logged_model_dataset *d = &in->datasets[i];
        mfd_search_emit(w, i ? " OR (lmm.dataset_name = " : "(lmm.dataset_name = ");
        mfd_search_bind_text(w, d->dataset_name);
        if (d->dataset_digest && *d->dataset_digest) {
            mfd_search_emit(w, " AND lmm.dataset_digest = ");
            mfd_search_bind_text(w, d->dataset_digest);
        }
        mfd_search_emit(w, ")");
    }
    mfd_search_emit(w, ")");
}

static mfd_err compile_clause(mfd_arena *arena, const mfd_logged_model_search_input *in,
                              const mfd_search_clause *c, mfd_search_builder *w, bool *is_metric) {
    lm_entity entity = LM_ATTRIBUTE;
    const char *key = NULL;
    const lm_column *column = NULL;
    mfd_err err = lm_identifier(arena, c->identifier, &entity, &key, &column);
    if (err)
        return err;
    bool numeric = entity == LM_METRIC || (column && column->numeric);
    mfd_search_cmp cmp = mfd_search_comparator(c->comparator, false);
    bool list_cmp = cmp == MFD_CMP_IN || cmp == MFD_CMP_NOT_IN;
    if (numeric ? !mfd_search_cmp_is_numeric(cmp) : !(mfd_search_cmp_is_string(cmp) || list_cmp))
        return mfd_search_error("Invalid comparison operator for %s: '%s'. Expected one of %s.",
                                mfd_search_excerpt(arena, c->identifier),
                                mfd_search_excerpt(arena, c->comparator),
                                numeric ? "('<', '<=', '>', '>=', '=', '!=')"
                                        : "('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN')");
    const mfd_search_value *v = &c->value;
    if (numeric && v->kind != MFD_VAL_NUMBER)
        return mfd_search_error("Invalid numeric value for %s: %s",
                                mfd_search_excerpt(arena, c->identifier),
                                mfd_search_excerpt(arena, v->raw));
    if (!numeric && list_cmp != (v->kind == MFD_VAL_LIST))
        return mfd_search_error("Operator '%s' %s", mfd_search_excerpt(arena, c->comparator),
                                list_cmp ? "requires a parenthesised list of quoted strings"
                                         : "cannot compare with a list; use IN or NOT IN");
    const char **items = NULL;
    size_t n_items = 0;
    if (list_cmp && (err = mfd_search_list_items(arena, v, false, &items, &n_items)))
        return err;
    const char *text = v->kind == MFD_VAL_LIST ? NULL : strip_char(arena, v->raw, '\'');

    static const char *const exists[] = {
        [LM_PARAM] = "EXISTS (SELECT 1 FROM logged_model_params lmp WHERE lmp.model_id = "
                     "lm.model_id AND lmp.param_key = ",
        [LM_TAG] = "EXISTS (SELECT 1 FROM logged_model_tags lmt WHERE lmt.model_id = "
                   "lm.model_id AND lmt.tag_key = ",
    };
    mfd_search_builder_and(w);
    switch (entity) {
    case LM_ATTRIBUTE:
        if (numeric)
            mfd_search_number_cmp(w, column->column, cmp, &v->number, true);
        else if (list_cmp)
            mfd_search_list_cmp(w, column->compare, cmp, items, n_items);
        else
            mfd_search_text_cmp(w, column->compare, cmp, text);
        break;
    case LM_METRIC:
        mfd_search_emit(w, "EXISTS (SELECT 1 FROM logged_model_metrics lmm WHERE lmm.model_id = "
                           "lm.model_id AND lmm.metric_name = ");
        mfd_search_bind_text(w, key);
        mfd_search_emit(w, " AND ");
        mfd_search_number_cmp(w, "lmm.metric_value", cmp, &v->number, false);
        if (in->n_datasets) {
            mfd_search_emit(w, " AND ");
            dataset_condition(w, in);
        }
        mfd_search_emit(w, ")");
        break;
    case LM_PARAM:
    case LM_TAG: {
        const char *value_column = entity == LM_PARAM ? "lmp.param_value" : "lmt.tag_value";
        mfd_search_emit(w, exists[entity]);
        mfd_search_bind_text(w, key);
        mfd_search_emit(w, " AND ");
        if (list_cmp)
            mfd_search_list_cmp(w, value_column, cmp, items, n_items);
        else
            mfd_search_text_cmp(w, value_column, cmp, text);
        mfd_search_emit(w, ")");
        break;
    }
    }
    *is_metric = entity == LM_METRIC;
    return NULL;
}

static mfd_err compile_filter(mfd_arena *arena, const mfd_logged_model_search_input *in,
                              mfd_search_builder *w) {
    for (size_t i = 0; i < in->n_datasets; i++)
        if (!in->datasets[i].dataset_name || !*in->datasets[i].dataset_name)
            return mfd_search_error("`dataset_name` must be specified for every dataset in "
                                    "`datasets`.");
    mfd_search_clause *clauses;
    size_t n_clauses;
    mfd_err err = mfd_search_parse_filter(arena, in->filter, &clauses, &n_clauses);
    if (err)
        return err;
    mfd_search_builder_and(w);
    mfd_search_emit(w, "lm.lifecycle_stage != ");
    mfd_search_bind_text(w, "deleted");
    bool has_metric_clause = false;
    for (size_t i = 0; i < n_clauses; i++) {
        bool is_metric = false;
        if ((err = compile_clause(arena, in, &clauses[i], w, &is_metric)))
            return err;
        has_metric_clause = has_metric_clause || is_metric;
    }
    if (in->n_datasets && !has_metric_clause) {
        mfd_search_builder_and(w);
        mfd_search_emit(w, "EXISTS (SELECT 1 FROM logged_model_metrics lmm WHERE lmm.model_id = "
                           "lm.model_id AND ");
        dataset_condition(w, in);
        mfd_search_emit(w, ")");
    }
    return NULL;
}

/* The model's latest value of a metric, optionally on one dataset. */
static void latest_metric(mfd_search_builder *o, const char *metric,
                          const mfd_logged_model_order *order) {
    mfd_search_emit(o, "(SELECT lmm.metric_value FROM logged_model_metrics lmm WHERE lmm.model_id "
                       "= lm.model_id AND lmm.metric_name = ");
    mfd_search_bind_text(o, metric);
    if (order->dataset_name && *order->dataset_name) {
        mfd_search_emit(o, " AND lmm.dataset_name = ");
        mfd_search_bind_text(o, order->dataset_name);
        if (order->dataset_digest && *order->dataset_digest) {
            mfd_search_emit(o, " AND lmm.dataset_digest = ");
            mfd_search_bind_text(o, order->dataset_digest);
        }
    }
    mfd_search_emit(o, " ORDER BY lmm.metric_timestamp_ms DESC, lmm.metric_step DESC LIMIT 1)");
}

static mfd_err compile_order_by(mfd_arena *arena, const mfd_logged_model_search_input *in,
                                mfd_search_builder *o) {
    size_t n = in->order_by ? in->n_order_by : 0;
    if (n > MFD_SEARCH_MAX_ORDER_BY)
        return mfd_search_error("Too many order_by fields (at most %d)", MFD_SEARCH_MAX_ORDER_BY);
    bool creation_seen = false;
    for (size_t i = 0; i < n; i++) {
        const mfd_logged_model_order *order = &in->order_by[i];
        const char *field = order->field_name;
        if (!field)
            return mfd_search_error("`field_name` in the `order_by` clause must be specified.");
        if (!mfd_utf8_valid(field, strlen(field)))
            return mfd_search_error("Invalid order by field name: it is not valid UTF-8.");
        if (order->dataset_digest && *order->dataset_digest &&
            !(order->dataset_name && *order->dataset_name))
            return mfd_search_error("`dataset_digest` can only be specified if `dataset_name` is "
                                    "also specified.");
        const char *direction = order->ascending ? " ASC" : " DESC";
        mfd_search_builder_comma(o);
        const char *dot = strchr(field, '.');
        if (dot) {
            const char *entity = mfd_arena_strndup(arena, field, (size_t)(dot - field));
            if (strcmp(entity, "metrics") != 0)
                return mfd_search_error("Invalid order by field name: %s, only "
                                        "`metrics.<name>` is allowed.",
                                        mfd_search_excerpt(arena, entity));
            mfd_search_emit(o, "CASE WHEN ");
            latest_metric(o, dot + 1, order);
            mfd_search_emit(o, " IS NULL THEN 1 ELSE 0 END, ");
            latest_metric(o, dot + 1, order);
        } else {
            const lm_column *column = find_column(strip_char(arena, field, ' '));
            if (!column)
                return mfd_search_error("Invalid order by field name: %s.",
                                        mfd_search_excerpt(arena, field));
            creation_seen = creation_seen || strcmp(column->name, "creation_timestamp_ms") == 0;
            mfd_strbuf_appendf(&o->sql, "CASE WHEN %s IS NULL THEN 1 ELSE 0 END, %s",
                               column->column, column->column);
        }
        mfd_search_emit(o, direction);
    }
    if (!creation_seen) {
        mfd_search_builder_comma(o);
        mfd_search_emit(o, "lm.creation_timestamp_ms DESC");
    }
    mfd_search_builder_comma(o);
    mfd_search_emit(o, "lm.model_id ASC");
    return NULL;
}

mfd_err mfd_search_logged_models(mfd_arena *arena, const mfd_logged_model_search_input *in,
                                 mfd_search_sql *out) {
    static const mfd_logged_model_search_input none = {0};
    memset(out, 0, sizeof *out);
    if (!in)
        in = &none;
    mfd_logged_model_search_input request = *in;
    if (!request.datasets)
        request.n_datasets = 0;
    mfd_search_builder where, order;
    mfd_search_builder_init(&where, arena);
    mfd_search_builder_init(&order, arena);
    mfd_err err = compile_filter(arena, &request, &where);
    if (!err)
        err = compile_order_by(arena, &request, &order);
    if (err)
        return err;
    return mfd_search_finish(&where, &order, out);
}
