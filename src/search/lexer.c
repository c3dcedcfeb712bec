/* lexer.c — splits a filter or order_by string into tokens, the way upstream's
 * sqlparse sees them as far as the search grammar can observe:
 *
 *   NAME    word ('.' word)*, each word bare ([A-Za-z0-9_] and any non-ASCII
 *           byte, then also $ #), `backticked` (`` doubles a backtick) or
 *           "double-quoted" ("" and \" escape); a dot glues only when a word
 *           follows it at once, so `metrics.a.b` is one NAME;
 *   STRING  'single-quoted' ('' and \' escape; if that reading leaves the
 *           quote open, the first following quote closes it, like sqlparse's
 *           backtracking regex);
 *   NUMBER  [-] digits [. digits] [e [+-] digits], not followed by a word
 *           character (`1abc` is a NAME, `-x` a BAD);
 *   OP      a run of < > = ! ~ (validated later, so `==` is an error there);
 *   ( ) , ;  and BAD for anything else, including an unterminated quote.
 * Whitespace is what Python's \s matches, Unicode's spaces included.
 *
 * Invariants: the lexer never fails on any byte string that is valid UTF-8
 * (invalid UTF-8 is rejected up front, so every token text and every message
 * quoting it is valid UTF-8); work and memory are linear in the input, and
 * the token count is capped so a hostile string cannot cost much memory. */
#include "search_internal.h"

#include <string.h>
#include <strings.h>

enum { EXCERPT_MAX_BYTES = 200 };

/* Bytes of the whitespace character at s, or 0: what Python's `\s` matches
 * in a str (sqlparse's Whitespace token), so ASCII 0x1c-0x1f and Unicode's
 * spaces (U+00A0, U+2028, U+3000, ...) too, not only " \t\n\r\f\v". */
static size_t space_len(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r') || (u[0] >= 0x1c && u[0] <= 0x1f))
        return 1;
    if (u[0] == 0xC2 && (u[1] == 0x85 || u[1] == 0xA0))
        return 2;
    if (u[0] == 0xE1 && u[1] == 0x9A && u[2] == 0x80) /* U+1680 */
        return 3;
    if (u[0] == 0xE2 && u[1] == 0x80 &&
        ((u[2] >= 0x80 && u[2] <= 0x8A) || u[2] == 0xA8 || u[2] == 0xA9 ||
         u[2] == 0xAF)) /* U+2000-200A, 2028, 2029, 202F */
        return 3;
    if (u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0x9F) /* U+205F */
        return 3;
    if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) /* U+3000 */
        return 3;
    return 0;
}

static bool is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static bool is_word_start(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c >= 0x80;
}

static bool is_word_char(unsigned char c) {
    return is_word_start(c) || c == '$' || c == '#';
}

static bool is_op_char(unsigned char c) {
    return c == '<' || c == '>' || c == '=' || c == '!' || c == '~';
}

const char *mfd_search_excerpt(mfd_arena *arena, const char *s) {
    if (!s)
        return "";
    size_t len = strlen(s);
    if (len <= EXCERPT_MAX_BYTES)
        return s;
    size_t cut = EXCERPT_MAX_BYTES;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--; /* never split a UTF-8 sequence */
    return mfd_arena_sprintf(arena, "%.*s...", (int)cut, s);
}

bool mfd_search_token_is(const mfd_search_token *token, const char *keyword) {
    return token->kind == MFD_TOK_NAME && token->bare && strcasecmp(token->text, keyword) == 0;
}

/* The lexer's input, and for each kind of quote (' and " read backslash
 * escapes, ` does not) the positions from which the escape reading is known
 * to run off the end: a bit set per position, made on the first reading that
 * does. A later reading that reaches one stops there, so the readings of a
 * string of many unclosed quotes cost linear time in all, not quadratic. */
typedef struct lexer {
    mfd_arena *arena;
    const char *s;
    size_t len;
    unsigned char *runs_off[3];
} lexer;

static unsigned char **runs_off_of(lexer *lx, char quote) {
    return &lx->runs_off[quote == '\'' ? 0 : quote == '"' ? 1 : 2];
}

static bool known_to_run_off(const unsigned char *bits, size_t j) {
    return bits && (bits[j >> 3] >> (j & 7)) & 1;
}

/* One step of the escape reading at s[j]: the next position, or the end of
 * the run (one past its closing quote) with *closed set. */
static size_t quoted_step(const char *s, size_t j, char quote, bool backslash_escapes,
                          bool *closed) {
    if (s[j] == quote) {
        if (s[j + 1] == quote)
            return j + 2; /* a doubled quote continues the run */
        *closed = true;
        return j + 1;
    }
    if (backslash_escapes && s[j] == '\\' && s[j + 1] != '\0')
        return j + 2;
    return j + 1;
}

/* End (one past the closing quote) of the quoted run opening at s[i], or 0
 * when it never closes. A doubled quote always continues the run; a
 * backslash escapes the next byte only with `backslash_escapes`. */
static size_t scan_quoted(lexer *lx, size_t i, char quote, bool backslash_escapes) {
    const char *s = lx->s;
    unsigned char **bits = runs_off_of(lx, quote);
    bool closed = false;
    size_t j = i + 1;
    while (s[j] != '\0' && !known_to_run_off(*bits, j)) {
        j = quoted_step(s, j, quote, backslash_escapes, &closed);
        if (closed)
            return j;
    }
    /* Runs off the end: so does any reading that reaches these positions. */
    if (!*bits)
        *bits = mfd_arena_calloc(lx->arena, lx->len / 8 + 1, 1);
    for (j = i + 1; s[j] != '\0' && !known_to_run_off(*bits, j);) {
        (*bits)[j >> 3] |= (unsigned char)(1u << (j & 7));
        j = quoted_step(s, j, quote, backslash_escapes, &closed);
    }
    /* The escape reading ran off the end: the first later quote closes it. */
    const char *close = strchr(s + i + 1, quote);
    return close ? (size_t)(close - s) + 1 : 0;
}

