/* init_bucket.c — `mlflowd admin init-bucket`: make sure the S3 bucket of the
 * artifacts destination exists, and with --minio-user a MinIO user that may
 * use that bucket alone (what the legacy `inits3` chart did; sso-and-deploy.md
 * §4.4 `artifacts.s3.createBucket`).
 *
 * Same S3 settings as the server (MLFLOW_S3_ENDPOINT_URL, AWS_*), requests
 * signed with SigV4 by libcurl (CURLOPT_AWS_SIGV4). HeadBucket first; only a
 * 404 leads to CreateBucket, and BucketAlreadyOwnedByYou counts as there.
 * The MinIO user, its policy and the attachment go through MinIO's admin
 * API (minio_admin.c) after the bucket, with an admin's keys (default: the
 * S3 ones). Every setting is checked before the first request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "config/config.h"

typedef struct s3_env {
    const char *endpoint; /* MLFLOW_S3_ENDPOINT_URL; NULL = AWS */
    mfd_admin_s3 s3;
} s3_env;

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Why S3 would refuse to create a bucket of this name (its naming rules for
 * general purpose buckets, which MinIO shares), or NULL: better said here
 * than as CreateBucket's bare 400. Existing buckets are not checked this way
 * (s3_client.c accepts older names). */
static const char *bucket_name_problem(const char *b, size_t len) {
    if (len < 3 || len > 63)
        return "it must be 3 to 63 characters long";
    for (size_t i = 0; i < len; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
              b[i] == '.'))
            return "it may hold only a-z, 0-9, '-' and '.'";
    /* Dot-separated labels that start and end with a letter or digit, as DNS
     * names must for virtual-hosted addressing. */
    for (size_t i = 0; i < len; i++) {
        bool edge = i == 0 || i == len - 1 || b[i - 1] == '.' || b[i + 1] == '.';
        if (edge && (b[i] == '-' || b[i] == '.'))
            return "each of its dot-separated parts must start and end with a letter or digit";
    }
    unsigned a, c, d, e;
    char rest;
    if (sscanf(b, "%3u.%3u.%3u.%3u%c", &a, &c, &d, &e, &rest) == 4 &&
        strspn(b, "0123456789.") == len)
        return "it must not look like an IP address";
    static const char *const prefixes[] = {"xn--", "sthree-", "amzn-s3-demo-"};
    static const char *const suffixes[] = {"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (strncmp(b, prefixes[i], strlen(prefixes[i])) == 0)
            return "S3 reserves its prefix";
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t n = strlen(suffixes[i]);
        if (len >= n && strncmp(b + len - n, suffixes[i], n) == 0)
            return "S3 reserves its suffix";
    }
    return NULL;
}

static mfd_err parse_destination(mfd_arena *arena, const char *destination, const char **bucket) {
    if (strncmp(destination, "s3://", 5) != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "the artifacts destination '%s' is not s3://bucket[/prefix]: give "
                           "--destination or MLFLOW_ARTIFACTS_DESTINATION",
                           destination);
    const char *b = destination + 5;
    size_t len = strcspn(b, "/");
    *bucket = mfd_arena_strndup(arena, b, len);
    const char *problem = bucket_name_problem(*bucket, len);
    if (problem)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "'%s' is not a valid S3 bucket name: %s",
                           *bucket, problem);
    return NULL;
}

static const char *bucket_url(mfd_arena *arena, const s3_env *s, const char *bucket) {
    if (s->endpoint) {
        size_t len = strlen(s->endpoint);
        while (len > 0 && s->endpoint[len - 1] == '/')
            len--;
        return mfd_arena_sprintf(arena, "%.*s/%s", (int)len, s->endpoint, bucket);
    }
    if (!strcmp(s->s3.region, "us-east-1"))
        return mfd_arena_sprintf(arena, "https://%s.s3.amazonaws.com/", bucket);
    return mfd_arena_sprintf(arena, "https://%s.s3.%s.amazonaws.com/", bucket, s->s3.region);
}

