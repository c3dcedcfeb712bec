/* json_cost.c — see json_cost.h. The figures were measured with mallinfo2()
 * around json_loadb on Debian 12's jansson 2.14 (x86-64): an object 232
 * bytes, an array 136, an integer or real 40 to 53 (with its array slot, grown by doubling), a
 * string 88, a member's key and slot ~110 beyond its value. Each is rounded up. */
#include "json_cost.h"

#include <stdbool.h>

enum {
    COST_OBJECT = 240,
    COST_ARRAY = 144,
    COST_MEMBER = 64, /* per ':' */
    COST_VALUE = 64,  /* per ',' and the first value */
    COST_QUOTE = 40,  /* a string is two quotes */
};

typedef struct counts {
    size_t objects, arrays, members, commas, quotes;
} counts;

static size_t weigh(const counts *c) {
    return COST_OBJECT * c->objects + COST_ARRAY * c->arrays + COST_MEMBER * c->members +
           COST_VALUE * (c->commas + 1) + COST_QUOTE * c->quotes;
}

/* Structural characters outside strings; with `everywhere`, inside them too
 * (a string holding a message: escaped quotes then open and close its
 * strings, and a \\uXXXX escape may stand for any structural character, so
 * it is counted as the dearest, an object; an upper bound is all that is
 * needed). */
static void count(const char *text, size_t len, bool everywhere, counts *c) {
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_string) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_string = false;
            continue;
        }
        if (everywhere && ch == '\\' && i + 1 < len) {
            if (text[i + 1] == 'u')
                c->objects++;
            else if (text[i + 1] == '"')
                c->quotes++;
            i++;
            continue;
        }
        switch (ch) {
        case '"':
            c->quotes++;
            in_string = !everywhere;
            break;
        case '{':
            c->objects++;
            break;
        case '[':
            c->arrays++;
            break;
        case ':':
            c->members++;
            break;
        case ',':
            c->commas++;
            break;
        default:
            break;
        }
    }
}

size_t mfd_json_parse_cost(const char *text, size_t len) {
    size_t start = 0;
    while (start < len && (text[start] == ' ' || text[start] == '\t' || text[start] == '\n' ||
                           text[start] == '\r'))
        start++;
    counts c = {0};
    bool one_string = start < len && text[start] == '"';
    count(text + start, len - start, one_string, &c);
    /* the text's bytes are copied into its strings; a message inside one
     * string is copied once more before it is read */
    return weigh(&c) + len * (one_string ? 2 : 1);
}
