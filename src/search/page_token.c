/* page_token.c — the page tokens of the search endpoints (search-grammar.md
 * §6, §7): standard padded Base64 (OpenSSL) of JSON (jansson) written with
 * Python's default separators, so `{"offset": 1000}` is
 * eyJvZmZzZXQiOiAxMDAwfQ== exactly as upstream writes it. The metric history
 * adds members next to "offset" (its seek position); the offset stays valid
 * on its own.
 *
 * Decoding is strict Base64 (whitespace ignored, padding required, '=' only
 * at the end): OpenSSL's EVP_DecodeBlock alone would read a stray '=' as
 * zero bits. Anything that is not the expected token is a 400, and messages
 * never echo undecodable bytes (only a printable-ASCII rendering). */
#include "search_internal.h"

#include <jansson.h>
#include <openssl/evp.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_TOKEN_BYTES = 16 * 1024 * 1024, SHOWN_BYTES = 200 };

static bool is_base64_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Decodes `token` into a malloc'd, NUL-terminated buffer; false when it is
 * not padded standard Base64. */
static bool base64_decode(const char *token, unsigned char **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    size_t n = strlen(token);
    if (n > MAX_TOKEN_BYTES)
        return false;
    char *clean = malloc(n + 1);
    if (!clean)
        return false;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)token[i]))
            clean[m++] = token[i];
    clean[m] = '\0';
    size_t pad = m >= 1 && clean[m - 1] == '=' ? (m >= 2 && clean[m - 2] == '=' ? 2 : 1) : 0;
    bool ok = m > 0 && m % 4 == 0;
    for (size_t i = 0; ok && i < m - pad; i++)
        ok = is_base64_char((unsigned char)clean[i]);
    unsigned char *buf = ok ? malloc(m / 4 * 3 + 1) : NULL;
    int decoded = buf ? EVP_DecodeBlock(buf, (const unsigned char *)clean, (int)m) : -1;
    free(clean);
    if (decoded < 0 || (size_t)decoded < pad) {
        free(buf);
        return false;
    }
    *out_len = (size_t)decoded - pad;
    buf[*out_len] = '\0';
    *out = buf;
    return true;
}

