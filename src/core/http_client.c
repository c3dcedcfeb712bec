/* http_client.c — one outgoing HTTP request with libcurl (see http_client.h).
 * A fresh easy handle per request: the callers make a handful of calls per
 * command or per deployment, so nothing is worth keeping between them. */
#include "http_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { MAX_ANSWER = 4 << 20 };

typedef struct transfer {
    mfd_arena *arena;
    mfd_strbuf body;
    size_t max_bytes;
    const char *location;
    long max_age;
} transfer;

static size_t on_body(char *data, size_t size, size_t n, void *closure) {
    transfer *t = closure;
    if (t->body.len + size * n > t->max_bytes)
        return 0; /* aborts the transfer: too large */
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
    static const char cache_control[] = "cache-control:";
    if (len > sizeof cache_control - 1 &&
        !strncasecmp(data, cache_control, sizeof cache_control - 1)) {
        char *line = mfd_arena_strndup(t->arena, data, len);
        for (char *p = line; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        const char *m = strstr(line, "max-age=");
        if (m)
            t->max_age = strtol(m + 8, NULL, 10);
    }
    return len;
}

mfd_err mfd_http_perform(mfd_arena *arena, const mfd_http_call *call, mfd_http_answer *answer) {
    *answer = (mfd_http_answer){.body = "", .max_age = -1};
    CURL *curl = curl_easy_init();
    if (!curl) {
        answer->failure = curl_easy_strerror(CURLE_FAILED_INIT);
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot start an HTTP client");
    }
    transfer t = {
        .arena = arena, .max_bytes = call->max_bytes ? call->max_bytes : MAX_ANSWER, .max_age = -1};
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
    if (call->user) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, call->user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, call->password ? call->password : "");
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
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                     call->connect_timeout > 0 ? call->connect_timeout : 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, call->timeout > 0 ? call->timeout : 60L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    if (strcmp(call->method, "HEAD") != 0) /* a HEAD's Content-Length is no answer's size */
        curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t.max_bytes);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mlflowd/" MFD_VERSION);
    char reason[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, reason);
    if (call->ca_file && *call->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, call->ca_file);
    if (call->insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED) {
        answer->failure = "answer too large";
        return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE,
                           "%s %s: answer too large (over %zu bytes), not read", call->method,
                           call->url, t.max_bytes);
    }
    if (rc != CURLE_OK) {
        answer->failure = *reason ? mfd_arena_strdup(arena, reason) : curl_easy_strerror(rc);
        return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "%s %s: no answer: %s", call->method,
                           call->url, answer->failure);
    }
    answer->body = t.body.data;
    answer->len = t.body.len;
    answer->location = t.location;
    answer->max_age = t.max_age;
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

void mfd_http_client_init(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void mfd_http_client_cleanup(void) {
    curl_global_cleanup();
}
