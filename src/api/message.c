/* message.c — request message decoding (rest-api.md §1.1) and protobuf-JSON
 * value encoding (§1.2). One place for MLflow's type-error wording. */
#include "message.h"

#include "core/escape.h"
#include "core/json_text.h"

#include "search/search.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

static bool from_query(const mfd_request *req) {
    return strcmp(req->method, "GET") == 0 && req->n_query > 0;
}

enum { BODY_FLAGS = JSON_DECODE_ANY | JSON_ALLOW_NUL, MAX_BIG_INTEGERS = 32 };

static bool big_integer(const json_error_t *error) {
    return json_error_code(error) == json_error_numeric_overflow && strstr(error->text, "integer");
}

static bool token_char(char c) {
    return isalnum((unsigned char)c) || c == '.' || c == '+' || c == '-';
}

/* A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s, size_t n) {
    size_t i = s[0] == '-';
    if (i >= n || !isdigit((unsigned char)s[i]))
        return false;
    if (s[i] == '0')
        i++;
    else
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
    if (i < n && s[i] == '.') {
        if (++i >= n || !isdigit((unsigned char)s[i]))
            return false;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !isdigit((unsigned char)s[i]))
            return false;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
    }
    return i == n;
}

/* The string a double's protobuf JSON form gives a bare token that Python's
 * json reads as a non-finite float, or NULL. */
static const char *non_finite_string(const char *tok, size_t n) {
    if (n == 3 && !memcmp(tok, "NaN", 3))
        return "\"NaN\"";
    if (n == 8 && !memcmp(tok, "Infinity", 8))
        return "\"Infinity\"";
    if (n == 9 && !memcmp(tok, "-Infinity", 9))
        return "\"-Infinity\"";
    if (!json_number(tok, n))
        return NULL;
    char *number = malloc(n + 1);
    if (!number)
        return NULL;
    memcpy(number, tok, n);
    number[n] = '\0';
    double d = strtod(number, NULL);
    free(number);
    if (!isinf(d))
        return NULL;
    return d < 0 ? "\"-Infinity\"" : "\"Infinity\"";
}

/* Python's json, MLflow's parser, reads NaN, Infinity and -Infinity, and a
 * real too large for a double as an infinity (a REST client's json.dumps of a
 * float('nan') sends them); jansson refuses all four. The body with each such
 * token outside a string written as the string the protobuf JSON form uses,
 * which double fields read; NULL when it has none. */
static char *python_non_finite(const char *body, size_t len, size_t *out_len) {
    char *out = NULL;
    size_t n = 0, copied = 0;
    for (size_t i = 0; i < len;) {
        if (body[i] == '"') {
            for (i++; i < len && body[i] != '"'; i += body[i] == '\\' ? 2 : 1)
                ;
            i++;
            continue;
        }
        if (!token_char(body[i])) {
            i++;
            continue;
        }
        size_t end = i, next = i;
        while (end < len && token_char(body[end]))
            end++;
        for (next = end; next < len && isspace((unsigned char)body[next]); next++)
            ;
        /* a value only: an object key stays what it is, an error */
        const char *text =
            next < len && body[next] == ':' ? NULL : non_finite_string(body + i, end - i);
        if (text) {
            /* each token at most doubles ("1e400" -> "\"Infinity\"") */
            if (!out && !(out = malloc(2 * len + 16)))
                return NULL;
            memcpy(out + n, body + copied, i - copied);
            n += i - copied;
            memcpy(out + n, text, strlen(text));
            n += strlen(text);
            copied = end;
        }
        i = end;
    }
    if (!out)
        return NULL;
    memcpy(out + n, body + copied, len - copied);
    *out_len = n + len - copied;
    return out;
}

/* The body as JSON. An integer beyond 64 bits is no error to Python's json
 * (MLflow reads it; a metric value that big is a double): jansson refuses it,
 * saying where it ends, so ".0" is written there and the body read again —
 * that integer alone becomes a double, every other number stays as it is (up
 * to MAX_BIG_INTEGERS such integers). Non-finite numbers are read as Python
 * reads them (python_non_finite). Any other unparseable body is {}
 * (rest-api.md §1.1). */
