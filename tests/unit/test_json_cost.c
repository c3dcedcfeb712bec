/* core/json_cost.h: the estimate of what jansson allocates to read a text
 * is at least what it does allocate (counted through json_set_alloc_funcs,
 * with glibc's per-block overhead) and not far above it, for the shapes that
 * cost most per byte and for the shapes MLflow clients send. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_cost.h"
#include "test.h"

static size_t allocated;

static void *counting_malloc(size_t n) {
    allocated += (n + 8 + 15) / 16 * 16; /* glibc: an 8-byte header, 16-byte blocks */
    return malloc(n);
}

/* `first` + n copies of `unit` joined by commas + `last`. */
static char *repeat(const char *first, const char *unit, const char *last, size_t n, size_t *len) {
    size_t ul = strlen(unit);
    char *text = malloc(strlen(first) + (ul + 1) * n + strlen(last) + 1), *p = text;
    p += sprintf(p, "%s", first);
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        memcpy(p, unit, ul);
        p += ul;
    }
    p += sprintf(p, "%s", last);
    *len = (size_t)(p - text);
    return text;
}

static void check_shape(const char *first, const char *unit, const char *last, size_t n) {
    size_t len;
    char *text = repeat(first, unit, last, n, &len);
    allocated = 0;
    json_error_t error;
    json_t *tree = json_loadb(text, len, 0, &error);
    CHECK(tree != NULL);
    size_t used = allocated, estimate = mfd_json_parse_cost(text, len);
    if (!(estimate >= used && estimate <= 3 * used + 4096))
        fprintf(stderr, "%s%s%s x %zu: estimate %zu, allocated %zu\n", first, unit, last, n,
                estimate, used);
    CHECK(estimate >= used);
    CHECK(estimate <= 3 * used + 4096);
    json_decref(tree);
    free(text);
}

static void test_estimate_bounds_what_jansson_takes(void) {
    json_set_alloc_funcs(counting_malloc, free);
    check_shape("[", "{}", "]", 100000);
    check_shape("[", "[]", "]", 100000);
    check_shape("[", "1", "]", 100000);
    check_shape("[", "\"\"", "]", 100000);
    check_shape("[", "{\"a\":{}}", "]", 50000);
    check_shape("[", "{\"a\":1.5,\"b\":[true,null]}", "]", 50000);
    check_shape("{\"run_id\":\"0123456789abcdef0123456789abcdef\",\"metrics\":[",
                "{\"key\":\"loss\",\"value\":0.25,\"timestamp\":1700000000000,\"step\":3}", "]}",
                1000);
    check_shape("{\"experiment_id\":\"1\",\"tags\":[", "{\"key\":\"k\",\"value\":\"v\"}", "]}",
                100);
    check_shape("{\"name\":\"", "x", "\"}", 1);
    json_set_alloc_funcs(malloc, free);
}

/* A message sent as one JSON string, read twice (api/message.c): its structure may hide in
 * \\u escapes ("\\u007b" is '{'), each counted as an object. */
static void test_a_message_inside_a_string_is_bounded_too(void) {
    json_set_alloc_funcs(counting_malloc, free);
    for (int form = 0; form < 2; form++) {
        size_t len;
        char *text =
            repeat("\"{\\\"tags\\\":[", form ? "\\u007b\\u007d" : "{\\\"k\\\":\\u0022v\\u0022}",
                   "]}\"", 20000, &len);
        allocated = 0;
        json_error_t error;
        json_t *outer = json_loadb(text, len, JSON_DECODE_ANY, &error);
        CHECK(outer && json_is_string(outer));
        json_t *inner =
            outer ? json_loadb(json_string_value(outer), json_string_length(outer), 0, &error)
                  : NULL;
        CHECK(inner != NULL);
        size_t used = allocated, estimate = mfd_json_parse_cost(text, len);
        if (estimate < used)
            fprintf(stderr, "form %d: estimate %zu, allocated %zu\n", form, estimate, used);
        CHECK(estimate >= used);
        json_decref(inner);
        json_decref(outer);
        free(text);
    }
    json_set_alloc_funcs(malloc, free);
}

static void test_strings_and_escapes(void) {
    /* structure inside strings is not counted: a long string costs its length */
    const char *text = "{\"value\":\"{[:,]}{[:,]}\\\"{[:,]}\"}";
    size_t plain = mfd_json_parse_cost(text, strlen(text));
    const char *flat = "{\"value\":\"aaaaaaaaaaaaaaaaaaaa\"}";
    CHECK_INT((long)plain, (long)mfd_json_parse_cost(flat, strlen(flat)));
    /* a message sent as one JSON string is counted as the message inside it */
    size_t len;
    char *inner = repeat("[", "{}", "]", 1000, &len);
    json_t *as_string = json_stringn(inner, len);
    char *outer = json_dumps(as_string, JSON_ENCODE_ANY);
    CHECK(mfd_json_parse_cost(outer, strlen(outer)) >= mfd_json_parse_cost(inner, len));
    free(outer);
    json_decref(as_string);
    free(inner);
    CHECK(mfd_json_parse_cost("", 0) < 100);
    CHECK(mfd_json_parse_cost("  \"", 3) < 300); /* cut short: no read past the end */
    CHECK(mfd_json_parse_cost("\"\\", 2) < 300);
    CHECK(mfd_json_parse_cost("[\"\\", 3) < 300);
}

MFD_TEST_MAIN(MFD_TEST(test_estimate_bounds_what_jansson_takes),
              MFD_TEST(test_a_message_inside_a_string_is_bounded_too),
              MFD_TEST(test_strings_and_escapes))
