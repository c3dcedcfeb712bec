/* s3_internal.h — inside the artifacts module only: the small S3 client
 * (s3_client.c) that s3.c and s3_upload.c build the S3 storage on, and
 * that tests/unit/test_sigv4.c checks.
 *
 * Requests are signed with AWS Signature Version 4 by libcurl
 * (CURLOPT_AWS_SIGV4). libcurl 7.88 signs the URL's path and query exactly
 * as given, so mfd_s3_url() writes them in canonical form: the key
 * %-encoded byte by byte (all but A-Z a-z 0-9 - _ . ~ and '/'), the query
 * parameters encoded the same way ('/' too) and sorted by name. Every
 * request carries x-amz-content-sha256, which libcurl signs as the payload
 * hash: the SHA-256 of an in-memory body, or UNSIGNED-PAYLOAD for a body
 * streamed from a file. URLs for others to send (presigned) are signed by
 * s3_presign.c. */
#ifndef MFD_ARTIFACT_S3_INTERNAL_H
#define MFD_ARTIFACT_S3_INTERNAL_H

#include <curl/curl.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "backend.h"

#define MFD_S3_EMPTY_SHA256     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MFD_S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

typedef struct mfd_s3_settings {
    const char *endpoint;         /* MLFLOW_S3_ENDPOINT_URL without a trailing '/': path-style
                                     URLs; NULL = AWS (https://<bucket>.s3[.<region>].amazonaws.com) */
    const char *region;           /* AWS_DEFAULT_REGION (or AWS_REGION); us-east-1 */
    const char *access_key;       /* AWS_ACCESS_KEY_ID; NULL = requests are not signed */
    const char *secret_key;       /* AWS_SECRET_ACCESS_KEY */
    const char *session_token;    /* AWS_SESSION_TOKEN; NULL = none */
    bool verify_tls;              /* false with MLFLOW_S3_IGNORE_TLS=true */
    const char *ca_bundle;        /* AWS_CA_BUNDLE; NULL = the system's */
    uint64_t multipart_threshold; /* MLFLOWD_S3_MULTIPART_THRESHOLD: bytes from which an upload is
                                     sent in parts; 64 MiB */
    uint64_t part_size;           /* MLFLOWD_S3_PART_SIZE; 16 MiB, at least 5 MiB */
    const char *service;          /* the signing name: "s3" */
    const char *fixed_date;       /* tests only: the x-amz-date to sign with; NULL = now */
    const char *problem;          /* why the environment is unusable; NULL = fine */
} mfd_s3_settings;

/* The process's settings, read from the environment once, at the first
 * call (as boto3 does for `mlflow server`); also sets up libcurl and
 * libxml2. Never NULL; check ->problem. */
const mfd_s3_settings *mfd_s3_settings_get(void);

/* "s3://bucket[/prefix]" split; prefix without leading or trailing '/'. */
typedef struct mfd_s3_location {
    const char *bucket, *prefix;
} mfd_s3_location;

/* Bad URIs or bucket names: 400 INVALID_PARAMETER_VALUE. */
mfd_err mfd_s3_location_parse(mfd_arena *arena, const char *root, mfd_s3_location *out);
/* The key of `rel` ("" = the prefix itself) below the location. */
const char *mfd_s3_key(mfd_arena *arena, const mfd_s3_location *loc, const char *rel);

typedef struct mfd_s3_param {
    const char *name, *value;
} mfd_s3_param;

/* The URL of `key` (NULL or "" = the bucket) with `query` in canonical
 * order (the array is sorted in place). */
const char *mfd_s3_url(mfd_arena *arena, const mfd_s3_settings *s, const char *bucket,
                       const char *key, mfd_s3_param *query, size_t n_query);

/* Sets `curl` up for one request to `url`: method, TLS and time limits,
 * the signing, and the headers: x-amz-content-sha256 = payload_hash (S3
 * wants it on every request; NULL only for other services, in tests), the
 * session token, then `extra` (NULL-terminated "Name: value" lines; may be
 * NULL). *headers is the list given to libcurl: the caller frees it with
 * curl_slist_free_all() after the transfer. The body options are the
 * caller's. */
mfd_err mfd_s3_prepare(CURL *curl, const mfd_s3_settings *s, const char *method, const char *url,
                       const char *payload_hash, const char *const *extra,
                       struct curl_slist **headers);

/* A new handle (libcurl set up); NULL only when out of memory. */
CURL *mfd_s3_handle(void);

