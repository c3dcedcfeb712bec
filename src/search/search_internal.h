/* search_internal.h — what the files of src/search share and nobody else sees:
 * the token stream (lexer.c), the parsed clause and order_by element
 * (parser.c), and the helpers that write SQL text with bound values
 * (sql_builder.c). The compile_*.c files turn clauses into SQL per endpoint.
 *
 * Invariants every compiler keeps:
 *   - user text only ever reaches SQL as a bound value; the SQL text holds no
 *     string literal at all (constants such as 'mlflow.runName' are bound too);
 *   - values are appended to the builder's params in the order their `?`
 *     appear in that builder's text;
 *   - every error is INVALID_PARAMETER_VALUE, and any user text quoted in a
 *     message is valid UTF-8 and bounded in length (mfd_search_excerpt). */
#ifndef MFD_SEARCH_INTERNAL_H
#define MFD_SEARCH_INTERNAL_H

#include "core/utf8.h"
#include "search.h"

/* Bounds that keep a hostile filter from producing SQL the engines refuse
 * (SQLite's expression depth and bound-variable limits) or from costing
 * more than a few MB to tokenise. */
enum {
    MFD_SEARCH_MAX_TOKENS = 100000,
    MFD_SEARCH_MAX_CLAUSES = 200,
    MFD_SEARCH_MAX_ORDER_BY = 100,
    /* metric/param/tag keys in a run search's order_by: each is a join and two
     * sort terms, and SQLite 3.40 crashes on 64 sort terms over such joins */
    MFD_SEARCH_MAX_ORDER_KEYS = 20,
    MFD_SEARCH_MAX_PARAMS = 30000,
};

/* ---- lexer.c -------------------------------------------------------------------------------- */

typedef enum mfd_search_token_kind {
    MFD_TOK_END,
    MFD_TOK_NAME,   /* word(s) joined by '.', parts bare, `backticked` or "double-quoted" */
    MFD_TOK_STRING, /* 'single-quoted' */
    MFD_TOK_NUMBER, /* [-] digits [. digits] [e [+-] digits] */
    MFD_TOK_OP,     /* a run of < > = ! ~ */
    MFD_TOK_LPAREN,
    MFD_TOK_RPAREN,
    MFD_TOK_COMMA,
    MFD_TOK_SEMI,
    MFD_TOK_BAD /* a stray byte or an unterminated quote */
} mfd_search_token_kind;

typedef struct mfd_search_token {
    mfd_search_token_kind kind;
    const char *text; /* raw text, NUL-terminated arena copy */
    size_t offset;    /* byte offset in the input */
    bool bare;        /* NAME made of one unquoted word: a keyword candidate */
} mfd_search_token;

/* Splits `input` into tokens, whitespace dropped, ending with MFD_TOK_END.
 * Fails only when the input is not valid UTF-8 or has too many tokens. */
mfd_err mfd_search_lex(mfd_arena *arena, const char *input, mfd_search_token **tokens,
                       size_t *count);
bool mfd_search_token_is(const mfd_search_token *token, const char *keyword);
/* `s` cut to a bounded, valid-UTF-8 length for quoting in an error message. */
const char *mfd_search_excerpt(mfd_arena *arena, const char *s);

/* ---- parser.c ------------------------------------------------------------------------------- */

typedef struct mfd_search_number {
    bool is_integer; /* written without '.' or exponent and fits int64 */
    int64_t i64;
    double f64;
} mfd_search_number;

typedef enum mfd_search_value_kind {
    MFD_VAL_STRING, /* 'single-quoted' */
    MFD_VAL_NUMBER,
    MFD_VAL_NAME, /* an identifier-like token: bare word, "double-quoted", `backticked` */
    MFD_VAL_LIST  /* ( ... ) */
} mfd_search_value_kind;

typedef struct mfd_search_value {
    mfd_search_value_kind kind;
    const char *raw;                     /* as written */
    mfd_search_number number;            /* MFD_VAL_NUMBER */
    const mfd_search_token *list_tokens; /* MFD_VAL_LIST: the tokens between the parentheses */
    size_t n_list_tokens;
} mfd_search_value;

typedef struct mfd_search_clause {
    const char *identifier; /* raw, e.g. "metrics.`val loss`" */
    const char *comparator; /* as written; "NOT IN" / "NOT LIKE" / "NOT ILIKE" normalised */
    mfd_search_value value;
} mfd_search_clause;

/* The shared grammar of runs, experiments, registered models and model
 * versions: `clause (AND clause)*`. NULL, "" or blank = no clause. */
mfd_err mfd_search_parse_filter(mfd_arena *arena, const char *filter, mfd_search_clause **clauses,
                                size_t *count);

/* One order_by element "<identifier> [ASC|DESC]". The identifier comes back
 * with its quotes and backticks removed (upstream runs it through shlex). */
mfd_err mfd_search_parse_order_by(mfd_arena *arena, const char *element, const char **identifier,
                                  bool *ascending);

/* "['a', 'b DESC']", bounded, for the duplicate-field message. */
const char *mfd_search_order_by_repr(mfd_arena *arena, const char *const *order_by, size_t n);