static json_t *load_body(const char *body, size_t len) {
    json_error_t error;
    json_t *root = json_loadb(body, len, BODY_FLAGS, &error);
    char *text = NULL; /* the body as rewritten so far */
    bool python_read = false;
    for (int big = 0; !root;) {
        char *next;
        if (big_integer(&error)) {
            size_t at = error.position > 0 ? (size_t)error.position : 0;
            if (big++ == MAX_BIG_INTEGERS || at > len || !(next = malloc(len + 2)))
                break;
            memcpy(next, text ? text : body, at);
            memcpy(next + at, ".0", 2);
            memcpy(next + at + 2, (text ? text : body) + at, len - at);
            len += 2;
        } else if (!python_read && (json_error_code(&error) == json_error_invalid_syntax ||
                                    json_error_code(&error) == json_error_numeric_overflow)) {
            python_read = true;
            if (!(next = python_non_finite(text ? text : body, len, &len)))
                break;
        } else {
            break;
        }
        free(text);
        text = next;
        root = json_loadb(text, len, BODY_FLAGS, &error);
    }
    free(text);
    return root;
}

json_t *mfd_msg_body(mfd_request *req) {
    if (req->json_parsed)
        return req->json;
    req->json_parsed = true;
    json_t *root = NULL;
    if (req->body && req->body_len > 0) {
        root = load_body(req->body, req->body_len);
        /* Legacy clients double-encode: a JSON string whose content is JSON. */
        if (root && json_is_string(root)) {
            json_t *inner = load_body(json_string_value(root), json_string_length(root));
            json_decref(root);
            root = inner;
        }
        if (root && !json_is_object(root)) {
            json_decref(root);
            root = NULL;
        }
    }
    req->json = root ? root : json_object();
    return req->json;
}

mfd_err mfd_missing_param(const char *display) {
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "Missing value for required parameter '%s'. See the API docs for more "
                       "information about request parameters.",
                       display);
}

static const char *json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "dict";
    case JSON_ARRAY:
        return "list";
    case JSON_STRING:
        return "str";
    case JSON_INTEGER:
        return "int";
    case JSON_REAL:
        return "float";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    default:
        return "NoneType";
    }
}

static mfd_err type_error(const char *display, const json_t *v) {
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    mfd_err err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                              "Invalid value %s for parameter '%s' supplied. Hint: Value was of "
                              "type '%s'. See the API docs for more information about request "
                              "parameters.",
                              text ? text : "?", display, json_type_name(v));
    free(text);
    return err;
}

/* The body is parsed with JSON_ALLOW_NUL so a "\u0000" is seen here and
 * refused, instead of silently cutting the value at the NUL. */
mfd_err mfd_nul_param(const char *display) {
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "Invalid value for parameter '%s' supplied: it contains a NUL character.",
                       display);
}

static mfd_err query_type_error(const char *display, const char *value, const char *expected) {
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "Invalid value '%s' for parameter '%s' supplied: expected %s. See the API "
                       "docs for more information about request parameters.",
                       value, display, expected);
}

static const char *query_first(const mfd_request *req, const char *field) {
    for (size_t i = 0; i < req->n_query; i++)
        if (strcmp(req->query[i].key, field) == 0)
            return req->query[i].value ? req->query[i].value : "";
    return NULL;
}

bool mfd_parse_int64(const char *s, int64_t *out) {
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || isspace((unsigned char)*s))
        return false;
    *out = v;
    return true;
}

/* A number given as text, as protobuf's JSON reader takes it: "NaN",
 * "Infinity", "-Infinity", else Python's float(): blanks around, a sign,
 * inf/infinity/nan in any case, '_' between digits, no hex; too big is
 * infinite. */
