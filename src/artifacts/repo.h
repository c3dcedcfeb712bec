/* repo.h — the artifacts module's whole face: path safety (path.c), the
 * Content-Type rule (mime.c) and file operations under a root location for
 * the proxied destination behind /api/2.0/mlflow-artifacts/ and for runs
 * whose artifact URI the server can reach.
 *
 * A root is a local directory (local.c) or an S3 location
 * "s3://bucket[/prefix]" (s3.c); repo.c sends each operation to the
 * storage that the root names, so callers never branch on the kind.
 *
 * Every relative path given to the file operations must come out of
 * mfd_artifact_path_normalize(). Local operations never follow a symbolic
 * link below the root (each component is opened with O_NOFOLLOW), so
 * nothing placed inside a root can lead a request outside it; S3 keys are
 * the root's prefix + "/" + that path, so they stay below the prefix. */
#ifndef MFD_ARTIFACT_REPO_H
#define MFD_ARTIFACT_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "http/request.h"

/* In-progress uploads are written to hidden files with this prefix next to
 * their target; listings skip them and no client path may name one. */
#define MFD_ARTIFACT_UPLOAD_PREFIX ".mlflowd-upload-"

typedef struct mfd_artifact_repo mfd_artifact_repo;

/* Opens the destination: a local directory (created if missing), or
 * s3://bucket[/prefix] (checked, and the S3 settings read from the
 * environment; nothing is sent to S3 until the first request). */
mfd_err mfd_artifact_repo_open(const char *destination, mfd_artifact_repo **out);
void mfd_artifact_repo_close(mfd_artifact_repo *repo);
/* Checks a root that is not opened as the destination (--default-artifact-root
 * without the proxy) as opening it would: for s3://, the S3 settings and the
 * bucket name, so that a bad value stops the start rather than the first
 * artifact call. Local roots are not touched. */
mfd_err mfd_artifact_root_check(const char *root);
/* The destination as a root for proxied artifact paths: the absolute
 * directory, or the normalised "s3://bucket[/prefix]". */
const char *mfd_artifact_repo_root(const mfd_artifact_repo *repo);

/* --- path.c ---------------------------------------------------------- */

/* §8.0 on a path decoded once (`len` bytes, NULs included): false if it, or
 * what up to 10 more decoding rounds make of it, holds a control character
 * (in the name itself), '#', '\\', a ".." segment, or is absolute (/..., a
 * drive "C:", a file: URI). */
bool mfd_artifact_path_is_safe(mfd_arena *arena, const char *path, size_t len);
/* Checks a path as above and returns it normalised: segments joined by one
 * '/', without empty or "." segments ("" = the root). Unsafe paths, and names
 * of in-progress uploads, give 400 INVALID_PARAMETER_VALUE "Invalid path". */
mfd_err mfd_artifact_path_normalize(mfd_arena *arena, const char *path, size_t len,
                                    const char **out);
/* "a" + "b" -> "a/b"; either may be "". */
const char *mfd_artifact_relpath_join(mfd_arena *arena, const char *a, const char *b);
const char *mfd_artifact_path_basename(const char *path);

/* --- mime.c ---------------------------------------------------------- */

/* MLflow's guess for a file name (§8.2): text/plain for its text extensions
 * and MLmodel/MLproject, else Python's mimetypes table, else
 * application/octet-stream. Static storage. */
const char *mfd_artifact_mime_type(const char *path);

/* --- uri.c ----------------------------------------------------------- */

/* Maps a stored artifact URI to the root and the path `prefix` below it
 * that hold its files: mlflow-artifacts:/p and
 * http(s)://.../api/2.0/mlflow-artifacts/artifacts/p -> (destination, p);
 * file: URIs and plain paths -> (that directory, ""); s3://bucket/key ->
 * (that S3 location, ""). A proxied URI while `destination` is NULL (proxy
 * off), or another scheme: 501 NOT_IMPLEMENTED. */