/* Python-compatible helpers of upstream's SearchUtils. */
bool mfd_search_is_quoted(const char *s, char quote);
const char *mfd_search_strip_quotes(mfd_arena *arena, const char *s); /* '..' or ".." */
const char *mfd_search_trim_backticks(mfd_arena *arena, const char *s);
/* identifier.split(".", 1): *entity is NULL when there is no dot. */
void mfd_search_split_identifier(mfd_arena *arena, const char *identifier, const char **entity,
                                 const char **key);
/* The entity of an experiment, registered model or model version identifier
 * (NULL when it has none): "attribute" (*is_tag false), "tag" or "tags"
 * (true), else upstream's "Invalid entity type" error. */
mfd_err mfd_search_attribute_or_tag(mfd_arena *arena, const char *entity, bool *is_tag);
/* A quoted string value ('..' or ".."), else the "Expected a quoted string
 * value for <what> ..." error. */
mfd_err mfd_search_string_value(mfd_arena *arena, const mfd_search_value *value, const char *what,
                                const char **out);
/* The items of a MFD_VAL_LIST decoded as a Python tuple of str literals;
 * with `lower_only`, items that are not str.islower() are dropped. */
mfd_err mfd_search_list_items(mfd_arena *arena, const mfd_search_value *value, bool lower_only,
                              const char ***items, size_t *count);
bool mfd_search_python_islower(const char *s);
/* strtod/strtoll over a whole string; false when it is not one number. */
bool mfd_search_parse_number(const char *s, mfd_search_number *out);

/* ---- sql_builder.c -------------------------------------------------------------------------- */

typedef enum mfd_search_cmp {
    MFD_CMP_EQ,
    MFD_CMP_NE,
    MFD_CMP_LT,
    MFD_CMP_LE,
    MFD_CMP_GT,
    MFD_CMP_GE,
    MFD_CMP_LIKE,
    MFD_CMP_ILIKE,
    MFD_CMP_IN,
    MFD_CMP_NOT_IN,
    MFD_CMP_INVALID
} mfd_search_cmp;

/* `any_case`: keywords LIKE/ILIKE/IN compared case-insensitively. */
mfd_search_cmp mfd_search_comparator(const char *text, bool any_case);
bool mfd_search_cmp_is_numeric(mfd_search_cmp cmp); /* = != < <= > >= */
bool mfd_search_cmp_is_string(mfd_search_cmp cmp);  /* = != LIKE ILIKE */

/* SQL text plus the values of its `?`, in order. `n_terms` counts the
 * conditions joined so far by mfd_search_builder_and(). */
typedef struct mfd_search_builder {
    mfd_arena *arena;
    mfd_strbuf sql;
    mfd_sql_params params;
    size_t n_terms;
    bool match_nothing;
} mfd_search_builder;

void mfd_search_builder_init(mfd_search_builder *b, mfd_arena *arena);
void mfd_search_builder_and(mfd_search_builder *b);   /* " AND " before all but the first */
void mfd_search_builder_comma(mfd_search_builder *b); /* ", " before all but the first */
/* Appends the conditions of `more` (text and values) as further AND terms. */
void mfd_search_builder_and_all(mfd_search_builder *b, const mfd_search_builder *more);
void mfd_search_emit(mfd_search_builder *b, const char *sql);
void mfd_search_bind_text(mfd_search_builder *b, const char *value);
void mfd_search_bind_int(mfd_search_builder *b, int64_t value);
void mfd_search_bind_double(mfd_search_builder *b, double value);
/* `column` = / != / LIKE / ILIKE value (ILIKE as lower(column) LIKE lower(?)). */
void mfd_search_text_cmp(mfd_search_builder *b, const char *column, mfd_search_cmp cmp,
                         const char *value);
/* `column` IN / NOT IN (items); an empty IN list is "1=0" and sets
 * match_nothing, an empty NOT IN list is "1=1". */
void mfd_search_list_cmp(mfd_search_builder *b, const char *column, mfd_search_cmp cmp,
                         const char *const *items, size_t count);
/* `column` <op> number. An integer column gets an int64 when the number is
 * integral, else CAST(? AS DOUBLE PRECISION) so PostgreSQL compares numerically. */
void mfd_search_number_cmp(mfd_search_builder *b, const char *column, mfd_search_cmp cmp,
                           const mfd_search_number *number, bool integer_column);
/* The start of a string-grammar compile: *out cleared (as it is on any
 * error), and the input to read, a NULL one taken as no filter, no order_by. */
const mfd_search_input *mfd_search_start(const mfd_search_input *in, mfd_search_sql *out);
/* Fills `out` from a FROM clause (may be NULL), a where and an order_by
 * builder (an empty where is "1=1"); params are laid out from, where, order_by. */
mfd_err mfd_search_finish_joined(mfd_search_builder *from, mfd_search_builder *where,
                                 mfd_search_builder *order, mfd_search_sql *out);
/* Fills `out` from a where and an order_by builder (an empty where is "1=1"). */
mfd_err mfd_search_finish(mfd_search_builder *where, mfd_search_builder *order,
                          mfd_search_sql *out);

/* Formats an INVALID_PARAMETER_VALUE error. */
mfd_err mfd_search_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
