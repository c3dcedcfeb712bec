/* test.h — the tiny harness every C unit test uses.
 *
 * A test file defines `static void test_xxx(void)` functions, lists them in
 * MFD_TEST_MAIN(...), and checks with CHECK / CHECK_STR / CHECK_INT. A failing
 * check prints file:line and the expression, and the test goes on; the binary
 * prints "N passed, N failed" and exits non-zero on any failure. */
#ifndef MFD_TEST_H
#define MFD_TEST_H

#include <stdio.h>
#include <string.h>

static int mfd_test_failed_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            mfd_test_failed_checks++;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_STR(actual, expected)                                                                \
    do {                                                                                           \
        const char *a_ = (actual), *e_ = (expected);                                               \
        if (!a_ || !e_ || strcmp(a_, e_) != 0) {                                                   \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s\n  got:      %s\n  expected: %s\n",       \
                    __FILE__, __LINE__, #actual, a_ ? a_ : "(null)", e_ ? e_ : "(null)");          \
            mfd_test_failed_checks++;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_INT(actual, expected)                                                                \
    do {                                                                                           \
        long long a_ = (long long)(actual), e_ = (long long)(expected);                            \
        if (a_ != e_) {                                                                            \
            fprintf(stderr, "%s:%d: CHECK_INT failed: %s = %lld, expected %lld\n", __FILE__,       \
                    __LINE__, #actual, a_, e_);                                                    \
            mfd_test_failed_checks++;                                                              \
        }                                                                                          \
    } while (0)

typedef void (*mfd_test_fn)(void);
typedef struct {
    const char *name;
    mfd_test_fn fn;
} mfd_test_case;

#define MFD_TEST(fn)                                                                               \
    { #fn, fn }
#define MFD_TEST_MAIN(...)                                                                         \
    int main(void) {                                                                               \
        static const mfd_test_case cases[] = {__VA_ARGS__};                                        \
        int passed = 0, failed = 0;                                                                \
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {                              \
            int before = mfd_test_failed_checks;                                                   \
            cases[i].fn();                                                                         \
            if (mfd_test_failed_checks == before) {                                                \
                passed++;                                                                          \
            } else {                                                                               \
                failed++;                                                                          \
                fprintf(stderr, "FAIL %s\n", cases[i].name);                                       \
            }                                                                                      \
        }                                                                                          \
        printf("%s: %d passed, %d failed\n", __FILE__, passed, failed);                            \
        return failed ? 1 : 0;                                                                     \
    }

#endif