mfd_err mfd_artifact_uri_resolve(mfd_arena *arena, const char *destination, const char *uri,
                                 const char **root, const char **prefix);

/* --- file operations under `root` (repo.c: local.c or s3.c) ---------- */

typedef struct mfd_artifact_file {
    const char *name; /* the entry's base name */
    bool is_dir;
    int64_t size; /* bytes, for files */
} mfd_artifact_file;

/* Sets the body of `res` to file `rel`, streamed: an open fd (res->fd,
 * fd_offset, fd_size) for a local file, a reader (res->reader) that passes
 * an S3 object on as it arrives. A missing file, a directory, a symbolic
 * link or anything but a regular file: 404 RESOURCE_DOES_NOT_EXIST. */
mfd_err mfd_artifact_download(const char *root, const char *rel, mfd_response *res);
/* Opens the regular local file `rel` for streaming (404 as above). Local
 * roots only: an S3 root answers 501; use mfd_artifact_download(). */
mfd_err mfd_artifact_open(const char *root, const char *rel, int *fd, uint64_t *size);
/* The immediate children of directory `rel`, sorted by name (bytes). A
 * missing path or a file gives no entries (behaviours.md #8); symbolic
 * links, special files and in-progress uploads are not listed. On S3 a
 * "directory" is a common key prefix ending in '/'. */
mfd_err mfd_artifact_list(mfd_arena *arena, const char *root, const char *rel,
                          mfd_artifact_file **files, size_t *n_files);
/* Deletes the file or the whole directory tree `rel` (not the root itself);
 * a missing path is success. Symbolic links are removed, never followed. */
mfd_err mfd_artifact_delete(const char *root, const char *rel);
/* Starts a streamed upload to file `rel` and fills upload->fd / temp_path /
 * state for the server to write the body into. Local: creates the missing
 * parent directories and a hidden temporary file beside the target. S3: a
 * temporary file under $TMPDIR. The state is one malloc'd block. */
mfd_err mfd_artifact_upload_begin(const char *root, const char *rel, mfd_upload *upload);
/* Once the body is in (fd closed): renames the temporary file over the
 * target, or sends it to S3 (one PUT, or a multipart upload for big
 * files), so readers see the old file or the new one, never a part. */
mfd_err mfd_artifact_upload_finish(mfd_upload *upload);

/* --- the proxied multipart upload (rest-api.md §8.2, mpu/...) -------- */

/* What the client recognises to fall back to one PUT (rest-api.md §8.2). */
#define MFD_ARTIFACT_MPU_UNSUPPORTED                                                               \
    "Multipart upload is not supported for the current artifact repository"
/* S3's limit on the parts of one upload. */
#define MFD_ARTIFACT_MPU_MAX_PARTS 10000

typedef struct mfd_artifact_part {
    int64_t number;   /* from 1 */
    const char *etag; /* as S3 answered the client's PUT of the part */
} mfd_artifact_part;

/* NULL when the storage of `root` takes multipart uploads; else 501
 * NOT_IMPLEMENTED with MFD_ARTIFACT_MPU_UNSUPPORTED (each call below checks
 * it first too). */
mfd_err mfd_artifact_mpu_check(const char *root);
/* Starts the upload of file `rel` in `n_parts` parts that the client sends
 * straight to the storage: (*urls)[i] is a presigned PUT of part i + 1,
 * valid for an hour (as MLflow's S3 repository makes them). */
mfd_err mfd_artifact_mpu_create(mfd_arena *arena, const char *root, const char *rel, size_t n_parts,
                                const char **upload_id, const char ***urls);
/* Makes file `rel` of the parts (in ascending order of number). */
mfd_err mfd_artifact_mpu_complete(mfd_arena *arena, const char *root, const char *rel,
                                  const char *upload_id, const mfd_artifact_part *parts,
                                  size_t n_parts);
/* Drops the upload and the parts sent so far. */
mfd_err mfd_artifact_mpu_abort(mfd_arena *arena, const char *root, const char *rel,
                               const char *upload_id);

#endif
