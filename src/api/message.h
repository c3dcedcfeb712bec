/* message.h — reading request messages the way MLflow's server does
 * (rest-api.md §1.1) and writing protobuf-JSON values (§1.2).
 *
 * Top-level fields come from the query string for a GET with a non-empty
 * query, else from the JSON body. Nested messages (log-batch metrics, tags)
 * are read with the mfd_json_* variants on a json_t object; `display` is the
 * name used in error messages ("metrics[3].timestamp").
 *
 * Every getter: absent field -> *present=false (or *out=NULL) and NULL error;
 * wrong type -> INVALID_PARAMETER_VALUE with MLflow's wording. */
#ifndef MFD_MESSAGE_H
#define MFD_MESSAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/request.h"
#include "store/key_value.h"

typedef struct mfd_enum_value {
    const char *name;
    int number;
} mfd_enum_value;

/* The JSON body as an object ({} when absent or unparseable). */
json_t *mfd_msg_body(mfd_request *req);

mfd_err mfd_msg_string(mfd_request *req, const char *field, const char **out);
/* Absent or "" -> "Missing value for required parameter '<field>'...". */
mfd_err mfd_msg_required_string(mfd_request *req, const char *field, const char **out);
/* run_id, falling back to run_uuid when run_id is absent or empty. */
mfd_err mfd_msg_run_id(mfd_request *req, const char **out);
mfd_err mfd_msg_int64(mfd_request *req, const char *field, bool *present, int64_t *out);
mfd_err mfd_msg_double(mfd_request *req, const char *field, bool *present, double *out);
mfd_err mfd_msg_bool(mfd_request *req, const char *field, bool *present, bool *out);
mfd_err mfd_msg_enum(mfd_request *req, const char *field, const mfd_enum_value *table,
                     bool *present, int *out);
/* MLflow's ViewType, of the experiments' and the runs' searches: ACTIVE_ONLY
 * 1, DELETED_ONLY 2, ALL 3 (the numbers of store/experiments.h's
 * mfd_view_type). */
extern const mfd_enum_value mfd_msg_view_types[];
mfd_err mfd_msg_string_list(mfd_request *req, const char *field, const char ***out, size_t *n);
/* A repeated message field (JSON array of objects); *out NULL when absent. */
mfd_err mfd_msg_array(mfd_request *req, const char *field, json_t **out);

mfd_err mfd_json_string(mfd_request *req, json_t *obj, const char *field, const char *display,
                        const char **out);
mfd_err mfd_json_int64(json_t *obj, const char *field, const char *display, bool *present,
                       int64_t *out);
mfd_err mfd_json_double(json_t *obj, const char *field, const char *display, bool *present,
                        double *out);
mfd_err mfd_json_bool(json_t *obj, const char *field, const char *display, bool *present,
                      bool *out);

mfd_err mfd_missing_param(const char *display);
/* "Invalid value for parameter '<display>' supplied: it contains a NUL
 * character." — for a JSON string holding "\u0000". */
mfd_err mfd_nul_param(const char *display);

/* Response side. */
json_t *mfd_json_from_double(double v); /* NaN/±Inf as "NaN"/"Infinity"/"-Infinity" */
/* Convenience setters that take ownership semantics of jansson *_new. */
void mfd_json_set_str(json_t *obj, const char *key, const char *value); /* skips NULL */
/* [{"key": k, "value": v}, ...], a NULL value left out */
json_t *mfd_json_key_values(const mfd_key_value *items, size_t n);
void mfd_json_set_int(json_t *obj, const char *key, int64_t value);

/* The answer of a search whose store was asked for max_results + 1 rows:
 * the first max_results items as a JSON array under `key` (omitted when
 * empty) and, when the extra row came back, next_page_token for the offset
 * after this page. `to_json` turns one item (items + i * item_size) into JSON. */
typedef json_t *(*mfd_item_json_fn)(const void *item);
void mfd_msg_search_page(mfd_request *req, mfd_response *res, const char *key, const void *items,
                         size_t item_size, size_t n, int64_t offset, int64_t max_results,
                         mfd_item_json_fn to_json);

/* The same shape of answer, `{"<key>": [...], "next_page_token": "..."}` (the
 * list omitted when empty, the token when NULL), written as JSON text while
 * the items are read: a page of 50,000 runs never exists as a tree, nor
 * whole before its text. mfd_msg_page_item() opens item n (separator
 * included) and returns where to write it; mfd_msg_page_end() makes the text
 * res->body. Only for answers no after-hook reads: res->json stays NULL. */
typedef struct mfd_msg_page {
    mfd_strbuf sb;
    const char *key;
    size_t n; /* items so far */
} mfd_msg_page;
void mfd_msg_page_begin(mfd_request *req, mfd_msg_page *page, const char *key, size_t size_hint);
mfd_strbuf *mfd_msg_page_item(mfd_msg_page *page);
void mfd_msg_page_end(mfd_msg_page *page, mfd_response *res, const char *next_page_token);

/* The JSON text in sb becomes the answer's body; res->json stays NULL, so
 * only for answers no after-hook reads. */
void mfd_msg_text_body(mfd_response *res, const mfd_strbuf *sb);

/* Parses a decimal int64 exactly ("12", "-3"; no junk, no overflow). */
bool mfd_parse_int64(const char *s, int64_t *out);

#endif
