/* response.c — small helpers for filling an mfd_response. */
#include "request.h"

#include <string.h>

void mfd_response_header(mfd_response *res, const char *key, const char *value) {
    if (res->n_headers < sizeof res->headers / sizeof res->headers[0]) {
        res->headers[res->n_headers].key = key;
        res->headers[res->n_headers].value = value;
        res->n_headers++;
    }
}

void mfd_response_text(mfd_request *req, mfd_response *res, int status, const char *content_type,
                       const char *text) {
    res->status = status;
    res->content_type = content_type ? content_type : "text/plain; charset=utf-8";
    res->body = mfd_arena_strdup(req->arena, text);
    res->body_len = strlen(text);
}
