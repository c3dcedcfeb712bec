/* Request-message decoding rules of rest-api.md §1.1 and value encoding of §1.2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/message.h"
#include "core/escape.h"
#include "core/json_text.h"
#include "api/validate.h"
#include "test.h"

static mfd_request make(const char *method, const char *body, mfd_kv *query, size_t n_query) {
    mfd_request req;
    memset(&req, 0, sizeof req);
    req.arena = mfd_arena_new();
    req.method = method;
    req.body = body ? body : "";
    req.body_len = body ? strlen(body) : 0;
    req.query = query;
    req.n_query = n_query;
    return req;
}

static void done(mfd_request *req) {
    json_decref(req->json);
    mfd_arena_free(req->arena);
}

static bool fails_with(mfd_err err, const char *part) {
    bool ok = err && err->code == MFD_INVALID_PARAMETER_VALUE && strstr(err->message, part);
    mfd_err_free(err);
    return ok;
}

static void test_int64_as_number_or_string(void) {
    mfd_request req =
        make("POST", "{\"a\": 12, \"b\": \"-34\", \"c\": 1.5, \"d\": \"x\", \"e\": true}", NULL, 0);
    bool present;
    int64_t v;
    CHECK(!mfd_msg_int64(&req, "a", &present, &v) && present && v == 12);
    CHECK(!mfd_msg_int64(&req, "b", &present, &v) && present && v == -34);
    CHECK(
        fails_with(mfd_msg_int64(&req, "c", &present, &v), "Invalid value 1.5 for parameter 'c'"));
    CHECK(fails_with(mfd_msg_int64(&req, "d", &present, &v), "parameter 'd'"));
    CHECK(fails_with(mfd_msg_int64(&req, "e", &present, &v), "type 'bool'"));
    CHECK(!mfd_msg_int64(&req, "missing", &present, &v) && !present);
    done(&req);
}

static void test_doubles_accept_nan_and_infinity_strings(void) {
    mfd_request req = make("POST",
                           "{\"n\": \"NaN\", \"i\": \"Infinity\", \"m\": \"-Infinity\", "
                           "\"s\": \"1.5\", \"x\": 2, \"bad\": \"nope\"}",
                           NULL, 0);
    bool present;
    double v;
    CHECK(!mfd_msg_double(&req, "n", &present, &v) && isnan(v));
    CHECK(!mfd_msg_double(&req, "i", &present, &v) && isinf(v) && v > 0);
    CHECK(!mfd_msg_double(&req, "m", &present, &v) && isinf(v) && v < 0);
    CHECK(!mfd_msg_double(&req, "s", &present, &v) && v == 1.5);
    CHECK(!mfd_msg_double(&req, "x", &present, &v) && v == 2.0);
    CHECK(fails_with(mfd_msg_double(&req, "bad", &present, &v), "parameter 'bad'"));
    done(&req);
}

static void test_experiment_id_numbers_become_strings(void) {
    mfd_request req = make("POST",
                           "{\"experiment_id\": 7, \"experiment_ids\": [1, \"2\"], "
                           "\"name\": 5}",
                           NULL, 0);
    const char *s;
    CHECK(!mfd_msg_string(&req, "experiment_id", &s));
    CHECK_STR(s, "7");
    const char **list;
    size_t n;
    CHECK(!mfd_msg_string_list(&req, "experiment_ids", &list, &n) && n == 2);
    CHECK_STR(list[0], "1");
    CHECK_STR(list[1], "2");
    CHECK(fails_with(mfd_msg_string(&req, "name", &s), "parameter 'name'"));
    done(&req);
}

static void test_get_reads_query_with_repeated_keys(void) {
    mfd_kv q[] = {{"experiment_ids", "1"},
                  {"experiment_ids", "2"},
                  {"max_results", "10"},
                  {"flag", "True"},
                  {"bad", "maybe"}};
    mfd_request req = make("GET", "{\"max_results\": 99}", q, 5);
    const char **list;
    size_t n;
    CHECK(!mfd_msg_string_list(&req, "experiment_ids", &list, &n) && n == 2);
    CHECK_STR(list[1], "2");
    bool present, b;
    int64_t v;
    CHECK(!mfd_msg_int64(&req, "max_results", &present, &v) && v == 10); /* query wins */
    CHECK(!mfd_msg_bool(&req, "flag", &present, &b) && present && b);
    CHECK(fails_with(mfd_msg_bool(&req, "bad", &present, &b), "Invalid boolean value"));
    done(&req);
}

