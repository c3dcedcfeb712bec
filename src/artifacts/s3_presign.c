/* s3_presign.c — presigned S3 URLs (SigV4 query-string signing): a URL that
 * lets whoever holds it send one kind of request to one object for a while,
 * without credentials. The proxied multipart upload hands the client one
 * per part, as MLflow's S3 repository does with boto3's
 * generate_presigned_url.
 *
 * libcurl signs the requests it sends (CURLOPT_AWS_SIGV4) but cannot
 * presign, so the few steps of the algorithm are here, over OpenSSL's
 * SHA-256 and HMAC. As boto3 does: only the host header is signed, the
 * payload is UNSIGNED-PAYLOAD, a session token travels (signed) as
 * X-Amz-Security-Token, and a scheme's default port is left out of the
 * signed host. The URL itself comes from mfd_s3_url(), whose path and query
 * are already in canonical form. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/digest.h"
#include "core/escape.h"
#include "s3_internal.h"

enum { MAX_EXTRA = 6 };

/* out may be the key: the MAC is written aside first. */
static void hmac(const unsigned char *key, size_t key_len, const char *data,
                 unsigned char out[32]) {
    unsigned char mac[32];
    unsigned int len = sizeof mac;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), mac, &len);
    memcpy(out, mac, sizeof mac);
    OPENSSL_cleanse(mac, sizeof mac);
}

/* The Host header a client sends for `url`: its authority, without the
 * scheme's default port (as botocore signs it). */
static const char *host_of(mfd_arena *arena, const char *url) {
    bool https = !strncmp(url, "https://", 8);
    const char *start = strstr(url, "://") + 3;
    size_t len = strcspn(start, "/?");
    const char *default_port = https ? ":443" : ":80";
    size_t port_len = strlen(default_port);
    if (len > port_len && !memcmp(start + len - port_len, default_port, port_len))
        len -= port_len;
    return mfd_arena_strndup(arena, start, len);
}

const char *mfd_s3_presign(mfd_arena *arena, const mfd_s3_settings *s, const char *method,
                           const char *bucket, const char *key, const mfd_s3_param *query,
                           size_t n_query, long expires, time_t now) {
    mfd_s3_param *params = mfd_arena_calloc(arena, n_query + MAX_EXTRA, sizeof *params);
    if (n_query) /* query may be NULL then */
        memcpy(params, query, n_query * sizeof *query);
    if (!s->access_key) /* no credentials: requests are not signed at all */
        return mfd_s3_url(arena, s, bucket, key, params, n_query);
    char date[17], day[9];
    if (s->fixed_date) {
        snprintf(date, sizeof date, "%s", s->fixed_date);
    } else {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
    }
    snprintf(day, sizeof day, "%.8s", date);
    const char *scope =
        mfd_arena_sprintf(arena, "%s/%s/%s/aws4_request", day, s->region, s->service);
    size_t n = n_query;
    params[n++] = (mfd_s3_param){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
    params[n++] =
        (mfd_s3_param){"X-Amz-Credential", mfd_arena_sprintf(arena, "%s/%s", s->access_key, scope)};
    params[n++] = (mfd_s3_param){"X-Amz-Date", mfd_arena_strdup(arena, date)};
    params[n++] = (mfd_s3_param){"X-Amz-Expires", mfd_arena_sprintf(arena, "%ld", expires)};
    params[n++] = (mfd_s3_param){"X-Amz-SignedHeaders", "host"};
    if (s->session_token)
        params[n++] = (mfd_s3_param){"X-Amz-Security-Token", s->session_token};
    const char *url = mfd_s3_url(arena, s, bucket, key, params, n);

    const char *authority = strstr(url, "://") + 3;
    const char *path = authority + strcspn(authority, "/");
    size_t path_len = strcspn(path, "?");
    const char *canonical_query = path[path_len] ? path + path_len + 1 : "";
    const char *canonical =
        mfd_arena_sprintf(arena, "%s\n%.*s\n%s\nhost:%s\n\nhost\n%s", method, (int)path_len, path,
                          canonical_query, host_of(arena, url), MFD_S3_UNSIGNED_PAYLOAD);
    unsigned char k[32];
    char digest_hex[65], signature[65];
    mfd_sha256_hex(canonical, strlen(canonical), digest_hex);
    const char *to_sign =
        mfd_arena_sprintf(arena, "AWS4-HMAC-SHA256\n%s\n%s\n%s", date, scope, digest_hex);
    const char *secret = mfd_arena_sprintf(arena, "AWS4%s", s->secret_key);
    hmac((const unsigned char *)secret, strlen(secret), day, k);
    hmac(k, sizeof k, s->region, k);
    hmac(k, sizeof k, s->service, k);
    hmac(k, sizeof k, "aws4_request", k);
    hmac(k, sizeof k, to_sign, k);
    mfd_hex_encode(k, sizeof k, signature);
    OPENSSL_cleanse(k, sizeof k);
    return mfd_arena_sprintf(arena, "%s&X-Amz-Signature=%s", url, signature);
}
