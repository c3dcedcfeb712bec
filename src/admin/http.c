/* http.c — the admin commands' S3-signed requests (S3 itself and MinIO's
 * admin API) over the shared client of core/http_client.c.
 *
 * SigV4 is libcurl's (CURLOPT_AWS_SIGV4, as for the artifact store's S3
 * client); libcurl 7.88 signs the URL's query as written, so signed requests
 * carry queries built by mfd_http_query() in canonical order. */
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "core/digest.h"

static int compare_params(const void *a, const void *b) {
    const mfd_http_param *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

const char *mfd_http_query(mfd_arena *arena, mfd_http_param *params, size_t n) {
    if (n > 1)
        qsort(params, n, sizeof *params, compare_params);
    mfd_strbuf query;
    mfd_strbuf_init(&query, arena);
    mfd_strbuf_append(&query, "");
    for (size_t i = 0; i < n; i++)
        mfd_strbuf_appendf(&query, "%s%s=%s", i ? "&" : "?",
                           mfd_http_escape(arena, params[i].name, false),
                           mfd_http_escape(arena, params[i].value, false));
    return query.data;
}

static const char *sha256_hex(mfd_arena *arena, const void *data, size_t len) {
    char *hex = mfd_arena_alloc(arena, 65);
    mfd_sha256_hex(data, len, hex);
    return hex;
}

mfd_err mfd_http_perform_s3(mfd_arena *arena, const mfd_admin_s3 *s3, const char *method,
                            const char *url, const char *content_type, const void *body,
                            size_t body_len, mfd_http_answer *answer) {
    mfd_http_call call = {
        .method = method,
        .url = url,
        .body = body,
        .body_len = body ? body_len : 0,
        .content_type = content_type,
        .payload_sha256 = sha256_hex(arena, body ? body : "", body ? body_len : 0),
        .extra_header = s3->session_token ? mfd_arena_sprintf(arena, "x-amz-security-token: %s",
                                                              s3->session_token)
                                          : NULL,
        .ca_file = s3->ca_file,
        .insecure = s3->insecure,
    };
    if (s3->access_key) {
        call.aws_sigv4 = mfd_arena_sprintf(arena, "aws:amz:%s:s3", s3->region);
        call.aws_user =
            mfd_arena_sprintf(arena, "%s:%s", s3->access_key, s3->secret_key ? s3->secret_key : "");
    }
    return mfd_http_perform(arena, &call, answer);
}

const char *mfd_http_s3_code(mfd_arena *arena, const char *body) {
    const char *start = body ? strstr(body, "<Code>") : NULL;
    const char *end = start ? strstr(start, "</Code>") : NULL;
    if (!start || !end)
        return "";
    start += strlen("<Code>");
    return mfd_arena_strndup(arena, start, (size_t)(end - start));
}