static mfd_err s3_call(mfd_arena *arena, const s3_env *s, const char *method, const char *url,
                       const char *body, mfd_http_answer *answer) {
    return mfd_http_perform_s3(arena, &s->s3, method, url, body ? "application/xml" : NULL, body,
                               body ? strlen(body) : 0, answer);
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
    const char *body = strcmp(s->s3.region, "us-east-1") != 0
                           ? mfd_arena_sprintf(arena,
                                               "<CreateBucketConfiguration "
                                               "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                                               "<LocationConstraint>%s</LocationConstraint>"
                                               "</CreateBucketConfiguration>",
                                               s->s3.region)
                           : NULL;
    if ((err = s3_call(arena, s, "PUT", url, body, &answer)))
        return err;
    const char *code = mfd_http_s3_code(arena, answer.body);
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

/* What MinIO accepts (auth.IsAccessKeyValid / IsSecretKeyValid, policy
 * names without ',' or surrounding spaces), checked here so that a typo is
 * named by its flag before anything is created. */
static mfd_err check_minio_settings(mfd_arena *arena, mfd_minio_grant *g, const char *bucket) {
    if (!g->admin_url)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--minio-user needs the MinIO server: give --minio-admin-url "
                           "(MLFLOWD_MINIO_ADMIN_URL) or MLFLOW_S3_ENDPOINT_URL");
    if ((strncasecmp(g->admin_url, "http://", 7) && strncasecmp(g->admin_url, "https://", 8)) ||
        strpbrk(g->admin_url, "?# \t\r\n"))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--minio-admin-url '%s' is not an http:// or https:// URL",
                           g->admin_url);
    if (!g->admin.access_key || !g->admin.secret_key || !*g->admin.secret_key)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "the MinIO admin API needs an admin's keys: set "
                           "MLFLOWD_MINIO_ADMIN_ACCESS_KEY and MLFLOWD_MINIO_ADMIN_SECRET_KEY (or "
                           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
    size_t user_len = strlen(g->user);
    if (user_len < 3 || user_len > 128 || strpbrk(g->user, "=,: /\t\r\n"))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--minio-user '%s' is not a MinIO access key: 3 to 128 characters, "
                           "no '=', ',', ':', '/' or spaces",
                           g->user);
    if (!strcmp(g->user, g->admin.access_key))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--minio-user '%s' is the admin's own access key: give the access key "
                           "of a new user for the server",
                           g->user);
    size_t secret_len = g->user_secret ? strlen(g->user_secret) : 0;
    if (secret_len < 8 || secret_len > 40)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--minio-user needs its secret key, 8 to 40 characters, in "
                           "MLFLOWD_MINIO_USER_SECRET_KEY%s",
                           secret_len ? " (the one given has another length)" : "");
    if (!g->policy)
        g->policy = mfd_arena_sprintf(arena, "mlflowd-%s", bucket);
    size_t policy_len = strlen(g->policy);
    if (policy_len == 0 || policy_len > 128 ||
        strspn(g->policy, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@+") !=
            policy_len)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--minio-policy '%s' is not a policy name: 1 to 128 letters, digits, "
                           "'-', '_', '.', '@' or '+'",
                           g->policy);
    g->bucket = bucket;
    return NULL;
}

static const char *nonempty(const char *s) {
    return s && *s ? s : NULL;
}

