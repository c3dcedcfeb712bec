/* s3_upload.c — uploads to the S3 storage (s3.c): the server spools the
 * request body into a temporary file under $TMPDIR (upload_begin), then
 * upload_finish sends that file to S3 — with one PutObject, or from
 * MLFLOWD_S3_MULTIPART_THRESHOLD bytes on as a multipart upload
 * (CreateMultipartUpload, UploadPart per part, CompleteMultipartUpload).
 * The create, complete and abort calls also serve the client's own
 * multipart upload through the proxy (s3_mpu.c).
 *
 * Invariants kept here:
 *   - Bodies stream from the file (libcurl reads it piece by piece): memory
 *     does not grow with the size of the upload.
 *   - Readers see the old object or the new one, never a part: S3 makes an
 *     object visible only when its PutObject or CompleteMultipartUpload
 *     succeeds. A multipart upload that fails after it was created is
 *     aborted, so S3 keeps no orphaned parts of it.
 *   - The temporary file stays in upload->temp_path, which the server
 *     removes when the request ends, whatever happened; one a killed server
 *     left is removed at a later start (s3_open). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/escape.h"
#include "core/log.h"
#include "s3_internal.h"

enum { MAX_KEY_BYTES = 1024, MAX_PARTS = 10000 };

/* One malloc'd block: the head, then the strings. */
typedef struct s3_upload_state {
    mfd_artifact_upload_head head;
    mfd_s3_object obj;
} s3_upload_state;

const char *mfd_artifact_s3_spool_dir(void) {
    const char *tmpdir = getenv("TMPDIR");
    return tmpdir && *tmpdir ? tmpdir : "/tmp";
}

mfd_err mfd_s3_object_of(mfd_arena *arena, const char *root, const char *rel, mfd_s3_object *out) {
    mfd_s3_location loc;
    mfd_err err = mfd_s3_location_parse(arena, root, &loc);
    if (err)
        return err;
    out->bucket = loc.bucket;
    out->key = mfd_s3_key(arena, &loc, rel);
    out->rel = rel;
    if (strlen(out->key) > MAX_KEY_BYTES)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Artifact path '%s' is too long: S3 keys have at most %d bytes", rel,
                           MAX_KEY_BYTES);
    return NULL;
}

mfd_err mfd_artifact_s3_upload_begin(const char *root, const char *rel, mfd_upload *upload) {
    const mfd_s3_settings *s = mfd_s3_settings_get();
    if (s->problem)
        return mfd_err_new(MFD_INTERNAL_ERROR, "S3 is not configured: %s", s->problem);
    mfd_arena *arena = mfd_arena_new();
    mfd_s3_object obj;
    mfd_err err = mfd_s3_object_of(arena, root, rel, &obj);
    if (err) {
        mfd_arena_free(arena);
        return err;
    }
    char *path = mfd_arena_sprintf(arena, "%s/" MFD_ARTIFACT_S3_SPOOL_PREFIX "XXXXXX",
                                   mfd_artifact_s3_spool_dir());
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        err = mfd_err_new(MFD_INTERNAL_ERROR,
                          "cannot create a temporary file for artifact '%s' "
                          "(%s): %s",
                          rel, path, strerror(errno));
        mfd_arena_free(arena);
        return err;
    }
    size_t bucket_len = strlen(obj.bucket), key_len = strlen(obj.key), rel_len = strlen(rel);
    s3_upload_state *state = malloc(sizeof *state + bucket_len + key_len + rel_len + 3);
    char *p = (char *)(state + 1);
    state->head.ops = &mfd_artifact_s3_ops;
    state->obj.bucket = memcpy(p, obj.bucket, bucket_len + 1);
    p += bucket_len + 1;
    state->obj.key = memcpy(p, obj.key, key_len + 1);
    p += key_len + 1;
    state->obj.rel = memcpy(p, rel, rel_len + 1);
    upload->fd = fd;
    upload->temp_path = strdup(path);
    upload->size = 0;
    upload->state = state;
    mfd_arena_free(arena);
    return NULL;
}

static mfd_err answer_error(mfd_arena *arena, const mfd_s3_response *res,
                            const mfd_s3_object *obj) {
    return mfd_s3_error(arena, res->status, res->body, res->body_len,
                        mfd_arena_sprintf(arena, "Cannot store artifact '%s'", obj->rel));
}

