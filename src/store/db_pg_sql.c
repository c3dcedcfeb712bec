/* db_pg_sql.c — placeholder rewriting and number formatting for the
 * PostgreSQL driver (see db_pg_sql.h).
 *
 * The rewriter knows just enough of PostgreSQL's lexer to never touch a `?`
 * that is data: '...' literals (with '' inside, and E'...' with backslash
 * escapes), "..." identifiers, -- line comments and nested block comments.
 * It also makes two SQLite spellings mean the same on PostgreSQL:
 * - `LIMIT -1` ("no limit") becomes `LIMIT ALL` (SQLite knows no LIMIT ALL);
 * - `x LIKE pattern` gets `ESCAPE ''`: SQLite's LIKE has no escape character
 *   (search-grammar.md: `\` is an ordinary character), PostgreSQL's default
 *   is `\`. The pattern operand ends at a `,`, `;` or `)` of its own level or
 *   at a keyword that cannot continue an expression (AND, OR, THEN, ...);
 *   an explicit ESCAPE is kept. */
#include "db_pg_sql.h"

#include "core/number_text.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Index just past the literal/identifier that opens at sql[i] with `quote`. */
static size_t skip_quoted(const char *sql, size_t i, char quote, bool backslash_escapes) {
    i++;
    while (sql[i]) {
        if (backslash_escapes && sql[i] == '\\' && sql[i + 1]) {
            i += 2;
            continue;
        }
        if (sql[i] == quote) {
            if (sql[i + 1] == quote) { /* doubled quote: still inside */
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
    return i;
}

static size_t skip_block_comment(const char *sql, size_t i) {
    int depth = 0;
    while (sql[i]) {
        if (sql[i] == '/' && sql[i + 1] == '*') {
            depth++;
            i += 2;
        } else if (sql[i] == '*' && sql[i + 1] == '/') {
            i += 2;
            if (--depth == 0)
                return i;
        } else {
            i++;
        }
    }
    return i;
}

static bool is_identifier_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

/* Is the keyword `word` at sql[i], as a whole word? */
static bool keyword_at(const char *sql, size_t i, const char *word) {
    size_t n = strlen(word);
    return strncasecmp(sql + i, word, n) == 0 && !is_identifier_char(sql[i + n]) &&
           (i == 0 || !is_identifier_char(sql[i - 1]));
}

/* At sql[i]: LIMIT, blanks, "-1" and no more digits? Returns its length, or 0. */
static size_t limit_minus_one(const char *sql, size_t i) {
    if (!keyword_at(sql, i, "LIMIT"))
        return 0;
    size_t j = i + 5;
    while (isspace((unsigned char)sql[j]))
        j++;
    if (j == i + 5 || sql[j] != '-' || sql[j + 1] != '1' || is_identifier_char(sql[j + 2]))
        return 0;
    return j + 2 - i;
}

/* Words that end the pattern operand of a LIKE at its own nesting level. */
static bool ends_like_operand(const char *sql, size_t i) {
    static const char *const words[] = {
        "AND",   "OR",        "THEN",   "ELSE",   "WHEN",   "END",       "ORDER",  "GROUP",
        "LIMIT", "OFFSET",    "HAVING", "UNION",  "EXCEPT", "INTERSECT", "WHERE",  "FROM",
        "JOIN",  "LEFT",      "RIGHT",  "INNER",  "CROSS",  "FULL",      "WINDOW", "FETCH",
        "FOR",   "RETURNING", "ON",     "ESCAPE", "IS",     "NOT",       "IN",     "BETWEEN"};
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (keyword_at(sql, i, words[k]))
            return true;
    return false;
}

typedef struct out_buf {
    char *data;
    size_t len, cap;
    bool failed;
} out_buf;

static void put(out_buf *b, const char *s, size_t n) {
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

enum { MAX_LIKE_NESTING = 16 };

/* LIKE patterns open at nesting levels: each gets ESCAPE '' where its operand ends. */
typedef struct like_stack {
    int depth[MAX_LIKE_NESTING], cases[MAX_LIKE_NESTING];
    int n;
} like_stack;

static void close_likes(like_stack *likes, out_buf *b, int depth, int cases, bool escape_given) {
    while (likes->n > 0 && likes->depth[likes->n - 1] == depth &&
           likes->cases[likes->n - 1] == cases) {
        likes->n--;
        if (!escape_given) {
            bool spaced = b->len > 0 && isspace((unsigned char)b->data[b->len - 1]);
            put(b, spaced ? "ESCAPE '' " : " ESCAPE ''", 10);
        }
        escape_given = false;
    }
}

char *mfd_pg_sql_rewrite(const char *sql, int *n_params) {
    out_buf b = {0};
    like_stack likes = {.n = 0};
    int n = 0, depth = 0, cases = 0;
    size_t i = 0, len = strlen(sql);
    put(&b, "", 0);
    while (i < len) {
        char c = sql[i];
        size_t next = i + 1;
        bool word_start = is_identifier_char(c) && (i == 0 || !is_identifier_char(sql[i - 1]));
        if (likes.n > 0 && ((c == ')' && depth == likes.depth[likes.n - 1]) || c == ';' ||
                            (c == ',' && depth == likes.depth[likes.n - 1]) ||
                            (word_start && depth == likes.depth[likes.n - 1] &&
                             cases == likes.cases[likes.n - 1] && ends_like_operand(sql, i))))
            close_likes(&likes, &b, depth, cases, word_start && keyword_at(sql, i, "ESCAPE"));
        if (c == '\'') {
            bool escaped = i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                           (i == 1 || !is_identifier_char(sql[i - 2]));
            next = skip_quoted(sql, i, '\'', escaped);
        } else if (c == '"') {
            next = skip_quoted(sql, i, '"', false);
        } else if (c == '-' && sql[i + 1] == '-') {
            next = i + strcspn(sql + i, "\n");
        } else if (c == '/' && sql[i + 1] == '*') {
            next = skip_block_comment(sql, i);
        } else if (c == '?') {
            char num[16];
            put(&b, num, (size_t)snprintf(num, sizeof num, "$%d", ++n));
            i++;
            continue;
        } else if (c == '(') {
            depth++;
        } else if (c == ')') {
            depth--;
        } else if (word_start && limit_minus_one(sql, i)) {
            put(&b, "LIMIT ALL", 9);
            i += limit_minus_one(sql, i);
            continue;
        } else if (word_start && keyword_at(sql, i, "CASE")) {
            cases++;
            next = i + 4;
        } else if (word_start && keyword_at(sql, i, "END")) {
            cases--;
            next = i + 3;
        } else if (word_start && (keyword_at(sql, i, "LIKE") || keyword_at(sql, i, "ILIKE"))) {
            next = i + (keyword_at(sql, i, "LIKE") ? 4 : 5);
            if (likes.n < MAX_LIKE_NESTING) {
                likes.depth[likes.n] = depth;
                likes.cases[likes.n++] = cases;
            }
        } else if (word_start) {
            while (is_identifier_char(sql[next]))
                next++;
        }
        put(&b, sql + i, next - i);
        i = next;
    }
    while (likes.n > 0)
        close_likes(&likes, &b, likes.depth[likes.n - 1], likes.cases[likes.n - 1], false);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    *n_params = n;
    return b.data;
}

void mfd_pg_sql_format_double(double value, char *out, size_t out_len) {
    if (isnan(value)) {
        snprintf(out, out_len, "NaN");
    } else if (isinf(value)) {
        snprintf(out, out_len, "%s", value > 0 ? "Infinity" : "-Infinity");
    } else {
        char text[32];
        size_t n = mfd_double_text(text, value);
        snprintf(out, out_len, "%.*s", (int)n, text);
    }
}
