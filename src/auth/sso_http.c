/* sso_http.c — one blocking libcurl call per request (sso_http.h). A new
 * easy handle per call: these calls are rare (JWKS refresh, logins), so
 * connection reuse is not worth shared state between threads. */
#include "sso_http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct sink {
    char *data;
    size_t len, cap, max;
    long max_age;
} sink;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
    sink *s = userdata;
    size_t n = size * nmemb;
    if (s->len + n > s->max)
        return 0; /* aborts the transfer: too large */
    if (s->len + n + 1 > s->cap) {
        size_t cap = (s->len + n + 1) * 2;
        char *bigger = realloc(s->data, cap);
        if (!bigger)
            return 0;
        s->data = bigger;
        s->cap = cap;
    }
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata) {
    sink *s = userdata;
    size_t n = size * nmemb;
    if (n > 14 && !strncasecmp(ptr, "cache-control:", 14)) {
        char line[256];
        size_t copy = n < sizeof line - 1 ? n : sizeof line - 1;
        memcpy(line, ptr, copy);
        line[copy] = '\0';
        for (char *p = line; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        char *m = strstr(line, "max-age=");
        if (m)
            s->max_age = strtol(m + 8, NULL, 10);
    }
    return n;
}

mfd_err mfd_sso_http(const mfd_sso_http_call *call, mfd_sso_http_answer *out) {
    memset(out, 0, sizeof *out);
    out->max_age = -1;
    CURL *curl = curl_easy_init();
    if (!curl)
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot start an HTTP call (libcurl)");
    sink s = {.max = call->max_bytes, .max_age = -1};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, call->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)call->max_bytes);
    if (call->ca_file && *call->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, call->ca_file);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mlflowd/" MFD_VERSION);
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (call->form)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call->form);
    if (call->user) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, call->user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, call->password ? call->password : "");
    }
    CURLcode rc = curl_easy_perform(curl);
    mfd_err err = NULL;
    if (rc != CURLE_OK) {
        err = mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "%s: %s", call->url,
                          rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED
                              ? "answer too large"
                          : *errbuf ? errbuf
                                    : curl_easy_strerror(rc));
        free(s.data);
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
        out->body = s.data ? s.data : strdup("");
        out->len = s.len;
        out->max_age = s.max_age;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return err;
}

void mfd_sso_http_answer_free(mfd_sso_http_answer *answer) {
    free(answer->body);
    answer->body = NULL;
}

char *mfd_sso_form_escape(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        abort();
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

char *mfd_sso_form_escape_arena(mfd_arena *arena, const char *s) {
    char *e = mfd_sso_form_escape(s);
    char *copy = mfd_arena_strdup(arena, e);
    free(e);
    return copy;
}

void mfd_sso_http_init(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT); /* reference counted by libcurl */
}

void mfd_sso_http_cleanup(void) {
    curl_global_cleanup();
}
