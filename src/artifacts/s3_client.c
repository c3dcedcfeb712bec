/* s3_client.c — the small S3 client under the S3 artifact storage: settings
 * from the environment, S3 locations, canonical URLs, signed libcurl
 * requests with retries, error answers, and XML (see s3_internal.h).
 *
 * Invariants kept here:
 *   - libcurl signs (CURLOPT_AWS_SIGV4) and OpenSSL hashes; nothing here
 *     computes a signature. Paths and queries are written in canonical form
 *     because libcurl 7.88 signs them as given.
 *   - Only http and https are spoken, redirects are not followed, and
 *     answers kept in memory are bounded (S3 answers are small XML).
 *   - The settings are read once and never change afterwards, so every
 *     thread reads them without a lock. */
#include <ctype.h>
#include <libxml/parser.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/config.h"
#include "core/digest.h"
#include "core/escape.h"
#include "s3_internal.h"

enum { MAX_ANSWER_BYTES = 32 * 1024 * 1024 };

static const uint64_t MIB = 1024 * 1024;

static mfd_s3_settings settings;
static char endpoint_buf[2048];
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;
static bool library_ready;

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool has_line_break(const char *s) {
    return s && strpbrk(s, "\r\n") != NULL;
}

/* A byte count from the environment: digits only; *out unchanged if unset. */
static bool env_size(const char *name, uint64_t *out) {
    const char *v = env(name);
    if (!v)
        return true;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || !isdigit((unsigned char)*v) || n == 0)
        return false;
    *out = n;
    return true;
}

static const char *read_settings(mfd_s3_settings *s) {
    s->service = "s3";
    s->verify_tls = true;
    s->multipart_threshold = 64 * MIB;
    s->part_size = 16 * MIB;
    const char *endpoint = env("MLFLOW_S3_ENDPOINT_URL");
    if (endpoint) {
        size_t len = strlen(endpoint);
        while (len > 0 && endpoint[len - 1] == '/')
            len--;
        if ((strncasecmp(endpoint, "http://", 7) && strncasecmp(endpoint, "https://", 8)) ||
            len >= sizeof endpoint_buf || strpbrk(endpoint, "?# \r\n"))
            return "MLFLOW_S3_ENDPOINT_URL must be an http:// or https:// URL such as "
                   "http://127.0.0.1:9000";
        memcpy(endpoint_buf, endpoint, len);
        endpoint_buf[len] = '\0';
        s->endpoint = endpoint_buf;
    }
    s->region = env("AWS_DEFAULT_REGION");
    if (!s->region)
        s->region = env("AWS_REGION");
    if (!s->region)
        s->region = "us-east-1";
    if (strlen(s->region) > 64 ||
        strspn(s->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s->region))
        return "AWS_DEFAULT_REGION must be a region name such as us-east-1";
    s->access_key = env("AWS_ACCESS_KEY_ID");
    s->secret_key = env("AWS_SECRET_ACCESS_KEY");
    if (!s->access_key != !s->secret_key)
        return "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither";
    s->session_token = env("AWS_SESSION_TOKEN");
    if (has_line_break(s->access_key) || has_line_break(s->session_token))
        return "AWS_ACCESS_KEY_ID and AWS_SESSION_TOKEN must be one line each";
    const char *ignore_tls = env("MLFLOW_S3_IGNORE_TLS");
    bool ignore = false;
    if (ignore_tls && !mfd_config_mlflow_bool(ignore_tls, &ignore))
        return "MLFLOW_S3_IGNORE_TLS must be true or false (or 1, 0)";
    s->verify_tls = !ignore;
    s->ca_bundle = env("AWS_CA_BUNDLE");
    if (!env_size("MLFLOWD_S3_MULTIPART_THRESHOLD", &s->multipart_threshold))
        return "MLFLOWD_S3_MULTIPART_THRESHOLD must be a positive number of bytes";
    if (!env_size("MLFLOWD_S3_PART_SIZE", &s->part_size) || s->part_size < 5 * MIB ||
        s->part_size > 5 * 1024 * MIB)
        return "MLFLOWD_S3_PART_SIZE must be a number of bytes from 5 MiB (5242880) to 5 GiB";
    return NULL;
}

static void settings_init(void) {
    library_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    xmlInitParser();
    settings.problem = read_settings(&settings);
    if (!settings.problem && !library_ready)
        settings.problem = "libcurl could not be initialised";
}

const mfd_s3_settings *mfd_s3_settings_get(void) {
    pthread_once(&settings_once, settings_init);
    return &settings;
}

void mfd_artifact_s3_shutdown(void) {
    if (library_ready) {
        curl_global_cleanup();
        library_ready = false;
    }
}

