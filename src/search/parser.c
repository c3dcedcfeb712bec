/* parser.c — the grammar shared by the run, experiment, registered-model and
 * model-version searches (search-grammar.md §1): a filter is
 * `clause (AND clause)*`, a clause is `identifier comparator value`, and an
 * order_by element is `identifier [ASC|DESC]`. It also holds the small
 * Python-compatible helpers upstream's SearchUtils applies to identifiers
 * and values, so every compiler reads the same words the same way.
 *
 * The parser only checks shape; which entities, keys, comparators and value
 * types are allowed is each compiler's business (they differ per endpoint).
 * Nothing here recurses, so input depth cannot exhaust the stack. */
#include "search_internal.h"

#include "core/escape.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

/* Locales loaded once: "C" so numbers never depend on the process locale,
 * "C.UTF-8" for Unicode case ((locale_t)0 when the C library lacks it). */
static pthread_once_t locales_once = PTHREAD_ONCE_INIT;
static locale_t c_locale, utf8_locale;

static void load_locales(void) {
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

mfd_err mfd_search_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mfd_err err = mfd_err_newv(MFD_INVALID_PARAMETER_VALUE, fmt, ap);
    va_end(ap);
    return err;
}

/* ---- filters -------------------------------------------------------------------------------- */

static mfd_err invalid_clause(mfd_arena *arena, const char *filter, size_t offset) {
    return mfd_search_error("Invalid clause(s) in filter string: '%s'",
                            mfd_search_excerpt(arena, filter + offset));
}

/* Words that can never start a clause: upstream's tokenizer sees keywords. */
static bool is_clause_keyword(const mfd_search_token *t) {
    static const char *const words[] = {"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "BETWEEN"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (mfd_search_token_is(t, words[i]))
            return true;
    return false;
}

/* Reads the comparator at tokens[*i]; NULL when there is none. */
static const char *read_comparator(mfd_arena *arena, const mfd_search_token *tokens, size_t *i) {
    const mfd_search_token *t = &tokens[*i];
    if (t->kind == MFD_TOK_OP || mfd_search_token_is(t, "LIKE") ||
        mfd_search_token_is(t, "ILIKE") || mfd_search_token_is(t, "IN")) {
        (*i)++;
        return t->text;
    }
    if (mfd_search_token_is(t, "NOT")) {
        const mfd_search_token *next = &tokens[*i + 1];
        static const char *const negatable[] = {"IN", "LIKE", "ILIKE"};
        for (size_t k = 0; k < sizeof negatable / sizeof negatable[0]; k++) {
            if (mfd_search_token_is(next, negatable[k])) {
                *i += 2; /* as written: a case-sensitive grammar refuses "not in" */
                return mfd_arena_sprintf(arena, "%s %s", t->text, next->text);
            }
        }
    }
    return NULL;
}

/* Reads the value at tokens[*i]; false when there is none. */
static bool read_value(mfd_arena *arena, const char *filter, const mfd_search_token *tokens,
                       size_t *i, mfd_search_value *value) {
    const mfd_search_token *t = &tokens[*i];
    memset(value, 0, sizeof *value);
    value->raw = t->text;
    switch (t->kind) {
    case MFD_TOK_STRING:
        value->kind = MFD_VAL_STRING;
        break;
    case MFD_TOK_NAME:
        value->kind = MFD_VAL_NAME;
        break;
    case MFD_TOK_NUMBER:
        value->kind = MFD_VAL_NUMBER;
        if (!mfd_search_parse_number(t->text, &value->number))
            return false;
        break;
    case MFD_TOK_LPAREN: {
        size_t close = *i + 1, depth = 0;
        for (;; close++) {
            if (tokens[close].kind == MFD_TOK_END)
                return false;
            if (tokens[close].kind == MFD_TOK_LPAREN) {
                depth++;
            } else if (tokens[close].kind == MFD_TOK_RPAREN) {
                if (depth == 0)
                    break;
                depth--;
            }
        }
        value->kind = MFD_VAL_LIST;
        value->list_tokens = &tokens[*i + 1];
        value->n_list_tokens = close - *i - 1;
        size_t from = t->offset, to = tokens[close].offset + 1;
        value->raw = mfd_arena_strndup(arena, filter + from, to - from);
        *i = close + 1;
        return true;
    }
    default:
        return false;
    }
    (*i)++;
    return true;
}

mfd_err mfd_search_parse_filter(mfd_arena *arena, const char *filter, mfd_search_clause **clauses,
                                size_t *count) {
    *clauses = NULL;
    *count = 0;
    if (!filter || !*filter)
        return NULL;
    mfd_search_token *tokens;
    size_t n_tokens;
    mfd_err err = mfd_search_lex(arena, filter, &tokens, &n_tokens);
    if (err)
        return err;
    if (tokens[0].kind == MFD_TOK_END)
        return NULL;

    size_t cap = 4, i = 0;
    mfd_search_clause *out = mfd_arena_calloc(arena, cap, sizeof *out);
    for (;;) {
        size_t clause_start =
            tokens[i].kind == MFD_TOK_END && i > 0 ? tokens[i - 1].offset : tokens[i].offset;
        mfd_search_clause clause = {0};
        if (tokens[i].kind != MFD_TOK_NAME || is_clause_keyword(&tokens[i]))
            return invalid_clause(arena, filter, clause_start);
        clause.identifier = tokens[i++].text;
        clause.comparator = read_comparator(arena, tokens, &i);
        if (!clause.comparator || !read_value(arena, filter, tokens, &i, &clause.value))
            return invalid_clause(arena, filter, clause_start);

        if (*count == MFD_SEARCH_MAX_CLAUSES)
            return mfd_search_error("Too many clauses in filter string (at most %d)",
                                    MFD_SEARCH_MAX_CLAUSES);
        if (*count == cap) {
            mfd_search_clause *grown = mfd_arena_calloc(arena, cap * 2, sizeof *grown);
            memcpy(grown, out, cap * sizeof *grown);
            out = grown;
            cap *= 2;
        }
        out[(*count)++] = clause;

        const mfd_search_token *sep = &tokens[i];
        if (sep->kind == MFD_TOK_END)
            break;
        if (sep->kind == MFD_TOK_SEMI && sep[1].kind != MFD_TOK_END)
            return mfd_search_error("Search filter contained multiple expression '%s'. Provide "
                                    "AND-ed expression list.",
                                    mfd_search_excerpt(arena, filter));
        if (!mfd_search_token_is(sep, "AND"))
            return invalid_clause(arena, filter, sep->offset);
        i++;
    }
    *clauses = out;
    return NULL;
}

/* ---- order_by ------------------------------------------------------------------------------- */

/* A NAME token with quotes and backticks removed, as shlex leaves it. */
static const char *unquote_name(mfd_arena *arena, const char *text) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_strbuf_append(&sb, "");
    for (const char *p = text; *p;) {
        char quote = *p;
        if (quote != '`' && quote != '"') {
            mfd_strbuf_appendn(&sb, p++, 1);
            continue;
        }
        for (p++; *p; p++) {
            if (*p == quote) {
                if (p[1] != quote) {
                    p++;
                    break;
                }
                p++; /* a doubled quote stands for one */
            } else if (quote == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\')) {
                p++;
            }
            mfd_strbuf_appendn(&sb, p, 1);
        }
    }
    return sb.data;
}

