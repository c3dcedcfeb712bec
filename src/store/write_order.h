/* write_order.h — the order in which a write transaction writes a request's
 * rows.
 *
 * On PostgreSQL each row a transaction inserts or updates stays locked to
 * its end, and an insert that meets another transaction's uncommitted row
 * waits for it. Two requests writing the same rows in different orders (the
 * same keys listed differently, a batch sent again by a retrying client)
 * then wait for each other: a deadlock, one of them answered 503. Written in
 * one total order, the second waits for the first and goes on. */
#ifndef MFD_STORE_WRITE_ORDER_H
#define MFD_STORE_WRITE_ORDER_H

#include <stddef.h>

#include "core/arena.h"

/* The indexes 0..n-1 of `items` (each `size` bytes) sorted by `cmp`, ties in
 * the order given (a key sent twice keeps its last value when written last). */
size_t *mfd_write_order(mfd_arena *arena, const void *items, size_t n, size_t size,
                        int (*cmp)(const void *, const void *));

/* Parts of comparators for mfd_write_order: text (NULL first), integers. */
int mfd_write_order_text(const char *a, const char *b);
int mfd_write_order_int64(long long a, long long b);

#endif