static char *base64_encode(mfd_arena *arena, const char *data) {
    size_t n = strlen(data);
    unsigned char *out = mfd_arena_alloc(arena, 4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock(out, (const unsigned char *)data, (int)n);
    return (char *)out;
}

/* Bytes rendered for an error message: printable ASCII kept, the rest '?'. */
static void printable(char *dst, size_t dst_size, const unsigned char *src, size_t len) {
    size_t n = len < dst_size - 4 ? len : dst_size - 4, i;
    for (i = 0; i < n; i++)
        dst[i] = src[i] >= 0x20 && src[i] < 0x7F ? (char)src[i] : '?';
    strcpy(dst + i, n < len ? "..." : "");
}

/* The JSON of a token, `value` consumed; NULL when out of memory. */
static char *dump_json(json_t *value) {
    char *text = value ? json_dumps(value, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
    json_decref(value);
    return text;
}

/* The token of `root` (consumed): base64 of its JSON. Aborts when out of
 * memory, as the arena does. */
static char *encode_token(mfd_arena *arena, json_t *root) {
    char *json = dump_json(root);
    if (!json) {
        fputs("mlflowd: out of memory\n", stderr);
        abort();
    }
    char *token = base64_encode(arena, json);
    free(json);
    return token;
}

char *mfd_page_token_encode(mfd_arena *arena, int64_t offset) {
    return mfd_page_token_encode_fields(arena, offset, NULL);
}

char *mfd_page_token_encode_fields(mfd_arena *arena, int64_t offset, json_t *fields) {
    json_t *root = json_pack("{s:I}", "offset", (json_int_t)offset);
    if (root && fields && json_object_update(root, fields) != 0) {
        json_decref(root);
        root = NULL;
    }
    return encode_token(arena, root);
}

/* A JSON string of digits (Python's int() of it). */
static bool parse_digits(const char *s, int64_t *value) {
    while (isspace((unsigned char)*s))
        s++;
    const char *digits = s + (*s == '+' || *s == '-');
    if (!isdigit((unsigned char)*digits))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end)
        return false;
    *value = v;
    return true;
}

/* mfd_page_token_decode; `*fields` (when fields is given) takes the token's
 * JSON object when the token is valid, and stays NULL otherwise. */
static mfd_err decode_offset_token(const char *token, int64_t *offset, json_t **fields) {
    *offset = 0;
    if (fields)
        *fields = NULL;
    if (!token || !*token)
        return NULL;
    unsigned char *bytes;
    size_t len;
    if (!base64_decode(token, &bytes, &len))
        return mfd_search_error("Invalid page token, could not base64-decode");
    char shown[SHOWN_BYTES];
    json_error_t json_error;
    json_t *root = json_loadb((const char *)bytes, len, JSON_DECODE_ANY, &json_error);
    if (!root || !json_is_object(root)) {
        printable(shown, sizeof shown, bytes, len);
        free(bytes);
        json_decref(root);
        return mfd_search_error("Invalid page token, decoded value=%s", shown);
    }
    free(bytes);
    json_t *value = json_object_get(root, "offset");
    int64_t parsed = 0;
    bool truthy = json_is_true(value) || (json_is_integer(value) && json_integer_value(value)) ||
                  (json_is_real(value) && json_real_value(value) != 0) ||
                  (json_is_string(value) && json_string_length(value) > 0) ||
                  (json_is_array(value) && json_array_size(value) > 0) ||
                  (json_is_object(value) && json_object_size(value) > 0);
    mfd_err err = NULL;
    char *dumped = dump_json(json_incref(root));
    printable(shown, sizeof shown, (const unsigned char *)(dumped ? dumped : ""),
              dumped ? strlen(dumped) : 0);
    free(dumped);
    if (!truthy) {
        err = mfd_search_error("Invalid page token, parsed value=%s", shown);
    } else if (json_is_integer(value)) {
        parsed = json_integer_value(value);
    } else if (!json_is_string(value) || !parse_digits(json_string_value(value), &parsed)) {
        err = mfd_search_error("Invalid page token, not stringable %s", shown);
    }
    if (!err && parsed < 0)
        err = mfd_search_error("Invalid page token, offset must not be negative: %s", shown);
    if (!err)
        *offset = parsed;
    if (!err && fields)
        *fields = root;
    else
        json_decref(root);
    return err;
}

mfd_err mfd_page_token_decode(const char *token, int64_t *offset) {
    return decode_offset_token(token, offset, NULL);
}

mfd_err mfd_page_token_decode_fields(const char *token, int64_t *offset, json_t **fields) {
    return decode_offset_token(token, offset, fields);
}

/* ---- logged models -------------------------------------------------------------------------- */

static const char *empty_to_null(const char *s) {
    return s && *s ? s : NULL;
}

static json_t *string_or_null(const char *s) {
    return empty_to_null(s) ? json_string(s) : json_null();
}

static bool utf8_or_null(const char *s) {
    return !s || mfd_utf8_valid(s, strlen(s));
}

/* jansson refuses strings that are not valid UTF-8; so does the encoder. */
static bool request_is_utf8(const mfd_logged_model_page *request) {
    bool ok = utf8_or_null(request->filter);
    for (size_t i = 0; ok && i < request->n_experiment_ids; i++)
        ok = request->experiment_ids[i] && utf8_or_null(request->experiment_ids[i]);
    for (size_t i = 0; ok && i < request->n_order_by; i++)
        ok = utf8_or_null(request->order_by[i].field_name) &&
             utf8_or_null(request->order_by[i].dataset_name) &&
             utf8_or_null(request->order_by[i].dataset_digest);
    return ok;
}

char *mfd_logged_model_token_encode(mfd_arena *arena, const mfd_logged_model_page *request,
                                    int64_t offset) {
    if (!request_is_utf8(request))
        return NULL;
    json_t *root = json_object(), *ids = json_array(), *order = json_null();
    for (size_t i = 0; i < request->n_experiment_ids; i++)
        json_array_append_new(ids, json_string(request->experiment_ids[i]));
    if (request->n_order_by) {
        order = json_array();
        for (size_t i = 0; i < request->n_order_by; i++) {
            const mfd_logged_model_order *o = &request->order_by[i];
            json_t *element = json_object();
            json_object_set_new(element, "field_name", string_or_null(o->field_name));
            json_object_set_new(element, "ascending", json_boolean(o->ascending));
            json_object_set_new(element, "dataset_name", string_or_null(o->dataset_name));
            json_object_set_new(element, "dataset_digest", string_or_null(o->dataset_digest));
            json_array_append_new(order, element);
        }
    }
    json_object_set_new(root, "experiment_ids", ids);
    json_object_set_new(root, "filter_string", string_or_null(request->filter));
    json_object_set_new(root, "order_by", order);
    json_object_set_new(root, "offset", json_integer((json_int_t)offset));
    return encode_token(arena, root);
}

static bool same_string(json_t *value, const char *expected) {
    expected = empty_to_null(expected);
    if (json_is_null(value) || (json_is_string(value) && json_string_length(value) == 0))
        return expected == NULL;
    return json_is_string(value) && expected && strcmp(json_string_value(value), expected) == 0;
}

static bool same_order_by(json_t *value, const mfd_logged_model_page *request) {
    if (json_is_null(value) || (json_is_array(value) && json_array_size(value) == 0))
        return request->n_order_by == 0;
    if (!json_is_array(value) || json_array_size(value) != request->n_order_by)
        return false;
    for (size_t i = 0; i < request->n_order_by; i++) {
        const mfd_logged_model_order *o = &request->order_by[i];
        json_t *e = json_array_get(value, i);
        json_t *ascending = json_object_get(e, "ascending");
        if (!json_is_object(e) || json_object_size(e) != 4 ||
            !same_string(json_object_get(e, "field_name"), o->field_name) ||
            !json_is_boolean(ascending) || json_is_true(ascending) != o->ascending ||
            !same_string(json_object_get(e, "dataset_name"), o->dataset_name) ||
            !same_string(json_object_get(e, "dataset_digest"), o->dataset_digest))
            return false;
    }
    return true;
}

static bool same_ids(json_t *value, const mfd_logged_model_page *request) {
    if (!json_is_array(value) || json_array_size(value) != request->n_experiment_ids)
        return false;
    for (size_t i = 0; i < request->n_experiment_ids; i++) {
        json_t *id = json_array_get(value, i);
        if (!json_is_string(id) || !request->experiment_ids[i] ||
            strcmp(json_string_value(id), request->experiment_ids[i]) != 0)
            return false;
    }
    return true;
}

mfd_err mfd_logged_model_token_decode(const char *token, const mfd_logged_model_page *request,
                                      int64_t *offset) {
    *offset = 0;
    if (!token || !*token)
        return NULL;
    unsigned char *bytes;
    size_t len;
    if (!base64_decode(token, &bytes, &len))
        return mfd_search_error("Invalid page token: could not base64-decode");
    json_error_t json_error;
    json_t *root = json_loadb((const char *)bytes, len, JSON_DECODE_ANY, &json_error);
    free(bytes);
    mfd_err err = NULL;
    json_t *value = json_object_get(root, "offset");
    if (!json_is_object(root))
        err = mfd_search_error("Invalid page token: it is not a JSON object");
    else if (!same_ids(json_object_get(root, "experiment_ids"), request))
        err = mfd_search_error("Experiment IDs in the page token do not match the requested "
                               "experiment IDs.");
    else if (!same_string(json_object_get(root, "filter_string"), request->filter))
        err = mfd_search_error("Filter string in the page token does not match the requested "
                               "filter string.");
    else if (!same_order_by(json_object_get(root, "order_by"), request))
        err = mfd_search_error("Order by in the page token does not match the requested order "
                               "by.");
    else if (value && !json_is_null(value) &&
             (!json_is_integer(value) || json_integer_value(value) < 0))
        err = mfd_search_error("Invalid page token: offset is not a non-negative integer");
    else
        *offset = json_is_integer(value) ? json_integer_value(value) : 0;
    json_decref(root);
    return err;
}