static void test_get_without_query_reads_body(void) {
    mfd_request req = make("GET", "{\"run_uuid\": \"abc\"}", NULL, 0);
    const char *id;
    CHECK(!mfd_msg_run_id(&req, &id));
    CHECK_STR(id, "abc");
    done(&req);
}

static void test_run_id_falls_back_to_run_uuid_and_is_required(void) {
    mfd_request req = make("POST", "{\"run_id\": \"\", \"run_uuid\": \"u1\"}", NULL, 0);
    const char *id;
    CHECK(!mfd_msg_run_id(&req, &id));
    CHECK_STR(id, "u1");
    done(&req);
    req = make("POST", "{}", NULL, 0);
    CHECK(fails_with(mfd_msg_run_id(&req, &id), "Missing value for required parameter 'run_id'"));
    done(&req);
}

static void test_bad_or_double_encoded_bodies(void) {
    mfd_request req = make("POST", "{not json", NULL, 0);
    CHECK(json_object_size(mfd_msg_body(&req)) == 0); /* unparseable = {} */
    done(&req);
    req = make("POST", "\"{\\\"name\\\": \\\"x\\\"}\"", NULL, 0);
    const char *s;
    CHECK(!mfd_msg_string(&req, "name", &s));
    CHECK_STR(s, "x");
    done(&req);
    req = make("POST", "[1,2]", NULL, 0);
    CHECK(json_object_size(mfd_msg_body(&req)) == 0);
    done(&req);
}

static void test_enum_by_name_or_number(void) {
    static const mfd_enum_value view[] = {{"ACTIVE_ONLY", 1}, {"DELETED_ONLY", 2}, {"ALL", 3}, {0}};
    mfd_request req =
        make("POST", "{\"a\": \"ALL\", \"b\": 2, \"c\": \"NOPE\", \"d\": 9}", NULL, 0);
    bool present;
    int v;
    CHECK(!mfd_msg_enum(&req, "a", view, &present, &v) && v == 3);
    CHECK(!mfd_msg_enum(&req, "b", view, &present, &v) && v == 2);
    CHECK(fails_with(mfd_msg_enum(&req, "c", view, &present, &v), "parameter 'c'"));
    CHECK(fails_with(mfd_msg_enum(&req, "d", view, &present, &v), "parameter 'd'"));
    done(&req);
}

static void test_double_encoding(void) {
    json_t *v = mfd_json_from_double(NAN);
    CHECK_STR(json_string_value(v), "NaN");
    json_decref(v);
    v = mfd_json_from_double(-INFINITY);
    CHECK_STR(json_string_value(v), "-Infinity");
    json_decref(v);
    v = mfd_json_from_double(0.25);
    CHECK(json_is_real(v) && json_real_value(v) == 0.25);
    json_decref(v);
}

/* Response bodies: json_dumps' compact text, but reals in their shortest form. */
static void test_tree_as_text(void) {
    mfd_arena *arena = mfd_arena_new();
    json_error_t error;
    json_t *tree = json_loads("{\"b\":[1,-9007199254740993,true,false,null,\"x\\\"y\\u00e9\\n\"],"
                              "\"a\":{},\"c\":[],\"\\u0001k\":\"\\u0000z\"}",
                              JSON_ALLOW_NUL, &error);
    CHECK(tree != NULL);
    char *dumped = json_dumps(tree, JSON_COMPACT | JSON_ENCODE_ANY);
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_json_append_tree(&sb, tree);
    CHECK_STR(sb.data, dumped); /* no reals: the same text, keys in insertion order */
    free(dumped);
    json_decref(tree);
    tree = json_pack("{s:f, s:f, s:f, s:f, s:f}", "v", 0.1, "w", 100.0, "x", -0.0, "y", 1e300, "z",
                     0.30000000000000004);
    mfd_strbuf_init(&sb, arena);
    mfd_json_append_tree(&sb, tree);
    CHECK_STR(sb.data, "{\"v\":0.1,\"w\":100.0,\"x\":-0.0,\"y\":1e+300,\"z\":0.30000000000000004}");
    json_decref(tree);
    mfd_arena_free(arena);
}

