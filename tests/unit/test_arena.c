/* Arena, string builder and error-table behaviour. */
#include "core/arena.h"
#include "core/err.h"
#include "test.h"

#include <stdint.h>

static void test_arena_strings(void) {
    mfd_arena *a = mfd_arena_new();
    CHECK_STR(mfd_arena_sprintf(a, "%s-%d", "x", 42), "x-42");
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, a);
    for (int i = 0; i < 1000; i++)
        mfd_strbuf_append(&sb, "ab");
    CHECK_INT(sb.len, 2000);
    CHECK(sb.data[1999] == 'b' && sb.data[2000] == '\0');
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

MFD_TEST_MAIN(MFD_TEST(test_arena_strings), MFD_TEST(test_error_status_table))
