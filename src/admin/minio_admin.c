/* minio_admin.c — the MinIO half of `mlflowd admin init-bucket --minio-user`:
 * a canned policy that grants one bucket, a user, and that policy among the
 * user's, through MinIO's admin REST API v3 (the calls `mc admin policy
 * create`, `mc admin user add` and `mc admin policy attach` make).
 *
 * The API, as MinIO's cmd/admin-router.go and admin-handlers-users.go serve
 * it (v3 routes, present from 2020 releases to current ones):
 *   GET  /minio/admin/v3/info-canned-policy?name=P   policy JSON | 404 XMinioAdminNoSuchPolicy
 *   PUT  /minio/admin/v3/add-canned-policy?name=P    body: policy JSON (created or replaced)
 *   GET  /minio/admin/v3/user-info?accessKey=U       {"status","policyName":"a,b"} | 404
 *                                                    XMinioAdminNoSuchUser
 *   PUT  /minio/admin/v3/add-user?accessKey=U        body: madmin-encrypted
 *                                                    {"secretKey","status":"enabled"}
 *   PUT  /minio/admin/v3/set-user-or-group-policy?isGroup=false&policyName=a,b&userOrGroup=U
 *                                                    (sets the user's whole policy list)
 * Every request is signed with SigV4 for the service "s3" with the admin's
 * keys; errors come back as JSON {"Code","Message"}.
 *
 * Invariants kept here:
 *   - Look before writing: a second run with the same settings makes no
 *     write and reports everything unchanged.
 *   - The user's other policies are kept: ours is added to its list.
 *   - The secret key is never read back (MinIO does not return it): an
 *     existing user's key is proved by a GetBucketLocation on the bucket
 *     signed with it, and set again only when MinIO refuses that signature.
 *   - Secrets are never part of an error message. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

typedef struct minio {
    mfd_arena *arena;
    const mfd_minio_grant *g;
    const char *base; /* admin_url without a trailing '/' */
    mfd_admin_report *report;
} minio;

static mfd_err admin_request(minio *m, const char *method, const char *op, mfd_http_param *query,
                             size_t n_query, const char *content_type, const void *body,
                             size_t body_len, mfd_http_answer *answer) {
    const char *url = mfd_arena_sprintf(m->arena, "%s/minio/admin/v3/%s%s", m->base, op,
                                        mfd_http_query(m->arena, query, n_query));
    return mfd_http_perform_s3(m->arena, &m->g->admin, method, url, content_type, body, body_len,
                               answer);
}

/* MinIO's JSON error answer: its Code and Message ("" when absent). */
static void admin_error(minio *m, const mfd_http_answer *answer, const char **code,
                        const char **message) {
    json_t *json = mfd_http_json(answer);
    const char *c = json ? json_string_value(json_object_get(json, "Code")) : NULL;
    const char *msg = json ? json_string_value(json_object_get(json, "Message")) : NULL;
    *code = mfd_arena_strdup(m->arena, c ? c : "");
    *message = mfd_arena_strdup(m->arena, msg ? msg : "");
    json_decref(json);
}

/* The error for an answer that is not the expected one, with what to do. */
static mfd_err refused(minio *m, const char *op, const mfd_http_answer *answer) {
    const char *code, *message;
    admin_error(m, answer, &code, &message);
    const char *said = mfd_arena_sprintf(m->arena, "%ld%s%s%s%s", answer->status, *code ? " " : "",
                                         code, *message ? ": " : "", message);
    if (answer->status == 401 || answer->status == 403)
        return mfd_err_new(MFD_PERMISSION_DENIED,
                           "MinIO admin API at %s refused %s (%s): give a MinIO admin's keys (the "
                           "root user, or a user with the consoleAdmin policy) in "
                           "MLFLOWD_MINIO_ADMIN_ACCESS_KEY and MLFLOWD_MINIO_ADMIN_SECRET_KEY "
                           "(default AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                           m->base, op, said);
    if (answer->status == 404 && !*code)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "%s answered 404 to MinIO's admin API (%s): is --minio-admin-url the "
                           "MinIO server (its S3 port, not the console)?",
                           m->base, op);
    return mfd_err_new(answer->status >= 500 ? MFD_TEMPORARILY_UNAVAILABLE : MFD_INTERNAL_ERROR,
                       "MinIO admin API at %s: %s answered %s", m->base, op, said);
}

