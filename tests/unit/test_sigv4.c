/* SigV4 signing of the S3 client (src/artifacts/s3_client.c) against AWS's
 * published examples. The S3 test server (s3rver) does not check
 * signatures (sso-and-deploy.md §6.3), so this is where they are proved.
 *
 * libcurl signs (CURLOPT_AWS_SIGV4); what is tested is the request that the
 * client's own set-up (mfd_s3_prepare, mfd_s3_url) makes libcurl send: each
 * request goes to a one-shot listener on 127.0.0.1 (CURLOPT_CONNECT_TO keeps
 * the Host of the example), and the Authorization header it received is
 * compared with AWS's. The date is fixed through the x-amz-date header.
 *
 * Expected values, copied from their sources:
 *   - AWS Signature Version 4 test suite ("aws-sig-v4-test-suite", AWS General
 *     Reference; also in botocore tests/unit/auth/aws4_testsuite):
 *     get-vanilla, get-vanilla-query-order-key-case, post-vanilla (.creq,
 *     .authz). Key AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
 *     us-east-1, service "service", 20150830T123600Z.
 *   - Amazon S3 API Reference, "Signature Calculations for the Authorization
 *     Header: Transferring Payload in a Single Chunk (AWS Signature Version
 *     4)": GET Object, PUT Object, GET Bucket (List Objects). Key
 *     AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY,
 *     us-east-1, 20130524T000000Z.
 *   - Amazon S3 API Reference, "Authenticating Requests: Using Query
 *     Parameters (AWS Signature Version 4)": the presigned GET Object URL
 *     (s3_presign.c signs those itself; libcurl cannot presign).
 * Cases AWS publishes no example for (UNSIGNED-PAYLOAD, a session token,
 * %-encoded UTF-8 keys, ListObjectsV2 queries) are checked against a
 * reference signer written here from the SigV4 steps, which first has to
 * reproduce the published examples from their canonical requests. */
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "artifacts/s3_internal.h"
#include "core/escape.h"
#include "test.h"

static const char SUITE_KEY[] = "AKIDEXAMPLE";
static const char SUITE_SECRET[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
static const char S3_KEY[] = "AKIAIOSFODNN7EXAMPLE";
static const char S3_SECRET[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/* --- a one-shot HTTP listener that keeps the request head -------------- */

typedef struct listener {
    int fd;
    char head[16384];
} listener;

static void *serve_one(void *arg) {
    listener *l = arg;
    int c = accept(l->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof l->head - 1) {
        ssize_t n = read(c, l->head + len, sizeof l->head - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        l->head[len] = '\0';
        end = strstr(l->head, "\r\n\r\n");
    }
    if (end) {
        size_t body = len - (size_t)(end + 4 - l->head);
        const char *cl = strcasestr(l->head, "\r\nContent-Length:");
        size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
        if (strcasestr(l->head, "\r\nExpect: 100-continue"))
            (void)!write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        char sink[4096];
        while (body < want) {
            ssize_t n = read(c, sink, sizeof sink);
            if (n <= 0)
                break;
            body += (size_t)n;
        }
        end[2] = '\0';
    }
    static const char answer[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!write(c, answer, sizeof answer - 1);
    close(c);
    return NULL;
}

/* Sends the request set up on `curl` to a local listener; returns the
 * Authorization header it received, in `arena` ("" when none). */
static const char *authorization_sent(mfd_arena *arena, CURL *curl) {
    listener *l = calloc(1, sizeof *l);
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t addr_len = sizeof addr;
    CHECK(bind(l->fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(listen(l->fd, 1) == 0);
    getsockname(l->fd, (struct sockaddr *)&addr, &addr_len);
    pthread_t thread;
    pthread_create(&thread, NULL, serve_one, l);
    char target[64];
    snprintf(target, sizeof target, "::127.0.0.1:%d", ntohs(addr.sin_port));
    struct curl_slist *connect_to = curl_slist_append(NULL, target);
    curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to);
    CURLcode rc = curl_easy_perform(curl);
    CHECK_INT(rc, CURLE_OK);
    pthread_join(thread, NULL);
    close(l->fd);
    curl_slist_free_all(connect_to);
    const char *auth = strcasestr(l->head, "\r\nAuthorization: ");
    const char *out = auth ? mfd_arena_strndup(arena, auth + 17, strcspn(auth + 17, "\r\n")) : "";
    free(l);
    return out;
}

typedef struct body_source {
    const char *data;
    size_t left;
} body_source;

static size_t read_body(char *buf, size_t size, size_t count, void *userdata) {
    body_source *src = userdata;
    size_t n = size * count < src->left ? size * count : src->left;
    memcpy(buf, src->data, n);
    src->data += n;
    src->left -= n;
    return n;
}

typedef struct signed_request {
    const char *method, *url, *payload_hash;
    const char *extra[4];
    const char *body; /* for PUT and POST */
} signed_request;

/* Prepares `r` with mfd_s3_prepare() and returns the Authorization sent. */
static const char *sign(mfd_arena *arena, const mfd_s3_settings *s, const signed_request *r) {
    CURL *curl = mfd_s3_handle();
    struct curl_slist *headers = NULL;
    mfd_err err = mfd_s3_prepare(curl, s, r->method, r->url, r->payload_hash, r->extra, &headers);
    CHECK(err == NULL);
    mfd_err_free(err);
    body_source src = {r->body ? r->body : "", r->body ? strlen(r->body) : 0};
    if (!strcmp(r->method, "PUT")) {
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(curl, CURLOPT_READDATA, &src);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)src.left);
    } else if (!strcmp(r->method, "POST")) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, src.data);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)src.left);
    }
    const char *auth = authorization_sent(arena, curl);
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    return auth;
}

