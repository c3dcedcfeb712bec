/* json_text.c — see json_text.h. */
#include "json_text.h"

#include <ctype.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "number_text.h"

/* A string holding NUL bytes is not a C string: jansson writes it (\u0000). */
static void append_string(mfd_strbuf *sb, const json_t *value) {
    const char *text = json_string_value(value);
    if (strlen(text) == json_string_length(value)) {
        mfd_json_append_string(sb, text);
        return;
    }
    char *dumped = json_dumps(value, JSON_ENCODE_ANY);
    mfd_strbuf_append(sb, dumped ? dumped : "\"\"");
    free(dumped);
}

void mfd_json_append_tree(mfd_strbuf *sb, const json_t *value) {
    char digits[32];
    switch (json_typeof(value)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *member;
        bool first = true;
        mfd_strbuf_appendn(sb, "{", 1);
        json_object_foreach((json_t *)value, key, member) {
            if (!first)
                mfd_strbuf_appendn(sb, ",", 1);
            first = false;
            mfd_json_append_string(sb, key);
            mfd_strbuf_appendn(sb, ":", 1);
            mfd_json_append_tree(sb, member);
        }
        mfd_strbuf_appendn(sb, "}", 1);
        return;
    }
    case JSON_ARRAY:
        mfd_strbuf_appendn(sb, "[", 1);
        for (size_t i = 0; i < json_array_size(value); i++) {
            if (i)
                mfd_strbuf_appendn(sb, ",", 1);
            mfd_json_append_tree(sb, json_array_get(value, i));
        }
        mfd_strbuf_appendn(sb, "]", 1);
        return;
    case JSON_STRING:
        append_string(sb, value);
        return;
    case JSON_INTEGER:
        mfd_strbuf_appendn(sb, digits, mfd_int_text(digits, json_integer_value(value)));
        return;
    case JSON_REAL: /* always finite: json_real() refuses NaN and infinities */
        mfd_strbuf_appendn(sb, digits, mfd_double_text(digits, json_real_value(value)));
        return;
    case JSON_TRUE:
        mfd_strbuf_append(sb, "true");
        return;
    case JSON_FALSE:
        mfd_strbuf_append(sb, "false");
        return;
    case JSON_NULL:
        mfd_strbuf_append(sb, "null");
        return;
    }
}

char *mfd_json_dumps_python(const json_t *value, size_t flags) {
    char *text = json_dumps(value, flags);
    /* Only inside strings, past a backslash: "\\u00E9" (a backslash, then
     * "u00E9") is text and stays as it is. */
    for (char *p = text; p && *p; p++) {
        if (*p != '\\')
            continue;
        if (p[1] == 'u')
            for (int i = 2; i < 6 && p[i]; i++)
                p[i] = (char)tolower((unsigned char)p[i]);
        if (p[1])
            p++;
    }
    return text;
}
