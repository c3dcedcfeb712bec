/* s3.c — the S3 storage behind repo.h for roots "s3://bucket[/prefix]":
 * the proxied destination (--artifacts-destination s3://...) and runs whose
 * artifact URI is an s3:// location. Uploads are in s3_upload.c, the
 * client in s3_client.c.
 *
 * Invariants kept here:
 *   - The file `rel` is the object <prefix>/<rel>; a directory is the
 *     common prefix <prefix>/<rel>/ (ListObjectsV2 with delimiter '/'), so
 *     listings follow the local rules: base names, is_dir, sizes, a file
 *     path lists empty, a missing path lists empty.
 *   - Nothing holds a whole object in memory: a download is passed on to
 *     the client as it arrives, at most PENDING_MAX bytes ahead of it
 *     (libcurl is paused while the client is slower than S3).
 *   - Every S3 answer that is read whole is bounded (s3_client.c), and the
 *     pages of a listing or a deletion are read in scratch arenas. */
#include <stdlib.h>
#include <string.h>

#include "core/escape.h"
#include "s3_internal.h"

enum { PENDING_MAX = 256 * 1024, ERROR_BODY_MAX = 64 * 1024, DELETE_BATCH = 1000 };

static mfd_err not_found(const char *rel) {
    return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Artifact '%s' does not exist or is not a file",
                       rel);
}

static mfd_err settings_problem(const mfd_s3_settings *s) {
    return mfd_err_new(MFD_INTERNAL_ERROR, "S3 is not configured: %s", s->problem);
}

static mfd_err s3_open(const char *destination, char **root) {
    const mfd_s3_settings *s = mfd_s3_settings_get();
    if (s->problem)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "S3 is not configured: %s", s->problem);
    mfd_arena *arena = mfd_arena_new();
    mfd_s3_location loc;
    mfd_err err = mfd_s3_location_parse(arena, destination, &loc);
    if (!err)
        mfd_artifact_remove_stale_uploads(mfd_artifact_s3_spool_dir(),
                                          MFD_ARTIFACT_S3_SPOOL_PREFIX);
    if (!err)
        *root = strdup(*loc.prefix ? mfd_arena_sprintf(arena, "s3://%s/%s", loc.bucket, loc.prefix)
                                   : mfd_arena_sprintf(arena, "s3://%s", loc.bucket));
    mfd_arena_free(arena);
    return err;
}

/* --- listing ------------------------------------------------------------ */

/* One ListObjectsV2 page of the keys under `prefix`, from `token` (NULL =
 * the first page); with `by_directory`, keys below a further '/' come as
 * CommonPrefixes. *doc is the parsed answer (the caller frees it). Keys are
 * asked URL-encoded (as boto3 asks them): XML 1.0 cannot carry a key with a
 * control character, and the whole page would fail to parse. */
static mfd_err list_page(CURL *curl, mfd_arena *scratch, const mfd_s3_location *loc,
                         const char *prefix, bool by_directory, const char *token, xmlDoc **doc) {
    const mfd_s3_settings *s = mfd_s3_settings_get();
    mfd_s3_param query[5] = {{"encoding-type", "url"}, {"list-type", "2"}, {"prefix", prefix}};
    size_t n = 3;
    if (by_directory)
        query[n++] = (mfd_s3_param){"delimiter", "/"};
    if (token)
        query[n++] = (mfd_s3_param){"continuation-token", token};
    mfd_s3_request req = {
        .method = "GET", .bucket = loc->bucket, .query = query, .n_query = n, .body_fd = -1};
    mfd_s3_response res;
    *doc = NULL;
    mfd_err err = mfd_s3_perform(curl, scratch, s, &req, &res);
    if (err)
        return err;
    if (res.status != 200)
        return mfd_s3_error(
            scratch, res.status, res.body, res.body_len,
            mfd_arena_sprintf(scratch, "Cannot list s3://%s/%s", loc->bucket, prefix));
    *doc = mfd_s3_xml_parse(res.body, res.body_len);
    xmlNode *root = *doc ? xmlDocGetRootElement(*doc) : NULL;
    if (!root || xmlStrcmp(root->name, (const xmlChar *)"ListBucketResult")) {
        xmlFreeDoc(*doc);
        *doc = NULL;
        return mfd_err_new(MFD_INTERNAL_ERROR,
                           "S3 answered a listing of s3://%s/%s with something else than a "
                           "ListBucketResult",
                           loc->bucket, prefix);
    }
    return NULL;
}

