/* http.c — one JSON-over-HTTP request with libcurl, for the admin commands
 * (Keycloak's Admin REST API, S3 and MinIO with SigV4 signing by libcurl).
 * Answers are bounded (4 MiB); secrets in headers are never logged.
 *
 * SigV4 is libcurl's (CURLOPT_AWS_SIGV4, as for the artifact store's S3
 * client); libcurl 7.88 signs the URL's query as written, so signed requests
 * carry queries built by mfd_http_query() in canonical order. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "core/digest.h"

enum { MAX_ANSWER = 4 << 20 };

typedef struct transfer {
    mfd_arena *arena;
    mfd_strbuf body;
    const char *location;
} transfer;

static size_t on_body(char *data, size_t size, size_t n, void *closure) {
    transfer *t = closure;
    if (t->body.len + size * n > MAX_ANSWER)
        return 0;
    mfd_strbuf_appendn(&t->body, data, size * n);
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *closure) {
    transfer *t = closure;
    size_t len = size * n;
    static const char name[] = "location:";
    if (len > sizeof name - 1 && !strncasecmp(data, name, sizeof name - 1)) {
        const char *v = data + sizeof name - 1;
        size_t v_len = len - (sizeof name - 1);
        while (v_len > 0 && (*v == ' ' || *v == '\t'))
            v++, v_len--;
        while (v_len > 0 && (v[v_len - 1] == '\r' || v[v_len - 1] == '\n' || v[v_len - 1] == ' '))
            v_len--;
        t->location = mfd_arena_strndup(t->arena, v, v_len);
    }
    return len;
}

mfd_err mfd_http_perform(mfd_arena *arena, const mfd_http_call *call, mfd_http_answer *answer) {
    CURL *curl = curl_easy_init();
    if (!curl)
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot start an HTTP client");
    transfer t = {.arena = arena};
    mfd_strbuf_init(&t.body, arena);
    mfd_strbuf_append(&t.body, "");
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    if (call->bearer)
        headers = curl_slist_append(
            headers, mfd_arena_sprintf(arena, "Authorization: Bearer %s", call->bearer));
    if (call->content_type)
        headers = curl_slist_append(
            headers, mfd_arena_sprintf(arena, "Content-Type: %s", call->content_type));
    if (call->payload_sha256)
        headers = curl_slist_append(
            headers, mfd_arena_sprintf(arena, "x-amz-content-sha256: %s", call->payload_sha256));
    if (call->extra_header)
        headers = curl_slist_append(headers, call->extra_header);
    curl_easy_setopt(curl, CURLOPT_URL, call->url);
    if (!strcmp(call->method, "HEAD"))
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    else if (strcmp(call->method, "GET") != 0)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, call->method);
    if (call->body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)call->body_len);
    } else if (!strcmp(call->method, "POST") || !strcmp(call->method, "PUT")) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (call->aws_sigv4) {
        curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, call->aws_sigv4);
        curl_easy_setopt(curl, CURLOPT_USERPWD, call->aws_user);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (call->ca_file && *call->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, call->ca_file);
    if (call->insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode rc = curl_easy_perform(curl);
    answer->status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK)
        return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "%s %s: no answer: %s", call->method,
                           call->url, curl_easy_strerror(rc));
    answer->body = t.body.data;
    answer->location = t.location;
    return NULL;
}

json_t *mfd_http_json(const mfd_http_answer *answer) {
    return answer->body && *answer->body ? json_loads(answer->body, JSON_DECODE_ANY, NULL) : NULL;
}

const char *mfd_http_escape(mfd_arena *arena, const char *s, bool keep_slash) {
    static const char hex[] = "0123456789ABCDEF";
    char *out = mfd_arena_alloc(arena, strlen(s) * 3 + 1), *p = out;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    return out;
}

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