static bool is_missing(minio *m, const mfd_http_answer *answer, const char *expected_code) {
    const char *code, *message;
    if (answer->status != 404)
        return false;
    admin_error(m, answer, &code, &message);
    return !strcmp(code, expected_code);
}

/* --- the policy -------------------------------------------------------- */

/* The bucket's list/get/put/delete actions, and nothing else: what the
 * artifact store does (ListObjectsV2, Get/Put/Delete(Objects), multipart). */
static json_t *bucket_policy(minio *m) {
    const char *bucket_arn = mfd_arena_sprintf(m->arena, "arn:aws:s3:::%s", m->g->bucket);
    const char *objects_arn = mfd_arena_sprintf(m->arena, "arn:aws:s3:::%s/*", m->g->bucket);
    return json_pack("{s:s, s:[{s:s, s:[s,s,s], s:[s]}, {s:s, s:[s,s,s,s,s], s:[s]}]}", "Version",
                     "2012-10-17", "Statement", "Effect", "Allow", "Action", "s3:GetBucketLocation",
                     "s3:ListBucket", "s3:ListBucketMultipartUploads", "Resource", bucket_arn,
                     "Effect", "Allow", "Action", "s3:AbortMultipartUpload", "s3:DeleteObject",
                     "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject", "Resource",
                     objects_arn);
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A string or a list of strings as a sorted list without repeats (MinIO
 * keeps action and resource sets, and answers them in its own order). */
static json_t *as_sorted_set(minio *m, json_t *value) {
    size_t n = json_is_array(value) ? json_array_size(value) : 1;
    const char **items = mfd_arena_calloc(m->arena, n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_is_array(value) ? json_array_get(value, i) : value;
        if (!json_is_string(item))
            return json_deep_copy(value);
        items[i] = json_string_value(item);
    }
    qsort(items, n, sizeof *items, compare_strings);
    json_t *set = json_array();
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(items[i], items[i - 1]) != 0)
            json_array_append_new(set, json_string(items[i]));
    return set;
}

static bool is_empty(json_t *v) {
    return json_is_null(v) || (json_is_string(v) && !*json_string_value(v)) ||
           (json_is_array(v) && !json_array_size(v)) || (json_is_object(v) && !json_object_size(v));
}

/* One statement as text that equal statements share: empty fields dropped,
 * string-or-list fields as sorted lists, keys sorted. */
