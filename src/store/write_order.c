/* write_order.c — sorting a request's rows into one write order (write_order.h). */
#include "write_order.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    const void *item;
    size_t index;
    int (*cmp)(const void *, const void *);
} entry;

static int compare_entries(const void *a, const void *b) {
    const entry *x = a, *y = b;
    int c = x->cmp(x->item, y->item);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

size_t *mfd_write_order(mfd_arena *arena, const void *items, size_t n, size_t size,
                        int (*cmp)(const void *, const void *)) {
    entry *entries = mfd_arena_alloc(arena, (n ? n : 1) * sizeof *entries);
    for (size_t i = 0; i < n; i++)
        entries[i] = (entry){(const char *)items + i * size, i, cmp};
    if (n > 1)
        qsort(entries, n, sizeof *entries, compare_entries);
    size_t *order = mfd_arena_alloc(arena, (n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = entries[i].index;
    return order;
}

int mfd_write_order_text(const char *a, const char *b) {
    if (!a || !b)
        return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

int mfd_write_order_int64(long long a, long long b) {
    return (a > b) - (a < b);
}
