/* manifest.c — an InferenceService for a registered model version or alias
 * (sso-and-deploy.md §5.1, §5.3; R-KS-1 … R-KS-3): storageUri resolution and
 * the deterministic DNS-1035 name.
 *
 * Resolution follows at most MAX_HOPS indirections (runs:/ -> a run's
 * artifact URI, models:/ -> a version's download URI, ...), so a chain of
 * sources pointing at each other ends with a 400 instead of looping. */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "artifacts/repo.h"
#include "kserve.h"
#include "store/artifact_locations.h"
#include "store/registry.h"
#include "store/schema.h"

enum { MAX_HOPS = 8, MAX_NAME = 45, MAX_LABEL = 63, HASH_HEX = 8 };

static mfd_err resolve(mfd_conn *conn, mfd_arena *arena, const char *destination, const char *uri,
                       int hops, const char **out);

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *strip_slashes(const char *s) {
    while (*s == '/')
        s++;
    return s;
}

/* base + "/" + path (path may be ""), in the arena. */
static const char *join(mfd_arena *arena, const char *base, const char *path) {
    if (!*path)
        return base;
    char *joined = mfd_artifact_path_join(base, path);
    const char *copy = mfd_arena_strdup(arena, joined);
    free(joined);
    return copy;
}

static bool all_digits(const char *s) {
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* runs:/<run_id>[/<path>] */
static mfd_err resolve_run(mfd_conn *conn, mfd_arena *arena, const char *destination,
                           const char *uri, int hops, const char **out) {
    const char *rest = strip_slashes(uri + strlen("runs:"));
    size_t id_len = strcspn(rest, "/");
    if (id_len == 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Source '%s' names no run: expected runs:/<run_id>/<path>", uri);
    const char *run_id = mfd_arena_strndup(arena, rest, id_len);
    const char *base;
    mfd_err err = mfd_artifact_location_run(conn, arena, run_id, &base);
    if (err)
        return err;
    if (!*base)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Run '%s' has no artifact location",
                           run_id);
    return resolve(conn, arena, destination, join(arena, base, strip_slashes(rest + id_len)),
                   hops + 1, out);
}

static const char *canonical_stage(const char *stage) {
    static const char *const stages[] = {"None", "Staging", "Production", "Archived"};
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++)
        if (!strcasecmp(stage, stages[i]))
            return stages[i];
    return NULL;
}

/* The version models:/<name>/<stage> or models:/<name>/latest names. */
static mfd_err stage_version(mfd_conn *conn, mfd_arena *arena, const char *name, const char *stage,
                             int64_t *version) {
    const char *canonical = canonical_stage(stage);
    bool latest = !strcasecmp(stage, "latest");
    if (!canonical && !latest)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "'%s' is not a version, stage or 'latest' in a models:/ URI", stage);
    mfd_model_version *versions;
    size_t n;
    mfd_err err = mfd_registry_latest_versions(conn, arena, name, latest ? NULL : &canonical,
                                               latest ? 0 : 1, &versions, &n);
    if (err)
        return err;
    *version = 0;
    for (size_t i = 0; i < n; i++)
        if (versions[i].version > *version)
            *version = versions[i].version;
    if (!*version)
        return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                           "No versions of model with name '%s' and stage '%s' found", name, stage);
    return NULL;
}

/* models:/<name>/<version|stage|latest>, models:/<name>@<alias>, models:/<logged model id> */
static mfd_err resolve_model(mfd_conn *conn, mfd_arena *arena, const char *destination,
                             const char *uri, int hops, const char **out) {
    const char *rest = strip_slashes(uri + strlen("models:"));
    const char *at = strrchr(rest, '@');
    const char *slash = strrchr(rest, '/');
    const char *location;
    mfd_err err;
    if (at && (!slash || at > slash)) {
        const char *name = mfd_arena_strndup(arena, rest, (size_t)(at - rest));
        mfd_model_version mv;
        if ((err = mfd_registry_get_version_by_alias(conn, arena, name, at + 1, &mv)) ||
            (err = mfd_artifact_location_model_version(conn, arena, name, mv.version, &location)))
            return err;
    } else if (slash) {
        const char *name = mfd_arena_strndup(arena, rest, (size_t)(slash - rest));
        int64_t version;
        if (all_digits(slash + 1))
            version = strtoll(slash + 1, NULL, 10);
        else if ((err = stage_version(conn, arena, name, slash + 1, &version)))
            return err;
        if ((err = mfd_artifact_location_model_version(conn, arena, name, version, &location)))
            return err;
    } else if (*rest) {
        if ((err = mfd_artifact_location_logged_model(conn, arena, rest, &location)))
            return err;
    } else {
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Source '%s' names no model", uri);
    }
    return resolve(conn, arena, destination, location, hops + 1, out);
}