static const char *statement_text(minio *m, json_t *statement) {
    static const char *const sets[] = {"Action", "NotAction", "Resource", "NotResource"};
    json_t *canonical = json_object();
    const char *key;
    json_t *value;
    json_object_foreach(statement, key, value) {
        if (is_empty(value))
            continue;
        bool is_set = false;
        for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
            is_set = is_set || !strcmp(key, sets[i]);
        json_object_set_new(canonical, key,
                            is_set ? as_sorted_set(m, value) : json_deep_copy(value));
    }
    char *text = json_dumps(canonical, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(canonical);
    const char *copy = mfd_arena_strdup(m->arena, text ? text : "");
    free(text);
    return copy;
}

/* The statements' texts, sorted; NULL when `policy` has no statement list. */
static const char **statement_texts(minio *m, json_t *policy, size_t *n) {
    json_t *statements = json_object_get(policy, "Statement");
    if (json_is_object(statements)) {
        const char **one = mfd_arena_alloc(m->arena, sizeof *one);
        *one = statement_text(m, statements);
        *n = 1;
        return one;
    }
    if (!json_is_array(statements))
        return NULL;
    *n = json_array_size(statements);
    const char **texts = mfd_arena_calloc(m->arena, *n ? *n : 1, sizeof *texts);
    for (size_t i = 0; i < *n; i++)
        texts[i] = statement_text(m, json_array_get(statements, i));
    qsort(texts, *n, sizeof *texts, compare_strings);
    return texts;
}

/* Whether MinIO's copy of the policy says what `want` says. */
static bool same_policy(minio *m, json_t *have, json_t *want) {
    const char *have_version = json_string_value(json_object_get(have, "Version"));
    if (!have_version || strcmp(have_version, json_string_value(json_object_get(want, "Version"))))
        return false;
    size_t n_have = 0, n_want = 0;
    const char **have_texts = statement_texts(m, have, &n_have);
    const char **want_texts = statement_texts(m, want, &n_want);
    if (!have_texts || n_have != n_want)
        return false;
    for (size_t i = 0; i < n_have; i++)
        if (strcmp(have_texts[i], want_texts[i]) != 0)
            return false;
    return true;
}

static mfd_err ensure_policy(minio *m) {
    const char *name = m->g->policy;
    mfd_http_param query[] = {{"name", name}};
    mfd_http_answer answer;
    mfd_err err = admin_request(m, "GET", "info-canned-policy", query, 1, NULL, NULL, 0, &answer);
    if (err)
        return err;
    json_t *want = bucket_policy(m);
    mfd_change change;
    if (answer.status == 200) {
        json_t *have = mfd_http_json(&answer);
        change = have && same_policy(m, have, want) ? MFD_UNCHANGED : MFD_UPDATED;
        json_decref(have);
    } else if (is_missing(m, &answer, "XMinioAdminNoSuchPolicy")) {
        change = MFD_CREATED;
    } else {
        json_decref(want);
        return refused(m, "info-canned-policy", &answer);
    }
    char *body = change == MFD_UNCHANGED ? NULL : json_dumps(want, JSON_COMPACT);
    json_decref(want);
    if (body) {
        err = admin_request(m, "PUT", "add-canned-policy", query, 1, "application/json", body,
                            strlen(body), &answer);
        free(body);
        if (err)
            return err;
        if (answer.status != 200)
            return refused(m, "add-canned-policy", &answer);
    }
    mfd_admin_note(m->report, change, "MinIO policy \"%s\" (bucket \"%s\")", name, m->g->bucket);
    return NULL;
}

/* --- the user ---------------------------------------------------------- */

typedef struct user_info {
    bool exists, enabled;
    const char *policies; /* MinIO's comma-separated policyName; "" = none */
} user_info;

static mfd_err get_user(minio *m, user_info *info) {
    memset(info, 0, sizeof *info);
    info->policies = "";
    mfd_http_param query[] = {{"accessKey", m->g->user}};
    mfd_http_answer answer;
    mfd_err err = admin_request(m, "GET", "user-info", query, 1, NULL, NULL, 0, &answer);
    if (err)
        return err;
    if (is_missing(m, &answer, "XMinioAdminNoSuchUser"))
        return NULL;
    if (answer.status != 200)
        return refused(m, "user-info", &answer);
    json_t *json = mfd_http_json(&answer);
    const char *status = json_string_value(json_object_get(json, "status"));
    const char *policies = json_string_value(json_object_get(json, "policyName"));
    info->exists = true;
    info->enabled = status && !strcmp(status, "enabled");
    info->policies = mfd_arena_strdup(m->arena, policies ? policies : "");
    json_decref(json);
    return NULL;
}

/* add-user: creates the user, or sets its secret key and status. */
static mfd_err put_user(minio *m) {
    json_t *request = json_pack("{s:s, s:s}", "secretKey", m->g->user_secret, "status", "enabled");
    char *plain = request ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);
    if (!plain)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "MLFLOWD_MINIO_USER_SECRET_KEY is not UTF-8 text");
    const unsigned char *body;
    size_t body_len;
    mfd_err err = mfd_madmin_encrypt(m->arena, m->g->admin.secret_key, plain, strlen(plain), NULL,
                                     NULL, &body, &body_len);
    OPENSSL_cleanse(plain, strlen(plain)); /* it holds the secret key */
    free(plain);
    if (err)
        return err;
    mfd_http_param query[] = {{"accessKey", m->g->user}};
    mfd_http_answer answer;
    if ((err = admin_request(m, "PUT", "add-user", query, 1, "application/octet-stream", body,
                             body_len, &answer)))
        return err;
    return answer.status == 200 ? NULL : refused(m, "add-user", &answer);
}

