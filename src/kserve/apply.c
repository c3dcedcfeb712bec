/* apply.c — create or update an InferenceService with Kubernetes server-side
 * apply (sso-and-deploy.md §5.4, R-KS-4): one PATCH with field manager
 * `mlflowd`, authenticated with the pod's service account token.
 *
 * The token is read from its file at every call (kubelet rotates projected
 * tokens) and never logged. The body is the manifest as YAML, which is what
 * application/apply-patch+yaml names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_client.h"
#include "kserve.h"

enum { MAX_TOKEN = 64 << 10 };

static mfd_err read_token(mfd_arena *arena, const char *path, const char **token) {
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return mfd_err_new(MFD_INTERNAL_ERROR,
                           "cannot read the Kubernetes token file '%s': mount the service "
                           "account token or set --kserve-token-file",
                           path ? path : "(none)");
    char *buf = mfd_arena_alloc(arena, MAX_TOKEN + 1);
    size_t n = fread(buf, 1, MAX_TOKEN, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    *token = buf;
    return NULL;
}

static const char *default_api_url(mfd_arena *arena) {
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host)
        return NULL;
    bool v6 = strchr(host, ':') != NULL;
    return mfd_arena_sprintf(arena, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
                             port && *port ? port : "443");
}

/* The Kubernetes Status message of an error answer, else the raw text. */
static const char *status_message(mfd_arena *arena, const char *body) {
    json_t *status = json_loads(body, 0, NULL);
    const char *message = json_string_value(json_object_get(status, "message"));
    const char *copy = mfd_arena_strdup(arena, message ? message : body);
    json_decref(status);
    return copy;
}

/* One call to the API server, with the token when there is one. Shorter
 * timeouts than the admin commands' (5 s to connect, 30 s in all): the
 * server's KServe endpoint waits on this inside a request. */
static mfd_err kube_request(mfd_arena *arena, const char *method, const char *url, const char *yaml,
                            const char *token, const char *ca_file, mfd_http_answer *answer) {
    mfd_http_call call = {
        .method = method,
        .url = url,
        .bearer = *token ? token : NULL,
        .content_type = yaml ? "application/apply-patch+yaml" : NULL,
        .body = yaml,
        .body_len = yaml ? strlen(yaml) : 0,
        .ca_file = ca_file,
        .connect_timeout = 5,
        .timeout = 30,
    };
    return mfd_http_perform(arena, &call, answer);
}

/* The registered model an existing InferenceService serves, as mlflowd
 * wrote it (NULL: none, or not written by mlflowd). */
static const char *served_model(mfd_arena *arena, const char *object) {
    json_t *isvc = json_loads(object, 0, NULL);
    const char *model = json_string_value(
        json_object_get(json_object_get(json_object_get(isvc, "metadata"), "annotations"),
                        "mlflow.org/registered-model-name"));
    const char *copy = model ? mfd_arena_strdup(arena, model) : NULL;
    json_decref(isvc);
    return copy;
}

/* Replaces the client's error (which names the whole URL) by one naming the
 * API server. */
static mfd_err unreachable(mfd_err err, size_t api_len, const char *api,
                           const mfd_http_answer *answer) {
    mfd_err_free(err);
    return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "cannot reach the Kubernetes API at %.*s: %s",
                       (int)api_len, api, answer->failure);
}

/* The error for an answer other than success about InferenceService ns/name. */
static mfd_err refusal(mfd_arena *arena, const mfd_http_answer *answer, const char *ns,
                       const char *name) {
    long status = answer->status;
    const char *message = status_message(arena, answer->body);
    if (status == 400 || status == 422)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "the Kubernetes API refused InferenceService %s/%s: %s", ns, name,
                           message);
    if (status >= 500 || status == 429)
        return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE,
                           "the Kubernetes API answered %ld for InferenceService %s/%s: %s", status,
                           ns, name, message);
    return mfd_err_new(MFD_INTERNAL_ERROR,
                       "the Kubernetes API answered %ld for InferenceService %s/%s: %s (does the "
                       "service account have the Role of kserve.manageInferenceServices?)",
                       status, ns, name, message);
}

mfd_err mfd_kserve_apply(const mfd_kserve_cluster *cluster, mfd_arena *arena,
                         const json_t *manifest, json_t **result) {
    const char *api =
        cluster->api_url && *cluster->api_url ? cluster->api_url : default_api_url(arena);
    if (!api)
        return mfd_err_new(MFD_INTERNAL_ERROR, "no Kubernetes API server: not running in a pod "
                                               "(KUBERNETES_SERVICE_HOST unset) and no "
                                               "MLFLOWD_KSERVE_API_URL (--kserve-api-url; "
                                               "--api-url of mlflowd kserve) given");
    json_t *metadata = json_object_get(manifest, "metadata");
    const char *ns = json_string_value(json_object_get(metadata, "namespace"));
    const char *name = json_string_value(json_object_get(metadata, "name"));
    const char *model = json_string_value(json_object_get(json_object_get(metadata, "annotations"),
                                                          "mlflow.org/registered-model-name"));
    if (!ns) /* an empty namespace leaves it to `kubectl apply -n`; an API call needs one */
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "applying an InferenceService needs a namespace (--kserve-namespace; "
                           "--namespace of mlflowd kserve apply)");
    if (!name || !model)
        return mfd_err_new(MFD_INTERNAL_ERROR, "the manifest has no name or model");
    const char *token = "";
    mfd_err err = read_token(arena, cluster->token_file, &token);
    if (err)
        return err;
    size_t api_len = strlen(api);
    while (api_len > 0 && api[api_len - 1] == '/')
        api_len--;
    /* ns and name are DNS labels: nothing to escape in the path. */
    const char *object = mfd_arena_sprintf(
        arena, "%.*s/apis/serving.kserve.io/v1beta1/namespaces/%s/inferenceservices/%s",
        (int)api_len, api, ns, name);
    mfd_http_answer answer;
    /* An InferenceService of that name serving another model (or made by
     * someone else) is not replaced: apply with force would take it over. */
    err = kube_request(arena, "GET", object, NULL, token, cluster->ca_file, &answer);
    if (err)
        return unreachable(err, api_len, api, &answer);
    if (answer.status != 200 && answer.status != 404) /* unknown: never apply with force */
        return refusal(arena, &answer, ns, name);
    if (answer.status == 200) {
        const char *serves = served_model(arena, answer.body);
        if (!serves || strcmp(serves, model) != 0)
            return mfd_err_new(MFD_RESOURCE_ALREADY_EXISTS,
                               "InferenceService %s/%s already exists and serves %s%s%s: mlflowd "
                               "does not replace it",
                               ns, name,
                               serves ? "registered model '" : "something mlflowd did not make",
                               serves ? serves : "", serves ? "'" : "");
    }
    err = kube_request(arena, "PATCH",
                       mfd_arena_sprintf(arena, "%s?fieldManager=mlflowd&force=true", object),
                       mfd_kserve_yaml(arena, manifest), token, cluster->ca_file, &answer);
    if (err)
        return unreachable(err, api_len, api, &answer);
    long status = answer.status;
    if (status == 200 || status == 201) {
        *result = json_loads(answer.body, 0, NULL);
        if (!*result)
            return mfd_err_new(MFD_INTERNAL_ERROR, "the Kubernetes API answered %ld without JSON",
                               status);
        return NULL;
    }
    return refusal(arena, &answer, ns, name);
}