/* Text MLflow writes with Python's json.dumps: \u escapes in lower case, a
 * backslash that is text left alone. */
static void test_python_json_escapes(void) {
    json_t *tree = json_pack("[s, s, s]", "t\xc3\xa9", "\xf0\x9f\x98\x80", "\\u00E9 stays");
    char *text = mfd_json_dumps_python(tree, JSON_ENSURE_ASCII);
    CHECK_STR(text, "[\"t\\u00e9\", \"\\ud83d\\ude00\", \"\\\\u00E9 stays\"]");
    free(text);
    json_decref(tree);
}

static void test_key_validation(void) {
    CHECK(mfd_validate_key("loss/train.v1 a:b-c", "metric") == NULL);
    /* Python's \\w takes Unicode's other numbers: r², ½, ₂, ① (glibc's iswalnum does not) */
    CHECK(mfd_validate_key("r\xc2\xb2", "metric") == NULL);
    CHECK(mfd_validate_key("\xc2\xbd \xe2\x82\x82 \xe2\x91\xa0", "metric") == NULL);
    CHECK(mfd_validate_key("\xe6\x97\xa5\xe6\x9c\xac", "tag") == NULL); /* 日本 */
    CHECK(fails_with(mfd_validate_key("a\xe2\x82\xac", "param"), "Invalid param name")); /* € */
    CHECK(fails_with(mfd_validate_key("bad!", "metric"), "Invalid metric name: 'bad!'"));
    CHECK(fails_with(mfd_validate_key("a//b", "param"), "Invalid param name"));
    CHECK(fails_with(mfd_validate_key("../x", "tag"), "Invalid tag name"));
    CHECK(fails_with(mfd_validate_key("a/./b", "tag"), "Invalid tag name"));
    CHECK(fails_with(mfd_validate_key("x/", "tag"), "Invalid tag name"));
    CHECK(fails_with(mfd_validate_key(".", "tag"), "Invalid tag name"));
    /* \w is Python's Unicode one: letters and digits of any script, not symbols,
     * spaces, format or control characters */
    static const char *const words[] = {"h\xc3\xa9llo", "\xe4\xb8\xad\xe6\x96\x87", "\xd9\xa3",
                                        "\xce\xb1\xce\xb2/\xd0\xb6-1"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        CHECK(mfd_validate_key(words[i], "metric") == NULL);
    static const char *const not_words[] = {"a\xf0\x9f\x98\x80",
                                            "a\xe2\x82\xac",
                                            "a\xc2\xa0"
                                            "b",
                                            "a\xe2\x80\x8b"
                                            "b",
                                            "a\xe2\x80\xa8",
                                            "\xe3\x80\x80",
                                            "a\xc2\x80",
                                            "a\xc2\xa9"};
    for (size_t i = 0; i < sizeof not_words / sizeof *not_words; i++)
        CHECK(fails_with(mfd_validate_key(not_words[i], "metric"), "Invalid metric name"));
    char long_key[300];
    memset(long_key, 'k', 251);
    long_key[251] = '\0';
    CHECK(fails_with(mfd_validate_key(long_key, "metric"), "exceeded length limit of 250"));
    CHECK(mfd_utf8_chars("h\xc3\xa9llo") == 5);
    CHECK(mfd_utf8_prefix_bytes("h\xc3\xa9llo", 2) == 3);
    CHECK(mfd_valid_run_id("0123abcd_-x") && !mfd_valid_run_id("_x") && !mfd_valid_run_id(""));
}

static const char *as_json_string(mfd_arena *arena, const char *s) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_json_append_string(&sb, s);
    return sb.data;
}

/* Plain ASCII is copied; everything else is escaped exactly as jansson
 * escapes it, and what is not UTF-8 becomes "". */