/* Element `name` of a listing entry: a key or a prefix, decoded when the
 * page says it is URL-encoded (form style: '+' is a space, as botocore
 * reads it; servers that ignore encoding-type send keys as they are). NULL
 * when absent or when it holds a NUL byte, which no C string can carry. */
static const char *listed_text(mfd_arena *arena, xmlNode *result, xmlNode *entry,
                               const char *name) {
    const char *text = mfd_s3_xml_text(arena, entry, name);
    const char *encoding = mfd_s3_xml_text(arena, result, "EncodingType");
    if (!text || !encoding || strcmp(encoding, "url") != 0)
        return text;
    size_t len;
    char *decoded = mfd_percent_decode(arena, text, strlen(text), true, &len);
    return strlen(decoded) == len ? decoded : NULL;
}

/* The continuation token of a listing page, in `arena`; NULL on the last. */
static const char *next_token(mfd_arena *arena, xmlNode *result) {
    mfd_arena *scratch = mfd_arena_new();
    const char *truncated = mfd_s3_xml_text(scratch, result, "IsTruncated");
    const char *token = mfd_s3_xml_text(scratch, result, "NextContinuationToken");
    const char *out = truncated && !strcmp(truncated, "true") && token && *token
                          ? mfd_arena_strdup(arena, token)
                          : NULL;
    mfd_arena_free(scratch);
    return out;
}

typedef struct file_list {
    mfd_arena *arena;
    mfd_artifact_file *items;
    size_t n, cap;
} file_list;

/* Adds the entry for `text` (a key or a common prefix) below `dir`. */
static void add_entry(file_list *list, const char *text, const char *dir, bool is_dir,
                      const char *size) {
    size_t dir_len = strlen(dir);
    if (!text || strncmp(text, dir, dir_len) != 0)
        return;
    const char *name = text + dir_len;
    size_t len = strlen(name);
    if (is_dir && len > 0 && name[len - 1] == '/')
        len--;
    /* "dir/" marker objects, keys with "//", and names no client path can
     * take (upload temporaries) are not entries. */
    if (len == 0 || memchr(name, '/', len) ||
        !strncmp(name, MFD_ARTIFACT_UPLOAD_PREFIX, strlen(MFD_ARTIFACT_UPLOAD_PREFIX)))
        return;
    list->items =
        mfd_arena_grow(list->arena, list->items, list->n, &list->cap, sizeof *list->items, 16);
    mfd_artifact_file *f = &list->items[list->n++];
    f->name = mfd_arena_strndup(list->arena, name, len);
    f->is_dir = is_dir;
    f->size = is_dir || !size ? 0 : strtoll(size, NULL, 10);
}

static int compare_files(const void *a, const void *b) {
    const mfd_artifact_file *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (int)y->is_dir - (int)x->is_dir;
}

static mfd_err s3_list(mfd_arena *arena, const char *root, const char *rel,
                       mfd_artifact_file **files, size_t *n_files) {
    const mfd_s3_settings *s = mfd_s3_settings_get();
    if (s->problem)
        return settings_problem(s);
    mfd_s3_location loc;
    mfd_err err = mfd_s3_location_parse(arena, root, &loc);
    if (err)
        return err;
    const char *key = mfd_s3_key(arena, &loc, rel);
    const char *dir = *key ? mfd_arena_sprintf(arena, "%s/", key) : "";
    CURL *curl = mfd_s3_handle();
    if (!curl)
        return mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    file_list list = {.arena = arena};
    const char *token = NULL;
    do {
        mfd_arena *scratch = mfd_arena_new();
        xmlDoc *doc;
        err = list_page(curl, scratch, &loc, dir, true, token, &doc);
        if (!err) {
            xmlNode *result = xmlDocGetRootElement(doc);
            for (xmlNode *n = NULL; (n = mfd_s3_xml_child(result, "Contents", n));)
                add_entry(&list, listed_text(scratch, result, n, "Key"), dir, false,
                          mfd_s3_xml_text(scratch, n, "Size"));
            for (xmlNode *n = NULL; (n = mfd_s3_xml_child(result, "CommonPrefixes", n));)
                add_entry(&list, listed_text(scratch, result, n, "Prefix"), dir, true, NULL);
            const char *next = next_token(arena, result);
            if (next && token && !strcmp(next, token))
                err = mfd_err_new(MFD_INTERNAL_ERROR, "S3 repeated a listing page of s3://%s/%s",
                                  loc.bucket, dir);
            token = next;
            xmlFreeDoc(doc);
        }
        mfd_arena_free(scratch);
    } while (!err && token);
    curl_easy_cleanup(curl);
    if (err)
        return err;
    if (list.n > 1)
        qsort(list.items, list.n, sizeof *list.items, compare_files);
    *files = list.items;
    *n_files = list.n;
    return NULL;
}

