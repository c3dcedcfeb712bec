/* sql_params.c — growable list of bind values in an arena. */
#include "sql_params.h"

#include <string.h>

static mfd_sql_value *push(mfd_sql_params *p, mfd_arena *arena) {
    p->values = mfd_arena_grow(arena, p->values, p->count, &p->cap, sizeof *p->values, 8);
    mfd_sql_value *v = &p->values[p->count++];
    memset(v, 0, sizeof *v);
    return v;
}

void mfd_sql_params_text(mfd_sql_params *p, mfd_arena *arena, const char *text) {
    mfd_sql_value *v = push(p, arena);
    v->kind = text ? MFD_SQL_TEXT : MFD_SQL_NULL;
    v->text = text;
}

void mfd_sql_params_int64(mfd_sql_params *p, mfd_arena *arena, int64_t i) {
    mfd_sql_value *v = push(p, arena);
    v->kind = MFD_SQL_INT64;
    v->i64 = i;
}

void mfd_sql_params_double(mfd_sql_params *p, mfd_arena *arena, double d) {
    mfd_sql_value *v = push(p, arena);
    v->kind = MFD_SQL_DOUBLE;
    v->f64 = d;
}

void mfd_sql_params_append(mfd_sql_params *p, mfd_arena *arena, const mfd_sql_params *more) {
    for (size_t i = 0; i < more->count; i++)
        *push(p, arena) = more->values[i];
}

const char *mfd_sql_in_list(mfd_arena *arena, const char *head, size_t n, const char *tail) {
    mfd_strbuf sql;
    mfd_strbuf_init(&sql, arena);
    mfd_strbuf_append(&sql, head);
    for (size_t i = 0; i < n; i++)
        mfd_strbuf_append(&sql, i ? ", ?" : "?");
    mfd_strbuf_append(&sql, tail);
    return sql.data;
}

size_t mfd_sql_in_list_slots(size_t n, size_t max) {
    size_t slots = 1;
    while (slots < n)
        slots *= 2;
    return slots > max ? max : slots;
}