/* An https URL of the examples, sent as http to the plain listener (the
 * scheme is not signed). */
static const char *plain_http(mfd_arena *arena, const char *url) {
    CHECK(strncmp(url, "https://", 8) == 0);
    return mfd_arena_sprintf(arena, "http://%s", url + 8);
}

static mfd_s3_settings suite_settings(void) {
    return (mfd_s3_settings){.region = "us-east-1",
                             .access_key = SUITE_KEY,
                             .secret_key = SUITE_SECRET,
                             .verify_tls = true,
                             .service = "service",
                             .fixed_date = "20150830T123600Z"};
}

static mfd_s3_settings s3_example_settings(void) {
    return (mfd_s3_settings){.region = "us-east-1",
                             .access_key = S3_KEY,
                             .secret_key = S3_SECRET,
                             .verify_tls = true,
                             .service = "s3",
                             .fixed_date = "20130524T000000Z"};
}

/* --- the AWS SigV4 test suite ------------------------------------------ */

static void test_suite_get_vanilla(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings s = suite_settings();
    signed_request r = {.method = "GET", .url = "http://example.amazonaws.com/"};
    CHECK_STR(sign(a, &s, &r),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    mfd_arena_free(a);
}

/* The suite sends Param2=value2&Param1=value1; libcurl 7.88 signs the query
 * as written, which is why mfd_s3_url() writes it sorted (checked below). */
static void test_suite_get_vanilla_query_order_key_case(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings s = suite_settings();
    signed_request r = {.method = "GET",
                        .url = "http://example.amazonaws.com/?Param1=value1&Param2=value2"};
    CHECK_STR(sign(a, &s, &r),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    mfd_arena_free(a);
}

static void test_suite_post_vanilla(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings s = suite_settings();
    signed_request r = {.method = "POST", .url = "http://example.amazonaws.com/"};
    CHECK_STR(sign(a, &s, &r),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
    mfd_arena_free(a);
}

/* --- the S3 examples, with the URLs mfd_s3_url() makes ----------------- */

static void test_s3_get_object(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings s = s3_example_settings();
    const char *url = mfd_s3_url(a, &s, "examplebucket", "test.txt", NULL, 0);
    CHECK_STR(url, "https://examplebucket.s3.amazonaws.com/test.txt");
    /* buckets whose name is no host name are addressed path-style, as botocore does */
    CHECK_STR(mfd_s3_url(a, &s, "My_Bucket", "k", NULL, 0),
              "https://s3.us-east-1.amazonaws.com/My_Bucket/k");
    CHECK_STR(mfd_s3_url(a, &s, "a.b.c", NULL, NULL, 0),
              "https://s3.us-east-1.amazonaws.com/a.b.c/");
    signed_request r = {.method = "GET",
                        .url = plain_http(a, url),
                        .payload_hash = MFD_S3_EMPTY_SHA256,
                        .extra = {"Range: bytes=0-9"}};
    CHECK_STR(
        sign(a, &s, &r),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    mfd_arena_free(a);
}

static void test_s3_put_object_with_an_encoded_key(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings s = s3_example_settings();
    const char *url = mfd_s3_url(a, &s, "examplebucket", "test$file.text", NULL, 0);
    CHECK_STR(url, "https://examplebucket.s3.amazonaws.com/test%24file.text");
    signed_request r = {
        .method = "PUT",
        .url = plain_http(a, url),
        .payload_hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        .extra = {"Date: Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class: REDUCED_REDUNDANCY"},
        .body = "Welcome to Amazon S3."};
    CHECK_STR(
        sign(a, &s, &r),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
        "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    mfd_arena_free(a);
}

static void test_s3_list_objects_query_is_sorted(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings s = s3_example_settings();
    mfd_s3_param query[] = {{"prefix", "J"}, {"max-keys", "2"}};
    const char *url = mfd_s3_url(a, &s, "examplebucket", NULL, query, 2);
    CHECK_STR(url, "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J");
    signed_request r = {
        .method = "GET", .url = plain_http(a, url), .payload_hash = MFD_S3_EMPTY_SHA256};
    CHECK_STR(
        sign(a, &s, &r),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    mfd_arena_free(a);
}

/* --- a reference signer for the cases without a published example ------ */

static void hmac(const unsigned char *key, size_t key_len, const char *data,
                 unsigned char out[32]) {
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out, &len);
}

static void hex(const unsigned char *bytes, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

/* The signature of `canonical_request` (SigV4 steps 2-4). */
static const char *reference_signature(mfd_arena *arena, const char *canonical_request,
                                       const char *secret, const char *date, const char *region,
                                       const char *service) {
    unsigned char digest[32], k[32];
    unsigned int len = 32;
    char digest_hex[65], day[9];
    EVP_Digest(canonical_request, strlen(canonical_request), digest, &len, EVP_sha256(), NULL);
    hex(digest, 32, digest_hex);
    snprintf(day, sizeof day, "%.8s", date);
    const char *string_to_sign =
        mfd_arena_sprintf(arena, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", date, day,
                          region, service, digest_hex);
    const char *secret_key = mfd_arena_sprintf(arena, "AWS4%s", secret);
    hmac((const unsigned char *)secret_key, strlen(secret_key), day, k);
    hmac(k, 32, region, k);
    hmac(k, 32, service, k);
    hmac(k, 32, "aws4_request", k);
    hmac(k, 32, string_to_sign, k);
    char *out = mfd_arena_alloc(arena, 65);
    hex(k, 32, out);
    return out;
}

static void test_reference_signer_reproduces_the_examples(void) {
    mfd_arena *a = mfd_arena_new();
    /* get-vanilla.creq */
    CHECK_STR(
        reference_signature(a,
                            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z"
                            "\n\nhost;x-amz-date\n" MFD_S3_EMPTY_SHA256,
                            SUITE_SECRET, "20150830T123600Z", "us-east-1", "service"),
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    /* The S3 GET Object example's canonical request. */
    CHECK_STR(
        reference_signature(a,
                            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n"
                            "range:bytes=0-9\nx-amz-content-sha256:" MFD_S3_EMPTY_SHA256
                            "\nx-amz-date:20130524T000000Z\n\n"
                            "host;range;x-amz-content-sha256;x-amz-date\n" MFD_S3_EMPTY_SHA256,
                            S3_SECRET, "20130524T000000Z", "us-east-1", "s3"),
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    mfd_arena_free(a);
}

/* What s3_upload.c sends to MinIO: path-style, UNSIGNED-PAYLOAD, a session
 * token, a key with spaces, '+' and UTF-8, another region. */
static void test_streamed_put_with_a_session_token(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings s = {.endpoint = "http://minio.test:9000",
                         .region = "eu-west-1",
                         .access_key = "AKIDTEST",
                         .secret_key = "secret/with+chars",
                         .session_token = "FQoGZXIvYXdzEJr//////////token=",
                         .verify_tls = true,
                         .service = "s3",
                         .fixed_date = "20240102T030405Z"};
    const char *url = mfd_s3_url(a, &s, "mlflow", "1/run id/a+b \xe6\x97\xa5.txt", NULL, 0);
    CHECK_STR(url, "http://minio.test:9000/mlflow/1/run%20id/a%2Bb%20%E6%97%A5.txt");
    signed_request r = {.method = "PUT",
                        .url = url,
                        .payload_hash = MFD_S3_UNSIGNED_PAYLOAD,
                        .extra = {"Content-Type: text/plain"},
                        .body = "streamed body"};
    const char *canonical =
        "PUT\n/mlflow/1/run%20id/a%2Bb%20%E6%97%A5.txt\n\n"
        "content-type:text/plain\nhost:minio.test:9000\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"
        "x-amz-date:20240102T030405Z\nx-amz-security-token:FQoGZXIvYXdzEJr//////////token=\n\n"
        "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token\nUNSIGNED-PAYLOAD";
    CHECK_STR(sign(a, &s, &r),
              mfd_arena_sprintf(
                  a,
                  "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240102/eu-west-1/s3/aws4_request, "
                  "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;"
                  "x-amz-security-token, Signature=%s",
                  reference_signature(a, canonical, s.secret_key, s.fixed_date, s.region, "s3")));
    mfd_arena_free(a);
}

/* ListObjectsV2 as s3.c sends it: values with '/', '+', '=' and spaces. */
static void test_list_objects_v2_query(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings s = {.endpoint = "http://127.0.0.1:4568",
                         .region = "us-east-1",
                         .access_key = "S3RVER",
                         .secret_key = "S3RVER",
                         .verify_tls = true,
                         .service = "s3",
                         .fixed_date = "20240102T030405Z"};
    mfd_s3_param query[] = {{"prefix", "pre fix/a+b/"},
                            {"list-type", "2"},
                            {"delimiter", "/"},
                            {"continuation-token", "1/abc+d=="}};
    const char *url = mfd_s3_url(a, &s, "mlflow", NULL, query, 4);
    const char *canonical_query = "continuation-token=1%2Fabc%2Bd%3D%3D&delimiter=%2F&list-type=2&"
                                  "prefix=pre%20fix%2Fa%2Bb%2F";
    CHECK_STR(url, mfd_arena_sprintf(a, "http://127.0.0.1:4568/mlflow/?%s", canonical_query));
    signed_request r = {.method = "GET", .url = url, .payload_hash = MFD_S3_EMPTY_SHA256};
    const char *canonical = mfd_arena_sprintf(
        a,
        "GET\n/mlflow/\n%s\nhost:127.0.0.1:4568\nx-amz-content-sha256:" MFD_S3_EMPTY_SHA256
        "\nx-amz-date:20240102T030405Z\n\nhost;x-amz-content-sha256;x-amz-"
        "date\n" MFD_S3_EMPTY_SHA256,
        canonical_query);
    CHECK_STR(sign(a, &s, &r),
              mfd_arena_sprintf(
                  a,
                  "AWS4-HMAC-SHA256 Credential=S3RVER/20240102/us-east-1/s3/"
                  "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                  "Signature=%s",
                  reference_signature(a, canonical, "S3RVER", s.fixed_date, "us-east-1", "s3")));
    mfd_arena_free(a);
}

/* --- presigned URLs (s3_presign.c) ---------------------------------------- */

/* Amazon S3 API Reference, "Authenticating Requests: Using Query Parameters
 * (AWS Signature Version 4)": GET examplebucket/test.txt, valid 86400 s. */
static void test_presigned_get_object_example(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings s = {.region = "us-east-1",
                         .access_key = S3_KEY,
                         .secret_key = S3_SECRET,
                         .service = "s3",
                         .fixed_date = "20130524T000000Z"};
    CHECK_STR(mfd_s3_presign(a, &s, "GET", "examplebucket", "test.txt", NULL, 0, 86400, 0),
              "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
              "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
              "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
              "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    mfd_arena_free(a);
}

/* A part of a proxied multipart upload to MinIO: path-style, an encoded key,
 * the upload's own query, a session token (signed in the query), and the
 * endpoint's port in the signed host — but not a scheme's default port. */
static void test_presigned_upload_part(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings s = {.endpoint = "http://minio.test:9000",
                         .region = "eu-west-1",
                         .access_key = "AKIDTEST",
                         .secret_key = "secret/with+chars",
                         .session_token = "FQoG/token=",
                         .service = "s3",
                         .fixed_date = "20240102T030405Z"};
    mfd_s3_param query[] = {{"uploadId", "u/1+2"}, {"partNumber", "7"}};
    const char *url = mfd_s3_presign(a, &s, "PUT", "mlflow", "1/r/big file.bin", query, 2, 3600, 0);
    const char *canonical_query =
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTEST%2F20240102%2Feu-west-1%2Fs3%2F"
        "aws4_request&X-Amz-Date=20240102T030405Z&X-Amz-Expires=3600&X-Amz-Security-Token=FQoG%"
        "2Ftoken%3D&X-Amz-SignedHeaders=host&partNumber=7&uploadId=u%2F1%2B2";
    const char *canonical = mfd_arena_sprintf(
        a, "PUT\n/mlflow/1/r/big%%20file.bin\n%s\nhost:minio.test:9000\n\nhost\nUNSIGNED-PAYLOAD",
        canonical_query);
    CHECK_STR(url,
              mfd_arena_sprintf(
                  a, "http://minio.test:9000/mlflow/1/r/big%%20file.bin?%s&X-Amz-Signature=%s",
                  canonical_query,
                  reference_signature(a, canonical, s.secret_key, s.fixed_date, s.region, "s3")));
    CHECK_STR(query[0].name, "uploadId"); /* the caller's query is left as it was */

    s.endpoint = "http://minio.test:80";
    s.session_token = NULL;
    url = mfd_s3_presign(a, &s, "PUT", "mlflow", "k", NULL, 0, 60, 0);
    canonical_query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTEST%2F20240102%2F"
                      "eu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20240102T030405Z&X-Amz-Expires=60&"
                      "X-Amz-SignedHeaders=host";
    canonical = mfd_arena_sprintf(
        a, "PUT\n/mlflow/k\n%s\nhost:minio.test\n\nhost\nUNSIGNED-PAYLOAD", canonical_query);
    CHECK_STR(url,
              mfd_arena_sprintf(
                  a, "http://minio.test:80/mlflow/k?%s&X-Amz-Signature=%s", canonical_query,
                  reference_signature(a, canonical, s.secret_key, s.fixed_date, s.region, "s3")));
    mfd_arena_free(a);
}

/* The date is the clock's when none is fixed; without credentials the URL is
 * not signed at all. */
static void test_presigned_dates_and_no_credentials(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings s = {.endpoint = "http://127.0.0.1:4568",
                         .region = "us-east-1",
                         .access_key = "S3RVER",
                         .secret_key = "S3RVER",
                         .service = "s3"};
    const char *url = mfd_s3_presign(a, &s, "PUT", "mlflow", "k", NULL, 0, 3600, 1700000000);
    CHECK(strstr(url, "X-Amz-Date=20231114T221320Z&") != NULL);
    CHECK(strstr(url, "X-Amz-Credential=S3RVER%2F20231114%2Fus-east-1%2Fs3%2F") != NULL);
    s.access_key = s.secret_key = NULL;
    mfd_s3_param query[] = {{"partNumber", "1"}};
    CHECK_STR(mfd_s3_presign(a, &s, "PUT", "mlflow", "k", query, 1, 3600, 1700000000),
              "http://127.0.0.1:4568/mlflow/k?partNumber=1");
    mfd_arena_free(a);
}

/* --- URLs and locations -------------------------------------------------- */

static void test_urls(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_settings aws = {.region = "eu-central-1", .service = "s3"};
    CHECK_STR(mfd_s3_url(a, &aws, "bucket", "k/x.txt", NULL, 0),
              "https://bucket.s3.eu-central-1.amazonaws.com/k/x.txt");
    CHECK_STR(mfd_s3_url(a, &aws, "my.bucket", "k", NULL, 0),
              "https://s3.eu-central-1.amazonaws.com/my.bucket/k");
    mfd_s3_param uploads[] = {{"uploads", ""}};
    CHECK_STR(mfd_s3_url(a, &aws, "bucket", "k~_.-", uploads, 1),
              "https://bucket.s3.eu-central-1.amazonaws.com/k~_.-?uploads=");
    mfd_s3_settings minio = {.endpoint = "http://127.0.0.1:9000", .region = "us-east-1"};
    CHECK_STR(mfd_s3_url(a, &minio, "mlflow", "a/../%2e/#?", NULL, 0),
              "http://127.0.0.1:9000/mlflow/a/../%252e/%23%3F");
    mfd_arena_free(a);
}

static void check_location(const char *root, const char *bucket, const char *prefix,
                           const char *rel, const char *key) {
    mfd_arena *a = mfd_arena_new();
    mfd_s3_location loc;
    mfd_err err = mfd_s3_location_parse(a, root, &loc);
    CHECK(err == NULL);
    if (!err) {
        CHECK_STR(loc.bucket, bucket);
        CHECK_STR(loc.prefix, prefix);
        CHECK_STR(mfd_s3_key(a, &loc, rel), key);
    }
    mfd_err_free(err);
    mfd_arena_free(a);
}

static void test_locations(void) {
    check_location("s3://mlflow", "mlflow", "", "a/b.txt", "a/b.txt");
    check_location("s3://mlflow/", "mlflow", "", "", "");
    check_location("s3://mlflow/pre/fix/", "mlflow", "pre/fix", "a", "pre/fix/a");
    check_location("s3://mlflow//pre", "mlflow", "pre", "", "pre");
    mfd_arena *a = mfd_arena_new();
    mfd_s3_location loc;
    const char *bad[] = {
        "s3://",
        "s3://ab/x",
        "s3://bad bucket/x",
        "s3://b@d.host/x",
        "s3://a123456789a123456789a123456789a123456789a123456789a123456789abcd", /* 64 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mfd_err err = mfd_s3_location_parse(a, bad[i], &loc);
        CHECK(err != NULL);
        if (err)
            CHECK_INT(err->code, MFD_INVALID_PARAMETER_VALUE);
        mfd_err_free(err);
    }
    mfd_arena_free(a);
}

static void test_error_answers(void) {
    mfd_arena *a = mfd_arena_new();
    const char *xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code>"
                      "<Message>The specified key does not exist.</Message></Error>";
    mfd_err err = mfd_s3_error(a, 404, xml, strlen(xml), "Cannot read 'k'");
    CHECK_INT(err->code, MFD_RESOURCE_DOES_NOT_EXIST);
    CHECK_STR(err->message, "Cannot read 'k': S3 answered 404 NoSuchKey: The specified key does "
                            "not exist.");
    mfd_err_free(err);
    err = mfd_s3_error(a, 503, "not xml", 7, "x");
    CHECK_INT(err->code, MFD_TEMPORARILY_UNAVAILABLE);
    mfd_err_free(err);
    err = mfd_s3_error(a, 403, "", 0, "x");
    CHECK_INT(err->code, MFD_INTERNAL_ERROR);
    CHECK(strstr(err->message, "AWS_ACCESS_KEY_ID") != NULL);
    mfd_err_free(err);
    /* No entity of a DTD is expanded. */
    const char *hostile = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e SYSTEM "
                          "\"file:///etc/passwd\">]><Error><Code>&e;</Code></Error>";
    err = mfd_s3_error(a, 400, hostile, strlen(hostile), "x");
    CHECK(strstr(err->message, "root:") == NULL);
    mfd_err_free(err);
    CHECK_STR(mfd_markup_escape(a, "a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&#39;");
    mfd_arena_free(a);
}

static void test_shutdown(void) {
    mfd_artifact_s3_shutdown(); /* libcurl's global state, for the leak check */
}

MFD_TEST_MAIN(MFD_TEST(test_suite_get_vanilla),
              MFD_TEST(test_suite_get_vanilla_query_order_key_case),
              MFD_TEST(test_suite_post_vanilla), MFD_TEST(test_s3_get_object),
              MFD_TEST(test_s3_put_object_with_an_encoded_key),
              MFD_TEST(test_s3_list_objects_query_is_sorted),
              MFD_TEST(test_reference_signer_reproduces_the_examples),
              MFD_TEST(test_streamed_put_with_a_session_token),
              MFD_TEST(test_list_objects_v2_query), MFD_TEST(test_presigned_get_object_example),
              MFD_TEST(test_presigned_upload_part),
              MFD_TEST(test_presigned_dates_and_no_credentials), MFD_TEST(test_urls),
              MFD_TEST(test_locations), MFD_TEST(test_error_answers), MFD_TEST(test_shutdown))