static mfd_err resolve(mfd_conn *conn, mfd_arena *arena, const char *destination, const char *uri,
                       int hops, const char **out) {
    if (hops > MAX_HOPS)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Source '%s' is more than %d indirections from its artifacts", uri,
                           MAX_HOPS);
    if (starts_with(uri, "runs:"))
        return resolve_run(conn, arena, destination, uri, hops, out);
    if (starts_with(uri, "models:"))
        return resolve_model(conn, arena, destination, uri, hops, out);
    const char *root, *prefix;
    mfd_err err = mfd_artifact_uri_resolve(arena, destination, uri, &root, &prefix);
    if (err) {
        /* a malformed URI of a known kind says what is wrong with it */
        mfd_err why = err->code == MFD_INVALID_PARAMETER_VALUE
                          ? mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                        "Model location '%s' cannot be served by KServe: %s", uri,
                                        err->message)
                          : mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                        "Model location '%s' cannot be served by KServe: only "
                                        "s3://, mlflow-artifacts:/ (with an s3:// artifacts "
                                        "destination), runs:/ and models:/ sources resolve to an "
                                        "s3:// storageUri",
                                        uri);
        mfd_err_free(err);
        return why;
    }
    if (!starts_with(root, "s3://"))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Model location '%s' is stored in '%s', not in S3: KServe's storage "
                           "initializer needs an s3:// storageUri (use an s3:// artifacts "
                           "destination or artifact root)",
                           uri, root);
    char *location = (char *)join(arena, root, prefix);
    size_t len = strlen(location);
    while (len > strlen("s3://") && location[len - 1] == '/')
        location[--len] = '\0';
    /* A directory, with its slash: KServe's storage initializer lists the
     * storageUri's key as a prefix, and without one ".../<run>/artifacts"
     * also takes ".../<run>/artifactsX/..." — keys another user can write. */
    *out = mfd_arena_sprintf(arena, "%s/", location);
    return NULL;
}

mfd_err mfd_kserve_storage_uri(mfd_conn *conn, mfd_arena *arena, const char *destination,
                               const char *uri, const char **s3_uri) {
    return resolve(conn, arena, destination, uri, 0, s3_uri);
}

/* --- names --------------------------------------------------------------- */

/* Lower-case [a-z0-9] runs joined by single '-', no '-' at either end. */
static char *dns_part(mfd_arena *arena, const char *s) {
    char *out = mfd_arena_alloc(arena, strlen(s) + 1);
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)tolower((unsigned char)*s);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out[n++] = (char)c;
        else if (n > 0 && out[n - 1] != '-')
            out[n++] = '-';
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    return out;
}

/* Whether s is HASH_HEX lower-case hex digits: what a hashed name ends with. */
static bool hash_shaped(const char *s) {
    return strlen(s) == HASH_HEX && strspn(s, "0123456789abcdef") == HASH_HEX;
}

/* "<model>-<suffix>" read back splits at the last '-': unambiguous while the
 * suffix holds none (a version's "v<N>" never does) and cannot pass for a
 * hash. Anything else — a changed model name, the "m-" lead, such a suffix —
 * ends with the hash, so two models never share a name (and a model's alias
 * never names another model's service). */
const char *mfd_kserve_name(mfd_arena *arena, const char *model, const char *suffix) {
    char *base = dns_part(arena, model);
    char *tail = dns_part(arena, suffix);
    const char *lead = (base[0] >= 'a' && base[0] <= 'z') ? "" : "m-";
    bool lossy = strcmp(base, model) != 0 || strcmp(tail, suffix) != 0 || *lead ||
                 strchr(tail, '-') || hash_shaped(tail);
    char *name = mfd_arena_sprintf(arena, "%s%s%s%s", lead, base, *tail ? "-" : "", tail);
    if (!lossy && strlen(name) <= MAX_NAME)
        return name;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, model, strlen(model) + 1); /* the NUL separates model from suffix */
    EVP_DigestUpdate(md, suffix, strlen(suffix));
    EVP_DigestFinal_ex(md, digest, &digest_len);
    EVP_MD_CTX_free(md);
    size_t keep = strlen(name);
    if (keep > MAX_NAME - HASH_HEX - 1)
        keep = MAX_NAME - HASH_HEX - 1;
    while (keep > 0 && name[keep - 1] == '-')
        keep--;
    return mfd_arena_sprintf(arena, "%.*s-%02x%02x%02x%02x", (int)keep, name, digest[0], digest[1],
                             digest[2], digest[3]);
}