static bool parse_double_text(const char *s, double *out) {
    if (!strcmp(s, "NaN") || !strcmp(s, "Infinity") || !strcmp(s, "-Infinity")) {
        *out = s[0] == 'N' ? NAN : s[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    char buf[512];
    if (len == 0 || len >= sizeof buf)
        return false;
    size_t i = 0, n = 0;
    bool negative = s[0] == '-';
    if (s[0] == '+' || s[0] == '-')
        buf[n++] = s[i++];
    const char *word = s + i;
    size_t word_len = len - i;
    if ((word_len == 3 && !strncasecmp(word, "inf", 3)) ||
        (word_len == 8 && !strncasecmp(word, "infinity", 8))) {
        *out = negative ? -INFINITY : INFINITY;
        return true;
    }
    if (word_len == 3 && !strncasecmp(word, "nan", 3)) {
        *out = NAN;
        return true;
    }
    enum { WHOLE, FRACTION, EXPONENT } part = WHOLE;
    int digits = 0, exponent_digits = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            buf[n++] = c;
            *(part == EXPONENT ? &exponent_digits : &digits) += 1;
        } else if (c == '_') {
            bool between = i > 0 && isdigit((unsigned char)s[i - 1]) && i + 1 < len &&
                           isdigit((unsigned char)s[i + 1]);
            if (!between)
                return false;
        } else if (c == '.' && part == WHOLE) {
            buf[n++] = c;
            part = FRACTION;
        } else if ((c == 'e' || c == 'E') && part != EXPONENT && digits) {
            buf[n++] = 'e';
            part = EXPONENT;
            if (i + 1 < len && (s[i + 1] == '+' || s[i + 1] == '-'))
                buf[n++] = s[++i];
        } else {
            return false;
        }
    }
    if (!digits || (part == EXPONENT && !exponent_digits))
        return false;
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return true;
}

/* protobuf's JSON rule: experiment_id(s) given as numbers become strings. */
static bool number_as_string_field(const char *field) {
    return !strcmp(field, "experiment_id") || !strcmp(field, "experiment_ids");
}

mfd_err mfd_json_string(mfd_request *req, json_t *obj, const char *field, const char *display,
                        const char **out) {
    *out = NULL;
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v)) {
        if ((*out = json_string_value(v)) && strlen(*out) != json_string_length(v)) {
            *out = NULL;
            return mfd_nul_param(display);
        }
        return NULL;
    }
    if (json_is_integer(v) && number_as_string_field(field)) {
        *out = mfd_arena_sprintf(req->arena, "%lld", (long long)json_integer_value(v));
        return NULL;
    }
    return type_error(display, v);
}

mfd_err mfd_json_int64(json_t *obj, const char *field, const char *display, bool *present,
                       int64_t *out) {
    *present = false;
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
               fabs(json_real_value(v)) < 9.2e18) {
        *out = (int64_t)json_real_value(v);
    } else if (json_is_string(v) && mfd_parse_int64(json_string_value(v), out)) {
        /* int64 may arrive quoted */
    } else {
        return type_error(display, v);
    }
    *present = true;
    return NULL;
}

mfd_err mfd_json_double(json_t *obj, const char *field, const char *display, bool *present,
                        double *out) {
    *present = false;
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_number(v)) {
        *out = json_number_value(v);
    } else if (json_is_string(v) && parse_double_text(json_string_value(v), out)) {
        /* "NaN", "Infinity", "1.5" */
    } else {
        return type_error(display, v);
    }
    *present = true;
    return NULL;
}

mfd_err mfd_json_bool(json_t *obj, const char *field, const char *display, bool *present,
                      bool *out) {
    *present = false;
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_boolean(v))
        return type_error(display, v);
    *out = json_is_true(v);
    *present = true;
    return NULL;
}

mfd_err mfd_msg_string(mfd_request *req, const char *field, const char **out) {
    if (from_query(req)) {
        *out = query_first(req, field);
        return NULL;
    }
    return mfd_json_string(req, mfd_msg_body(req), field, field, out);
}

mfd_err mfd_msg_required_string(mfd_request *req, const char *field, const char **out) {
    mfd_err err = mfd_msg_string(req, field, out);
    if (err)
        return err;
    if (!*out || !**out)
        return mfd_missing_param(field);
    return NULL;
}

mfd_err mfd_msg_run_id(mfd_request *req, const char **out) {
    mfd_err err = mfd_msg_string(req, "run_id", out);
    if (err)
        return err;
    if (!*out || !**out) {
        if ((err = mfd_msg_string(req, "run_uuid", out)))
            return err;
    }
    if (!*out || !**out)
        return mfd_missing_param("run_id");
    return NULL;
}