int mfd_admin_init_bucket(int argc, char **argv) {
    const char *destination =
        env_or("MLFLOW_ARTIFACTS_DESTINATION", env_or("MLFLOW_DEFAULT_ARTIFACT_ROOT", NULL));
    const char *admin_url = NULL, *admin_key = NULL, *admin_secret = NULL, *user = NULL,
               *user_secret = NULL, *policy = NULL;
    const mfd_cli_option options[] = {
        {"--destination", NULL, MFD_CLI_STRING, &destination,
         "s3://bucket[/prefix] whose bucket to create (MLFLOW_ARTIFACTS_DESTINATION, else "
         "MLFLOW_DEFAULT_ARTIFACT_ROOT)"},
        {"--minio-user", "MLFLOWD_MINIO_USER", MFD_CLI_STRING, &user,
         "also make this MinIO user (access key; its secret key in "
         "MLFLOWD_MINIO_USER_SECRET_KEY) with a policy for the bucket alone, through MinIO's "
         "admin API"},
        {"--minio-user-secret-key", "MLFLOWD_MINIO_USER_SECRET_KEY", MFD_CLI_STRING, &user_secret,
         NULL},
        {"--minio-policy", "MLFLOWD_MINIO_POLICY", MFD_CLI_STRING, &policy,
         "name of that policy (mlflowd-<bucket>)"},
        {"--minio-admin-url", "MLFLOWD_MINIO_ADMIN_URL", MFD_CLI_STRING, &admin_url,
         "the MinIO server holding the bucket (MLFLOW_S3_ENDPOINT_URL)"},
        {"--minio-admin-access-key", "MLFLOWD_MINIO_ADMIN_ACCESS_KEY", MFD_CLI_STRING, &admin_key,
         "a MinIO admin's access key (AWS_ACCESS_KEY_ID); its secret key in "
         "MLFLOWD_MINIO_ADMIN_SECRET_KEY (AWS_SECRET_ACCESS_KEY)"},
        {"--minio-admin-secret-key", "MLFLOWD_MINIO_ADMIN_SECRET_KEY", MFD_CLI_STRING,
         &admin_secret, NULL},
    };
    const mfd_cli cli = {
        "mlflowd admin init-bucket [--destination s3://bucket[/prefix]] [--minio-user KEY]",
        "Creates the S3 bucket if it does not exist. S3 settings as for mlflowd server: "
        "MLFLOW_S3_ENDPOINT_URL (MinIO, Ceph, ...), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "AWS_SESSION_TOKEN, AWS_DEFAULT_REGION, MLFLOW_S3_IGNORE_TLS, AWS_CA_BUNDLE. With "
        "--minio-user, also a MinIO policy granting the bucket, the user, and the policy "
        "attached to it (MinIO's admin API, signed with the admin's keys). Idempotent.",
        options, sizeof options / sizeof options[0]};
    bool stop;
    int rc = mfd_cli_parse(&cli, argc, argv, &stop);
    if (stop)
        return rc;
    if (!nonempty(destination)) {
        fprintf(stderr, "mlflowd admin init-bucket: --destination (or "
                        "MLFLOW_ARTIFACTS_DESTINATION, else MLFLOW_DEFAULT_ARTIFACT_ROOT) is "
                        "required\n");
        return 2;
    }
    const char *ignore_tls = env_or("MLFLOW_S3_IGNORE_TLS", NULL);
    bool insecure = false;
    if (ignore_tls && !mfd_config_mlflow_bool(ignore_tls, &insecure))
        return mfd_cli_fail(mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                        "MLFLOW_S3_IGNORE_TLS must be true or false (or 1, 0)"));
    mfd_arena *arena = mfd_arena_new();
    s3_env s = {
        .endpoint = env_or("MLFLOW_S3_ENDPOINT_URL", NULL),
        .s3 =
            {
                .region = env_or("AWS_DEFAULT_REGION", env_or("AWS_REGION", "us-east-1")),
                .access_key = env_or("AWS_ACCESS_KEY_ID", NULL),
                .secret_key = env_or("AWS_SECRET_ACCESS_KEY", ""),
                .session_token = env_or("AWS_SESSION_TOKEN", NULL),
                .ca_file = env_or("AWS_CA_BUNDLE", NULL),
                .insecure = insecure,
            },
    };
    /* The admin's keys default to the S3 ones (MinIO's root user creating
     * the bucket too); a session token goes only with those. */
    mfd_minio_grant grant = {
        .admin_url = nonempty(admin_url) ? admin_url : s.endpoint,
        .admin = s.s3,
        .policy = nonempty(policy),
        .user = nonempty(user),
        .user_secret = nonempty(user_secret),
    };
    if (nonempty(admin_key) || nonempty(admin_secret)) {
        grant.admin.access_key = nonempty(admin_key);
        grant.admin.secret_key = nonempty(admin_secret);
        grant.admin.session_token = NULL;
    }
    mfd_admin_report report = {.command = "init-bucket"};
    const char *bucket = NULL;
    mfd_err err = parse_destination(arena, destination, &bucket);
    if (!err && !grant.user && (nonempty(admin_url) || nonempty(policy)))
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                          "--minio-admin-url and --minio-policy need --minio-user "
                          "(MLFLOWD_MINIO_USER): the user to give the bucket to");
    if (!err && grant.user)
        err = check_minio_settings(arena, &grant, bucket);
    if (!err)
        err = ensure_bucket(arena, &s, bucket, &report);
    if (!err && grant.user)
        err = mfd_minio_grant_bucket(arena, &grant, &report);
    if (!err)
        mfd_admin_summary(&report);
    mfd_arena_free(arena);
    return err ? mfd_cli_fail(err) : 0;
}