static mfd_err put_object(CURL *curl, mfd_arena *arena, const mfd_s3_object *obj, int fd,
                          uint64_t size) {
    mfd_s3_request req = {.method = "PUT",
                          .bucket = obj->bucket,
                          .key = obj->key,
                          .content_type = mfd_artifact_mime_type(obj->rel),
                          .body_fd = fd,
                          .body_size = size};
    mfd_s3_response res;
    mfd_err err = mfd_s3_perform(curl, arena, mfd_s3_settings_get(), &req, &res);
    if (!err && res.status != 200)
        err = answer_error(arena, &res, obj);
    return err;
}

/* The UploadId of a CreateMultipartUpload answer, or NULL. */
static const char *upload_id_of(mfd_arena *arena, const mfd_s3_response *res) {
    xmlDoc *doc = mfd_s3_xml_parse(res->body, res->body_len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    const char *id =
        root && !xmlStrcmp(root->name, (const xmlChar *)"InitiateMultipartUploadResult")
            ? mfd_s3_xml_text(arena, root, "UploadId")
            : NULL;
    xmlFreeDoc(doc);
    return id && *id ? id : NULL;
}

mfd_err mfd_s3_multipart_create(CURL *curl, mfd_arena *arena, const mfd_s3_object *obj,
                                const char **upload_id) {
    mfd_s3_param query[1] = {{"uploads", ""}};
    mfd_s3_request req = {.method = "POST",
                          .bucket = obj->bucket,
                          .key = obj->key,
                          .query = query,
                          .n_query = 1,
                          .content_type = mfd_artifact_mime_type(obj->rel),
                          .body_fd = -1};
    mfd_s3_response res;
    mfd_err err = mfd_s3_perform(curl, arena, mfd_s3_settings_get(), &req, &res);
    if (!err && res.status != 200)
        err = answer_error(arena, &res, obj);
    if (!err && !(*upload_id = upload_id_of(arena, &res)))
        err = mfd_err_new(MFD_INTERNAL_ERROR,
                          "Cannot store artifact '%s': S3 started a multipart upload without an "
                          "UploadId",
                          obj->rel);
    return err;
}

/* Sends part `number` (from 1): bytes [offset, +len) of the file. */
static mfd_err upload_part(CURL *curl, mfd_arena *arena, const mfd_s3_object *obj,
                           const char *upload_id, int number, int fd, uint64_t offset, uint64_t len,
                           const char **etag) {
    mfd_arena *scratch = mfd_arena_new();
    mfd_s3_param query[2] = {{"partNumber", mfd_arena_sprintf(scratch, "%d", number)},
                             {"uploadId", upload_id}};
    mfd_s3_request req = {.method = "PUT",
                          .bucket = obj->bucket,
                          .key = obj->key,
                          .query = query,
                          .n_query = 2,
                          .body_fd = fd,
                          .body_offset = offset,
                          .body_size = len};
    mfd_s3_response res;
    mfd_err err = mfd_s3_perform(curl, scratch, mfd_s3_settings_get(), &req, &res);
    if (!err && res.status != 200)
        err = answer_error(scratch, &res, obj);
    if (!err && (!res.etag || !*res.etag))
        err = mfd_err_new(MFD_INTERNAL_ERROR,
                          "Cannot store artifact '%s': S3 took part %d without an ETag", obj->rel,
                          number);
    if (!err)
        *etag = mfd_arena_strdup(arena, res.etag);
    mfd_arena_free(scratch);
    return err;
}

mfd_err mfd_s3_multipart_complete(CURL *curl, mfd_arena *arena, const mfd_s3_object *obj,
                                  const char *upload_id, const mfd_artifact_part *parts,
                                  size_t n_parts) {
    mfd_strbuf body;
    mfd_strbuf_init(&body, arena);
    mfd_strbuf_append(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload "
                             "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (size_t i = 0; i < n_parts; i++)
        mfd_strbuf_appendf(&body, "<Part><PartNumber>%lld</PartNumber><ETag>%s</ETag></Part>",
                           (long long)parts[i].number, mfd_markup_escape(arena, parts[i].etag));
    mfd_strbuf_append(&body, "</CompleteMultipartUpload>");
    mfd_s3_param query[1] = {{"uploadId", upload_id}};
    mfd_s3_request req = {.method = "POST",
                          .bucket = obj->bucket,
                          .key = obj->key,
                          .query = query,
                          .n_query = 1,
                          .content_type = "application/xml",
                          .body = body.data,
                          .body_len = body.len,
                          .body_fd = -1};
    mfd_s3_response res;
    mfd_err err = mfd_s3_perform(curl, arena, mfd_s3_settings_get(), &req, &res);
    if (err)
        return err;
    /* S3 may answer 200 and still fail: the body is then an <Error>. */
    xmlDoc *doc = res.status == 200 ? mfd_s3_xml_parse(res.body, res.body_len) : NULL;
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    bool done = root && !xmlStrcmp(root->name, (const xmlChar *)"CompleteMultipartUploadResult");
    xmlFreeDoc(doc);
    if (done)
        return NULL;
    mfd_s3_response failed = res;
    if (failed.status == 200)
        failed.status = 500;
    return answer_error(arena, &failed, obj);
}

mfd_err mfd_s3_multipart_abort(CURL *curl, mfd_arena *arena, const mfd_s3_object *obj,
                               const char *upload_id) {
    mfd_s3_param query[1] = {{"uploadId", upload_id}};
    mfd_s3_request req = {.method = "DELETE",
                          .bucket = obj->bucket,
                          .key = obj->key,
                          .query = query,
                          .n_query = 1,
                          .body_fd = -1};
    mfd_s3_response res;
    mfd_err err = mfd_s3_perform(curl, arena, mfd_s3_settings_get(), &req, &res);
    if (!err && res.status != 204 && res.status != 200) /* S3 answers 204 */
        err = mfd_s3_error(
            arena, res.status, res.body, res.body_len,
            mfd_arena_sprintf(arena, "Cannot abort the upload of artifact '%s'", obj->rel));
    return err;
}

/* After a failed upload: its parts would cost storage until a lifecycle
 * rule (AbortIncompleteMultipartUpload) or an operator removed them. */
static void abort_multipart(CURL *curl, mfd_arena *arena, const mfd_s3_object *obj,
                            const char *upload_id) {
    mfd_err err = mfd_s3_multipart_abort(curl, arena, obj, upload_id);
    if (err && err->code != MFD_RESOURCE_DOES_NOT_EXIST)
        mfd_log_warn("S3 multipart upload %s of s3://%s/%s was not aborted (%s); its parts "
                     "stay in the bucket until a lifecycle rule or an operator removes them",
                     upload_id, obj->bucket, obj->key, err->message);
    mfd_err_free(err);
}

static mfd_err put_multipart(CURL *curl, mfd_arena *arena, const mfd_s3_object *obj, int fd,
                             uint64_t size) {
    uint64_t part_size = mfd_s3_settings_get()->part_size;
    if ((size + part_size - 1) / part_size > MAX_PARTS)
        part_size = (size + MAX_PARTS - 1) / MAX_PARTS;
    int n_parts = (int)((size + part_size - 1) / part_size);
    const char *upload_id;
    mfd_err err = mfd_s3_multipart_create(curl, arena, obj, &upload_id);
    if (err)
        return err;
    mfd_artifact_part *parts = mfd_arena_calloc(arena, (size_t)n_parts, sizeof *parts);
    for (int i = 0; i < n_parts && !err; i++) {
        uint64_t offset = (uint64_t)i * part_size;
        uint64_t len = size - offset < part_size ? size - offset : part_size;
        parts[i].number = i + 1;
        err = upload_part(curl, arena, obj, upload_id, i + 1, fd, offset, len, &parts[i].etag);
    }
    if (!err)
        err = mfd_s3_multipart_complete(curl, arena, obj, upload_id, parts, (size_t)n_parts);
    if (err)
        abort_multipart(curl, arena, obj, upload_id);
    return err;
}

mfd_err mfd_artifact_s3_upload_finish(mfd_upload *upload) {
    const s3_upload_state *st = upload->state;
    int fd = open(upload->temp_path, O_RDONLY | O_CLOEXEC);
    struct stat info;
    if (fd < 0 || fstat(fd, &info) != 0) {
        mfd_err err = mfd_err_new(MFD_INTERNAL_ERROR, "cannot read the upload of artifact '%s': %s",
                                  st->obj.rel, strerror(errno));
        if (fd >= 0)
            close(fd);
        return err;
    }
    uint64_t size = (uint64_t)info.st_size;
    mfd_arena *arena = mfd_arena_new();
    CURL *curl = mfd_s3_handle();
    mfd_err err;
    if (!curl)
        err = mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    else if (size >= mfd_s3_settings_get()->multipart_threshold)
        err = put_multipart(curl, arena, &st->obj, fd, size);
    else
        err = put_object(curl, arena, &st->obj, fd, size);
    if (curl)
        curl_easy_cleanup(curl);
    close(fd);
    mfd_arena_free(arena);
    return err;
}