mfd_err mfd_msg_int64(mfd_request *req, const char *field, bool *present, int64_t *out) {
    if (from_query(req)) {
        const char *v = query_first(req, field);
        *present = false;
        if (!v)
            return NULL;
        if (!mfd_parse_int64(v, out))
            return query_type_error(field, v, "an integer");
        *present = true;
        return NULL;
    }
    return mfd_json_int64(mfd_msg_body(req), field, field, present, out);
}

mfd_err mfd_msg_double(mfd_request *req, const char *field, bool *present, double *out) {
    if (from_query(req)) {
        const char *v = query_first(req, field);
        *present = false;
        if (!v)
            return NULL;
        if (!parse_double_text(v, out))
            return query_type_error(field, v, "a number");
        *present = true;
        return NULL;
    }
    return mfd_json_double(mfd_msg_body(req), field, field, present, out);
}

mfd_err mfd_msg_bool(mfd_request *req, const char *field, bool *present, bool *out) {
    if (from_query(req)) {
        const char *v = query_first(req, field);
        *present = false;
        if (!v)
            return NULL;
        if (!strcasecmp(v, "true"))
            *out = true;
        else if (!strcasecmp(v, "false"))
            *out = false;
        else
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "Invalid boolean value '%s' for parameter '%s'", v, field);
        *present = true;
        return NULL;
    }
    return mfd_json_bool(mfd_msg_body(req), field, field, present, out);
}

static bool enum_lookup(const mfd_enum_value *table, const char *name, long number, bool by_name,
                        int *out) {
    for (const mfd_enum_value *e = table; e->name; e++) {
        if (by_name ? strcmp(e->name, name) == 0 : e->number == number) {
            *out = e->number;
            return true;
        }
    }
    return false;
}

/* Text as protobuf's json_format reads an enum: its name, else its number. */
static bool enum_from_text(const mfd_enum_value *table, const char *text, int *out) {
    int64_t n;
    return enum_lookup(table, text, 0, true, out) ||
           (mfd_parse_int64(text, &n) && enum_lookup(table, NULL, (long)n, false, out));
}

const mfd_enum_value mfd_msg_view_types[] = {
    {"ACTIVE_ONLY", 1},
    {"DELETED_ONLY", 2},
    {"ALL", 3},
    {NULL, 0},
};

mfd_err mfd_msg_enum(mfd_request *req, const char *field, const mfd_enum_value *table,
                     bool *present, int *out) {
    *present = false;
    if (from_query(req)) {
        const char *v = query_first(req, field);
        if (!v)
            return NULL;
        if (!enum_from_text(table, v, out))
            return query_type_error(field, v, "a valid enum value");
        *present = true;
        return NULL;
    }
    json_t *v = json_object_get(mfd_msg_body(req), field);
    if (!v || json_is_null(v))
        return NULL;
    bool ok = false;
    if (json_is_string(v))
        ok = enum_from_text(table, json_string_value(v), out);
    else if (json_is_integer(v))
        ok = enum_lookup(table, NULL, (long)json_integer_value(v), false, out);
    if (!ok)
        return type_error(field, v);
    *present = true;
    return NULL;
}

mfd_err mfd_msg_string_list(mfd_request *req, const char *field, const char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (from_query(req)) {
        size_t count = 0;
        for (size_t i = 0; i < req->n_query; i++)
            count += strcmp(req->query[i].key, field) == 0;
        const char **list = mfd_arena_calloc(req->arena, count + 1, sizeof *list);
        for (size_t i = 0, k = 0; i < req->n_query; i++)
            if (strcmp(req->query[i].key, field) == 0)
                list[k++] = req->query[i].value ? req->query[i].value : "";
        *out = list;
        *n = count;
        return NULL;
    }
    json_t *v = json_object_get(mfd_msg_body(req), field);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_array(v)) {
        /* A single string where a list is expected: protobuf rejects it. */
        return type_error(field, v);
    }
    size_t count = json_array_size(v);
    const char **list = mfd_arena_calloc(req->arena, count + 1, sizeof *list);
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(v, i);
        if (json_is_string(e) && strlen(json_string_value(e)) != json_string_length(e))
            return mfd_nul_param(field);
        if (json_is_string(e))
            list[i] = json_string_value(e);
        else if (json_is_integer(e) && number_as_string_field(field))
            list[i] = mfd_arena_sprintf(req->arena, "%lld", (long long)json_integer_value(e));
        else
            return type_error(field, e);
    }
    *out = list;
    *n = count;
    return NULL;
}

