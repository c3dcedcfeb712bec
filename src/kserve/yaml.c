/* yaml.c — a JSON value written as a YAML 1.2 block document, for manifests
 * that people read and pipe into `kubectl apply -f -`.
 *
 * A string is written plain only when YAML 1.1 and 1.2 parsers both read it
 * back as that same string (no indicator characters, nothing that looks
 * like a number, bool or null); otherwise it is double-quoted with JSON's
 * escapes, which YAML's double-quoted style understands. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/escape.h"
#include "core/number_text.h"
#include "kserve.h"

static bool looks_like_other_type(const char *s) {
    static const char *const words[] = {"true", "false", "yes", "no", "on",
                                        "off",  "null",  "y",   "n",  "~"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcasecmp(s, words[i]))
            return true;
    /* numbers in any spelling: digits, signs, dots, exponents, 0x/0o, .inf/.nan */
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '.' || isdigit((unsigned char)*p))
        return true;
    return false;
}

static bool plain_safe(const char *s) {
    if (!*s || looks_like_other_type(s))
        return false;
    if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || strchr("-_./:", c)))
            return false;
        if (c == ':' && (p[1] == '\0' || p[1] == ' '))
            return false;
    }
    return true;
}

/* A double-quoted scalar: JSON's escapes are YAML's too, but JSON leaves
 * DEL, the C1 controls (U+0080-U+009F, NEL among them), the line and
 * paragraph separators U+2028 and U+2029 and the noncharacters U+FFFE and
 * U+FFFF as they are, which YAML may not hold raw (a YAML 1.1 parser reads
 * NEL, U+2028 and U+2029 as line breaks and folds the spaces around them;
 * the noncharacters are outside c-printable, and the document is refused):
 * those are written as \uXXXX, valid in both. */
static void scalar_string(mfd_strbuf *sb, const char *s) {
    if (plain_safe(s)) {
        mfd_strbuf_append(sb, s);
        return;
    }
    mfd_strbuf quoted;
    mfd_strbuf_init(&quoted, sb->arena);
    mfd_json_append_string(&quoted, s);
    for (const unsigned char *p = (const unsigned char *)quoted.data; *p; p++) {
        unsigned code = 0;
        size_t len = 1;
        if (*p == 0x7f)
            code = 0x7f;
        else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            code = p[1], len = 2;
        else if (p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))
            code = p[2] == 0xbe ? 0xfffe : 0xffff, len = 3;
        else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
            code = p[2] == 0xa8 ? 0x2028 : 0x2029, len = 3;
        if (!code) {
            mfd_strbuf_appendn(sb, (const char *)p, 1);
            continue;
        }
        mfd_strbuf_appendf(sb, "\\u%04x", code);
        p += len - 1;
    }
}

static void indent(mfd_strbuf *sb, int depth) {
    for (int i = 0; i < depth; i++)
        mfd_strbuf_append(sb, "  ");
}

static bool is_block(const json_t *v) {
    return (json_is_object(v) && json_object_size(v) > 0) ||
           (json_is_array(v) && json_array_size(v) > 0);
}

/* A real as a float to YAML 1.1 and 1.2 alike: Python's repr (the fewest
 * digits that read back the same) with a '.' in the mantissa, which 1.1's
 * float needs ("1e+22" would be a string, "1" an integer). JSON has no
 * infinities or NaN, so none reaches here. */
static void real(mfd_strbuf *sb, double value) {
    char text[40];
    text[mfd_double_python_repr(text, value)] = '\0';
    const char *exponent = strchr(text, 'e');
    if (exponent && !memchr(text, '.', (size_t)(exponent - text)))
        mfd_strbuf_appendf(sb, "%.*s.0%s", (int)(exponent - text), text, exponent);
    else
        mfd_strbuf_append(sb, text);
}

static void scalar(mfd_strbuf *sb, const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_STRING:
        scalar_string(sb, json_string_value(v));
        break;
    case JSON_INTEGER:
        mfd_strbuf_appendf(sb, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        real(sb, json_real_value(v));
        break;
    case JSON_TRUE:
        mfd_strbuf_append(sb, "true");
        break;
    case JSON_FALSE:
        mfd_strbuf_append(sb, "false");
        break;
    case JSON_OBJECT:
        mfd_strbuf_append(sb, "{}");
        break;
    case JSON_ARRAY:
        mfd_strbuf_append(sb, "[]");
        break;
    default:
        mfd_strbuf_append(sb, "null");
    }
}

static void block(mfd_strbuf *sb, const json_t *v, int depth);

/* Writes `v` after "key:" or "-": inline when scalar, else on new lines. */
static void value_after_indicator(mfd_strbuf *sb, const json_t *v, int depth) {
    if (is_block(v)) {
        mfd_strbuf_append(sb, "\n");
        block(sb, v, depth);
    } else {
        mfd_strbuf_append(sb, " ");
        scalar(sb, v);
        mfd_strbuf_append(sb, "\n");
    }
}

static void block(mfd_strbuf *sb, const json_t *v, int depth) {
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child) {
            indent(sb, depth);
            scalar_string(sb, key);
            mfd_strbuf_append(sb, ":");
            value_after_indicator(sb, child, depth + 1);
        }
    } else {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) {
            indent(sb, depth);
            mfd_strbuf_append(sb, "-");
            value_after_indicator(sb, child, depth + 1);
        }
    }
}

const char *mfd_kserve_yaml(mfd_arena *arena, const json_t *value) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    if (is_block(value)) {
        block(&sb, value, 0);
    } else {
        scalar(&sb, value);
        mfd_strbuf_append(&sb, "\n");
    }
    return sb.data;
}
