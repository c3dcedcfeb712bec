/* utf8.c — see utf8.h. */
#include "utf8.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

bool mfd_utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

size_t mfd_utf8_chars(const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80; /* every byte but continuation bytes starts one */
    return n;
}

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void open_utf8_locale(void) {
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

locale_t mfd_utf8_locale(void) {
    pthread_once(&utf8_once, open_utf8_locale);
    return utf8_locale;
}

bool mfd_utf8_word_chars_only(const char *s, const char *also) {
    locale_t loc = mfd_utf8_locale();
    locale_t previous = loc ? uselocale(loc) : (locale_t)0;
    mbstate_t state = {0};
    size_t len = strlen(s);
    bool ok = true;
    for (size_t i = 0; ok && i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || strchr(also, c) != NULL;
            i++;
            continue;
        }
        if (!loc) {
            i++;
            continue;
        }
        wchar_t wc;
        size_t used = mbrtowc(&wc, s + i, len - i, &state);
        ok = used != (size_t)-1 && used != (size_t)-2 && used != 0 && iswalnum_l((wint_t)wc, loc);
        i += ok ? used : 1;
    }
    if (loc)
        uselocale(previous);
    return ok;
}
