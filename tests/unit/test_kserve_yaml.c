/* The YAML writer of KServe manifests (kserve/yaml.c) and the InferenceService name
 * (kserve/manifest.c mfd_kserve_name): the layout of every JSON kind, which strings stay plain,
 * and the names' length, lead, hash and determinism. */
#include <ctype.h>
#include <string.h>

#include "kserve/kserve.h"
#include "test.h"

static const char *yaml_of(mfd_arena *arena, const char *json_text) {
    json_error_t error;
    json_t *value = json_loads(json_text, JSON_DECODE_ANY, &error);
    CHECK(value != NULL);
    const char *text = value ? mfd_kserve_yaml(arena, value) : "";
    json_decref(value);
    return text;
}

static const char *scalar_of(mfd_arena *arena, const char *string) {
    json_t *value = json_string(string);
    const char *text = mfd_kserve_yaml(arena, value);
    json_decref(value);
    return text;
}

static void test_every_json_kind_has_its_layout(void) {
    mfd_arena *a = mfd_arena_new();
    CHECK_STR(yaml_of(a, "{\"a\": 1, \"b\": -2, \"c\": true, \"d\": false, \"e\": null}"),
              "a: 1\nb: -2\nc: true\nd: false\ne: null\n");
    CHECK_STR(yaml_of(a, "{\"a\": {}, \"b\": []}"), "a: {}\nb: []\n");
    CHECK_STR(yaml_of(a, "{\"a\": {\"b\": {\"c\": \"d\"}}}"), "a:\n  b:\n    c: d\n");
    CHECK_STR(yaml_of(a, "[\"x\", 2, [3, [4]], {\"k\": \"v\", \"l\": [5]}, {}, []]"),
              "- x\n- 2\n-\n  - 3\n  -\n    - 4\n-\n  k: v\n  l:\n    - 5\n- {}\n- []\n");
    CHECK_STR(yaml_of(a, "1.5"), "1.5\n");
    /* reals stay floats to YAML 1.1 readers too: a '.' always, the fewest digits */
    CHECK_STR(yaml_of(a, "1.0"), "1.0\n");
    CHECK_STR(yaml_of(a, "1e22"), "1.0e+22\n");
    CHECK_STR(yaml_of(a, "-2.5e-7"), "-2.5e-07\n");
    CHECK_STR(yaml_of(a, "0.1"), "0.1\n");
    CHECK_STR(yaml_of(a, "{}"), "{}\n");
    CHECK_STR(yaml_of(a, "[]"), "[]\n");
    CHECK_STR(yaml_of(a, "\"plain\""), "plain\n");
    CHECK_STR(yaml_of(a, "null"), "null\n");
    mfd_arena_free(a);
}

/* Strings YAML 1.1 or 1.2 would read as another type, or not at all, are double-quoted. */
static void test_strings_that_would_read_otherwise_are_quoted(void) {
    static const char *const quoted[] = {"",     "yes",   "No",   "ON",   "off", "y",    "N",
                                         "true", "FALSE", "null", "Null", "~",   "1",    "1e3",
                                         "0x1",  "0o7",   ".5",   "-1",   "+1",  ".inf", "-.inf",
                                         "1:20", "-x",    "?x",   ":x",   ",x",  "[x",   "]x",
                                         "{x",   "}x",    "#x",   "&x",   "*x",  "!x",   "|x",
                                         ">x",   "'x",    "\"x",  "%x",   "@x",  "`x",   "a b",
                                         "a#b",  "x:",    "a: b", "<<",   "=",   "é",    "a\tb",
                                         "a\nb", "a\\b",  "a\"b", "a'b",  "a,b", "a[b"};
    mfd_arena *a = mfd_arena_new();
    for (size_t i = 0; i < sizeof quoted / sizeof quoted[0]; i++) {
        const char *text = scalar_of(a, quoted[i]);
        if (text[0] != '"')
            fprintf(stderr, "not quoted: '%s' -> %s", quoted[i], text);
        CHECK(text[0] == '"');
    }
    CHECK_STR(scalar_of(a, "a\nb"), "\"a\\nb\"\n");
    CHECK_STR(scalar_of(a, "a\"b\\c"), "\"a\\\"b\\\\c\"\n");
    CHECK_STR(scalar_of(a, "del\x7f"), "\"del\\u007f\"\n");
    CHECK_STR(scalar_of(a, "nel\xc2\x85"), "\"nel\\u0085\"\n");
    CHECK_STR(scalar_of(a, "nbsp\xc2\xa0"), "\"nbsp\xc2\xa0\"\n"); /* not a C1 control: kept */
    mfd_arena_free(a);
}

