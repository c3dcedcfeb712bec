/* escape.c — the one markup escaper (signup and login pages, S3 XML bodies),
 * the one JSON string writer (runs, histories, YAML manifests) and the one
 * Python repr() of text (the store's messages). */
#include "escape.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char *mfd_markup_escape(mfd_arena *arena, const char *text) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    for (const char *p = text; p && *p; p++) {
        switch (*p) {
        case '&':
            mfd_strbuf_append(&sb, "&amp;");
            break;
        case '<':
            mfd_strbuf_append(&sb, "&lt;");
            break;
        case '>':
            mfd_strbuf_append(&sb, "&gt;");
            break;
        case '"':
            mfd_strbuf_append(&sb, "&quot;");
            break;
        case '\'':
            mfd_strbuf_append(&sb, "&#39;");
            break;
        default:
            mfd_strbuf_appendn(&sb, p, 1);
        }
    }
    return sb.data;
}

/* Printable ASCII other than '"' and '\\' is written as it is; anything
 * else (escapes, UTF-8 to validate) goes through jansson. */
void mfd_json_append_string(mfd_strbuf *sb, const char *s) {
    s = s ? s : "";
    size_t n = 0;
    for (unsigned char c; (c = (unsigned char)s[n]) >= 0x20 && c < 0x7f && c != '"' && c != '\\';)
        n++;
    if (!s[n]) {
        char *w = mfd_strbuf_reserve(sb, n + 2);
        w[0] = '"';
        memcpy(w + 1, s, n);
        w[n + 1] = '"';
        sb->len += n + 2;
        sb->data[sb->len] = '\0';
        return;
    }
    json_t *str = json_string(s);
    char *text = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    mfd_strbuf_append(sb, text ? text : "\"\"");
    free(text);
    json_decref(str);
}

void mfd_hex_encode(const unsigned char *bytes, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The code points Python's str.isprintable() refuses, but for the
 * unassigned ones (which need Unicode's tables): Cc, Zs but U+0020, Zl, Zp,
 * Cf, Co and the noncharacters, as ranges in order. */
static const struct {
    unsigned first, last;
} not_printable[] = {
    {0x0000, 0x001f},    {0x007f, 0x00a0},   {0x00ad, 0x00ad},   {0x0600, 0x0605},
    {0x061c, 0x061c},    {0x06dd, 0x06dd},   {0x070f, 0x070f},   {0x0890, 0x0891},
    {0x08e2, 0x08e2},    {0x1680, 0x1680},   {0x180e, 0x180e},   {0x2000, 0x200f},
    {0x2028, 0x202f},    {0x205f, 0x2064},   {0x2066, 0x206f},   {0x3000, 0x3000},
    {0xe000, 0xf8ff},    {0xfdd0, 0xfdef},   {0xfeff, 0xfeff},   {0xfff9, 0xfffb},
    {0xfffe, 0xffff},    {0x110bd, 0x110bd}, {0x110cd, 0x110cd}, {0x13430, 0x1343f},
    {0x1bca0, 0x1bca3},  {0x1d173, 0x1d17a}, {0xe0001, 0xe0001}, {0xe0020, 0xe007f},
    {0xf0000, 0x10ffff},
};

static bool printable(unsigned cp) {
    if ((cp & 0xfffe) == 0xfffe) /* U+xFFFE and U+xFFFF of every plane */
        return false;
    for (size_t i = 0; i < sizeof not_printable / sizeof *not_printable; i++)
        if (cp <= not_printable[i].last)
            return cp < not_printable[i].first;
    return true;
}

/* The code point of the UTF-8 sequence at `p` and its length, or 0 when the
 * bytes are no well-formed sequence. */
static size_t utf8_decode(const unsigned char *p, unsigned *cp) {
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = p[0] < 0x80             ? 1
                 : (p[0] & 0xe0) == 0xc0 ? 2
                 : (p[0] & 0xf0) == 0xe0 ? 3
                 : (p[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len <= 1) {
        *cp = p[0];
        return len;
    }
    unsigned v = p[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

void mfd_python_repr_append(mfd_strbuf *sb, const char *s) {
    char quote = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    mfd_strbuf_appendn(sb, &quote, 1);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned cp;
        size_t len = utf8_decode(p, &cp);
        if (!len) { /* not UTF-8 (a Python str cannot hold it): the byte as it is */
            mfd_strbuf_appendn(sb, (const char *)p++, 1);
            continue;
        }
        if (cp == '\\' || cp == (unsigned char)quote)
            mfd_strbuf_appendf(sb, "\\%c", (char)cp);
        else if (cp == '\n')
            mfd_strbuf_append(sb, "\\n");
        else if (cp == '\r')
            mfd_strbuf_append(sb, "\\r");
        else if (cp == '\t')
            mfd_strbuf_append(sb, "\\t");
        else if (printable(cp))
            mfd_strbuf_appendn(sb, (const char *)p, len);
        else if (cp < 0x100)
            mfd_strbuf_appendf(sb, "\\x%02x", cp);
        else if (cp < 0x10000)
            mfd_strbuf_appendf(sb, "\\u%04x", cp);
        else
            mfd_strbuf_appendf(sb, "\\U%08x", cp);
        p += len;
    }
    mfd_strbuf_appendn(sb, &quote, 1);
}

int mfd_hex_digit_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *mfd_percent_decode(mfd_arena *arena, const char *s, size_t len, bool plus, size_t *out_len) {
    char *out = mfd_arena_alloc(arena, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = mfd_hex_digit_value(s[i + 1])) >= 0 &&
            (lo = mfd_hex_digit_value(s[i + 2])) >= 0) {
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}
