/* repo.h — the artifacts module's whole face: path safety (path.c), the
 * Content-Type rule (mime.c) and file operations under a root directory
 * (local.c) for the proxied destination behind /api/2.0/mlflow-artifacts/
 * and for runs whose artifact URI is a local directory.
 *
 * Every relative path given to the file operations must come out of
 * mfd_artifact_path_normalize(). The operations never follow a symbolic link
 * below the root (each component is opened with O_NOFOLLOW), so nothing
 * placed inside a root can lead a request outside it. */
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

/* Opens the destination (a local directory, created if missing). */
mfd_err mfd_artifact_repo_open(const char *destination, mfd_artifact_repo **out);
void mfd_artifact_repo_close(mfd_artifact_repo *repo);
/* The destination's directory: the root for proxied artifact paths. */
const char *mfd_artifact_repo_root(const mfd_artifact_repo *repo);

/* --- path.c ---------------------------------------------------------- */

/* Decodes %XX escapes that have two hex digits and leaves every other
 * character as it is (libmicrohttpd's rule for URL paths); with `form`, '+'
 * also becomes a space (query strings). The result may contain NUL bytes:
 * its length is *out_len. */
char *mfd_artifact_unescape(mfd_arena *arena, const char *s, size_t len, bool form,
                            size_t *out_len);
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

/* Maps a stored artifact URI to the local directory `root` and the path
 * `prefix` below it that hold its files: mlflow-artifacts:/p and
 * http(s)://.../api/2.0/mlflow-artifacts/artifacts/p -> (destination, p);
 * file: URIs and plain paths -> (that directory, ""). A proxied URI while
 * `destination` is NULL (proxy off), or another scheme: 501 NOT_IMPLEMENTED. */
mfd_err mfd_artifact_uri_resolve(mfd_arena *arena, const char *destination, const char *uri,
                                 const char **root, const char **prefix);

/* --- local.c: file operations under `root` --------------------------- */

typedef struct mfd_artifact_file {
    const char *name; /* the entry's base name */
    bool is_dir;
    int64_t size; /* bytes, for files */
} mfd_artifact_file;

/* Opens the regular file `rel` for streaming. A missing file, a directory,
 * a symbolic link or anything but a regular file: 404 RESOURCE_DOES_NOT_EXIST. */
mfd_err mfd_artifact_open(const char *root, const char *rel, int *fd, uint64_t *size);
/* The immediate children of directory `rel`, sorted by name. A missing path
 * or a file gives no entries (behaviours.md #8); symbolic links, special
 * files and in-progress uploads are not listed. */
mfd_err mfd_artifact_list(mfd_arena *arena, const char *root, const char *rel,
                          mfd_artifact_file **files, size_t *n_files);
/* Deletes the file or the whole directory tree `rel` (not the root itself);
 * a missing path is success. Symbolic links are removed, never followed. */
mfd_err mfd_artifact_delete(const char *root, const char *rel);
/* Starts a streamed upload to file `rel`: creates the missing parent
 * directories and a hidden temporary file beside the target, and fills
 * upload->fd / temp_path / state for the server to write the body into. */
mfd_err mfd_artifact_upload_begin(const char *root, const char *rel, mfd_upload *upload);
/* Once the body is in (fd closed): renames the temporary file over the
 * target, so readers see the old file or the new one, never a part. */
mfd_err mfd_artifact_upload_finish(mfd_upload *upload);

#endif
