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

/* Unicode's "other numbers" (category No: ², ½, ₂, ①, ...): Python's \\w
 * matches them (str.isnumeric) and glibc's iswalnum does not, so keys such
 * as "r²" that MLflow takes were refused. Ranges from Python 3.11's
 * unicodedata (Unicode 14): the code points \\w matches that C.UTF-8's
 * iswalnum refuses, which are exactly these. */
static const struct {
    uint32_t first, last;
} other_numbers[] = {
    {0xB2, 0xB3},       {0xB9, 0xB9},       {0xBC, 0xBE},       {0x9F4, 0x9F9},
    {0xB72, 0xB77},     {0xBF0, 0xBF2},     {0xC78, 0xC7E},     {0xD58, 0xD5E},
    {0xD70, 0xD78},     {0xF2A, 0xF33},     {0x1369, 0x137C},   {0x17F0, 0x17F9},
    {0x19DA, 0x19DA},   {0x2070, 0x2070},   {0x2074, 0x2079},   {0x2080, 0x2089},
    {0x2150, 0x215F},   {0x2189, 0x2189},   {0x2460, 0x249B},   {0x24EA, 0x24FF},
    {0x2776, 0x2793},   {0x2CFD, 0x2CFD},   {0x3192, 0x3195},   {0x3220, 0x3229},
    {0x3248, 0x324F},   {0x3251, 0x325F},   {0x3280, 0x3289},   {0x32B1, 0x32BF},
    {0xA830, 0xA835},   {0x10107, 0x10133}, {0x10175, 0x10178}, {0x1018A, 0x1018B},
    {0x102E1, 0x102FB}, {0x10320, 0x10323}, {0x10858, 0x1085F}, {0x10879, 0x1087F},
    {0x108A7, 0x108AF}, {0x108FB, 0x108FF}, {0x10916, 0x1091B}, {0x109BC, 0x109BD},
    {0x109C0, 0x109CF}, {0x109D2, 0x109FF}, {0x10A40, 0x10A48}, {0x10A7D, 0x10A7E},
    {0x10A9D, 0x10A9F}, {0x10AEB, 0x10AEF}, {0x10B58, 0x10B5F}, {0x10B78, 0x10B7F},
    {0x10BA9, 0x10BAF}, {0x10CFA, 0x10CFF}, {0x10E60, 0x10E7E}, {0x10F1D, 0x10F26},
    {0x10F51, 0x10F54}, {0x10FC5, 0x10FCB}, {0x11052, 0x11065}, {0x111E1, 0x111F4},
    {0x1173A, 0x1173B}, {0x118EA, 0x118F2}, {0x11C5A, 0x11C6C}, {0x11FC0, 0x11FD4},
    {0x16B5B, 0x16B61}, {0x16E80, 0x16E96}, {0x1D2E0, 0x1D2F3}, {0x1D360, 0x1D378},
    {0x1E8C7, 0x1E8CF}, {0x1EC71, 0x1ECAB}, {0x1ECAD, 0x1ECAF}, {0x1ECB1, 0x1ECB4},
    {0x1ED01, 0x1ED2D}, {0x1ED2F, 0x1ED3D}, {0x1F100, 0x1F10C},
};

static bool is_other_number(uint32_t cp) {
    size_t lo = 0, hi = sizeof other_numbers / sizeof other_numbers[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < other_numbers[mid].first)
            hi = mid;
        else if (cp > other_numbers[mid].last)
            lo = mid + 1;
        else
            return true;
    }
    return false;
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
        ok = used != (size_t)-1 && used != (size_t)-2 && used != 0 &&
             (iswalnum_l((wint_t)wc, loc) || is_other_number((uint32_t)wc));
        i += ok ? used : 1;
    }
    if (loc)
        uselocale(previous);
    return ok;
}
