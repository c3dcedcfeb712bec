/* basic.c — the Basic scheme on the wire: the Authorization header as
 * werkzeug parses it, and the exact 401/403 answers MLflow sends. */
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"
#include "auth_internal.h"

static const char unauthenticated_text[] =
    "You are not authenticated. Please see "
    "https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow "
    "on how to authenticate.";

static bool is_b64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

bool mfd_auth_parse_basic(mfd_arena *arena, const char *header, const char **username,
                          const char **password) {
    while (*header == ' ' || *header == '\t')
        header++;
    if (strncasecmp(header, "basic", 5) != 0 || (header[5] != ' ' && header[5] != '\t'))
        return false;
    const char *p = header + 6;
    /* Like Python's b64decode: characters outside the alphabet are dropped,
     * then the padding must be right. */
    size_t len = strlen(p), n = 0;
    char *clean = mfd_arena_alloc(arena, len + 1);
    for (size_t i = 0; i < len; i++)
        if (is_b64_char(p[i]))
            clean[n++] = p[i];
    clean[n] = '\0';
    if (n == 0 || n % 4 != 0)
        return false;
    size_t pad = 0;
    while (pad < 2 && clean[n - 1 - pad] == '=')
        pad++;
    if (memchr(clean, '=', n - pad))
        return false;
    unsigned char *decoded = mfd_arena_alloc(arena, n / 4 * 3 + 1);
    int out = EVP_DecodeBlock(decoded, (const unsigned char *)clean, (int)n);
    if (out < 0 || (size_t)out < pad)
        return false;
    size_t decoded_len = (size_t)out - pad;
    decoded[decoded_len] = '\0';
    if (memchr(decoded, '\0', decoded_len) || !mfd_utf8_valid((const char *)decoded, decoded_len))
        return false;
    char *text = (char *)decoded;
    char *colon = strchr(text, ':');
    if (colon) {
        *colon = '\0';
        *password = colon + 1;
    } else {
        *password = "";
    }
    *username = text;
    return true;
}

void mfd_auth_refuse_unauthenticated(mfd_request *req, mfd_response *res) {
    mfd_response_text(req, res, 401, "text/html; charset=utf-8", unauthenticated_text);
    mfd_response_header(res, "WWW-Authenticate", "Basic realm=\"mlflow\"");
}

void mfd_auth_refuse_forbidden(mfd_request *req, mfd_response *res) {
    mfd_response_text(req, res, 403, "text/html; charset=utf-8", "Permission denied");
}

void mfd_auth_refuse_error(mfd_request *req, mfd_response *res, mfd_err err) {
    (void)req;
    json_decref(res->json);
    res->json = json_object();
    json_object_set_new(res->json, "error_code", json_string(mfd_code_name(err->code)));
    json_object_set_new(res->json, "message", json_string(err->message));
    res->status = mfd_code_http_status(err->code);
    res->content_type = "application/json";
    mfd_err_free(err);
}
