/* backend.h — inside the artifacts module only: the table of operations
 * each kind of storage implements (local.c, s3.c), which repo.c picks by
 * the root's scheme. Callers outside the module use repo.h.
 *
 * Invariant: every upload state a backend puts in mfd_upload.state is one
 * malloc'd block (the server frees it with free()) that starts with an
 * mfd_artifact_upload_head, so mfd_artifact_upload_finish() finds its
 * backend without knowing it. */
#ifndef MFD_ARTIFACT_BACKEND_H
#define MFD_ARTIFACT_BACKEND_H

#include "repo.h"

typedef struct mfd_artifact_ops {
    const char *name; /* for messages: "local", "S3" */
    /* Checks a destination and returns its normalised root (malloc'd). */
    mfd_err (*open)(const char *destination, char **root);
    mfd_err (*download)(const char *root, const char *rel, mfd_response *res);
    mfd_err (*list)(mfd_arena *arena, const char *root, const char *rel, mfd_artifact_file **files,
                    size_t *n_files);
    mfd_err (*remove)(const char *root, const char *rel);
    mfd_err (*upload_begin)(const char *root, const char *rel, mfd_upload *upload);
    mfd_err (*upload_finish)(mfd_upload *upload);
    /* The proxied multipart upload (repo.h); NULL when the storage has none. */
    mfd_err (*mpu_create)(mfd_arena *arena, const char *root, const char *rel, size_t n_parts,
                          const char **upload_id, const char ***urls);
    mfd_err (*mpu_complete)(mfd_arena *arena, const char *root, const char *rel,
                            const char *upload_id, const mfd_artifact_part *parts, size_t n_parts);
    mfd_err (*mpu_abort)(mfd_arena *arena, const char *root, const char *rel,
                         const char *upload_id);
} mfd_artifact_ops;

typedef struct mfd_artifact_upload_head {
    const mfd_artifact_ops *ops;
} mfd_artifact_upload_head;

extern const mfd_artifact_ops mfd_artifact_local_ops;
extern const mfd_artifact_ops mfd_artifact_s3_ops;

/* local.c: the regular file `rel` under the local directory `root`. */
mfd_err mfd_artifact_local_open(const char *root, const char *rel, int *fd, uint64_t *size);
/* local.c: removes files named `prefix`... in `dir` that no upload has
 * written to for an hour (left by a server killed mid-upload). */
void mfd_artifact_remove_stale_uploads(const char *dir, const char *prefix);
/* s3_upload.c: the directory of the spool files of S3 uploads ($TMPDIR). */
const char *mfd_artifact_s3_spool_dir(void);
#define MFD_ARTIFACT_S3_SPOOL_PREFIX "mlflowd-s3-upload-"
/* s3_mpu.c: the proxied multipart upload of mfd_artifact_s3_ops. */
mfd_err mfd_artifact_s3_mpu_create(mfd_arena *arena, const char *root, const char *rel,
                                   size_t n_parts, const char **upload_id, const char ***urls);
mfd_err mfd_artifact_s3_mpu_complete(mfd_arena *arena, const char *root, const char *rel,
                                     const char *upload_id, const mfd_artifact_part *parts,
                                     size_t n_parts);
mfd_err mfd_artifact_s3_mpu_abort(mfd_arena *arena, const char *root, const char *rel,
                                  const char *upload_id);
/* s3.c: releases what the S3 client set up (at shutdown; idempotent). */
void mfd_artifact_s3_shutdown(void);

#endif
