/* escape.c — the one markup escaper (signup and login pages, S3 XML bodies)
 * and the one JSON string writer (runs, histories, YAML manifests). */
#include "escape.h"

#include <jansson.h>
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