static bool has_policy(const char *list, const char *name) {
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && !strncmp(p, name, len))
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* set-user-or-group-policy replaces the user's list: ours is appended. */
static mfd_err ensure_attached(minio *m, const char *policies) {
    const char *name = m->g->policy, *user = m->g->user;
    if (has_policy(policies, name)) {
        mfd_admin_note(m->report, MFD_UNCHANGED, "MinIO policy \"%s\" attached to user \"%s\"",
                       name, user);
        return NULL;
    }
    const char *list = *policies ? mfd_arena_sprintf(m->arena, "%s,%s", policies, name) : name;
    mfd_http_param query[] = {{"policyName", list}, {"userOrGroup", user}, {"isGroup", "false"}};
    mfd_http_answer answer;
    mfd_err err =
        admin_request(m, "PUT", "set-user-or-group-policy", query, 3, NULL, NULL, 0, &answer);
    if (err)
        return err;
    if (answer.status != 200)
        return refused(m, "set-user-or-group-policy", &answer);
    mfd_admin_note(m->report, MFD_CREATED, "MinIO policy \"%s\" attached to user \"%s\"", name,
                   user);
    return NULL;
}

/* GetBucketLocation signed with the user's keys: *works when MinIO takes
 * the signature. A signature it takes but a bucket it denies is an error:
 * setting the key again would not help. */
static mfd_err probe_user(minio *m, bool *works) {
    mfd_admin_s3 as_user = m->g->admin;
    as_user.access_key = m->g->user;
    as_user.secret_key = m->g->user_secret;
    as_user.session_token = NULL;
    const char *url = mfd_arena_sprintf(m->arena, "%s/%s?location=", m->base, m->g->bucket);
    mfd_http_answer answer;
    mfd_err err = mfd_http_perform_s3(m->arena, &as_user, "GET", url, NULL, NULL, 0, &answer);
    if (err)
        return err;
    const char *code = mfd_http_s3_code(m->arena, answer.body);
    *works = answer.status == 200;
    if (answer.status == 200 || (answer.status == 403 && (!strcmp(code, "SignatureDoesNotMatch") ||
                                                          !strcmp(code, "InvalidAccessKeyId"))))
        return NULL;
    if (answer.status == 403)
        return mfd_err_new(MFD_PERMISSION_DENIED,
                           "MinIO user \"%s\" may not read bucket \"%s\" (%s) although policy "
                           "\"%s\" is attached: another policy of the user or of its groups "
                           "denies it",
                           m->g->user, m->g->bucket, *code ? code : "403", m->g->policy);
    if (answer.status == 404)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "%s has no bucket \"%s\" (%s): --minio-admin-url must be the MinIO "
                           "server that holds the bucket",
                           m->base, m->g->bucket, *code ? code : "404");
    return mfd_err_new(answer.status >= 500 ? MFD_TEMPORARILY_UNAVAILABLE : MFD_INTERNAL_ERROR,
                       "GetBucketLocation of \"%s\" as MinIO user \"%s\" answered %ld %s",
                       m->g->bucket, m->g->user, answer.status, code);
}

mfd_err mfd_minio_grant_bucket(mfd_arena *arena, const mfd_minio_grant *grant,
                               mfd_admin_report *report) {
    size_t len = strlen(grant->admin_url);
    while (len > 0 && grant->admin_url[len - 1] == '/')
        len--;
    minio m = {arena, grant, mfd_arena_strndup(arena, grant->admin_url, len), report};
    mfd_err err = ensure_policy(&m);
    user_info info;
    if (!err)
        err = get_user(&m, &info);
    if (err)
        return err;
    const char *user = grant->user;
    if (!info.exists || !info.enabled) {
        if ((err = put_user(&m)))
            return err;
        mfd_admin_note(report, info.exists ? MFD_UPDATED : MFD_CREATED, "MinIO user \"%s\"%s", user,
                       info.exists ? " (enabled, secret key set)" : "");
    }
    if ((err = ensure_attached(&m, info.policies)))
        return err;
    if (!info.exists || !info.enabled)
        return NULL;
    bool works = false;
    if ((err = probe_user(&m, &works)))
        return err;
    if (!works && (err = put_user(&m)))
        return err;
    mfd_admin_note(report, works ? MFD_UNCHANGED : MFD_UPDATED, "MinIO user \"%s\"%s", user,
                   works ? "" : " (secret key set)");
    return NULL;
}