/* A label value: <= 63 of [a-z0-9-], alphanumeric at both ends (may be ""). */
static const char *label_value(mfd_arena *arena, const char *s) {
    char *v = dns_part(arena, s);
    size_t n = strlen(v);
    if (n > MAX_LABEL)
        n = MAX_LABEL;
    while (n > 0 && v[n - 1] == '-')
        n--;
    v[n] = '\0';
    return v;
}

/* --- the manifest ---------------------------------------------------------- */

/* A Kubernetes namespace name (RFC 1123 label): it goes into the apply
 * URL's path, so nothing else may pass ("a/../kube-system/secrets/x"). */
static bool namespace_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

mfd_err mfd_kserve_check_namespace(const char *namespace) {
    if (namespace && *namespace && !namespace_ok(namespace))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "KServe namespace '%s' is not a Kubernetes namespace name (lower-case "
                           "letters, digits and '-', at most 63, starting and ending with a "
                           "letter or digit)",
                           namespace);
    return NULL;
}

mfd_err mfd_kserve_manifest(mfd_conn *conn, mfd_arena *arena, const mfd_kserve_settings *settings,
                            const mfd_kserve_target *target, json_t **manifest) {
    int64_t version = target->version;
    mfd_err err;
    if ((err = mfd_kserve_check_namespace(settings->namespace)))
        return err;
    if (target->alias) {
        mfd_model_version mv;
        if ((err =
                 mfd_registry_get_version_by_alias(conn, arena, target->model, target->alias, &mv)))
            return err;
        version = mv.version;
    }
    const char *source, *storage_uri;
    if ((err = mfd_artifact_location_model_version(conn, arena, target->model, version, &source)) ||
        (err = mfd_kserve_storage_uri(conn, arena, settings->artifacts_destination, source,
                                      &storage_uri)))
        return err;
    const char *suffix =
        target->alias ? target->alias : mfd_arena_sprintf(arena, "v%lld", (long long)version);
    const char *version_text = mfd_arena_sprintf(arena, "%lld", (long long)version);

    json_t *labels = json_pack("{s:s,s:s,s:s}", "app.kubernetes.io/managed-by", "mlflowd",
                               "mlflow.org/registered-model", label_value(arena, target->model),
                               "mlflow.org/model-version", version_text);
    json_t *annotations =
        json_pack("{s:s,s:s,s:s}", "mlflow.org/registered-model-name", target->model,
                  "mlflow.org/model-version", version_text, "mlflow.org/source", source);
    if (!labels || !annotations) { /* a stored source that is not UTF-8 */
        json_decref(labels);
        json_decref(annotations);
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Model version %lld of '%s' has a source that is not valid UTF-8",
                           (long long)version, target->model);
    }
    if (target->alias) {
        json_object_set_new(labels, "mlflow.org/model-alias",
                            json_string(label_value(arena, target->alias)));
        json_object_set_new(annotations, "mlflow.org/model-alias", json_string(target->alias));
    }
    json_t *model =
        json_pack("{s:{s:s},s:s}", "modelFormat", "name", "mlflow", "protocolVersion", "v2");
    if (settings->runtime && *settings->runtime)
        json_object_set_new(model, "runtime", json_string(settings->runtime));
    json_object_set_new(model, "storageUri", json_string(storage_uri));
    json_t *predictor = json_object();
    if (settings->service_account && *settings->service_account)
        json_object_set_new(predictor, "serviceAccountName",
                            json_string(settings->service_account));
    json_object_set_new(predictor, "model", model);
    json_t *metadata = json_pack("{s:s}", "name", mfd_kserve_name(arena, target->model, suffix));
    if (settings->namespace && *settings->namespace)
        json_object_set_new(metadata, "namespace", json_string(settings->namespace));
    json_object_set_new(metadata, "labels", labels);
    json_object_set_new(metadata, "annotations", annotations);
    *manifest =
        json_pack("{s:s,s:s,s:o,s:{s:o}}", "apiVersion", "serving.kserve.io/v1beta1", "kind",
                  "InferenceService", "metadata", metadata, "spec", "predictor", predictor);
    return NULL;
}
