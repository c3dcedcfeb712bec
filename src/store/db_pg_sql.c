/* db_pg_sql.c — placeholder rewriting and number formatting for the
 * PostgreSQL driver (see db_pg_sql.h).
 *
 * The rewriter knows just enough of PostgreSQL's lexer to never touch a `?`
 * that is data: '...' literals (with '' inside, and E'...' with backslash
 * escapes), "..." identifiers, -- line comments and nested block comments.
 * It also turns SQLite's "no limit" spelling `LIMIT -1` into `LIMIT ALL`,
 * which PostgreSQL requires (SQLite knows no LIMIT ALL). */
#include "db_pg_sql.h"

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

/* At sql[i]: the keyword LIMIT, blanks, "-1", then no more digits? Returns the
 * length of "LIMIT<blanks>-1", or 0. */
static size_t limit_minus_one(const char *sql, size_t i) {
    if (strncasecmp(sql + i, "LIMIT", 5) != 0 || (i > 0 && is_identifier_char(sql[i - 1])))
        return 0;
    size_t j = i + 5;
    if (!isspace((unsigned char)sql[j]))
        return 0;
    while (isspace((unsigned char)sql[j]))
        j++;
    if (sql[j] != '-' || sql[j + 1] != '1' || is_identifier_char(sql[j + 2]))
        return 0;
    return j + 2 - i;
}

char *mfd_pg_sql_rewrite(const char *sql, int *n_params) {
    size_t len = strlen(sql), count = 0;
    for (size_t i = 0; i < len; i++)
        count += sql[i] == '?';
    /* Each one-byte `?` becomes "$n" (at most 8 bytes for any count that fits in
     * memory); each 8-or-more-byte "LIMIT -1" grows by at most one byte. */
    char *out = malloc(len + count * 8 + len / 8 + 1);
    if (!out)
        return NULL;
    size_t i = 0, o = 0;
    int n = 0;
    while (i < len) {
        char c = sql[i];
        size_t next = i + 1;
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
            o += (size_t)snprintf(out + o, 9, "$%d", ++n);
            i++;
            continue;
        } else if ((c == 'L' || c == 'l') && limit_minus_one(sql, i)) {
            size_t skip = limit_minus_one(sql, i);
            memcpy(out + o, "LIMIT ALL", 9);
            o += 9;
            i += skip;
            continue;
        }
        memcpy(out + o, sql + i, next - i);
        o += next - i;
        i = next;
    }
    out[o] = '\0';
    *n_params = n;
    return out;
}

void mfd_pg_sql_format_double(double value, char *out, size_t out_len) {
    if (isnan(value)) {
        snprintf(out, out_len, "NaN");
    } else if (isinf(value)) {
        snprintf(out, out_len, "%s", value > 0 ? "Infinity" : "-Infinity");
    } else {
        /* The shortest of %.15g..%.17g that reads back to the same double. */
        for (int precision = 15; precision <= 17; precision++) {
            snprintf(out, out_len, "%.*g", precision, value);
            if (strtod(out, NULL) == value)
                return;
        }
    }
}
