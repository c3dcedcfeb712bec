/* sql_params.h — values bound to `?` placeholders, in order.
 *
 * The search compiler produces these next to its SQL fragment and the DB layer
 * binds them; neither needs to know about the other. Strings point into the
 * request arena (or other storage that outlives the statement). */
#ifndef MFD_SQL_PARAMS_H
#define MFD_SQL_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

typedef enum mfd_sql_kind {
    MFD_SQL_NULL,
    MFD_SQL_TEXT,
    MFD_SQL_INT64,
    MFD_SQL_DOUBLE
} mfd_sql_kind;

typedef struct mfd_sql_value {
    mfd_sql_kind kind;
    const char *text;
    int64_t i64;
    double f64;
} mfd_sql_value;

typedef struct mfd_sql_params {
    mfd_sql_value *values;
    size_t count, cap;
} mfd_sql_params;

void mfd_sql_params_text(mfd_sql_params *p, mfd_arena *arena, const char *text);
void mfd_sql_params_int64(mfd_sql_params *p, mfd_arena *arena, int64_t v);
void mfd_sql_params_double(mfd_sql_params *p, mfd_arena *arena, double v);
void mfd_sql_params_append(mfd_sql_params *p, mfd_arena *arena, const mfd_sql_params *more);

/* "<head>?, ?, ...<tail>": an IN list of n placeholders, in the arena. */
const char *mfd_sql_in_list(mfd_arena *arena, const char *head, size_t n, const char *tail);

/* The placeholders of an IN list for n values (1 <= n <= max): n rounded up
 * to a power of two (at most max), the last value repeated to fill, so a
 * cached statement serves every length up to it. */
size_t mfd_sql_in_list_slots(size_t n, size_t max);

#endif