mfd_err mfd_msg_array(mfd_request *req, const char *field, json_t **out) {
    *out = NULL;
    json_t *v = json_object_get(mfd_msg_body(req), field);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_array(v))
        return type_error(field, v);
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_object(json_array_get(v, i)))
            return type_error(field, json_array_get(v, i));
    *out = v;
    return NULL;
}

json_t *mfd_json_from_double(double v) {
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

void mfd_json_set_str(json_t *obj, const char *key, const char *value) {
    if (value)
        json_object_set_new(obj, key, json_string(value));
}

json_t *mfd_json_key_values(const mfd_key_value *items, size_t n) {
    json_t *array = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *kv = json_object();
        mfd_json_set_str(kv, "key", items[i].key);
        mfd_json_set_str(kv, "value", items[i].value);
        json_array_append_new(array, kv);
    }
    return array;
}

void mfd_json_set_int(json_t *obj, const char *key, int64_t value) {
    json_object_set_new(obj, key, json_integer(value));
}

void mfd_msg_page_begin(mfd_request *req, mfd_msg_page *page, const char *key, size_t size_hint) {
    mfd_strbuf_init(&page->sb, req->arena);
    mfd_strbuf_reserve(&page->sb, 64 + size_hint);
    mfd_strbuf_append(&page->sb, "{");
    page->key = key;
    page->n = 0;
}

mfd_strbuf *mfd_msg_page_item(mfd_msg_page *page) {
    if (page->n++) {
        mfd_strbuf_append(&page->sb, ",");
    } else {
        mfd_json_append_string(&page->sb, page->key);
        mfd_strbuf_append(&page->sb, ":[");
    }
    return &page->sb;
}

void mfd_msg_page_end(mfd_msg_page *page, mfd_response *res, const char *next_page_token) {
    if (page->n)
        mfd_strbuf_append(&page->sb, "]");
    if (next_page_token) {
        mfd_strbuf_append(&page->sb, page->n ? ",\"next_page_token\":" : "\"next_page_token\":");
        mfd_json_append_string(&page->sb, next_page_token);
    }
    mfd_strbuf_append(&page->sb, "}");
    mfd_msg_text_body(res, &page->sb);
}

void mfd_msg_text_body(mfd_response *res, const mfd_strbuf *sb) {
    res->body = sb->data;
    res->body_len = sb->len;
    res->content_type = "application/json";
}

/* Written item by item: a page of 100,000 model versions as one jansson tree
 * took ~330 MB for its 27 MB of text. Except for a user the auth layer's
 * post-hook filters the page for (it drops items from the tree; the search's
 * SQL already left out what the user may not read). */
void mfd_msg_search_page(mfd_request *req, mfd_response *res, const char *key, const void *items,
                         size_t item_size, size_t n, int64_t offset, int64_t max_results,
                         mfd_item_json_fn to_json) {
    size_t shown = n > (size_t)max_results ? (size_t)max_results : n;
    const char *token =
        n > (size_t)max_results ? mfd_page_token_encode(req->arena, offset + max_results) : NULL;
    if (req->username && !req->is_admin) {
        res->json = json_object();
        if (shown) {
            json_t *list = json_array();
            for (size_t i = 0; i < shown; i++)
                json_array_append_new(list, to_json((const char *)items + i * item_size));
            json_object_set_new(res->json, key, list);
        }
        mfd_json_set_str(res->json, "next_page_token", token);
        return;
    }
    mfd_msg_page page;
    mfd_msg_page_begin(req, &page, key, shown < 100 ? shown * 512 : 100 * 512);
    for (size_t i = 0; i < shown; i++) {
        json_t *item = to_json((const char *)items + i * item_size);
        mfd_json_append_tree(mfd_msg_page_item(&page), item);
        json_decref(item);
    }
    mfd_msg_page_end(&page, res, token);
}
