/* sql_builder.c — writes the SQL fragments of the search compilers: SQL text
 * with `?` placeholders, and beside it the bound values in placeholder order.
 *
 * The text is the same for SQLite and PostgreSQL: ILIKE is spelled
 * `lower(x) LIKE lower(?)`, LIKE relies on case-sensitive LIKE (native on
 * PostgreSQL, a pragma on SQLite), and a fractional number compared with an
 * integer column is cast to DOUBLE PRECISION so PostgreSQL does not try to
 * read it as a BIGINT parameter. Nothing from the user is ever pasted into
 * the text. */
#include "search_internal.h"

#include <string.h>
#include <strings.h>

void mfd_search_builder_init(mfd_search_builder *b, mfd_arena *arena) {
    memset(b, 0, sizeof *b);
    b->arena = arena;
    mfd_strbuf_init(&b->sql, arena);
    mfd_strbuf_append(&b->sql, "");
}

void mfd_search_builder_and(mfd_search_builder *b) {
    if (b->n_terms++)
        mfd_strbuf_append(&b->sql, " AND ");
}

void mfd_search_builder_comma(mfd_search_builder *b) {
    if (b->n_terms++)
        mfd_strbuf_append(&b->sql, ", ");
}

void mfd_search_builder_and_all(mfd_search_builder *b, const mfd_search_builder *more) {
    if (!more->n_terms)
        return;
    if (b->n_terms)
        mfd_strbuf_append(&b->sql, " AND ");
    mfd_strbuf_append(&b->sql, more->sql.data);
    mfd_sql_params_append(&b->params, b->arena, &more->params);
    b->n_terms += more->n_terms;
    b->match_nothing = b->match_nothing || more->match_nothing;
}

void mfd_search_emit(mfd_search_builder *b, const char *sql) {
    mfd_strbuf_append(&b->sql, sql);
}

void mfd_search_bind_text(mfd_search_builder *b, const char *value) {
    mfd_strbuf_append(&b->sql, "?");
    mfd_sql_params_text(&b->params, b->arena, value);
}

void mfd_search_bind_int(mfd_search_builder *b, int64_t value) {
    mfd_strbuf_append(&b->sql, "?");
    mfd_sql_params_int64(&b->params, b->arena, value);
}

void mfd_search_bind_double(mfd_search_builder *b, double value) {
    mfd_strbuf_append(&b->sql, "?");
    mfd_sql_params_double(&b->params, b->arena, value);
}

static const struct {
    const char *text;
    mfd_search_cmp cmp;
} comparators[] = {
    {"=", MFD_CMP_EQ},          {"!=", MFD_CMP_NE},       {"<", MFD_CMP_LT},
    {"<=", MFD_CMP_LE},         {">", MFD_CMP_GT},        {">=", MFD_CMP_GE},
    {"LIKE", MFD_CMP_LIKE},     {"ILIKE", MFD_CMP_ILIKE}, {"IN", MFD_CMP_IN},
    {"NOT IN", MFD_CMP_NOT_IN},
};

static const char *const cmp_sql[] = {
    [MFD_CMP_EQ] = " = ",  [MFD_CMP_NE] = " != ", [MFD_CMP_LT] = " < ",
    [MFD_CMP_LE] = " <= ", [MFD_CMP_GT] = " > ",  [MFD_CMP_GE] = " >= ",
};

mfd_search_cmp mfd_search_comparator(const char *text, bool any_case) {
    for (size_t i = 0; i < sizeof comparators / sizeof comparators[0]; i++) {
        bool same = any_case ? strcasecmp(text, comparators[i].text) == 0
                             : strcmp(text, comparators[i].text) == 0;
        if (same)
            return comparators[i].cmp;
    }
    return MFD_CMP_INVALID;
}

bool mfd_search_cmp_is_numeric(mfd_search_cmp cmp) {
    return cmp <= MFD_CMP_GE;
}

bool mfd_search_cmp_is_string(mfd_search_cmp cmp) {
    return cmp == MFD_CMP_EQ || cmp == MFD_CMP_NE || cmp == MFD_CMP_LIKE || cmp == MFD_CMP_ILIKE;
}

