/* init_bucket.c — `mlflowd admin init-bucket`: make sure the S3 bucket of the
 * artifacts destination exists (what the legacy `inits3` chart did for the
 * bucket; sso-and-deploy.md §4.4 `artifacts.s3.createBucket`).
 *
 * Same S3 settings as the server (MLFLOW_S3_ENDPOINT_URL, AWS_*), requests
 * signed with SigV4 by libcurl (CURLOPT_AWS_SIGV4). HeadBucket first; only a
 * 404 leads to CreateBucket, and BucketAlreadyOwnedByYou counts as there.
 * MinIO users and policies need MinIO's own admin API and are left to
 * MinIO's tooling (`mc admin user add`, `mc admin policy attach`). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"

typedef struct s3_env {
    const char *endpoint, *region, *access_key, *secret_key, *session_token, *ca_file;
    bool insecure;
} s3_env;

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static const char *sha256_hex(mfd_arena *arena, const char *data, size_t len) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL);
    char *hex = mfd_arena_alloc(arena, 2 * n + 1);
    for (unsigned i = 0; i < n; i++)
        sprintf(hex + 2 * i, "%02x", digest[i]);
    hex[2 * n] = '\0';
    return hex;
}

static mfd_err parse_destination(mfd_arena *arena, const char *destination, const char **bucket) {
    if (!destination || strncmp(destination, "s3://", 5) != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "the artifacts destination '%s' is not s3://bucket[/prefix]: give "
                           "--destination or MLFLOW_ARTIFACTS_DESTINATION",
                           destination ? destination : "(unset)");
    const char *b = destination + 5;
    size_t len = strcspn(b, "/");
    bool ok = len >= 3 && len <= 63;
    for (size_t i = 0; ok && i < len; i++)
        ok = (b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
             b[i] == '.';
    if (!ok)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "'%.*s' is not a valid S3 bucket name (3-63 of a-z, 0-9, '-', '.')",
                           (int)len, b);
    *bucket = mfd_arena_strndup(arena, b, len);
    return NULL;
}

static const char *bucket_url(mfd_arena *arena, const s3_env *s, const char *bucket) {
    if (s->endpoint) {
        size_t len = strlen(s->endpoint);
        while (len > 0 && s->endpoint[len - 1] == '/')
            len--;
        return mfd_arena_sprintf(arena, "%.*s/%s", (int)len, s->endpoint, bucket);
    }
    if (!strcmp(s->region, "us-east-1"))
        return mfd_arena_sprintf(arena, "https://%s.s3.amazonaws.com/", bucket);
    return mfd_arena_sprintf(arena, "https://%s.s3.%s.amazonaws.com/", bucket, s->region);
}

static mfd_err s3_call(mfd_arena *arena, const s3_env *s, const char *method, const char *url,
                       const char *body, mfd_http_answer *answer) {
    size_t len = body ? strlen(body) : 0;
    mfd_http_call call = {
        .method = method,
        .url = url,
        .body = body,
        .body_len = len,
        .content_type = body ? "application/xml" : NULL,
        .payload_sha256 = sha256_hex(arena, body ? body : "", len),
        .extra_header = s->session_token
                            ? mfd_arena_sprintf(arena, "x-amz-security-token: %s", s->session_token)
                            : NULL,
        .ca_file = s->ca_file,
        .insecure = s->insecure,
    };
    if (s->access_key) {
        call.aws_sigv4 = mfd_arena_sprintf(arena, "aws:amz:%s:s3", s->region);
        call.aws_user = mfd_arena_sprintf(arena, "%s:%s", s->access_key, s->secret_key);
    }
    return mfd_http_perform(arena, &call, answer);
}

/* S3's <Code> of an error answer ("" when none). */
static const char *s3_code(mfd_arena *arena, const char *body) {
    const char *start = strstr(body, "<Code>");
    const char *end = start ? strstr(start, "</Code>") : NULL;
    if (!start || !end)
        return "";
    start += strlen("<Code>");
    return mfd_arena_strndup(arena, start, (size_t)(end - start));
}