CURL *mfd_s3_handle(void) {
    mfd_s3_settings_get();
    return curl_easy_init();
}

/* --- locations and URLs ------------------------------------------------- */

/* Bucket names S3 and MinIO accept (3-63 of a-z 0-9 . -; old buckets may
 * also have capitals and '_'): nothing that could change a URL. */
static bool valid_bucket(const char *b, size_t len) {
    if (len < 3 || len > 63)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)b[i]) && !strchr(".-_", b[i]))
            return false;
    return true;
}

mfd_err mfd_s3_location_parse(mfd_arena *arena, const char *root, mfd_s3_location *out) {
    if (strncmp(root, "s3://", 5) != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "'%s' is not an s3:// location", root);
    const char *bucket = root + 5;
    size_t bucket_len = strcspn(bucket, "/");
    if (!valid_bucket(bucket, bucket_len))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid S3 location '%s': the bucket name must be 3 to 63 letters, "
                           "digits, '.', '-' or '_'",
                           root);
    out->bucket = mfd_arena_strndup(arena, bucket, bucket_len);
    const char *prefix = bucket + bucket_len;
    while (*prefix == '/')
        prefix++;
    size_t len = strlen(prefix);
    while (len > 0 && prefix[len - 1] == '/')
        len--;
    out->prefix = mfd_arena_strndup(arena, prefix, len);
    return NULL;
}

const char *mfd_s3_key(mfd_arena *arena, const mfd_s3_location *loc, const char *rel) {
    if (!*loc->prefix)
        return mfd_arena_strdup(arena, rel);
    if (!*rel)
        return loc->prefix;
    return mfd_arena_sprintf(arena, "%s/%s", loc->prefix, rel);
}

/* AWS's UriEncode(): every byte but the unreserved ones as %XX. */
static void append_encoded(mfd_strbuf *sb, const char *s, bool keep_slash) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
            (keep_slash && *p == '/')) {
            mfd_strbuf_appendn(sb, (const char *)p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            mfd_strbuf_appendn(sb, esc, 3);
        }
    }
}

static int compare_params(const void *a, const void *b) {
    const mfd_s3_param *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Whether the bucket can be the first label of the host name: a '.' would
 * not match the TLS certificate, and capitals and '_' (allowed in old
 * buckets' names) are no host name's. */
static bool host_label(const char *bucket) {
    for (const char *p = bucket; *p; p++)
        if (*p == '.' || *p == '_' || (*p >= 'A' && *p <= 'Z'))
            return false;
    return true;
}

const char *mfd_s3_url(mfd_arena *arena, const mfd_s3_settings *s, const char *bucket,
                       const char *key, mfd_s3_param *query, size_t n_query) {
    mfd_strbuf url;
    mfd_strbuf_init(&url, arena);
    if (s->endpoint) {
        mfd_strbuf_appendf(&url, "%s/%s", s->endpoint, bucket);
    } else if (!host_label(bucket)) { /* path-style, as botocore addresses such buckets */
        mfd_strbuf_appendf(&url, "https://s3.%s.amazonaws.com/%s", s->region, bucket);
    } else if (!strcmp(s->region, "us-east-1")) {
        mfd_strbuf_appendf(&url, "https://%s.s3.amazonaws.com", bucket);
    } else {
        mfd_strbuf_appendf(&url, "https://%s.s3.%s.amazonaws.com", bucket, s->region);
    }
    mfd_strbuf_append(&url, "/");
    if (key)
        append_encoded(&url, key, true);
    if (n_query > 1)
        qsort(query, n_query, sizeof *query, compare_params);
    for (size_t i = 0; i < n_query; i++) {
        mfd_strbuf_append(&url, i ? "&" : "?");
        append_encoded(&url, query[i].name, false);
        mfd_strbuf_append(&url, "=");
        append_encoded(&url, query[i].value, false);
    }
    return url.data;
}

/* --- requests ----------------------------------------------------------- */

mfd_err mfd_s3_prepare(CURL *curl, const mfd_s3_settings *s, const char *method, const char *url,
                       const char *payload_hash, const char *const *extra,
                       struct curl_slist **headers) {
    *headers = NULL;
    if (s->problem)
        return mfd_err_new(MFD_INTERNAL_ERROR, "S3 is not configured: %s", s->problem);
    char line[4096];
    const char *lines[8];
    size_t n = 0;
    if (payload_hash) {
        snprintf(line, sizeof line, "x-amz-content-sha256: %s", payload_hash);
        lines[n++] = line;
    }
    char token_line[8192], date_line[64];
    if (s->session_token) {
        snprintf(token_line, sizeof token_line, "x-amz-security-token: %s", s->session_token);
        lines[n++] = token_line;
    }
    if (s->fixed_date) {
        snprintf(date_line, sizeof date_line, "x-amz-date: %s", s->fixed_date);
        lines[n++] = date_line;
    }
    for (size_t i = 0; extra && extra[i] && n < sizeof lines / sizeof *lines; i++)
        lines[n++] = extra[i];
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < n; i++) {
        struct curl_slist *grown = curl_slist_append(list, lines[i]);
        if (!grown) {
            curl_slist_free_all(list);
            return mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
        }
        list = grown;
    }
    *headers = list;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L); /* keys are not paths to tidy up */
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    /* A transfer with no byte for 60 s ends (boto3's read timeout, MLflow's S3
     * client), not retried (mfd_s3_worth_retrying): answered within the mlflow
     * client's 120 s timeout, which would otherwise give up and send it again
     * while this one still waits. */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    if (!s->verify_tls) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (s->ca_bundle) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, s->ca_bundle);
    }
    if (s->access_key) {
        snprintf(line, sizeof line, "aws:amz:%s:%s", s->region, s->service);
        curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, line);
        curl_easy_setopt(curl, CURLOPT_USERNAME, s->access_key);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, s->secret_key);
    }
    if (!strcmp(method, "GET"))
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    else if (!strcmp(method, "POST"))
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
    else if (!strcmp(method, "PUT"))
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    else
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    return NULL;
}

