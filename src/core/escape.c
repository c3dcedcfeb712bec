/* escape.c — the one markup escaper (signup and login pages, S3 XML bodies). */
#include "escape.h"

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
