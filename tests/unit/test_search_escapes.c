/* The string literals of a search filter's IN list are read as Python's
 * ast.literal_eval reads them (search-grammar.md): every backslash escape
 * Python knows gives the same text, in UTF-8, as the mlflow server would
 * compare; those Python refuses, and those whose result a C string or UTF-8
 * cannot hold (NUL, surrogates, past U+10FFFF), make the list ill-formed.
 * Proven through the logged-model compiler, whose IN lists keep every item
 * (run_id lists keep lower-case items only). */
#include "search/search.h"
#include "test.h"

static mfd_arena *arena;

static const char ILL_FORMED[] = "ill-formed list";

/* The one item of `name IN (<list>)`, as bound; "ERROR: ..." when refused. */
static const char *item_of(const char *list) {
    const char *filter = mfd_arena_sprintf(arena, "name IN (%s)", list);
    mfd_logged_model_search_input in = {filter, NULL, 0, NULL, 0};
    mfd_search_sql s;
    mfd_err err = mfd_search_logged_models(arena, &in, &s);
    if (err) {
        const char *message = mfd_arena_sprintf(arena, "ERROR: %s", err->message);
        mfd_err_free(err);
        return message;
    }
    CHECK(!strchr(s.where, '\'')); /* the text is bound, never spliced into the SQL */
    /* the list's items are bound last, after the lifecycle stage */
    size_t last = s.params.count - 1;
    if (s.params.count < 2 || s.params.values[last].kind != MFD_SQL_TEXT)
        return "(no item bound)";
    return s.params.values[last].text;
}

static void check_refused(int line, const char *list) {
    const char *got = item_of(list);
    if (strncmp(got, "ERROR: ", 7) != 0 || !strstr(got, ILL_FORMED)) {
        fprintf(stderr, "%s:%d: [%s] expected an ill-formed list, got %s\n", __FILE__, line, list,
                got);
        mfd_test_failed_checks++;
    }
}
#define CHECK_REFUSED(list) check_refused(__LINE__, list)

static void test_simple_escapes_are_python_s(void) {
    arena = mfd_arena_new();
    CHECK_STR(item_of("'a\\nb'"), "a\nb");
    CHECK_STR(item_of("'a\\tb\\rc'"), "a\tb\rc");
    CHECK_STR(item_of("'\\a\\b\\f\\v'"), "\a\b\f\v");
    CHECK_STR(item_of("'it\\'s'"), "it's");
    CHECK_STR(item_of("'say \\\"hi\\\"'"), "say \"hi\"");
    CHECK_STR(item_of("'back\\\\slash'"), "back\\slash");
    /* an escape Python does not know keeps its backslash */
    CHECK_STR(item_of("'\\q\\d'"), "\\q\\d");
    CHECK_STR(item_of("'\\8'"), "\\8");
    mfd_arena_free(arena);
}

static void test_numeric_escapes_become_utf8(void) {
    arena = mfd_arena_new();
    CHECK_STR(item_of("'\\101\\x42\\u0043'"), "ABC");        /* octal, \x, \u: one byte */
    CHECK_STR(item_of("'\\1012'"), "A2");                    /* octal takes three digits at most */
    CHECK_STR(item_of("'caf\\u00e9'"), "caf\xc3\xa9");       /* two bytes */
    CHECK_STR(item_of("'caf\\xe9'"), "caf\xc3\xa9");         /* \x is a code point, not a byte */
    CHECK_STR(item_of("'\\377'"), "\xc3\xbf");               /* as is octal */
    CHECK_STR(item_of("'\\u20AC'"), "\xe2\x82\xac");         /* three bytes, upper-case hex */
    CHECK_STR(item_of("'\\U0001F600'"), "\xf0\x9f\x98\x80"); /* four bytes */
    CHECK_STR(item_of("'\\U0010FFFF'"), "\xf4\x8f\xbf\xbf"); /* the last code point */
    CHECK_STR(item_of("'\\u00e9''\\u00e8'"), "\xc3\xa9\xc3\xa8"); /* adjacent literals join */
    mfd_arena_free(arena);
}

static void test_escapes_python_refuses_make_the_list_ill_formed(void) {
    arena = mfd_arena_new();
    CHECK_REFUSED("'\\N{LATIN SMALL LETTER E}'"); /* named escapes: not supported */
    CHECK_REFUSED("'\\x4'");                      /* too few hex digits */
    CHECK_REFUSED("'\\u00g9'");
    CHECK_REFUSED("'\\U0001F60'");
    CHECK_REFUSED("'\\ud800'"); /* a surrogate: no UTF-8 for it */
    CHECK_REFUSED("'\\udfff'");
    CHECK_REFUSED("'\\U00110000'"); /* past U+10FFFF */
    CHECK_REFUSED("'\\x00'");       /* NUL cannot be carried in a C string */
    CHECK_REFUSED("'\\000'");
    CHECK_REFUSED("'\\u0000'");
    mfd_arena_free(arena);
}

MFD_TEST_MAIN(MFD_TEST(test_simple_escapes_are_python_s),
              MFD_TEST(test_numeric_escapes_become_utf8),
              MFD_TEST(test_escapes_python_refuses_make_the_list_ill_formed))
