/* kserve.h — the KServe hand-off (sso-and-deploy.md §5): an InferenceService
 * manifest for a registered model version or alias, and its optional
 * server-side apply through the Kubernetes API. The whole face the API
 * handler (api/kserve.c) and the `mlflowd kserve` command see.
 *
 * storageUri is the model version's download URI resolved to the s3://
 * directory that holds MLmodel: mlflow-artifacts:/ (and the proxy's
 * http(s) spelling) through the artifacts destination, runs:/ through the
 * run's artifact URI, models:/ through the version, alias, stage or logged
 * model it names. KServe's storage initializer reads S3 directly, so any
 * other location is refused. */
#ifndef MFD_KSERVE_H
#define MFD_KSERVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "store/db.h"

typedef struct mfd_kserve_settings {
    const char *namespace;             /* metadata.namespace */
    const char *service_account;       /* predictor.serviceAccountName; NULL/"" = none */
    const char *runtime;               /* predictor.model.runtime; NULL/"" = KServe selects */
    const char *artifacts_destination; /* where mlflow-artifacts:/ lives; NULL = not proxied */
} mfd_kserve_settings;

/* What to serve: `version` (> 0) or `alias` (non-NULL), not both. */
typedef struct mfd_kserve_target {
    const char *model;
    int64_t version;
    const char *alias;
} mfd_kserve_target;

/* NULL, or 400 INVALID_PARAMETER_VALUE when `namespace` (non-empty) is no
 * Kubernetes namespace name: checked at start too, so a bad
 * --kserve-namespace stops it rather than failing every manifest. */
mfd_err mfd_kserve_check_namespace(const char *namespace);

/* The InferenceService for `target` (a new JSON object the caller owns).
 * Unknown model/version/alias: 404 / 400 as the registry answers; a source
 * that does not resolve to s3://: 400 INVALID_PARAMETER_VALUE saying why. */
mfd_err mfd_kserve_manifest(mfd_conn *conn, mfd_arena *arena, const mfd_kserve_settings *settings,
                            const mfd_kserve_target *target, json_t **manifest);

/* `uri` resolved to an s3:// directory, ending in one '/' (KServe reads the
 * key as a prefix), following runs:/ and models:/ through the store. */
mfd_err mfd_kserve_storage_uri(mfd_conn *conn, mfd_arena *arena, const char *destination,
                               const char *uri, const char **s3_uri);

/* A valid DNS-1035 label (<= 45 characters so KServe's child names fit),
 * the same for the same (model, suffix): the model name lower-cased with
 * runs of other characters as '-', then "-<suffix>"; when that lost
 * information or is too long, shortened and ended with 8 hex digits of
 * SHA-256 over model and suffix. */
const char *mfd_kserve_name(mfd_arena *arena, const char *model, const char *suffix);

/* The JSON value as a YAML document (block style, keys in object order). */
const char *mfd_kserve_yaml(mfd_arena *arena, const json_t *value);

/* --- server-side apply (apply.c) ------------------------------------- */

typedef struct mfd_kserve_cluster {
    const char *api_url;    /* https://host:port; NULL = from KUBERNETES_SERVICE_HOST/_PORT */
    const char *token_file; /* read at every call: projected tokens rotate */
    const char *ca_file;    /* for https; NULL = the system's CAs */
} mfd_kserve_cluster;

/* PATCH .../namespaces/{ns}/inferenceservices/{name}?fieldManager=mlflowd&force=true
 * with Content-Type application/apply-patch+yaml. *result is the object the
 * API server answers (new reference). Unreachable: 503; refused: the
 * Kubernetes Status message with 400 (invalid) or 500 (not allowed). */
mfd_err mfd_kserve_apply(const mfd_kserve_cluster *cluster, mfd_arena *arena,
                         const json_t *manifest, json_t **result);

#endif
