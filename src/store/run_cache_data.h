/* run_cache_data.h — the run-search cache's data and its evaluation, without
 * threads or a database (run_cache.c keeps it right; unit-tested alone).
 *
 * An experiment's runs are slots: run id, start_time, lifecycle stage. Each
 * column is one metric, param or tag key the searches asked for, with every
 * slot's value (metrics: the latest value and whether it is NaN; params and
 * tags: the string) or none. A removed run keeps its slot, marked gone; the
 * cache rebuilds an experiment whose slots are mostly gone. */
#ifndef MFD_STORE_RUN_CACHE_DATA_H
#define MFD_STORE_RUN_CACHE_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "search/search.h"

typedef struct rc_column {
    mfd_run_plan_table table;
    char *key;
    double *number; /* metrics */
    uint8_t *state; /* metrics: RC_ABSENT, RC_VALUE, RC_NAN */
    char **text;    /* params, tags: NULL = absent */
    size_t cap;
} rc_column;

enum { RC_ABSENT = 0, RC_VALUE = 1, RC_NAN = 2 };
enum { RC_HAS_START = 1, RC_ACTIVE = 2, RC_DELETED = 4, RC_GONE = 8, RC_MARK = 16 };

typedef struct rc_experiment {
    int64_t id;
    size_t n, cap; /* slots in use, allocated */
    char **uuid;
    int64_t *start_time;
    uint8_t *flags;
    uint32_t *map; /* open addressing, slot + 1; 0 = empty */
    size_t map_cap;
    size_t n_gone;
    bool odd_ids; /* a run id other than 32 hex digits: ordered by the database's collation */
    rc_column **cols;
    size_t n_cols;
    size_t bytes; /* about what it holds */
} rc_experiment;

rc_experiment *rc_experiment_new(int64_t id);
void rc_experiment_free(rc_experiment *e);

/* The run's slot, or -1; with `create`, a new slot when it has none. */
long rc_slot(rc_experiment *e, const char *uuid, bool create);
/* The run's row: stage "active" or "deleted" (any other: in neither view). */
void rc_set_run(rc_experiment *e, const char *uuid, bool has_start, int64_t start_time,
                const char *stage);
/* The run is gone from the experiment: no longer found, its values cleared. */
void rc_remove_run(rc_experiment *e, const char *uuid);

/* For reading runs again: mark marks the run (if held); rc_set_run unmarks
 * it; remove_if_marked removes a run still marked (the database no longer
 * has it in this experiment). */
void rc_mark_run(rc_experiment *e, const char *uuid);
void rc_remove_if_marked(rc_experiment *e, const char *uuid);

/* The column of the key, or NULL; with `create`, an empty one when missing. */
rc_column *rc_column_of(rc_experiment *e, mfd_run_plan_table table, const char *key, bool create);
void rc_set_number(rc_experiment *e, rc_column *c, long slot, double value, bool is_nan);
void rc_set_text(rc_experiment *e, rc_column *c, long slot, const char *text);
void rc_clear_value(rc_experiment *e, rc_column *c, long slot);

/* Whether each column the plan reads is there (and the run ids order alike
 * in any collation). */
bool rc_has_columns(const rc_experiment *e, const mfd_run_plan *plan);

/* The page of a search over these experiments (each with the plan's
 * columns): the ids of the runs from `offset` on, at most `limit`, in the
 * plan's order, copied into the arena. *total: how many runs matched. */
const char **rc_select(rc_experiment *const *experiments, size_t n_experiments,
                       const mfd_run_plan *plan, bool active, bool deleted, int64_t offset,
                       int64_t limit, mfd_arena *arena, size_t *count, size_t *total);

#endif