/* --- deleting ----------------------------------------------------------- */

static mfd_err delete_object(CURL *curl, mfd_arena *arena, const mfd_s3_location *loc,
                             const char *key) {
    mfd_s3_request req = {.method = "DELETE", .bucket = loc->bucket, .key = key, .body_fd = -1};
    mfd_s3_response res;
    mfd_err err = mfd_s3_perform(curl, arena, mfd_s3_settings_get(), &req, &res);
    if (!err && res.status != 204 && res.status != 200 && res.status != 404)
        err = mfd_s3_error(arena, res.status, res.body, res.body_len,
                           mfd_arena_sprintf(arena, "Cannot delete artifact '%s'", key));
    return err;
}

/* Whether XML carries `key` as it is: no control character (a carriage
 * return would even be read back as a line feed). */
static bool xml_safe(const char *key) {
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Deletes the keys of one listing page with one DeleteObjects request (a
 * key XML cannot carry with a DELETE of its own); *first is the page's
 * first key (NULL when the page is empty). */
static mfd_err delete_page(CURL *curl, mfd_arena *scratch, const mfd_s3_location *loc,
                           xmlNode *result, const char **first) {
    mfd_strbuf body;
    mfd_strbuf_init(&body, scratch);
    mfd_strbuf_append(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                             "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                             "<Quiet>true</Quiet>");
    *first = NULL;
    size_t n = 0;
    for (xmlNode *node = NULL;
         n < DELETE_BATCH && (node = mfd_s3_xml_child(result, "Contents", node));) {
        const char *key = listed_text(scratch, result, node, "Key");
        if (!key)
            continue;
        if (!*first)
            *first = key;
        if (!xml_safe(key)) {
            mfd_err err = delete_object(curl, scratch, loc, key);
            if (err)
                return err;
            continue;
        }
        mfd_strbuf_appendf(&body, "<Object><Key>%s</Key></Object>",
                           mfd_markup_escape(scratch, key));
        n++;
    }
    if (n == 0)
        return NULL;
    mfd_strbuf_append(&body, "</Delete>");
    mfd_s3_param query[1] = {{"delete", ""}};
    mfd_s3_request req = {.method = "POST",
                          .bucket = loc->bucket,
                          .query = query,
                          .n_query = 1,
                          .content_type = "application/xml",
                          .content_md5 = true,
                          .body = body.data,
                          .body_len = body.len,
                          .body_fd = -1};
    mfd_s3_response res;
    mfd_err err = mfd_s3_perform(curl, scratch, mfd_s3_settings_get(), &req, &res);
    if (err)
        return err;
    if (res.status != 200)
        return mfd_s3_error(scratch, res.status, res.body, res.body_len, "Cannot delete artifacts");
    /* Quiet mode: the answer lists only the keys that could not be deleted. */
    xmlDoc *doc = mfd_s3_xml_parse(res.body, res.body_len);
    xmlNode *answer = doc ? xmlDocGetRootElement(doc) : NULL;
    xmlNode *failed = answer ? mfd_s3_xml_child(answer, "Error", NULL) : NULL;
    if (failed)
        err = mfd_err_new(MFD_INTERNAL_ERROR, "Cannot delete artifact '%s': S3 answered %s: %s",
                          mfd_s3_xml_text(scratch, failed, "Key"),
                          mfd_s3_xml_text(scratch, failed, "Code"),
                          mfd_s3_xml_text(scratch, failed, "Message"));
    xmlFreeDoc(doc);
    return err;
}

/* The file `rel`, and every key below `rel`/: S3 has no directories to
 * remove, only the keys that make them up. Each round lists the first page
 * of what is left and deletes it, so a tree of any size takes bounded
 * memory; a round that finds the same first key as two rounds before means
 * S3 is not deleting, and ends with an error instead of looping. */
static mfd_err s3_remove(const char *root, const char *rel) {
    const mfd_s3_settings *s = mfd_s3_settings_get();
    if (s->problem)
        return settings_problem(s);
    mfd_arena *arena = mfd_arena_new();
    mfd_s3_location loc;
    mfd_err err = mfd_s3_location_parse(arena, root, &loc);
    CURL *curl = err ? NULL : mfd_s3_handle();
    if (!err && !curl)
        err = mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    const char *key = err ? NULL : mfd_s3_key(arena, &loc, rel);
    if (!err)
        err = delete_object(curl, arena, &loc, key);
    const char *dir = err ? NULL : mfd_arena_sprintf(arena, "%s/", key);
    const char *seen[2] = {"", ""};
    for (int round = 0; !err; round++) {
        mfd_arena *scratch = mfd_arena_new();
        xmlDoc *doc;
        const char *first = NULL;
        err = list_page(curl, scratch, &loc, dir, false, NULL, &doc);
        if (!err) {
            err = delete_page(curl, scratch, &loc, xmlDocGetRootElement(doc), &first);
            xmlFreeDoc(doc);
        }
        if (!err && first && round >= 2 && !strcmp(first, seen[round % 2]))
            err = mfd_err_new(MFD_INTERNAL_ERROR,
                              "S3 keeps listing '%s' after deleting it; the delete of artifact "
                              "'%s' is incomplete",
                              first, rel);
        if (first)
            seen[round % 2] = mfd_arena_strdup(arena, first);
        mfd_arena_free(scratch);
        if (!first)
            break;
    }
    if (curl)
        curl_easy_cleanup(curl);
    mfd_arena_free(arena);
    return err;
}

/* --- downloading -------------------------------------------------------- */

/* One object on its way from S3 to a client: the response's reader. The
 * transfer runs on a private multi handle driven by whoever reads, so it
 * moves only as fast as the client takes the bytes. */
typedef struct download {
    CURLM *multi;
    CURL *curl;
    struct curl_slist *headers;
    char *pending; /* received, not yet passed on: [pending_off, pending_len) */
    size_t pending_off, pending_len, pending_cap;
    char *error_body; /* the answer when the status is not 200 */
    size_t error_len;
    long status;
    bool headers_done, paused, done;
    CURLcode result;
    char curl_message[CURL_ERROR_SIZE];
} download;

static size_t download_header(char *data, size_t size, size_t count, void *userdata) {
    download *d = userdata;
    size_t n = size * count;
    if ((n == 2 && data[0] == '\r') || (n == 1 && data[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200) { /* not the end of a 1xx interim answer */
            d->status = status;
            d->headers_done = true;
        }
    }
    return n;
}

static size_t download_write(char *data, size_t size, size_t count, void *userdata) {
    download *d = userdata;
    size_t n = size * count;
    if (d->status != 200) {
        size_t keep = d->error_len + n > ERROR_BODY_MAX ? ERROR_BODY_MAX - d->error_len : n;
        if (keep) {
            d->error_body = realloc(d->error_body, d->error_len + keep + 1);
            memcpy(d->error_body + d->error_len, data, keep);
            d->error_len += keep;
            d->error_body[d->error_len] = '\0';
        }
        return n;
    }
    size_t held = d->pending_len - d->pending_off;
    if (held > 0 && held + n > PENDING_MAX) {
        d->paused = true;
        return CURL_WRITEFUNC_PAUSE; /* libcurl keeps these bytes and offers them again */
    }
    if (d->pending_off > 0) {
        memmove(d->pending, d->pending + d->pending_off, held);
        d->pending_off = 0;
        d->pending_len = held;
    }
    if (held + n > d->pending_cap) {
        d->pending_cap = held + n > PENDING_MAX ? held + n : PENDING_MAX;
        d->pending = realloc(d->pending, d->pending_cap);
    }
    memcpy(d->pending + d->pending_len, data, n);
    d->pending_len += n;
    return n;
}

/* Moves the transfer on; waits up to `wait_ms` for the network when
 * nothing happened. */
static void download_step(download *d, int wait_ms) {
    int running = 0;
    curl_multi_perform(d->multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(d->multi, &left)))
        if (msg->msg == CURLMSG_DONE) {
            d->done = true;
            d->result = msg->data.result;
        }
    if (!d->done && d->pending_len == d->pending_off && !d->paused)
        curl_multi_poll(d->multi, NULL, 0, wait_ms, NULL);
}

static ssize_t download_read(void *closure, uint64_t pos, char *buf, size_t max) {
    (void)pos; /* libmicrohttpd reads in order */
    download *d = closure;
    for (;;) {
        size_t held = d->pending_len - d->pending_off;
        if (held > 0) {
            size_t n = held < max ? held : max;
            memcpy(buf, d->pending + d->pending_off, n);
            d->pending_off += n;
            if (d->pending_off == d->pending_len)
                d->pending_off = d->pending_len = 0;
            return (ssize_t)n;
        }
        if (d->done) /* the end; before Content-Length bytes it is an error */
            return d->result == CURLE_OK ? -1 : -2;
        if (d->paused) {
            d->paused = false;
            curl_easy_pause(d->curl, CURLPAUSE_CONT); /* may deliver at once */
            continue;
        }
        download_step(d, 1000);
    }
}

static void download_free(void *closure) {
    download *d = closure;
    if (!d)
        return;
    if (d->multi && d->curl)
        curl_multi_remove_handle(d->multi, d->curl);
    if (d->curl)
        curl_easy_cleanup(d->curl);
    if (d->multi)
        curl_multi_cleanup(d->multi);
    curl_slist_free_all(d->headers);
    free(d->pending);
    free(d->error_body);
    free(d);
}

/* Sends the GET and waits for the answer's status, as many times as the
 * retry policy says (nothing has reached the client yet, so a retry is
 * invisible to it). False when no answer came. */
static bool download_start(download *d, const mfd_s3_settings *s, const char *url, mfd_err *err) {
    for (int attempt = 0; attempt < MFD_S3_TRIES; attempt++) {
        mfd_s3_retry_pause(attempt);
        if (attempt) { /* a fresh transfer on the same handle */
            curl_multi_remove_handle(d->multi, d->curl);
            curl_slist_free_all(d->headers);
            d->headers = NULL;
            free(d->error_body);
            d->error_body = NULL;
            d->error_len = d->pending_off = d->pending_len = 0;
            d->status = 0;
            d->headers_done = d->paused = d->done = false;
            d->result = CURLE_OK;
        }
        if ((*err = mfd_s3_prepare(d->curl, s, "GET", url, MFD_S3_EMPTY_SHA256, NULL, &d->headers)))
            return false;
        d->curl_message[0] = '\0';
        curl_easy_setopt(d->curl, CURLOPT_ERRORBUFFER, d->curl_message);
        curl_easy_setopt(d->curl, CURLOPT_HEADERFUNCTION, download_header);
        curl_easy_setopt(d->curl, CURLOPT_HEADERDATA, d);
        curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, download_write);
        curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, d);
        curl_multi_add_handle(d->multi, d->curl);
        while (!d->headers_done && !d->done) /* bounded by the connect and stall limits */
            download_step(d, 1000);
        bool answered = d->headers_done;
        if (!mfd_s3_worth_retrying(answered ? CURLE_OK : d->result, answered ? d->status : 0))
            return answered;
    }
    return d->headers_done;
}