/* Length of the number at s[i], or 0 when there is none. */
static size_t scan_number(const char *s, size_t i) {
    size_t j = i;
    if (s[j] == '-')
        j++;
    size_t int_digits = 0;
    while (is_digit((unsigned char)s[j])) {
        j++;
        int_digits++;
    }
    if (s[j] == '.') {
        size_t k = j + 1, frac_digits = 0;
        while (is_digit((unsigned char)s[k])) {
            k++;
            frac_digits++;
        }
        if (int_digits == 0 && frac_digits == 0)
            return 0;
        j = k;
    } else if (int_digits == 0) {
        return 0;
    }
    if (s[j] == 'e' || s[j] == 'E') {
        size_t k = j + 1;
        if (s[k] == '+' || s[k] == '-')
            k++;
        if (is_digit((unsigned char)s[k])) {
            while (is_digit((unsigned char)s[k]))
                k++;
            j = k;
        }
    }
    if ((is_word_char((unsigned char)s[j]) && !space_len(s + j)) || s[j] == '.')
        return 0;
    return j - i;
}

static bool starts_name_part(unsigned char c) {
    return is_word_start(c) || c == '`' || c == '"';
}

/* Length of the NAME at s[i] (0 when its first part is an unterminated
 * quote); *bare tells whether it is one unquoted word. */
static size_t scan_name(lexer *lx, size_t i, bool *bare) {
    const char *s = lx->s;
    size_t j = i, end_of_last_part = i, parts = 0;
    bool quoted = false;
    for (;;) {
        unsigned char c = (unsigned char)s[j];
        size_t part_end;
        if (c == '`' || c == '"') {
            part_end = scan_quoted(lx, j, (char)c, c == '"');
            if (part_end == 0)
                break;
            quoted = true;
        } else if (is_word_start(c) && !space_len(s + j)) {
            part_end = j;
            while (is_word_char((unsigned char)s[part_end]) && !space_len(s + part_end))
                part_end++;
        } else {
            break;
        }
        parts++;
        end_of_last_part = part_end;
        if (s[part_end] == '.' && starts_name_part((unsigned char)s[part_end + 1])) {
            j = part_end + 1;
            continue;
        }
        break;
    }
    *bare = parts == 1 && !quoted;
    return end_of_last_part - i;
}

static void push_token(mfd_arena *arena, mfd_search_token **tokens, size_t *count, size_t *cap,
                       mfd_search_token_kind kind, const char *input, size_t offset, size_t len,
                       bool bare) {
    *tokens = mfd_arena_grow(arena, *tokens, *count, cap, sizeof **tokens, 16);
    mfd_search_token *t = &(*tokens)[(*count)++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->text = mfd_arena_strndup(arena, input + offset, len);
    t->offset = offset;
    t->bare = bare;
}

mfd_err mfd_search_lex(mfd_arena *arena, const char *input, mfd_search_token **tokens,
                       size_t *count) {
    *tokens = NULL;
    *count = 0;
    if (!input)
        input = "";
    size_t len = strlen(input), cap = 0, i = 0;
    if (!mfd_utf8_valid(input, len))
        return mfd_search_error("Invalid search string: it is not valid UTF-8");
    lexer lx = {arena, input, len, {NULL, NULL, NULL}};
    while (i < len) {
        unsigned char c = (unsigned char)input[i];
        size_t space = space_len(input + i);
        if (space) {
            i += space;
            continue;
        }
        size_t n = 0;
        bool bare = false;
        mfd_search_token_kind kind = MFD_TOK_BAD;
        if (c == '\'') {
            n = scan_quoted(&lx, i, '\'', true);
            n = n ? n - i : 0;
            kind = MFD_TOK_STRING;
        } else if ((n = (c == '-' || c == '.' || is_digit(c)) ? scan_number(input, i) : 0)) {
            kind = MFD_TOK_NUMBER;
        } else if (starts_name_part(c)) {
            n = scan_name(&lx, i, &bare);
            kind = MFD_TOK_NAME;
        } else if (is_op_char(c)) {
            while (is_op_char((unsigned char)input[i + n]))
                n++;
            kind = MFD_TOK_OP;
        } else if (c == '(' || c == ')' || c == ',' || c == ';') {
            n = 1;
            kind = c == '('   ? MFD_TOK_LPAREN
                   : c == ')' ? MFD_TOK_RPAREN
                   : c == ',' ? MFD_TOK_COMMA
                              : MFD_TOK_SEMI;
        } else {
            n = 1;
        }
        if (*count == MFD_SEARCH_MAX_TOKENS)
            return mfd_search_error("Search string is too long (more than %d tokens)",
                                    MFD_SEARCH_MAX_TOKENS);
        if (n == 0) {
            /* An unterminated quote swallows the rest, so that is what errors show. */
            push_token(arena, tokens, count, &cap, MFD_TOK_BAD, input, i, len - i, false);
            break;
        }
        push_token(arena, tokens, count, &cap, kind, input, i, n, bare);
        i += n;
    }
    push_token(arena, tokens, count, &cap, MFD_TOK_END, input, len, 0, false);
    return NULL;
}