typedef struct transfer {
    const mfd_s3_request *req;
    uint64_t sent; /* of the file range */
    mfd_strbuf answer;
    bool too_big;
    const char *etag;
    mfd_arena *arena;
} transfer;

static size_t read_file_range(char *buf, size_t size, size_t count, void *userdata) {
    transfer *t = userdata;
    uint64_t left = t->req->body_size - t->sent;
    size_t want = size * count < left ? size * count : (size_t)left;
    if (want == 0)
        return 0;
    ssize_t n = pread(t->req->body_fd, buf, want, (off_t)(t->req->body_offset + t->sent));
    if (n <= 0)
        return CURL_READFUNC_ABORT; /* the temporary file cannot shrink: an I/O error */
    t->sent += (uint64_t)n;
    return (size_t)n;
}

static size_t keep_answer(char *data, size_t size, size_t count, void *userdata) {
    transfer *t = userdata;
    size_t n = size * count;
    if (t->answer.len + n > MAX_ANSWER_BYTES) {
        t->too_big = true;
        return 0; /* ends the transfer */
    }
    mfd_strbuf_appendn(&t->answer, data, n);
    return n;
}

static size_t keep_etag(char *data, size_t size, size_t count, void *userdata) {
    transfer *t = userdata;
    size_t n = size * count;
    if (n > 5 && !strncasecmp(data, "ETag:", 5)) {
        const char *v = data + 5;
        size_t len = n - 5;
        while (len && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        t->etag = mfd_arena_strndup(t->arena, v, len);
    }
    return n;
}

static void md5_base64(const char *data, size_t len, char out[25]) {
    unsigned char digest[16];
    unsigned int digest_len = 0;
    EVP_Digest(data, len, digest, &digest_len, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)out, digest, 16);
}

void mfd_s3_retry_pause(int attempt) {
    if (attempt > 0)
        usleep(200000u << (2 * (attempt - 1))); /* 0.2 s, 0.8 s */
}

bool mfd_s3_worth_retrying(CURLcode rc, long status) {
    if (rc == CURLE_OK)
        return status == 500 || status == 502 || status == 503 || status == 504;
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
           rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE;
}

