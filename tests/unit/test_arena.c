/* Arena, string builder, error-table, UTF-8 and hash behaviour. */
#include "core/arena.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/utf8.h"
#include "test.h"

#include <stdint.h>
#include <string.h>

static void test_arena_strings(void) {
    mfd_arena *a = mfd_arena_new();
    CHECK_STR(mfd_arena_sprintf(a, "%s-%d", "x", 42), "x-42");
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, a);
    for (int i = 0; i < 1000; i++)
        mfd_strbuf_append(&sb, "ab");
    CHECK_INT(sb.len, 2000);
    CHECK(sb.data[1999] == 'b' && sb.data[2000] == '\0');
    /* reserve: room for n bytes and the NUL past len, the text so far kept */
    char *end = mfd_strbuf_reserve(&sb, 5000);
    CHECK(end == sb.data + 2000 && sb.cap >= 7001);
    memcpy(end, "xyz", 3);
    sb.len += 3;
    sb.data[sb.len] = '\0';
    mfd_strbuf_append(&sb, "!");
    CHECK_INT(sb.len, 2004);
    CHECK(sb.data[0] == 'a' && !strcmp(sb.data + 1998, "abxyz!"));
    CHECK(mfd_strbuf_reserve(&sb, 0) == sb.data + 2004); /* enough room: nothing moves */
    char *big = mfd_arena_alloc(a, 1 << 20);
    big[(1 << 20) - 1] = 1; /* a big block is usable to its end */
    CHECK(((uintptr_t)mfd_arena_alloc(a, 3) & 15) == 0);
    mfd_arena_free(a);
}

static void test_error_status_table(void) {
    CHECK_INT(mfd_code_http_status(MFD_RESOURCE_ALREADY_EXISTS), 400);
    CHECK_INT(mfd_code_http_status(MFD_RESOURCE_DOES_NOT_EXIST), 404);
    CHECK_INT(mfd_code_http_status(MFD_INVALID_STATE), 500);
    CHECK_STR(mfd_code_name(MFD_INVALID_PARAMETER_VALUE), "INVALID_PARAMETER_VALUE");
    mfd_err e = mfd_err_new(MFD_BAD_REQUEST, "bad %d", 7);
    CHECK_STR(e->message, "bad 7");
    mfd_err_free(e);
}

/* core/utf8.h: what jansson would take in a JSON string, nothing more. */
static void test_utf8_validity(void) {
    static const char *const good[] = {
        "", "plain", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"};
    static const char *const bad[] = {
        "\xff",             /* not a lead byte */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong again */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "caf\xc3",          /* cut short */
        "\xc3\x28",         /* a continuation byte missing */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(mfd_utf8_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!mfd_utf8_valid(bad[i], strlen(bad[i])));
}

/* mfd_arena_grow: the same array while there is room, then a doubled copy
 * that keeps every item. */
static void test_arena_grow_keeps_items(void) {
    mfd_arena *a = mfd_arena_new();
    int *items = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 1000; i++) {
        int *before = items;
        size_t cap_before = cap;
        items = mfd_arena_grow(a, items, n, &cap, sizeof *items, 4);
        CHECK(n < cap_before ? items == before && cap == cap_before
                             : cap == (cap_before ? 2 * cap_before : 4));
        items[n++] = i;
    }
    int wrong = 0;
    for (int i = 0; i < 1000; i++)
        wrong += items[i] != i;
    CHECK_INT(wrong, 0);
    CHECK_INT(cap, 1024);
    mfd_arena_free(a);
}

/* mfd_arena_resize: a large block of its own grows in place (realloc), its
 * bytes kept; a small one is copied and the copy holds them. ASan checks
 * that nothing is read from a freed block and that everything is freed. */
static void test_arena_resize(void) {
    mfd_arena *a = mfd_arena_new();
    size_t empty = mfd_arena_bytes(a);
    unsigned char *big = mfd_arena_alloc(a, 64 * 1024);
    CHECK(mfd_arena_bytes(a) >= empty + 64 * 1024);
    for (size_t i = 0; i < 64 * 1024; i++)
        big[i] = (unsigned char)(i * 7);
    unsigned char *small = mfd_arena_alloc(a, 100);
    memset(small, 0x5a, 100);
    for (size_t size = 128 * 1024; size <= 8u << 20; size *= 2) {
        big = mfd_arena_resize(a, big, 64 * 1024, size);
        big[size - 1] = 1; /* usable to its new end */
    }
    int wrong = 0;
    for (size_t i = 0; i < 64 * 1024; i++)
        wrong += big[i] != (unsigned char)(i * 7);
    CHECK_INT(wrong, 0);
    /* counted once at its last size, not at every size it had */
    CHECK(mfd_arena_bytes(a) >= empty + (8u << 20) && mfd_arena_bytes(a) < empty + (9u << 20));
    unsigned char *copy = mfd_arena_resize(a, small, 100, 10000);
    CHECK(copy != small && copy[0] == 0x5a && copy[99] == 0x5a && small[99] == 0x5a);
    /* a large block inside a chunk (not one of its own) is copied */
    mfd_arena *b = mfd_arena_new();
    char *inside = mfd_arena_alloc(b, 5000); /* fits the first chunk */
    memset(inside, 'q', 5000);
    char *moved = mfd_arena_resize(b, inside, 5000, 1 << 20);
    CHECK(moved != inside && moved[4999] == 'q' && inside[0] == 'q');
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, b);
    for (int i = 0; i < 200000; i++)
        mfd_strbuf_append(&sb, "0123456789");
    CHECK_INT(sb.len, 2000000);
    CHECK(!strncmp(sb.data + 1999990, "0123456789", 10) && sb.data[2000000] == '\0');
    mfd_arena_free(b);
    mfd_arena_free(a);
}

/* FNV-1a 64 against the published vectors; strings fold their terminator. */
static void test_hash(void) {
    CHECK(mfd_hash_bytes(MFD_HASH_INIT, "", 0) == 0xcbf29ce484222325ULL);
    CHECK(mfd_hash_bytes(MFD_HASH_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
    CHECK(mfd_hash_bytes(MFD_HASH_INIT, "foobar", 6) == 0x85944171f73967e8ULL);
    CHECK(mfd_hash_str(MFD_HASH_INIT, "foobar") == mfd_hash_bytes(MFD_HASH_INIT, "foobar", 7));
    CHECK(mfd_hash_str(mfd_hash_str(MFD_HASH_INIT, "ab"), "c") !=
          mfd_hash_str(mfd_hash_str(MFD_HASH_INIT, "a"), "bc"));
}

MFD_TEST_MAIN(MFD_TEST(test_arena_strings), MFD_TEST(test_error_status_table),
              MFD_TEST(test_utf8_validity), MFD_TEST(test_arena_grow_keeps_items),
              MFD_TEST(test_arena_resize), MFD_TEST(test_hash))
