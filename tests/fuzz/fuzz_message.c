/* Fuzz target: request-message decoding (rest-api.md §1.1) on arbitrary bodies
 * and query strings. Every getter must return a value or an error, never crash;
 * the parse-cost estimate the server charges before decoding (core/json_cost.h)
 * reads no byte past the body and is never below its length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/message.h"
#include "core/json_cost.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (mfd_json_parse_cost((const char *)data, size) < size)
        abort();
    mfd_request req;
    memset(&req, 0, sizeof req);
    req.arena = mfd_arena_new();
    char *body = mfd_arena_strndup(req.arena, (const char *)data, size);
    /* First byte picks GET-with-query (body split into key=value pairs) or POST. */
    bool get = size > 0 && (data[0] & 1);
    req.method = get ? "GET" : "POST";
    req.body = body;
    req.body_len = size;
    mfd_kv query[8];
    if (get) {
        size_t n = 0;
        char *save = NULL;
        for (char *tok = strtok_r(mfd_arena_strdup(req.arena, body), "&", &save); tok && n < 8;
             tok = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(tok, '=');
            if (eq)
                *eq = '\0';
            query[n].key = tok;
            query[n].value = eq ? eq + 1 : "";
            n++;
        }
        req.query = query;
        req.n_query = n;
    }
    static const char *const fields[] = {"run_id", "experiment_id", "experiment_ids", "max_results",
                                         "value",  "flag",          "metrics",        "view_type"};
    static const mfd_enum_value view[] = {{"ACTIVE_ONLY", 1}, {"DELETED_ONLY", 2}, {"ALL", 3}, {0}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *s, **list;
        size_t n;
        bool present, b;
        int64_t i64;
        double d;
        int e;
        json_t *arr;
        mfd_err_free(mfd_msg_string(&req, fields[i], &s));
        mfd_err_free(mfd_msg_run_id(&req, &s));
        mfd_err_free(mfd_msg_int64(&req, fields[i], &present, &i64));
        mfd_err_free(mfd_msg_double(&req, fields[i], &present, &d));
        mfd_err_free(mfd_msg_bool(&req, fields[i], &present, &b));
        mfd_err_free(mfd_msg_enum(&req, fields[i], view, &present, &e));
        mfd_err_free(mfd_msg_string_list(&req, fields[i], &list, &n));
        mfd_err err = mfd_msg_array(&req, fields[i], &arr);
        bool have_array = err == NULL && arr != NULL;
        mfd_err_free(err);
        if (have_array) {
            for (size_t k = 0; k < json_array_size(arr); k++) {
                json_t *o = json_array_get(arr, k);
                mfd_err_free(mfd_json_string(&req, o, "key", "metrics[0].key", &s));
                mfd_err_free(mfd_json_double(o, "value", "metrics[0].value", &present, &d));
                mfd_err_free(mfd_json_int64(o, "step", "metrics[0].step", &present, &i64));
            }
        }
    }
    json_decref(req.json);
    mfd_arena_free(req.arena);
    return 0;
}