static mfd_err ensure_bucket(mfd_arena *arena, const s3_env *s, const char *bucket,
                             mfd_admin_report *report) {
    const char *url = bucket_url(arena, s, bucket);
    mfd_http_answer answer;
    mfd_err err = s3_call(arena, s, "HEAD", url, NULL, &answer);
    if (err)
        return err;
    if (answer.status == 200) {
        mfd_admin_note(report, MFD_UNCHANGED, "bucket \"%s\"", bucket);
        return NULL;
    }
    if (answer.status == 403)
        return mfd_err_new(MFD_PERMISSION_DENIED,
                           "bucket \"%s\": HeadBucket answered 403: it belongs to another account "
                           "or these credentials may not use it",
                           bucket);
    if (answer.status != 404)
        return mfd_err_new(MFD_INTERNAL_ERROR, "bucket \"%s\": HeadBucket answered %ld", bucket,
                           answer.status);
    const char *body = strcmp(s->region, "us-east-1") != 0
                           ? mfd_arena_sprintf(arena,
                                               "<CreateBucketConfiguration "
                                               "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                                               "<LocationConstraint>%s</LocationConstraint>"
                                               "</CreateBucketConfiguration>",
                                               s->region)
                           : NULL;
    if ((err = s3_call(arena, s, "PUT", url, body, &answer)))
        return err;
    const char *code = s3_code(arena, answer.body);
    if (answer.status == 200) {
        mfd_admin_note(report, MFD_CREATED, "bucket \"%s\"", bucket);
        return NULL;
    }
    if (answer.status == 409 && !strcmp(code, "BucketAlreadyOwnedByYou")) {
        mfd_admin_note(report, MFD_UNCHANGED, "bucket \"%s\"", bucket);
        return NULL;
    }
    return mfd_err_new(MFD_INTERNAL_ERROR, "bucket \"%s\": CreateBucket answered %ld %s", bucket,
                       answer.status, *code ? code : answer.body);
}

int mfd_admin_init_bucket(int argc, char **argv) {
    const char *destination =
        env_or("MLFLOW_ARTIFACTS_DESTINATION", env_or("MLFLOW_DEFAULT_ARTIFACT_ROOT", NULL));
    const mfd_cli_option options[] = {
        {"--destination", NULL, MFD_CLI_STRING, &destination,
         "s3://bucket[/prefix] whose bucket to create (MLFLOW_ARTIFACTS_DESTINATION, else "
         "MLFLOW_DEFAULT_ARTIFACT_ROOT)"},
    };
    const mfd_cli cli = {
        "mlflowd admin init-bucket [--destination s3://bucket[/prefix]]",
        "Creates the S3 bucket if it does not exist. S3 settings as for mlflowd server: "
        "MLFLOW_S3_ENDPOINT_URL (MinIO, Ceph, ...), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "AWS_SESSION_TOKEN, AWS_DEFAULT_REGION, MLFLOW_S3_IGNORE_TLS, AWS_CA_BUNDLE. Idempotent.",
        options, sizeof options / sizeof options[0]};
    bool stop;
    int rc = mfd_cli_parse(&cli, argc, argv, &stop);
    if (stop)
        return rc;
    mfd_arena *arena = mfd_arena_new();
    const char *ignore_tls = env_or("MLFLOW_S3_IGNORE_TLS", "false");
    s3_env s = {
        .endpoint = env_or("MLFLOW_S3_ENDPOINT_URL", NULL),
        .region = env_or("AWS_DEFAULT_REGION", env_or("AWS_REGION", "us-east-1")),
        .access_key = env_or("AWS_ACCESS_KEY_ID", NULL),
        .secret_key = env_or("AWS_SECRET_ACCESS_KEY", ""),
        .session_token = env_or("AWS_SESSION_TOKEN", NULL),
        .ca_file = env_or("AWS_CA_BUNDLE", NULL),
        .insecure = !strcasecmp(ignore_tls, "true") || !strcmp(ignore_tls, "1"),
    };
    mfd_admin_report report = {.command = "init-bucket"};
    const char *bucket = NULL;
    mfd_err err = parse_destination(arena, destination, &bucket);
    if (!err)
        err = ensure_bucket(arena, &s, bucket, &report);
    if (!err)
        mfd_admin_summary(&report);
    mfd_arena_free(arena);
    return err ? mfd_cli_fail(err) : 0;
}