static void test_ordinary_strings_stay_plain(void) {
    static const char *const plain[] = {"wine",
                                        "wine-v3",
                                        "a:b",
                                        "s3://b/k/",
                                        "mlflow.org/registered-model",
                                        "kserve-mlserver",
                                        "a_b",
                                        "a.b",
                                        "yesno",
                                        "nothing",
                                        "x1e3",
                                        "v1",
                                        "a-",
                                        "a/"};
    mfd_arena *a = mfd_arena_new();
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        const char *text = scalar_of(a, plain[i]);
        CHECK(!strncmp(text, plain[i], strlen(plain[i])) && !strcmp(text + strlen(plain[i]), "\n"));
    }
    mfd_arena_free(a);
}

static void test_keys_are_quoted_as_values_are(void) {
    mfd_arena *a = mfd_arena_new();
    CHECK_STR(yaml_of(a, "{\"yes\": \"no\", \"a: b\": \"-\", \"ok\": \"x\"}"),
              "\"yes\": \"no\"\n\"a: b\": \"-\"\nok: x\n");
    mfd_arena_free(a);
}

static bool dns_1035(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 45 || !islower((unsigned char)s[0]) || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

static bool ends_with_hash(const char *s) {
    size_t n = strlen(s);
    return n > 9 && s[n - 9] == '-' && strspn(s + n - 8, "0123456789abcdef") == 8;
}

static void test_names(void) {
    mfd_arena *a = mfd_arena_new();
    CHECK_STR(mfd_kserve_name(a, "wine", "v3"), "wine-v3");
    CHECK_STR(mfd_kserve_name(a, "wine", "champion"), "wine-champion");
    const char *upper = mfd_kserve_name(a, "Wine", "v3");
    CHECK(dns_1035(upper) && ends_with_hash(upper) && !strncmp(upper, "wine-v3-", 8));
    CHECK_STR(mfd_kserve_name(a, "Wine", "v3"), upper); /* deterministic */
    const char *digit = mfd_kserve_name(a, "3d", "v1");
    CHECK(dns_1035(digit) && !strncmp(digit, "m-3d-v1-", 8) && ends_with_hash(digit));
    static const char *const odd[] = {"___", "-", "\xe6\x97\xa5", "a--b", "-a-", "A_B.C", ""};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        const char *name = mfd_kserve_name(a, odd[i], "v1");
        if (!dns_1035(name))
            fprintf(stderr, "not DNS-1035: '%s' -> '%s'\n", odd[i], name);
        CHECK(dns_1035(name));
    }
    CHECK(strcmp(mfd_kserve_name(a, "___", "v1"), mfd_kserve_name(a, "---", "v1")) != 0);
    char fits[43], longer[44];
    memset(fits, 'x', 42), fits[42] = '\0';
    memset(longer, 'x', 43), longer[43] = '\0';
    CHECK_INT(strlen(mfd_kserve_name(a, fits, "v1")), 45);
    CHECK(!ends_with_hash(mfd_kserve_name(a, fits, "v1")));
    const char *cut = mfd_kserve_name(a, longer, "v1");
    CHECK(dns_1035(cut) && ends_with_hash(cut));
    /* a cut that lands on a '-' (after 35 letters) leaves none before the hash */
    char dashes[40];
    memset(dashes, 'A', 35), strcpy(dashes + 35, "-bcd");
    const char *trimmed = mfd_kserve_name(a, dashes, "v1");
    CHECK(dns_1035(trimmed) && ends_with_hash(trimmed) && strlen(trimmed) == 35 + 9);
    /* the alias that reads as a version, the suffix shaped like a hash */
    CHECK(ends_with_hash(mfd_kserve_name(a, "a", "b-v1")));
    CHECK(ends_with_hash(mfd_kserve_name(a, "a", "0123abcd")));
    CHECK(strcmp(mfd_kserve_name(a, "a-b", "v1"), mfd_kserve_name(a, "a", "b-v1")) != 0);
    mfd_arena_free(a);
}

MFD_TEST_MAIN(MFD_TEST(test_every_json_kind_has_its_layout),
              MFD_TEST(test_strings_that_would_read_otherwise_are_quoted),
              MFD_TEST(test_ordinary_strings_stay_plain),
              MFD_TEST(test_keys_are_quoted_as_values_are), MFD_TEST(test_names))