mfd_err mfd_search_parse_order_by(mfd_arena *arena, const char *element, const char **identifier,
                                  bool *ascending) {
    *identifier = NULL;
    *ascending = true;
    mfd_search_token *tokens;
    size_t n_tokens;
    mfd_err err = mfd_search_lex(arena, element, &tokens, &n_tokens);
    if (err)
        return err;
    const char *shown = mfd_search_excerpt(arena, element ? element : "");
    if (tokens[0].kind != MFD_TOK_NAME ||
        (tokens[1].kind != MFD_TOK_END &&
         (tokens[1].kind != MFD_TOK_NAME || tokens[2].kind != MFD_TOK_END)))
        return mfd_search_error("Invalid order_by clause '%s'. Could not be parsed.", shown);
    if (tokens[1].kind == MFD_TOK_NAME) {
        if (mfd_search_token_is(&tokens[1], "DESC"))
            *ascending = false;
        else if (!mfd_search_token_is(&tokens[1], "ASC"))
            return mfd_search_error("Invalid ordering key in order_by clause '%s'.", shown);
    }
    *identifier = unquote_name(arena, tokens[0].text);
    return NULL;
}

const char *mfd_search_order_by_repr(mfd_arena *arena, const char *const *order_by, size_t n) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_strbuf_append(&sb, "[");
    for (size_t i = 0; i < n; i++) {
        const char *element = order_by[i] ? order_by[i] : "";
        if (!mfd_utf8_valid(element, strlen(element)))
            element = "<invalid UTF-8>";
        mfd_strbuf_appendf(&sb, "%s'%s'", i ? ", " : "", mfd_search_excerpt(arena, element));
    }
    mfd_strbuf_append(&sb, "]");
    return mfd_search_excerpt(arena, sb.data);
}

