/* db_sqlite_lower.c — see db_sqlite_lower.h. The text is read and written
 * as UTF-8 with the C library's multibyte functions in the same locale; a
 * byte that does not start a valid sequence is copied as it is. */
#include "db_sqlite_lower.h"

#include "core/utf8.h"

#include <limits.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

static void lower(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    const unsigned char *in = sqlite3_value_text(argv[0]);
    int len = sqlite3_value_bytes(argv[0]);
    if (!in) {
        sqlite3_result_null(ctx);
        return;
    }
    /* A lower-case form is at most MB_LEN_MAX bytes a character; UTF-8 letters
     * keep or shrink their length in practice, but no assumption is made. */
    char *out = sqlite3_malloc64((sqlite3_uint64)len * MB_LEN_MAX + 1);
    if (!out) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    locale_t utf8_locale = mfd_utf8_locale();
    locale_t previous = uselocale(utf8_locale);
    size_t n = 0;
    mbstate_t in_state = {0}, out_state = {0};
    for (int i = 0; i < len;) {
        if (in[i] < 0x80) {
            out[n++] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + ('a' - 'A') : in[i]);
            i++;
            continue;
        }
        wchar_t wc;
        size_t used = mbrtowc(&wc, (const char *)in + i, (size_t)(len - i), &in_state);
        if (used == (size_t)-1 || used == (size_t)-2 || used == 0) {
            memset(&in_state, 0, sizeof in_state);
            out[n++] = (char)in[i++];
            continue;
        }
        size_t wrote = wcrtomb(out + n, (wchar_t)towlower_l((wint_t)wc, utf8_locale), &out_state);
        if (wrote == (size_t)-1) {
            memcpy(out + n, in + i, used);
            wrote = used;
        }
        n += wrote;
        i += (int)used;
    }
    uselocale(previous);
    sqlite3_result_text(ctx, out, (int)n, sqlite3_free);
}

int mfd_sqlite_register_lower(sqlite3 *db) {
    if (mfd_utf8_locale() == (locale_t)0)
        return SQLITE_OK; /* no C.UTF-8 locale: SQLite's ASCII lower() stays */
    return sqlite3_create_function(db, "lower", 1,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                   lower, NULL, NULL);
}
