/* artifact_owner.c — whose files a model version serves. A version's
 * location is whatever its creator named (a run, a logged model, any
 * mlflow-artifacts: or s3: URI), so /model-versions/get-artifact reads a file
 * only for a user who may READ where the file lives, as if they had asked
 * for it there: in the artifact destination, by the proxy's own rule (the
 * experiment named by the first segment, else the default permission);
 * elsewhere, every experiment whose artifact location holds it. Upstream
 * checks READ on the registered model alone, so anyone with a model of their
 * own could read any experiment's files through it. A file no experiment
 * holds is served as upstream does. Paths are compared as text (local ones
 * absolute, "." and ".." folded; symbolic links are not followed). */
#include <string.h>

#include "artifact_owner.h"
#include "artifacts/repo.h"
#include "auth/auth.h"
#include "store/artifact_locations.h"
#include "uri.h"

/* `root` (an artifact root: a local directory or s3://bucket/key) joined
 * with `rel`, as comparable text: local paths absolute and folded, S3 keys
 * without empty or "." segments. NULL for an S3 key with a ".." segment,
 * which is a different object to S3 than to a reader of the text. */
static const char *file_text(mfd_arena *arena, const char *root, const char *rel) {
    const char *joined = *rel ? mfd_arena_sprintf(arena, "%s/%s", root, rel) : root;
    if (strncmp(joined, "s3://", 5) != 0)
        return mfd_uri_resolve_path(arena, joined);
    const char *bucket = joined + 5;
    size_t bucket_len = strcspn(bucket, "/");
    const char *key = mfd_uri_normalise_path(arena, bucket + bucket_len);
    for (const char *p = key; *p;) {
        size_t seg = strcspn(p, "/");
        if (seg == 2 && p[0] == '.' && p[1] == '.')
            return NULL;
        p += seg + (p[seg] == '/');
    }
    return mfd_arena_sprintf(arena, "s3://%.*s%s%s", (int)bucket_len, bucket,
                             *key && *key != '/' ? "/" : "", key);
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

mfd_err mfd_api_check_file_owner(mfd_request *req, mfd_response *res, const char *destination,
                                 const char *root, const char *rel, bool *refused) {
    *refused = false;
    mfd_auth *auth = mfd_auth_of(req);
    if (!auth || req->is_admin)
        return NULL;
    const char *file = file_text(req->arena, root, rel);
    if (!file)
        return mfd_err_new(MFD_PERMISSION_DENIED, "Permission denied: '%s/%s' is ambiguous", root,
                           rel);
    const char *dest = destination ? file_text(req->arena, destination, "") : NULL;
    const char *below = dest ? inside(dest, file) : NULL;
    if (below)
        return mfd_auth_require_read_artifact(req, res, below, refused);
    mfd_conn *conn;
    mfd_experiment_location *experiments;
    size_t n;
    mfd_err err = mfd_api_conn(req, &conn);
    if (!err)
        err = mfd_artifact_location_experiments(conn, req->arena, &experiments, &n);
    for (size_t i = 0; !err && !*refused && i < n; i++) {
        const char *e_root, *e_prefix, *e_dir;
        mfd_err bad = mfd_artifact_uri_resolve(req->arena, destination, experiments[i].location,
                                               &e_root, &e_prefix);
        if (bad) { /* storage this server does not read */
            mfd_err_free(bad);
            continue;
        }
        if ((e_dir = file_text(req->arena, e_root, e_prefix)) && inside(e_dir, file))
            err = mfd_auth_require_read(
                req, res, MFD_AUTH_EXPERIMENT,
                mfd_arena_sprintf(req->arena, "%lld", (long long)experiments[i].experiment_id),
                refused);
    }
    return err;
}