/* ---- SearchUtils helpers -------------------------------------------------------------------- */

bool mfd_search_is_quoted(const char *s, char quote) {
    size_t len = strlen(s);
    return len >= 2 && s[0] == quote && s[len - 1] == quote;
}

static const char *trim_ends(mfd_arena *arena, const char *s) {
    return mfd_arena_strndup(arena, s + 1, strlen(s) - 2);
}

const char *mfd_search_strip_quotes(mfd_arena *arena, const char *s) {
    if (mfd_search_is_quoted(s, '\'') || mfd_search_is_quoted(s, '"'))
        return trim_ends(arena, s);
    return s;
}

const char *mfd_search_trim_backticks(mfd_arena *arena, const char *s) {
    return mfd_search_is_quoted(s, '`') ? trim_ends(arena, s) : s;
}

void mfd_search_split_identifier(mfd_arena *arena, const char *identifier, const char **entity,
                                 const char **key) {
    const char *dot = strchr(identifier, '.');
    if (!dot) {
        *entity = NULL;
        *key = identifier;
        return;
    }
    *entity = mfd_arena_strndup(arena, identifier, (size_t)(dot - identifier));
    *key = dot + 1;
}

mfd_err mfd_search_attribute_or_tag(mfd_arena *arena, const char *entity, bool *is_tag) {
    *is_tag = false;
    if (!entity)
        return NULL;
    if (strcmp(entity, "attribute") != 0 && strcmp(entity, "tag") != 0 &&
        strcmp(entity, "tags") != 0)
        return mfd_search_error("Invalid entity type '%s'. Valid entity types are "
                                "('attribute', 'tag', 'tags')",
                                mfd_search_excerpt(arena, entity));
    *is_tag = strcmp(entity, "attribute") != 0;
    return NULL;
}

mfd_err mfd_search_string_value(mfd_arena *arena, const mfd_search_value *value, const char *what,
                                const char **out) {
    *out = NULL;
    if ((value->kind == MFD_VAL_STRING || value->kind == MFD_VAL_NAME) &&
        (mfd_search_is_quoted(value->raw, '\'') || mfd_search_is_quoted(value->raw, '"'))) {
        *out = trim_ends(arena, value->raw);
        return NULL;
    }
    return mfd_search_error("Expected a quoted string value for %s. Got value %s", what,
                            mfd_search_excerpt(arena, value->raw));
}

bool mfd_search_parse_number(const char *s, mfd_search_number *out) {
    memset(out, 0, sizeof *out);
    if (!s || !*s)
        return false;
    pthread_once(&locales_once, load_locales);
    char *end;
    errno = 0;
    double d = c_locale != (locale_t)0 ? strtod_l(s, &end, c_locale) : strtod(s, &end);
    if (*end != '\0' || end == s || isnan(d))
        return false;
    out->f64 = d;
    if (strpbrk(s, ".eE") == NULL) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno == 0 && *end == '\0') {
            out->is_integer = true;
            out->i64 = (int64_t)v;
        }
    }
    return true;
}

/* ---- IN lists: a Python tuple of str literals ----------------------------------------------- */