typedef struct mfd_s3_request {
    const char *method; /* GET, PUT, POST, DELETE */
    const char *bucket, *key;
    mfd_s3_param *query;
    size_t n_query;
    const char *content_type; /* NULL = none */
    bool content_md5;         /* send Content-MD5 of the in-memory body */
    const char *body;         /* in-memory body (signed by its hash); NULL = none */
    size_t body_len;
    int body_fd; /* or bytes [body_offset, +body_size) of a file (unsigned payload); -1 = none */
    uint64_t body_offset, body_size;
} mfd_s3_request;

typedef struct mfd_s3_response {
    long status;
    const char *body; /* in the arena, NUL-terminated; bounded */
    size_t body_len;
    const char *etag; /* the ETag header, NULL if absent */
} mfd_s3_response;

/* The retry policy of every S3 request: MFD_S3_TRIES tries when S3 cannot
 * be reached or answers 500/502/503/504, mfd_s3_retry_pause() before each
 * try after the first (0.2 s, then 0.8 s). A timeout (10 s to connect, 60 s
 * without a byte) is not tried again: its waits would add up past the
 * client's own timeout. */
enum { MFD_S3_TRIES = 3 };
bool mfd_s3_worth_retrying(CURLcode rc, long status);
void mfd_s3_retry_pause(int attempt);

/* Sends one request on `curl` (reused: its connection stays open), tried
 * again as the retry policy says. An error means no answer came (503
 * TEMPORARILY_UNAVAILABLE); any answer is in *res, whatever its status. */
mfd_err mfd_s3_perform(CURL *curl, mfd_arena *arena, const mfd_s3_settings *s,
                       const mfd_s3_request *req, mfd_s3_response *res);

/* The error S3's answer means, for an operation on `what`: 404 ->
 * RESOURCE_DOES_NOT_EXIST; 5xx, RequestTimeout and SlowDown ->
 * TEMPORARILY_UNAVAILABLE; a key or object too long or too large, or parts
 * that make no object (a client's multipart upload) -> INVALID_PARAMETER_VALUE
 * (the client's name, body or parts); anything else
 * (expired or refused credentials, a wrong region or endpoint) is the
 * server's setup: INTERNAL_ERROR. S3's Code and Message are quoted. */
mfd_err mfd_s3_error(mfd_arena *arena, long status, const char *body, size_t body_len,
                     const char *what);

/* s3_upload.c: the upload operations of mfd_artifact_s3_ops. */
mfd_err mfd_artifact_s3_upload_begin(const char *root, const char *rel, mfd_upload *upload);
mfd_err mfd_artifact_s3_upload_finish(mfd_upload *upload);

/* One object: where it is, and the artifact path it is named by in errors. */
typedef struct mfd_s3_object {
    const char *bucket, *key, *rel;
} mfd_s3_object;

/* The object of file `rel` under the S3 root; a key over S3's 1,024 bytes:
 * 400 INVALID_PARAMETER_VALUE. */
mfd_err mfd_s3_object_of(mfd_arena *arena, const char *root, const char *rel, mfd_s3_object *out);

/* s3_upload.c: the multipart-upload calls, for the server's own uploads
 * and the proxied multipart upload (s3_mpu.c). S3's refusals are mapped by
 * mfd_s3_error(); an unknown upload id is 404 RESOURCE_DOES_NOT_EXIST. */
mfd_err mfd_s3_multipart_create(CURL *curl, mfd_arena *arena, const mfd_s3_object *obj,
                                const char **upload_id);
/* The parts in ascending order of number. */
mfd_err mfd_s3_multipart_complete(CURL *curl, mfd_arena *arena, const mfd_s3_object *obj,
                                  const char *upload_id, const mfd_artifact_part *parts,
                                  size_t n_parts);
mfd_err mfd_s3_multipart_abort(CURL *curl, mfd_arena *arena, const mfd_s3_object *obj,
                               const char *upload_id);

/* s3_presign.c: a presigned URL for `method` on `key` (with `query`, which
 * is not changed), valid `expires` seconds from `now` (s->fixed_date, when
 * set, stands for now). Without credentials, the plain URL. */
const char *mfd_s3_presign(mfd_arena *arena, const mfd_s3_settings *s, const char *method,
                           const char *bucket, const char *key, const mfd_s3_param *query,
                           size_t n_query, long expires, time_t now);

/* --- XML answers (libxml2; no DTDs, no network, no entity expansion) ---- */

/* NULL when the text is not XML. Free with xmlFreeDoc(). */
xmlDoc *mfd_s3_xml_parse(const char *data, size_t len);
/* The next element child of `parent` named `name` after `after` (NULL = the
 * first); NULL when none. */
xmlNode *mfd_s3_xml_child(xmlNode *parent, const char *name, xmlNode *after);
/* The text of the first child element `name`, in the arena; NULL if absent. */
const char *mfd_s3_xml_text(mfd_arena *arena, xmlNode *parent, const char *name);

#endif
