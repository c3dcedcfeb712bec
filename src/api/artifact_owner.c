/* artifact_owner.c — whose files a model version serves. A version's
 * location is whatever its creator named (a run, a logged model, any
 * mlflow-artifacts:, s3: or — for prompts, which upstream does not check —
 * local location), so /model-versions/get-artifact, the UI's upload and the
 * KServe hand-off act on a file only for a user who has the permission
 * where the file lives, as if they had asked for it there:
 *   - in the artifact destination, by the proxy's own rule (the experiment
 *     named by the first segment, else the default permission);
 *   - elsewhere, in the runs and logged models whose artifact directories
 *     hold it: such a directory is the server's choice and ends in the run's
 *     or model's id, so the candidates are the path's segments spelled as
 *     such ids, each looked up by its key. Experiment locations are not
 *     trusted: any user picks them (an experiment at "/" would hold every
 *     file).
 * Upstream checks READ on the registered model alone, so anyone with a model
 * of their own could read any run's files through it. Every run or model
 * holding the file counts, not only the innermost (an experiment can be
 * located inside another user's run). An S3 object no run or model holds is
 * served as upstream serves it; a local file is not (it would be any file
 * the server can read); a directory handed to KServe must be inside a run's
 * or model's (KServe reads an S3 location as a key prefix, so any other
 * directory may reach beside it).
 *
 * Places are compared as text: S3 as bucket (lower case, as DNS reads it) and
 * key without empty or "." segments; local paths as the directory the system
 * resolves them to (realpath: "/proc/self/root/...", symbolic links and ".."
 * name the directory they lead to), then the path below it, which the
 * artifact store opens without following links. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "artifact_owner.h"
#include "artifacts/repo.h"
#include "store/artifact_locations.h"
#include "uri.h"

/* A local directory as the system resolves it; lexically folded when it
 * does not exist (yet). */
static const char *real_dir(mfd_arena *arena, const char *dir) {
    char resolved[PATH_MAX];
    if (realpath(dir, resolved))
        return mfd_arena_strdup(arena, resolved);
    return mfd_uri_resolve_path(arena, dir);
}

/* `root` (an artifact root: a local directory or s3://bucket/key) joined
 * with `rel`, as comparable text. NULL for an S3 key with a ".." segment,
 * which is a different object to S3 than to a reader of the text. */
static const char *place_text(mfd_arena *arena, const char *root, const char *rel) {
    if (strncmp(root, "s3://", 5) != 0) {
        const char *dir = real_dir(arena, root);
        return *rel ? mfd_uri_resolve_path(arena, mfd_arena_sprintf(arena, "%s/%s", dir, rel))
                    : dir;
    }
    const char *joined = *rel ? mfd_arena_sprintf(arena, "%s/%s", root, rel) : root;
    const char *bucket = joined + 5;
    size_t bucket_len = strcspn(bucket, "/");
    const char *key = mfd_uri_normalise_path(arena, bucket + bucket_len);
    for (const char *p = key; *p;) {
        size_t seg = strcspn(p, "/");
        if (seg == 2 && p[0] == '.' && p[1] == '.')
            return NULL;
        p += seg + (p[seg] == '/');
    }
    char *lower = mfd_arena_strndup(arena, bucket, bucket_len);
    for (char *c = lower; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return mfd_arena_sprintf(arena, "s3://%s%s%s", lower, *key && *key != '/' ? "/" : "", key);
}

/* The rest of `path` below directory `dir` ("" for the directory itself),
 * or NULL when `path` is not inside it. */
static const char *inside(const char *dir, const char *path) {
    size_t n = strlen(dir);
    if (n > 0 && dir[n - 1] == '/') /* "/" */
        n--;
    if (strncmp(dir, path, n) != 0 || (path[n] != '\0' && path[n] != '/'))
        return NULL;
    return path[n] ? path + n + 1 : "";
}

/* A path segment spelled as a run id (32 lower-case hex digits) or a logged
 * model id ("m-" and the same). */
static bool is_hex32(const char *s, size_t len) {
    if (len != 32)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return false;
    return true;
}

/* Every run and logged model whose artifact directory holds `file` (nested
 * ones happen: an experiment located inside another user's run) must give
 * `need`; *held says whether there was one. */
static mfd_err check_holders(mfd_request *req, mfd_response *res, const char *destination,
                             const char *file, mfd_permission need, bool *held, bool *refused) {
    *held = false;
    mfd_conn *conn;
    mfd_err err = mfd_api_conn(req, &conn);
    for (const char *end = file + strlen(file); !err && !*refused && end > file;) {
        const char *start = end;
        while (start > file && start[-1] != '/')
            start--;
        size_t len = (size_t)(end - start);
        bool model = len == 34 && !strncmp(start, "m-", 2) && is_hex32(start + 2, 32);
        if (model || is_hex32(start, len)) {
            const char *id = mfd_arena_strndup(req->arena, start, len), *location, *root, *prefix,
                       *dir;
            int64_t experiment_id;
            bool exists = false;
            err = mfd_artifact_location_owner(conn, req->arena, id, model, &experiment_id,
                                              &location, &exists);
            mfd_err bad = err || !exists ? NULL
                                         : mfd_artifact_uri_resolve(req->arena, destination,
                                                                    location, &root, &prefix);
            if (!err && exists && !bad && (dir = place_text(req->arena, root, prefix)) &&
                inside(dir, file)) {
                *held = true;
                err = mfd_auth_require(
                    req, res, MFD_AUTH_EXPERIMENT,
                    mfd_arena_sprintf(req->arena, "%lld", (long long)experiment_id), need, refused);
            }
            mfd_err_free(bad);
        }
        end = start > file ? start - 1 : file;
    }
    return err;
}

static mfd_err refuse(const char *what) {
    return mfd_err_new(MFD_PERMISSION_DENIED, "Permission denied: %s", what);
}

mfd_err mfd_api_check_file_owner(mfd_request *req, mfd_response *res, const char *destination,
                                 const char *root, const char *rel, mfd_permission need,
                                 bool whole_tree, bool *refused) {
    *refused = false;
    /* Without auth, and for an admin, no permission is checked below; but a
     * file read through a version must still be one a run or model holds (or
     * the proxy's): its source is whatever its creator named. Writes (the
     * UI's upload) go to a run's own location, and an admin hands any
     * directory to KServe. */
    if ((!mfd_auth_of(req) || req->is_admin) && (whole_tree || need != MFD_PERM_READ))
        return NULL;
    const char *file = place_text(req->arena, root, rel);
    if (!file)
        return refuse("the artifact's place is ambiguous");
    const char *dest = destination ? place_text(req->arena, destination, "") : NULL;
    const char *below = dest ? inside(dest, file) : NULL;
    mfd_err err = NULL;
    if (below && (err = mfd_auth_require_artifact(req, res, below, need, refused)))
        return err;
    if (*refused || (below && !whole_tree))
        return NULL;
    bool held;
    if ((err = check_holders(req, res, destination, file, need, &held, refused)) || *refused ||
        held)
        return err;
    /* KServe reads an S3 storageUri as a key prefix, everything below and beside
     * it: only a run's or a model's own directory is handed over. */
    if (whole_tree)
        return refuse("a directory that is not in one run's or model's artifacts");
    if (!below && strncmp(file, "s3://", 5) != 0)
        return refuse("a local file outside every run's and model's artifacts");
    return NULL;
}
