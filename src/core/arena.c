/* arena.c — chunked bump allocator. Large requests get a chunk of their own so
 * a 50 MB body does not force every later chunk to be 50 MB; a growing large
 * block (a search page's JSON, its array of runs) is realloc'd in place rather
 * than copied with the old one kept to the end of the request. */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK_SIZE = 16 * 1024, ALIGN = 16 };

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk;

struct mfd_arena {
    chunk *head;
    chunk *big;   /* blocks of their own, one each */
    size_t bytes; /* held in chunks */
};

/* A block this large is its own chunk: past a quarter of a chunk. */
static size_t big_block_min(void) {
    return (CHUNK_SIZE - sizeof(chunk)) / 4;
}

static chunk *chunk_new(size_t cap) {
    chunk *c = malloc(sizeof(chunk) + cap);
    if (!c) {
        fputs("mlflowd: out of memory\n", stderr);
        abort();
    }
    c->next = NULL;
    c->used = 0;
    c->cap = cap;
    return c;
}

mfd_arena *mfd_arena_new(void) {
    mfd_arena *a = malloc(sizeof *a);
    if (!a) {
        fputs("mlflowd: out of memory\n", stderr);
        abort();
    }
    a->head = chunk_new(CHUNK_SIZE - sizeof(chunk));
    a->big = NULL;
    a->bytes = CHUNK_SIZE;
    return a;
}

void mfd_arena_free(mfd_arena *arena) {
    if (!arena)
        return;
    for (chunk *c = arena->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    for (chunk *c = arena->big, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(arena);
}

void *mfd_arena_alloc(mfd_arena *arena, size_t size) {
    size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (size == 0)
        size = ALIGN;
    chunk *c = arena->head;
    if (c->cap - c->used < size) {
        if (size > big_block_min()) {
            /* Big block: its own chunk, so the head keeps filling. */
            chunk *big = chunk_new(size);
            arena->bytes += sizeof(chunk) + size;
            big->used = size;
            big->next = arena->big;
            arena->big = big;
            return big->data;
        }
        c = chunk_new(CHUNK_SIZE - sizeof(chunk));
        arena->bytes += CHUNK_SIZE;
        c->next = arena->head;
        arena->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

void *mfd_arena_resize(mfd_arena *arena, void *block, size_t keep, size_t size) {
    size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (keep > big_block_min())
        for (chunk **link = &arena->big; *link; link = &(*link)->next) {
            if ((*link)->data != block)
                continue;
            chunk *c = realloc(*link, sizeof(chunk) + size);
            if (!c) {
                fputs("mlflowd: out of memory\n", stderr);
                abort();
            }
            arena->bytes += size - c->cap;
            c->used = c->cap = size;
            *link = c;
            return c->data;
        }
    void *grown = mfd_arena_alloc(arena, size);
    memcpy(grown, block, keep);
    return grown;
}

size_t mfd_arena_bytes(const mfd_arena *arena) {
    return arena->bytes;
}

void *mfd_arena_calloc(mfd_arena *arena, size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) {
        fputs("mlflowd: allocation overflow\n", stderr);
        abort();
    }
    void *p = mfd_arena_alloc(arena, count * size);
    memset(p, 0, count * size);
    return p;
}

char *mfd_arena_strndup(mfd_arena *arena, const char *s, size_t n) {
    char *p = mfd_arena_alloc(arena, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *mfd_arena_strdup(mfd_arena *arena, const char *s) {
    return s ? mfd_arena_strndup(arena, s, strlen(s)) : NULL;
}

char *mfd_arena_vsprintf(mfd_arena *arena, const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        n = 0;
    char *p = mfd_arena_alloc(arena, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *mfd_arena_sprintf(mfd_arena *arena, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *p = mfd_arena_vsprintf(arena, fmt, ap);
    va_end(ap);
    return p;
}

void mfd_strbuf_init(mfd_strbuf *sb, mfd_arena *arena) {
    sb->arena = arena;
    sb->cap = 64;
    sb->len = 0;
    sb->data = mfd_arena_alloc(arena, sb->cap);
    sb->data[0] = '\0';
}

char *mfd_strbuf_reserve(mfd_strbuf *sb, size_t n) {
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap * 2;
        while (cap < sb->len + n + 1)
            cap *= 2;
        sb->data = mfd_arena_resize(sb->arena, sb->data, sb->len, cap);
        sb->cap = cap;
    }
    return sb->data + sb->len;
}

void mfd_strbuf_reserve_exact(mfd_strbuf *sb, size_t n) {
    if (sb->len + n + 1 <= sb->cap)
        return;
    size_t cap = sb->len + n + 1;
    sb->data = mfd_arena_resize(sb->arena, sb->data, sb->len + 1, cap);
    sb->cap = cap;
}

void mfd_strbuf_appendn(mfd_strbuf *sb, const char *s, size_t n) {
    mfd_strbuf_reserve(sb, n);
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void mfd_strbuf_append(mfd_strbuf *sb, const char *s) {
    mfd_strbuf_appendn(sb, s, strlen(s));
}

void mfd_strbuf_appendf(mfd_strbuf *sb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *p = mfd_arena_vsprintf(sb->arena, fmt, ap);
    va_end(ap);
    mfd_strbuf_append(sb, p);
}

void *mfd_arena_grow(mfd_arena *arena, void *items, size_t n, size_t *cap, size_t size,
                     size_t first) {
    if (n < *cap)
        return items;
    size_t grown_cap = *cap ? *cap * 2 : first;
    void *grown = items ? mfd_arena_resize(arena, items, n * size, grown_cap * size)
                        : mfd_arena_alloc(arena, grown_cap * size);
    *cap = grown_cap;
    return grown;
}