static void test_json_string_literals(void) {
    mfd_arena *arena = mfd_arena_new();
    CHECK_STR(as_json_string(arena, "mlflow.runName"), "\"mlflow.runName\"");
    CHECK_STR(as_json_string(arena, ""), "\"\"");
    CHECK_STR(as_json_string(arena, NULL), "\"\"");
    CHECK_STR(as_json_string(arena, "a/b c~"), "\"a/b c~\"");
    CHECK_STR(as_json_string(arena, "say \"hi\""), "\"say \\\"hi\\\"\"");
    CHECK_STR(as_json_string(arena, "C:\\x"), "\"C:\\\\x\"");
    CHECK_STR(as_json_string(arena, "a\nb\tc\x01"), "\"a\\nb\\tc\\u0001\"");
    CHECK_STR(as_json_string(arena, "gr\xc3\xb6\xc3\x9f"
                                    "e"),
              "\"gr\xc3\xb6\xc3\x9f"
              "e\"");
    CHECK_STR(as_json_string(arena, "\x7f"), "\"\x7f\"");
    CHECK_STR(as_json_string(arena, "bad \xff utf-8"), "\"\"");
    /* every printable ASCII string reads back as itself */
    char all[96];
    for (int c = 0x20; c < 0x7f; c++)
        all[c - 0x20] = (char)c;
    all[95] = '\0';
    json_t *back = json_loads(as_json_string(arena, all), JSON_DECODE_ANY, NULL);
    CHECK(back && json_is_string(back) && strcmp(json_string_value(back), all) == 0);
    json_decref(back);
    mfd_arena_free(arena);
}

static const char *as_python_repr(mfd_arena *arena, const char *s) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_python_repr_append(&sb, s);
    return sb.data;
}

/* As Python 3.11's repr() of the same str (the store's messages quote values so). */
static void test_python_repr(void) {
    mfd_arena *arena = mfd_arena_new();
    CHECK_STR(as_python_repr(arena, "lr"), "'lr'");
    CHECK_STR(as_python_repr(arena, ""), "''");
    CHECK_STR(as_python_repr(arena, "it's"), "\"it's\"");
    CHECK_STR(as_python_repr(arena, "it's \"x\""), "'it\\'s \"x\"'");
    CHECK_STR(as_python_repr(arena, "C:\\x\n\r\t"), "'C:\\\\x\\n\\r\\t'");
    CHECK_STR(as_python_repr(arena, "ctl\x01 del\x7f"), "'ctl\\x01 del\\x7f'");
    /* U+0085, U+00A0, U+00AD, U+200B, U+2028, U+E000, U+FEFF, U+10FFFD: not printable */
    CHECK_STR(as_python_repr(arena, "\xc2\x85 \xc2\xa0 \xc2\xad"), "'\\x85 \\xa0 \\xad'");
    CHECK_STR(as_python_repr(arena, "\xe2\x80\x8b\xe2\x80\xa8\xee\x80\x80\xef\xbb\xbf"),
              "'\\u200b\\u2028\\ue000\\ufeff'");
    CHECK_STR(as_python_repr(arena, "\xf4\x8f\xbf\xbd"), "'\\U0010fffd'");
    /* printable beyond ASCII: as it is */
    CHECK_STR(as_python_repr(arena, "gr\xc3\xb6\xc3\x9f \xe6\x97\xa5 \xf0\x9f\x98\x80"),
              "'gr\xc3\xb6\xc3\x9f \xe6\x97\xa5 \xf0\x9f\x98\x80'");
    mfd_arena_free(arena);
}

MFD_TEST_MAIN(MFD_TEST(test_json_string_literals), MFD_TEST(test_python_repr),
              MFD_TEST(test_int64_as_number_or_string),
              MFD_TEST(test_doubles_accept_nan_and_infinity_strings),
              MFD_TEST(test_experiment_id_numbers_become_strings),
              MFD_TEST(test_get_reads_query_with_repeated_keys),
              MFD_TEST(test_get_without_query_reads_body),
              MFD_TEST(test_run_id_falls_back_to_run_uuid_and_is_required),
              MFD_TEST(test_bad_or_double_encoded_bodies), MFD_TEST(test_enum_by_name_or_number),
              MFD_TEST(test_double_encoding), MFD_TEST(test_tree_as_text),
              MFD_TEST(test_python_json_escapes), MFD_TEST(test_key_validation))
