/* s3_mpu.c — the proxied multipart upload on S3 (rest-api.md §8.2 mpu/...),
 * as MLflow's S3 repository does it: the server starts the upload and hands
 * the client a presigned PUT per part; the client sends the parts straight
 * to S3 and gives the server their ETags to complete the object, or asks it
 * to abort. No part passes through the server.
 *
 * The presigned URLs name the endpoint the server talks to
 * (MLFLOW_S3_ENDPOINT_URL, or AWS): the client must be able to reach it, as
 * with MLflow. */
#include <string.h>
#include <time.h>

#include "s3_internal.h"

enum { PRESIGNED_SECONDS = 3600 }; /* boto3's generate_presigned_url default */

typedef struct mpu_call {
    mfd_s3_object obj;
    CURL *curl;
} mpu_call;

static mfd_err begin(mfd_arena *arena, const char *root, const char *rel, mpu_call *call) {
    const mfd_s3_settings *s = mfd_s3_settings_get();
    call->curl = NULL;
    if (s->problem)
        return mfd_err_new(MFD_INTERNAL_ERROR, "S3 is not configured: %s", s->problem);
    mfd_err err = mfd_s3_object_of(arena, root, rel, &call->obj);
    if (!err && !(call->curl = mfd_s3_handle()))
        err = mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    return err;
}

static void end(mpu_call *call) {
    if (call->curl)
        curl_easy_cleanup(call->curl);
}

mfd_err mfd_artifact_s3_mpu_create(mfd_arena *arena, const char *root, const char *rel,
                                   size_t n_parts, const char **upload_id, const char ***urls) {
    mpu_call call;
    mfd_err err = begin(arena, root, rel, &call);
    if (!err)
        err = mfd_s3_multipart_create(call.curl, arena, &call.obj, upload_id);
    end(&call);
    if (err)
        return err;
    const mfd_s3_settings *s = mfd_s3_settings_get();
    time_t now = time(NULL);
    *urls = mfd_arena_calloc(arena, n_parts ? n_parts : 1, sizeof **urls);
    for (size_t i = 0; i < n_parts; i++) {
        mfd_s3_param query[2] = {{"partNumber", mfd_arena_sprintf(arena, "%zu", i + 1)},
                                 {"uploadId", *upload_id}};
        (*urls)[i] = mfd_s3_presign(arena, s, "PUT", call.obj.bucket, call.obj.key, query, 2,
                                    PRESIGNED_SECONDS, now);
    }
    return NULL;
}

mfd_err mfd_artifact_s3_mpu_complete(mfd_arena *arena, const char *root, const char *rel,
                                     const char *upload_id, const mfd_artifact_part *parts,
                                     size_t n_parts) {
    mpu_call call;
    mfd_err err = begin(arena, root, rel, &call);
    if (!err)
        err = mfd_s3_multipart_complete(call.curl, arena, &call.obj, upload_id, parts, n_parts);
    end(&call);
    return err;
}

mfd_err mfd_artifact_s3_mpu_abort(mfd_arena *arena, const char *root, const char *rel,
                                  const char *upload_id) {
    mpu_call call;
    mfd_err err = begin(arena, root, rel, &call);
    if (!err)
        err = mfd_s3_multipart_abort(call.curl, arena, &call.obj, upload_id);
    end(&call);
    return err;
}
