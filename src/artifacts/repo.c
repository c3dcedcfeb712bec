/* repo.c — the artifact operations of repo.h, each sent to the storage that
 * its root names: "s3://..." to s3.c, anything else to local.c (a local
 * directory). The root string is the whole handle: stored URIs resolve to
 * roots (uri.c) and the proxied destination is one (mfd_artifact_repo_root),
 * so no caller needs to know which storage serves it. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

struct mfd_artifact_repo {
    const mfd_artifact_ops *ops;
    char *root;
};

static bool is_s3(const char *root) {
    return strncmp(root, "s3://", 5) == 0;
}

static const mfd_artifact_ops *ops_for(const char *root) {
    return is_s3(root) ? &mfd_artifact_s3_ops : &mfd_artifact_local_ops;
}

mfd_err mfd_artifact_repo_open(const char *destination, mfd_artifact_repo **out) {
    const mfd_artifact_ops *ops = ops_for(destination);
    char *root;
    mfd_err err = ops->open(destination, &root);
    if (err)
        return err;
    mfd_artifact_repo *repo = calloc(1, sizeof *repo);
    repo->ops = ops;
    repo->root = root;
    *out = repo;
    return NULL;
}

mfd_err mfd_artifact_root_check(const char *root) {
    if (!is_s3(root))
        return NULL;
    char *normalised = NULL;
    mfd_err err = mfd_artifact_s3_ops.open(root, &normalised);
    free(normalised);
    return err;
}

void mfd_artifact_repo_close(mfd_artifact_repo *repo) {
    if (!repo)
        return;
    free(repo->root);
    free(repo);
    mfd_artifact_s3_shutdown();
}

const char *mfd_artifact_repo_root(const mfd_artifact_repo *repo) {
    return repo->root;
}

mfd_err mfd_artifact_download(const char *root, const char *rel, mfd_response *res) {
    return ops_for(root)->download(root, rel, res);
}

mfd_err mfd_artifact_open(const char *root, const char *rel, int *fd, uint64_t *size) {
    *fd = -1;
    if (is_s3(root))
        return mfd_err_new(MFD_NOT_IMPLEMENTED, "Artifacts at '%s' have no file descriptor", root);
    return mfd_artifact_local_open(root, rel, fd, size);
}

mfd_err mfd_artifact_list(mfd_arena *arena, const char *root, const char *rel,
                          mfd_artifact_file **files, size_t *n_files) {
    *files = NULL;
    *n_files = 0;
    return ops_for(root)->list(arena, root, rel, files, n_files);
}

mfd_err mfd_artifact_delete(const char *root, const char *rel) {
    if (!*rel) /* never a whole root */
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
    return ops_for(root)->remove(root, rel);
}

mfd_err mfd_artifact_upload_begin(const char *root, const char *rel, mfd_upload *upload) {
    if (!*rel)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
    return ops_for(root)->upload_begin(root, rel, upload);
}

mfd_err mfd_artifact_upload_finish(mfd_upload *upload) {
    const mfd_artifact_upload_head *head = upload->state;
    return head->ops->upload_finish(upload);
}

mfd_err mfd_artifact_mpu_check(const char *root) {
    if (ops_for(root)->mpu_create)
        return NULL;
    return mfd_err_new(MFD_NOT_IMPLEMENTED, "%s", MFD_ARTIFACT_MPU_UNSUPPORTED);
}

/* The storage takes multipart uploads, and `rel` names a file. */
static mfd_err mpu_ready(const char *root, const char *rel) {
    mfd_err err = mfd_artifact_mpu_check(root);
    if (!err && !*rel)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
    return err;
}

mfd_err mfd_artifact_mpu_create(mfd_arena *arena, const char *root, const char *rel, size_t n_parts,
                                const char **upload_id, const char ***urls) {
    mfd_err err = mpu_ready(root, rel);
    return err ? err : ops_for(root)->mpu_create(arena, root, rel, n_parts, upload_id, urls);
}

mfd_err mfd_artifact_mpu_complete(mfd_arena *arena, const char *root, const char *rel,
                                  const char *upload_id, const mfd_artifact_part *parts,
                                  size_t n_parts) {
    mfd_err err = mpu_ready(root, rel);
    return err ? err : ops_for(root)->mpu_complete(arena, root, rel, upload_id, parts, n_parts);
}

mfd_err mfd_artifact_mpu_abort(mfd_arena *arena, const char *root, const char *rel,
                               const char *upload_id) {
    mfd_err err = mpu_ready(root, rel);
    return err ? err : ops_for(root)->mpu_abort(arena, root, rel, upload_id);
}
