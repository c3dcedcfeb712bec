/* uri.c — from a stored artifact URI (a run's artifact_uri, a model
 * version's download URI, a logged model's artifact_location) to the local
 * directory that holds it (rest-api.md §8.1):
 *
 *   mlflow-artifacts:/<p>, mlflow-artifacts://host:port/<p>,
 *   http(s)://host/.../api/2.0/mlflow-artifacts/artifacts/<p>
 *        -> root = the proxied destination, prefix = <p>
 *   file:///abs, file:/abs, file://localhost/abs, /abs, relative/dir
 *        -> root = that directory, prefix = ""
 *   s3://bucket/key/prefix
 *        -> root = that location (read with the server's S3 settings, as
 *           `mlflow server` does with its boto3 credentials), prefix = ""
 *
 * Anything else (gs://, wasbs://, ...) is storage this server does not reach. */
#include "repo.h"
#include "core/escape.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char HTTP_ANCHOR[] = "/api/2.0/mlflow-artifacts/artifacts";

/* The URI scheme (RFC 3986: ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")) in
 * lower case, or "" when the text does not start with one. */
static const char *uri_scheme(mfd_arena *arena, const char *uri) {
    size_t n = 0;
    if (!isalpha((unsigned char)uri[0]))
        return "";
    while (isalnum((unsigned char)uri[n]) || uri[n] == '+' || uri[n] == '-' || uri[n] == '.')
        n++;
    if (uri[n] != ':' || n < 2) /* one letter: a Windows drive, not a scheme */
        return "";
    char *scheme = mfd_arena_strndup(arena, uri, n);
    for (char *p = scheme; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return scheme;
}

/* The path part of a hierarchical URI: after "scheme:" and an optional
 * "//authority", up to any query or fragment. */
static const char *uri_path(mfd_arena *arena, const char *after_scheme) {
    const char *p = after_scheme;
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
        p += strcspn(p, "/?#");
    }
    return mfd_arena_strndup(arena, p, strcspn(p, "?#"));
}

static mfd_err proxied(mfd_arena *arena, const char *destination, const char *uri, const char *path,
                       const char **root, const char **prefix) {
    if (!destination)
        return mfd_err_new(MFD_NOT_IMPLEMENTED,
                           "Artifact URI '%s' is served by the artifact proxy, which is off on "
                           "this server (--no-serve-artifacts)",
                           uri);
    while (*path == '/')
        path++;
    mfd_err err = mfd_artifact_path_normalize(arena, path, strlen(path), prefix);
    if (err) {
        mfd_err_free(err);
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid artifact URI '%s'", uri);
    }
    *root = destination;
    return NULL;
}

mfd_err mfd_artifact_uri_resolve(mfd_arena *arena, const char *destination, const char *uri,
                                 const char **root, const char **prefix) {
    *root = NULL;
    *prefix = "";
    if (!uri || !*uri)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "No artifact location is recorded");
    const char *scheme = uri_scheme(arena, uri);
    const char *rest = uri + strlen(scheme) + (*scheme ? 1 : 0);
    /* Locations are made by appending to their path (a fragment never
     * follows one); a stored URI with a "#" came from elsewhere, and cut
     * there it would name a directory above its own. */
    if (*scheme && strchr(rest, '#'))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid artifact URI '%s'", uri);
    if (!strcmp(scheme, "mlflow-artifacts"))
        return proxied(arena, destination, uri, uri_path(arena, rest), root, prefix);
    if (!strcmp(scheme, "http") || !strcmp(scheme, "https")) {
        const char *path = uri_path(arena, rest);
        const char *anchor = strstr(path, HTTP_ANCHOR);
        size_t anchor_len = strlen(HTTP_ANCHOR);
        if (anchor && (anchor[anchor_len] == '/' || anchor[anchor_len] == '\0'))
            return proxied(arena, destination, uri, anchor + anchor_len, root, prefix);
    } else if (!strcmp(scheme, "file")) {
        const char *p = rest;
        if (p[0] == '/' && p[1] == '/') { /* file://host/abs: only this host */
            const char *host = p + 2;
            size_t host_len = strcspn(host, "/");
            if (host_len != 0 && !(host_len == 9 && !strncasecmp(host, "localhost", 9)))
                return mfd_err_new(MFD_NOT_IMPLEMENTED,
                                   "Artifact URI '%s' names another host's files", uri);
            p = host + host_len;
        }
        size_t len = strcspn(p, "?#"), decoded_len;
        const char *path = mfd_percent_decode(arena, p, len, false, &decoded_len);
        if (decoded_len != strlen(path) || !*path)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid artifact URI '%s'", uri);
        *root = path;
        return NULL;
    } else if (!strcmp(scheme, "s3")) {
        /* "s3://" + bucket + key prefix, as stored (keys are not %-decoded,
         * like MLflow's urlparse); a query is left out, as MLflow's
         * parse_s3_compliant_uri leaves it; s3.c checks the bucket name. */
        const char *p = rest;
        if (p[0] != '/' || p[1] != '/' || p[2] == '/' || !p[2] || p[2] == '?')
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid artifact URI '%s'", uri);
        *root = mfd_arena_sprintf(arena, "s3:%.*s", (int)strcspn(p, "?"), p);
        return NULL;
    } else if (!*scheme) {
        *root = uri; /* a plain local path */
        return NULL;
    }
    return mfd_err_new(MFD_NOT_IMPLEMENTED,
                       "Artifacts at '%s' are not reachable from this server: it serves local, "
                       "S3 (s3:) and proxied (mlflow-artifacts:) locations only",
                       uri);
}
