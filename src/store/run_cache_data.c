/* run_cache_data.c — the run-search cache's experiments: slots, columns, and
 * a search over them with the SQL's semantics (run_cache_data.h). */
#include "run_cache_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        abort();
    return q;
}

static char *xstrdup(const char *s) {
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

rc_experiment *rc_experiment_new(int64_t id) {
    rc_experiment *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->id = id;
    e->bytes = sizeof *e;
    return e;
}

static void column_free(rc_column *c) {
    if (c->text)
        for (size_t i = 0; i < c->cap; i++)
            free(c->text[i]);
    free(c->text);
    free(c->number);
    free(c->state);
    free(c->key);
    free(c);
}

void rc_experiment_free(rc_experiment *e) {
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        free(e->uuid[i]);
    for (size_t i = 0; i < e->n_cols; i++)
        column_free(e->cols[i]);
    free(e->cols);
    free(e->uuid);
    free(e->start_time);
    free(e->flags);
    free(e->map);
    free(e);
}

static size_t text_bytes(const char *s) {
    return strlen(s) + 16; /* malloc's overhead */
}

static void map_put(uint32_t *map, size_t cap, const char *uuid, uint32_t slot) {
    size_t i = mfd_hash_str(MFD_HASH_INIT, uuid) & (cap - 1);
    while (map[i])
        i = (i + 1) & (cap - 1);
    map[i] = slot + 1;
}

static void grow_slots(rc_experiment *e) {
    size_t cap = e->cap ? e->cap * 2 : 64;
    e->uuid = xrealloc(e->uuid, cap * sizeof *e->uuid);
    e->start_time = xrealloc(e->start_time, cap * sizeof *e->start_time);
    e->flags = xrealloc(e->flags, cap);
    e->bytes += (cap - e->cap) * (sizeof *e->uuid + sizeof *e->start_time + 1);
    e->cap = cap;
    /* the map at most half full */
    size_t map_cap = cap * 2;
    free(e->map);
    e->map = calloc(map_cap, sizeof *e->map);
    if (!e->map)
        abort();
    e->bytes += (map_cap - e->map_cap) * sizeof *e->map;
    e->map_cap = map_cap;
    for (size_t i = 0; i < e->n; i++)
        map_put(e->map, map_cap, e->uuid[i], (uint32_t)i);
}

long rc_slot(rc_experiment *e, const char *uuid, bool create) {
    if (e->map_cap) {
        size_t i = mfd_hash_str(MFD_HASH_INIT, uuid) & (e->map_cap - 1);
        for (; e->map[i]; i = (i + 1) & (e->map_cap - 1))
            if (strcmp(e->uuid[e->map[i] - 1], uuid) == 0)
                return (long)e->map[i] - 1;
    }
    if (!create)
        return -1;
    if (e->n == e->cap)
        grow_slots(e);
    size_t slot = e->n++;
    e->uuid[slot] = xstrdup(uuid);
    e->start_time[slot] = 0;
    e->flags[slot] = RC_GONE;
    e->n_gone++;
    e->bytes += text_bytes(uuid);
    map_put(e->map, e->map_cap, uuid, (uint32_t)slot);
    return (long)slot;
}

/* mlflowd's and MLflow's run ids: 32 lower-case hex digits, which every
 * collation orders as strcmp does. */
static bool plain_run_id(const char *uuid) {
    size_t n = strspn(uuid, "0123456789abcdef");
    return n == 32 && uuid[n] == '\0';
}

void rc_set_run(rc_experiment *e, const char *uuid, bool has_start, int64_t start_time,
                const char *stage) {
    e->odd_ids = e->odd_ids || !plain_run_id(uuid);
    long slot = rc_slot(e, uuid, true);
    if (e->flags[slot] & RC_GONE)
        e->n_gone--;
    e->start_time[slot] = has_start ? start_time : 0;
    e->flags[slot] =
        (uint8_t)((has_start ? RC_HAS_START : 0) | (strcmp(stage, "active") == 0    ? RC_ACTIVE
                                                    : strcmp(stage, "deleted") == 0 ? RC_DELETED
                                                                                    : 0));
}

void rc_remove_run(rc_experiment *e, const char *uuid) {
    long slot = rc_slot(e, uuid, false);
    if (slot < 0 || (e->flags[slot] & RC_GONE))
        return;
    e->flags[slot] = RC_GONE;
    e->n_gone++;
    for (size_t i = 0; i < e->n_cols; i++)
        rc_clear_value(e, e->cols[i], slot);
}

void rc_mark_run(rc_experiment *e, const char *uuid) {
    long slot = rc_slot(e, uuid, false);
    if (slot >= 0 && !(e->flags[slot] & RC_GONE))
        e->flags[slot] |= RC_MARK;
}

void rc_remove_if_marked(rc_experiment *e, const char *uuid) {
    long slot = rc_slot(e, uuid, false);
    if (slot >= 0 && (e->flags[slot] & RC_MARK))
        rc_remove_run(e, uuid);
}

rc_column *rc_column_of(rc_experiment *e, mfd_run_plan_table table, const char *key, bool create) {
    for (size_t i = 0; i < e->n_cols; i++)
        if (e->cols[i]->table == table && strcmp(e->cols[i]->key, key) == 0)
            return e->cols[i];
    if (!create)
        return NULL;
    rc_column *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->table = table;
    c->key = xstrdup(key);
    e->cols = xrealloc(e->cols, (e->n_cols + 1) * sizeof *e->cols);
    e->cols[e->n_cols++] = c;
    e->bytes += sizeof *c + text_bytes(key);
    return c;
}

/* Room in the column for every slot the experiment has. */
static void column_reserve(rc_experiment *e, rc_column *c, long slot) {
    if ((size_t)slot < c->cap)
        return;
    size_t cap = e->cap > (size_t)slot ? e->cap : (size_t)slot + 1;
    if (c->table == MFD_PLAN_METRIC) {
        c->number = xrealloc(c->number, cap * sizeof *c->number);
        c->state = xrealloc(c->state, cap);
        memset(c->state + c->cap, RC_ABSENT, cap - c->cap);
        e->bytes += (cap - c->cap) * (sizeof *c->number + 1);
    } else {
        c->text = xrealloc(c->text, cap * sizeof *c->text);
        memset(c->text + c->cap, 0, (cap - c->cap) * sizeof *c->text);
        e->bytes += (cap - c->cap) * sizeof *c->text;
    }
    c->cap = cap;
}

void rc_set_number(rc_experiment *e, rc_column *c, long slot, double value, bool is_nan) {
    column_reserve(e, c, slot);
    c->number[slot] = value;
    c->state[slot] = is_nan ? RC_NAN : RC_VALUE;
}

void rc_set_text(rc_experiment *e, rc_column *c, long slot, const char *text) {
    column_reserve(e, c, slot);
    rc_clear_value(e, c, slot);
    c->text[slot] = xstrdup(text);
    e->bytes += text_bytes(text);
}

void rc_clear_value(rc_experiment *e, rc_column *c, long slot) {
    if ((size_t)slot >= c->cap)
        return;
    if (c->table == MFD_PLAN_METRIC) {
        c->state[slot] = RC_ABSENT;
    } else if (c->text[slot]) {
        e->bytes -= text_bytes(c->text[slot]);
        free(c->text[slot]);
        c->text[slot] = NULL;
    }
}

bool rc_has_columns(const rc_experiment *e, const mfd_run_plan *plan) {
    rc_experiment *m = (rc_experiment *)e; /* lookup only */
    if (e->odd_ids)
        return false; /* the database's collation may order them otherwise */
    for (size_t i = 0; i < plan->n_clauses; i++)
        if (!rc_column_of(m, plan->clauses[i].table, plan->clauses[i].key, false))
            return false;
    for (size_t i = 0; i < plan->n_order; i++)
        if (plan->order[i].metric && !rc_column_of(m, MFD_PLAN_METRIC, plan->order[i].key, false))
            return false;
    return true;
}

/* ---- the search ----------------------------------------------------------------------------- */

/* PostgreSQL's order of float8: NaN equal to NaN and above every number. */
static int pg_float_cmp(double a, double b) {
    if (isnan(a))
        return isnan(b) ? 0 : 1;
    if (isnan(b))
        return -1;
    return a < b ? -1 : a > b ? 1 : 0;
}

/* An experiment with its columns for the plan, looked up once. */
typedef struct scope {
    const rc_experiment *e;
    const rc_column **clause_cols, **order_cols;
} scope;

typedef struct candidate {
    const scope *s;
    uint32_t slot;
} candidate;

static bool meets(const rc_column *c, uint32_t slot, const mfd_run_plan_clause *k) {
    if (k->table == MFD_PLAN_METRIC) {
        if (slot >= c->cap || c->state[slot] == RC_ABSENT)
            return false;
        int r = pg_float_cmp(c->number[slot], k->number);
        switch (k->cmp) {
        case MFD_PLAN_EQ:
            return r == 0;
        case MFD_PLAN_NE:
            return r != 0;
        case MFD_PLAN_LT:
            return r < 0;
        case MFD_PLAN_LE:
            return r <= 0;
        case MFD_PLAN_GT:
            return r > 0;
        case MFD_PLAN_GE:
            return r >= 0;
        }
        return false;
    }
    const char *t = slot < c->cap ? c->text[slot] : NULL;
    if (!t)
        return false;
    bool equal = strcmp(t, k->text) == 0;
    return k->cmp == MFD_PLAN_EQ ? equal : k->cmp == MFD_PLAN_NE && !equal;
}

static int metric_rank(const rc_column *c, uint32_t slot) {
    if (slot >= c->cap || c->state[slot] == RC_ABSENT)
        return 2;
    return c->state[slot] == RC_NAN ? 1 : 0;
}

static int start_time_cmp(const candidate *a, const candidate *b, bool ascending) {
    bool ha = a->s->e->flags[a->slot] & RC_HAS_START, hb = b->s->e->flags[b->slot] & RC_HAS_START;
    if (ha != hb)
        return ha ? -1 : 1; /* NULLS LAST both ways */
    if (!ha)
        return 0;
    int64_t x = a->s->e->start_time[a->slot], y = b->s->e->start_time[b->slot];
    int c = x < y ? -1 : x > y;
    return ascending ? c : -c;
}

static int compare(const void *pa, const void *pb, void *arg) {
    const mfd_run_plan *plan = arg;
    const candidate *a = pa, *b = pb;
    bool start_time_seen = false;
    for (size_t i = 0; i < plan->n_order; i++) {
        const mfd_run_plan_order *o = &plan->order[i];
        int c;
        if (o->metric) {
            const rc_column *ca = a->s->order_cols[i], *cb = b->s->order_cols[i];
            int ra = metric_rank(ca, a->slot), rb = metric_rank(cb, b->slot);
            if (ra != rb)
                return ra < rb ? -1 : 1;
            if (ra == 2)
                continue;
            c = pg_float_cmp(ca->number[a->slot], cb->number[b->slot]);
            c = o->ascending ? c : -c;
        } else {
            start_time_seen = true;
            c = start_time_cmp(a, b, o->ascending);
        }
        if (c)
            return c;
    }
    if (!start_time_seen) {
        int c = start_time_cmp(a, b, false);
        if (c)
            return c;
    }
    return strcmp(a->s->e->uuid[a->slot], b->s->e->uuid[b->slot]);
}

/* A max-heap of the `k` first candidates seen so far (the last of them on
 * top), for a page far smaller than the matches. */
static void sift_down(candidate *h, size_t n, size_t i, const mfd_run_plan *plan) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, top = i;
        if (l < n && compare(&h[l], &h[top], (void *)plan) > 0)
            top = l;
        if (r < n && compare(&h[r], &h[top], (void *)plan) > 0)
            top = r;
        if (top == i)
            return;
        candidate t = h[i];
        h[i] = h[top];
        h[top] = t;
        i = top;
    }
}