static void append_code_point(mfd_strbuf *sb, uint32_t cp) {
    char buf[4];
    size_t n;
    if (cp < 0x80) {
        buf[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        buf[0] = (char)(0xC0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        buf[0] = (char)(0xF0 | (cp >> 18));
        buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    mfd_strbuf_appendn(sb, buf, n);
}

/* One backslash escape at *p (just past the backslash), Python rules. False
 * for escapes Python rejects and for results a C string or UTF-8 cannot
 * carry (NUL, surrogates). */
static bool decode_escape(mfd_strbuf *sb, const char **p) {
    static const char simple_from[] = "\\'\"abfnrtv", simple_to[] = "\\'\"\a\b\f\n\r\t\v";
    char c = **p;
    const char *simple = c ? strchr(simple_from, c) : NULL;
    if (simple) {
        mfd_strbuf_appendn(sb, &simple_to[simple - simple_from], 1);
        (*p)++;
        return true;
    }
    if (c == '\n') { /* line continuation */
        (*p)++;
        return true;
    }
    uint32_t cp = 0;
    if (c >= '0' && c <= '7') {
        for (int k = 0; k < 3 && **p >= '0' && **p <= '7'; k++, (*p)++)
            cp = cp * 8 + (uint32_t)(**p - '0');
    } else if (c == 'x' || c == 'u' || c == 'U') {
        int digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        (*p)++;
        for (int k = 0; k < digits; k++, (*p)++) {
            int h = mfd_hex_digit_value(**p);
            if (h < 0)
                return false;
            cp = cp * 16 + (uint32_t)h;
        }
    } else if (c == 'N' || c == '\0') {
        return false; /* named escapes are not supported */
    } else {
        mfd_strbuf_appendn(sb, "\\", 1); /* unknown escapes stay as written */
        return true;
    }
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
    append_code_point(sb, cp);
    return true;
}

/* A STRING token as Python's literal_eval reads it: 'a''b' is the two
 * adjacent literals 'a' 'b', i.e. "ab"; backslash escapes apply. */
static bool python_str_literal(mfd_arena *arena, const char *raw, const char **out) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_strbuf_append(&sb, "");
    const char *p = raw;
    if (*p != '\'')
        return false;
    while (*p == '\'') {
        p++;
        for (;;) {
            char c = *p;
            if (c == '\0' || c == '\n')
                return false;
            if (c == '\'') {
                p++;
                break;
            }
            if (c == '\\') {
                p++;
                if (!decode_escape(&sb, &p))
                    return false;
                continue;
            }
            mfd_strbuf_appendn(&sb, p++, 1);
        }
    }
    if (*p != '\0')
        return false;
    *out = sb.data;
    return true;
}

mfd_err mfd_search_list_items(mfd_arena *arena, const mfd_search_value *value, bool lower_only,
                              const char ***items, size_t *count) {
    static const char ill_formed[] = "While parsing a list in the query, expected a non-empty "
                                     "list of string values, but got ill-formed list.";
    *items = NULL;
    *count = 0;
    const mfd_search_token *t = value->list_tokens;
    size_t n = value->n_list_tokens;
    if (value->kind != MFD_VAL_LIST)
        return mfd_search_error("%s", ill_formed);
    if (n == 0)
        return mfd_search_error("While parsing a list in the query, expected a non-empty list "
                                "of string values, but got empty list");
    for (size_t k = 0; k < n; k++)
        if (t[k].kind != MFD_TOK_STRING && t[k].kind != MFD_TOK_COMMA)
            return mfd_search_error("While parsing a list in the query, expected string value, "
                                    "punctuation, or whitespace, but got different type in "
                                    "list: %s",
                                    mfd_search_excerpt(arena, value->raw));
    const char **out = mfd_arena_calloc(arena, n, sizeof *out);
    size_t kept = 0;
    for (size_t k = 0; k < n; k += 2) {
        /* string (, string)* [,] */
        if (t[k].kind != MFD_TOK_STRING || (k + 1 < n && t[k + 1].kind != MFD_TOK_COMMA))
            return mfd_search_error("%s", ill_formed);
        const char *item;
        if (!python_str_literal(arena, t[k].text, &item))
            return mfd_search_error("%s", ill_formed);
        if (!lower_only || mfd_search_python_islower(item))
            out[kept++] = item;
    }
    *items = out;
    *count = kept;
    return NULL;
}

/* ---- str.islower() -------------------------------------------------------------------------- */

/* Decodes one code point of valid UTF-8 at *p and advances. */
static uint32_t next_code_point(const unsigned char **p) {
    const unsigned char *s = *p;
    uint32_t cp;
    size_t n;
    if (s[0] < 0x80) {
        cp = s[0];
        n = 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        cp = s[0] & 0x1F;
        n = 2;
    } else if ((s[0] & 0xF0) == 0xE0) {
        cp = s[0] & 0x0F;
        n = 3;
    } else {
        cp = s[0] & 0x07;
        n = 4;
    }
    size_t k = 1;
    for (; k < n && s[k]; k++)
        cp = (cp << 6) | (s[k] & 0x3F);
    *p = s + k;
    return cp;
}

/* Python's str.islower(): at least one cased character and no upper-case
 * one. Outside ASCII the C library's Unicode tables decide; without a UTF-8
 * locale such characters count as uncased. */
bool mfd_search_python_islower(const char *s) {
    pthread_once(&locales_once, load_locales);
    bool any_lower = false;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp = next_code_point(&p);
        bool upper, lower;
        if (cp < 0x80) {
            upper = cp >= 'A' && cp <= 'Z';
            lower = cp >= 'a' && cp <= 'z';
        } else if (utf8_locale != (locale_t)0) {
            upper = iswupper_l((wint_t)cp, utf8_locale) != 0;
            lower = !upper && iswlower_l((wint_t)cp, utf8_locale) != 0;
        } else {
            upper = lower = false;
        }
        if (upper)
            return false;
        any_lower = any_lower || lower;
    }
    return any_lower;
}