static mfd_err s3_download(const char *root, const char *rel, mfd_response *res) {
    const mfd_s3_settings *s = mfd_s3_settings_get();
    if (s->problem)
        return settings_problem(s);
    if (!*rel)
        return not_found(rel);
    mfd_arena *arena = mfd_arena_new();
    mfd_s3_location loc;
    mfd_err err = mfd_s3_location_parse(arena, root, &loc);
    download *d = err ? NULL : calloc(1, sizeof *d);
    if (d) {
        d->curl = mfd_s3_handle();
        d->multi = curl_multi_init();
        if (!d->curl || !d->multi)
            err = mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    }
    if (d && !err) {
        const char *url = mfd_s3_url(arena, s, loc.bucket, mfd_s3_key(arena, &loc, rel), NULL, 0);
        if (!download_start(d, s, url, &err) && !err)
            err = mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE,
                              "Cannot reach S3 to read artifact '%s' (tried %d times): %s", rel,
                              MFD_S3_TRIES,
                              d->curl_message[0] ? d->curl_message : curl_easy_strerror(d->result));
    }
    if (d && !err && d->status != 200) {
        while (!d->done) /* the error document: small */
            download_step(d, 1000);
        err = d->status == 404
                  ? not_found(rel)
                  : mfd_s3_error(arena, d->status, d->error_body, d->error_len,
                                 mfd_arena_sprintf(arena, "Cannot read artifact '%s'", rel));
    }
    if (d && !err) {
        curl_off_t length = -1;
        curl_easy_getinfo(d->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
        res->reader.read = download_read;
        res->reader.free = download_free;
        res->reader.closure = d;
        res->reader.size = length >= 0 ? (uint64_t)length : UINT64_MAX;
        d = NULL; /* the response owns it now */
    }
    download_free(d);
    mfd_arena_free(arena);
    return err;
}

const mfd_artifact_ops mfd_artifact_s3_ops = {
    .name = "S3",
    .open = s3_open,
    .download = s3_download,
    .list = s3_list,
    .remove = s3_remove,
    .upload_begin = mfd_artifact_s3_upload_begin,
    .upload_finish = mfd_artifact_s3_upload_finish,
    .mpu_create = mfd_artifact_s3_mpu_create,
    .mpu_complete = mfd_artifact_s3_mpu_complete,
    .mpu_abort = mfd_artifact_s3_mpu_abort,
};