mfd_err mfd_s3_perform(CURL *curl, mfd_arena *arena, const mfd_s3_settings *s,
                       const mfd_s3_request *req, mfd_s3_response *res) {
    memset(res, 0, sizeof *res);
    const char *url = mfd_s3_url(arena, s, req->bucket, req->key, req->query, req->n_query);
    char hash[65] = MFD_S3_EMPTY_SHA256, md5_line[64], type_line[512];
    if (req->body_fd >= 0)
        snprintf(hash, sizeof hash, "%s", MFD_S3_UNSIGNED_PAYLOAD);
    else if (req->body)
        mfd_sha256_hex(req->body, req->body_len, hash);
    const char *extra[3] = {NULL, NULL, NULL};
    size_t n_extra = 0;
    if (req->content_type) {
        snprintf(type_line, sizeof type_line, "Content-Type: %s", req->content_type);
        extra[n_extra++] = type_line;
    }
    if (req->content_md5) {
        char md5[25];
        md5_base64(req->body ? req->body : "", req->body_len, md5);
        snprintf(md5_line, sizeof md5_line, "Content-MD5: %s", md5);
        extra[n_extra++] = md5_line;
    }
    CURLcode rc = CURLE_OK;
    char curl_message[CURL_ERROR_SIZE];
    for (int attempt = 0; attempt < MFD_S3_TRIES; attempt++) {
        mfd_s3_retry_pause(attempt);
        curl_easy_reset(curl);
        transfer t = {.req = req, .arena = arena};
        mfd_strbuf_init(&t.answer, arena);
        struct curl_slist *headers;
        mfd_err err = mfd_s3_prepare(curl, s, req->method, url, hash, extra, &headers);
        if (err)
            return err;
        curl_message[0] = '\0';
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_message);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_answer);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, keep_etag);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
        if (req->body_fd >= 0) {
            curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_file_range);
            curl_easy_setopt(curl, CURLOPT_READDATA, &t);
            curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_size);
        } else if (!strcmp(req->method, "POST") || req->body) {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            if (strcmp(req->method, "POST"))
                curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
        }
        rc = curl_easy_perform(curl);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL); /* it lives on this stack */
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(headers);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (t.too_big)
            return mfd_err_new(MFD_INTERNAL_ERROR, "S3's answer to %s %s is too large", req->method,
                               url);
        if (!mfd_s3_worth_retrying(rc, status) || attempt == MFD_S3_TRIES - 1) {
            if (rc != CURLE_OK)
                break;
            res->status = status;
            res->body = t.answer.data;
            res->body_len = t.answer.len;
            res->etag = t.etag;
            return NULL;
        }
    }
    return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "Cannot reach S3 for %s %s: %s", req->method,
                       url, curl_message[0] ? curl_message : curl_easy_strerror(rc));
}

mfd_err mfd_s3_error(mfd_arena *arena, long status, const char *body, size_t body_len,
                     const char *what) {
    const char *code = NULL, *message = NULL;
    xmlDoc *doc = body_len ? mfd_s3_xml_parse(body, body_len) : NULL;
    if (doc) {
        xmlNode *root = xmlDocGetRootElement(doc);
        if (root && !xmlStrcmp(root->name, (const xmlChar *)"Error")) {
            code = mfd_s3_xml_text(arena, root, "Code");
            message = mfd_s3_xml_text(arena, root, "Message");
        }
        xmlFreeDoc(doc);
    }
    static const char *const clients_fault[] = {"KeyTooLongError",  "EntityTooLarge",
                                                "MetadataTooLarge", "InvalidPart",
                                                "InvalidPartOrder", "EntityTooSmall"};
    static const char *const try_later[] = {"RequestTimeout", "SlowDown", "ServiceUnavailable"};
    mfd_code mfd = MFD_INTERNAL_ERROR;
    for (size_t i = 0; code && i < sizeof clients_fault / sizeof clients_fault[0]; i++)
        if (!strcmp(code, clients_fault[i]))
            mfd = MFD_INVALID_PARAMETER_VALUE;
    for (size_t i = 0; code && i < sizeof try_later / sizeof try_later[0]; i++)
        if (!strcmp(code, try_later[i]))
            mfd = MFD_TEMPORARILY_UNAVAILABLE;
    if (status == 404)
        mfd = MFD_RESOURCE_DOES_NOT_EXIST;
    else if (status >= 500)
        mfd = MFD_TEMPORARILY_UNAVAILABLE;
    const char *hint = status == 403 ? " (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                       : mfd == MFD_INTERNAL_ERROR
                           ? " (check the server's S3 settings: credentials, region, endpoint)"
                           : "";
    return mfd_err_new(mfd, "%s: S3 answered %ld %s%s%s%s", what, status, code ? code : "",
                       message ? ": " : "", message ? message : "", hint);
}

/* --- XML ---------------------------------------------------------------- */

xmlDoc *mfd_s3_xml_parse(const char *data, size_t len) {
    if (len > INT32_MAX)
        return NULL;
    return xmlReadMemory(data, (int)len, "s3.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

xmlNode *mfd_s3_xml_child(xmlNode *parent, const char *name, xmlNode *after) {
    for (xmlNode *n = after ? after->next : parent->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, (const xmlChar *)name))
            return n;
    return NULL;
}

const char *mfd_s3_xml_text(mfd_arena *arena, xmlNode *parent, const char *name) {
    xmlNode *node = mfd_s3_xml_child(parent, name, NULL);
    if (!node)
        return NULL;
    xmlChar *text = xmlNodeGetContent(node);
    const char *out = mfd_arena_strdup(arena, text ? (const char *)text : "");
    xmlFree(text);
    return out;
}
