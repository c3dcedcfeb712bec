/* arena.h — a bump allocator: one per request, freed at once when it ends.
 *
 * Everything a handler, the search compiler or the store builds for one request
 * lives here, so nothing is freed piecemeal and nothing can leak. Memory is
 * 16-byte aligned. Allocation never fails silently: on OOM the process aborts
 * (a server that cannot allocate a few KB cannot answer anyway). */
#ifndef MFD_ARENA_H
#define MFD_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct mfd_arena mfd_arena;

mfd_arena *mfd_arena_new(void);
void mfd_arena_free(mfd_arena *arena);

void *mfd_arena_alloc(mfd_arena *arena, size_t size); /* uninitialised */
size_t mfd_arena_bytes(const mfd_arena *arena);       /* memory it holds */
void *mfd_arena_calloc(mfd_arena *arena, size_t count, size_t size);
char *mfd_arena_strdup(mfd_arena *arena, const char *s);
char *mfd_arena_strndup(mfd_arena *arena, const char *s, size_t n);
char *mfd_arena_sprintf(mfd_arena *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *mfd_arena_vsprintf(mfd_arena *arena, const char *fmt, va_list ap);

/* `block` (from this arena) made `size` bytes, its first `keep` kept: a
 * large block of its own is realloc'd, anything else copied (and the old one
 * abandoned). The block must have no other users: it may move. */
void *mfd_arena_resize(mfd_arena *arena, void *block, size_t keep, size_t size);

/* An arena array of `size`-byte items holding `n` of `*cap`, with room for
 * one more: the same array while n < *cap, else one twice as large (at least
 * `first` items) holding the same items (mfd_arena_resize). */
void *mfd_arena_grow(mfd_arena *arena, void *items, size_t n, size_t *cap, size_t size,
                     size_t first);

/* A growable string built in the arena (grown with mfd_arena_resize). */
typedef struct mfd_strbuf {
    mfd_arena *arena;
    char *data;
    size_t len, cap;
} mfd_strbuf;

void mfd_strbuf_init(mfd_strbuf *sb, mfd_arena *arena);
void mfd_strbuf_append(mfd_strbuf *sb, const char *s);
void mfd_strbuf_appendn(mfd_strbuf *sb, const char *s, size_t n);
/* Room for n more bytes (and the NUL) at the end, where the caller may write
 * them before adding n to len; returns that end. */
char *mfd_strbuf_reserve(mfd_strbuf *sb, size_t n);
/* Room for exactly `n` more bytes (and the NUL) in one allocation, for a size
 * known up front (a request body's Content-Length): no doubling past it. */
void mfd_strbuf_reserve_exact(mfd_strbuf *sb, size_t n);
void mfd_strbuf_appendf(mfd_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