void mfd_search_text_cmp(mfd_search_builder *b, const char *column, mfd_search_cmp cmp,
                         const char *value) {
    switch (cmp) {
    case MFD_CMP_LIKE:
        mfd_strbuf_appendf(&b->sql, "%s LIKE ", column);
        mfd_search_bind_text(b, value);
        break;
    case MFD_CMP_ILIKE:
        mfd_strbuf_appendf(&b->sql, "lower(%s) LIKE lower(", column);
        mfd_search_bind_text(b, value);
        mfd_search_emit(b, ")");
        break;
    default:
        mfd_strbuf_appendf(&b->sql, "%s%s", column, cmp == MFD_CMP_NE ? " != " : " = ");
        mfd_search_bind_text(b, value);
        break;
    }
}

void mfd_search_list_cmp(mfd_search_builder *b, const char *column, mfd_search_cmp cmp,
                         const char *const *items, size_t count) {
    if (count == 0) {
        if (cmp == MFD_CMP_IN)
            b->match_nothing = true;
        mfd_search_emit(b, cmp == MFD_CMP_IN ? "1=0" : "1=1");
        return;
    }
    mfd_strbuf_appendf(&b->sql, "%s %s (", column, cmp == MFD_CMP_IN ? "IN" : "NOT IN");
    for (size_t i = 0; i < count; i++) {
        if (i)
            mfd_search_emit(b, ", ");
        mfd_search_bind_text(b, items[i]);
    }
    mfd_search_emit(b, ")");
}

void mfd_search_number_cmp(mfd_search_builder *b, const char *column, mfd_search_cmp cmp,
                           const mfd_search_number *number, bool integer_column) {
    mfd_strbuf_appendf(&b->sql, "%s%s", column, cmp_sql[cmp <= MFD_CMP_GE ? cmp : MFD_CMP_EQ]);
    if (!integer_column) {
        mfd_search_bind_double(b, number->f64);
    } else if (number->is_integer) {
        /* Typed: PostgreSQL would give the value the column's type, and an
         * `integer` column (version_number) cannot hold 3000000000. */
        mfd_search_emit(b, "CAST(");
        mfd_search_bind_int(b, number->i64);
        mfd_search_emit(b, " AS BIGINT)");
    } else {
        mfd_search_emit(b, "CAST(");
        mfd_search_bind_double(b, number->f64);
        mfd_search_emit(b, " AS DOUBLE PRECISION)");
    }
}

const mfd_search_input *mfd_search_start(const mfd_search_input *in, mfd_search_sql *out) {
    static const mfd_search_input none = {0};
    memset(out, 0, sizeof *out);
    return in ? in : &none;
}

mfd_err mfd_search_finish(mfd_search_builder *where, mfd_search_builder *order,
                          mfd_search_sql *out) {
    return mfd_search_finish_joined(NULL, where, order, out);
}

mfd_err mfd_search_finish_joined(mfd_search_builder *from, mfd_search_builder *where,
                                 mfd_search_builder *order, mfd_search_sql *out) {
    memset(out, 0, sizeof *out);
    size_t n_join = from ? from->params.count : 0;
    size_t total = n_join + where->params.count + order->params.count;
    if (total > MFD_SEARCH_MAX_PARAMS)
        return mfd_search_error("Search is too large: it needs %zu bound values (at most %d)",
                                total, MFD_SEARCH_MAX_PARAMS);
    out->from = from ? from->sql.data : NULL;
    out->where = where->n_terms ? where->sql.data : "1=1";
    out->order_by = order->sql.data;
    if (from)
        mfd_sql_params_append(&out->params, where->arena, &from->params);
    out->n_join_params = n_join;
    mfd_sql_params_append(&out->params, where->arena, &where->params);
    mfd_sql_params_append(&out->params, where->arena, &order->params);
    out->n_where_params = where->params.count;
    out->match_nothing = where->match_nothing;
    return NULL;
}