static void sift_up(candidate *h, size_t i, const mfd_run_plan *plan) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (compare(&h[i], &h[p], (void *)plan) <= 0)
            return;
        candidate t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

const char **rc_select(rc_experiment *const *experiments, size_t n_experiments,
                       const mfd_run_plan *plan, bool active, bool deleted, int64_t offset,
                       int64_t limit, mfd_arena *arena, size_t *count, size_t *total) {
    *count = *total = 0;
    scope *scopes = mfd_arena_calloc(arena, n_experiments ? n_experiments : 1, sizeof *scopes);
    for (size_t i = 0; i < n_experiments; i++) {
        rc_experiment *e = experiments[i];
        scopes[i].e = e;
        scopes[i].clause_cols = mfd_arena_calloc(arena, plan->n_clauses + 1, sizeof(void *));
        scopes[i].order_cols = mfd_arena_calloc(arena, plan->n_order + 1, sizeof(void *));
        for (size_t k = 0; k < plan->n_clauses; k++)
            scopes[i].clause_cols[k] =
                rc_column_of(e, plan->clauses[k].table, plan->clauses[k].key, false);
        for (size_t k = 0; k < plan->n_order; k++)
            if (plan->order[k].metric)
                scopes[i].order_cols[k] =
                    rc_column_of(e, MFD_PLAN_METRIC, plan->order[k].key, false);
    }
    /* metric clauses first: a string clause follows a pointer per run */
    size_t *by_cost = mfd_arena_calloc(arena, plan->n_clauses + 1, sizeof *by_cost);
    size_t n_ordered = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < plan->n_clauses; k++)
            if ((plan->clauses[k].table == MFD_PLAN_METRIC) == (pass == 0))
                by_cost[n_ordered++] = k;
    uint8_t stages = (uint8_t)((active ? RC_ACTIVE : 0) | (deleted ? RC_DELETED : 0));
    /* every match up to `want`, then only those before the heap's top */
    size_t want = offset > INT64_MAX - limit ? SIZE_MAX : (size_t)(offset + limit);
    candidate *heap = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < n_experiments; i++) {
        const scope *s = &scopes[i];
        for (uint32_t slot = 0; slot < s->e->n; slot++) {
            if (!(s->e->flags[slot] & stages) || (s->e->flags[slot] & RC_GONE))
                continue;
            bool ok = true;
            for (size_t i = 0; i < plan->n_clauses && ok; i++) {
                size_t k = by_cost[i];
                ok = meets(s->clause_cols[k], slot, &plan->clauses[k]);
            }
            if (!ok)
                continue;
            (*total)++;
            candidate c = {s, slot};
            if (n < want) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 256;
                    heap = xrealloc(heap, cap * sizeof *heap);
                }
                heap[n] = c;
                sift_up(heap, n++, plan);
            } else if (n && compare(&c, &heap[0], (void *)plan) < 0) {
                heap[0] = c;
                sift_down(heap, n, 0, plan);
            }
        }
    }
    if (n)
        qsort_r(heap, n, sizeof *heap, compare, (void *)plan);
    size_t first = (size_t)offset < n ? (size_t)offset : n;
    const char **ids = mfd_arena_alloc(arena, (n - first + 1) * sizeof *ids);
    for (size_t i = first; i < n; i++)
        ids[i - first] = mfd_arena_strdup(arena, heap[i].s->e->uuid[heap[i].slot]);
    *count = n - first;
    free(heap);
    return ids;
}
