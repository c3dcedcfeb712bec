/* rules.c — the one endpoint -> permission table of auth.md §3 and §4.
 *
 * Each row: method, path pattern, where the pattern is served, the level
 * required, where the resource id comes from, and the post-hook. Patterns:
 * `{x}` matches one path segment (the first one is captured: model_id),
 * a trailing `<path>` the non-empty rest. Spellings: API = /api/<pattern>,
 * AJAX = [<static prefix>]/ajax-api/<pattern>, BOTH = either, BARE =
 * [<static prefix>]<pattern>, ROOT = <pattern> exactly.
 *
 * Deliberately stricter than upstream (marked "do better" below; none of
 * these change what the Python client sees for resources it may use):
 * LogInputs/LogOutputs need UPDATE, model-version search results are
 * filtered, the logged-model artifact listings need READ, every artifact
 * proxy spelling (ajax, listing, multipart) applies the artifact-path rule,
 * a new model version needs READ on its run and logged model, and a model
 * version's files need READ on the experiment that holds them.
 * Upstream also reads `run_id` where the bulk-interval call sends `run_ids`,
 * which fails for every non-admin; we check READ on each run asked for. */
#include <string.h>

#include "auth_internal.h"

enum { API, AJAX, BOTH, BARE, ROOT };
enum { R = MFD_PERM_READ, U = MFD_PERM_EDIT, D = MFD_PERM_MANAGE, M = MFD_PERM_MANAGE, ANY = 0 };

#define RULE(method, pattern, spelling, need, resource, after)                                     \
    { method, pattern, spelling, need, MFD_RES_##resource, MFD_AFTER_##after }

static const mfd_auth_rule rules[] = {
    /* §3.2 experiments */
    RULE("GET", "2.0/mlflow/experiments/get", BOTH, R, EXPERIMENT_ID, NONE),
    RULE("GET", "2.0/mlflow/experiments/get-by-name", BOTH, R, EXPERIMENT_NAME, NONE),
    RULE("POST", "2.0/mlflow/experiments/delete", BOTH, D, EXPERIMENT_ID, NONE),
    RULE("POST", "2.0/mlflow/experiments/restore", BOTH, D, EXPERIMENT_ID, NONE),
    RULE("POST", "2.0/mlflow/experiments/update", BOTH, U, EXPERIMENT_ID, NONE),
    RULE("POST", "2.0/mlflow/experiments/set-experiment-tag", BOTH, U, EXPERIMENT_ID, NONE),
    RULE("POST", "2.0/mlflow/experiments/delete-experiment-tag", BOTH, U, EXPERIMENT_ID, NONE),
    RULE("POST", "2.0/mlflow/experiments/create", BOTH, ANY, NONE, GRANT_EXPERIMENT),
    RULE("POST", "2.0/mlflow/experiments/search", BOTH, ANY, NONE, FILTER_EXPERIMENTS),
    RULE("GET", "2.0/mlflow/experiments/search", BOTH, ANY, NONE, FILTER_EXPERIMENTS),
    /* §3.2 runs and metrics */
    RULE("POST", "2.0/mlflow/runs/create", BOTH, U, NEW_RUN, NONE),
    RULE("GET", "2.0/mlflow/runs/get", BOTH, R, RUN, NONE),
    RULE("GET", "2.0/mlflow/metrics/get-history", BOTH, R, RUN, NONE),
    RULE("GET", "2.0/mlflow/artifacts/list", BOTH, R, RUN, NONE),
    RULE("POST", "2.0/mlflow/runs/delete", BOTH, D, RUN, NONE),
    RULE("POST", "2.0/mlflow/runs/restore", BOTH, D, RUN, NONE),
    RULE("POST", "2.0/mlflow/runs/update", BOTH, U, RUN, NONE),
    RULE("POST", "2.0/mlflow/runs/log-metric", BOTH, U, RUN, NONE),
    RULE("POST", "2.0/mlflow/runs/log-parameter", BOTH, U, RUN, NONE),
    RULE("POST", "2.0/mlflow/runs/log-batch", BOTH, U, RUN, NONE),
    RULE("POST", "2.0/mlflow/runs/log-model", BOTH, U, RUN, NONE),
    RULE("POST", "2.0/mlflow/runs/set-tag", BOTH, U, RUN, NONE),
    RULE("POST", "2.0/mlflow/runs/delete-tag", BOTH, U, RUN, NONE),
    RULE("POST", "2.0/mlflow/runs/log-inputs", BOTH, U, RUN, NONE), /* do better */
    RULE("POST", "2.0/mlflow/runs/outputs", BOTH, U, RUN, NONE),    /* do better */
    RULE("POST", "2.0/mlflow/runs/search", BOTH, ANY, RUNS_SEARCH, NONE),
    RULE("GET", "2.0/mlflow/metrics/get-history-bulk-interval", BOTH, R, RUN_IDS_QUERY, NONE),
    /* §3.7 non-proto routes */
    RULE("GET", "2.0/mlflow/metrics/get-history-bulk", AJAX, R, RUN_IDS_QUERY, NONE),
    RULE("POST", "2.0/mlflow/experiments/search-datasets", AJAX, R, EXPERIMENT_IDS, NONE),
    RULE("POST", "2.0/mlflow/runs/create-promptlab-run", AJAX, U, PROMPTLAB, NONE),
    RULE("POST", "2.0/mlflow/upload-artifact", AJAX, U, RUN_UUID_QUERY, NONE),
    RULE("GET", "2.0/mlflow/get-trace-artifact", AJAX, R, TRACE_QUERY, NONE),
    RULE("GET", "2.0/mlflow/gateway-proxy", AJAX, ANY, NONE, NONE),
    RULE("POST", "2.0/mlflow/gateway-proxy", AJAX, ANY, NONE, NONE),
    RULE("GET", "/get-artifact", BARE, R, RUN_QUERY, NONE),
    RULE("GET", "/model-versions/get-artifact", BARE, R, MODEL_NAME_QUERY, NONE),
    /* §3.3 registry */
    RULE("GET", "2.0/mlflow/registered-models/get", BOTH, R, MODEL_NAME, NONE),
    RULE("POST", "2.0/mlflow/registered-models/get-latest-versions", BOTH, R, MODEL_NAME, NONE),
    RULE("GET", "2.0/mlflow/registered-models/get-latest-versions", BOTH, R, MODEL_NAME, NONE),
    RULE("GET", "2.0/mlflow/model-versions/get", BOTH, R, MODEL_NAME, NONE),
    RULE("GET", "2.0/mlflow/model-versions/get-download-uri", BOTH, R, MODEL_NAME, NONE),
    RULE("GET", "2.0/mlflow/registered-models/alias", BOTH, R, MODEL_NAME, NONE),
    RULE("PATCH", "2.0/mlflow/registered-models/update", BOTH, U, MODEL_NAME, NONE),
    RULE("POST", "2.0/mlflow/registered-models/rename", BOTH, U, MODEL_NAME, RENAME_MODEL),
    RULE("POST", "2.0/mlflow/model-versions/create", BOTH, U, MODEL_VERSION_NEW,
         NONE), /* do better */
    RULE("PATCH", "2.0/mlflow/model-versions/update", BOTH, U, MODEL_NAME, NONE),
    RULE("POST", "2.0/mlflow/model-versions/transition-stage", BOTH, U, MODEL_NAME, NONE),
    RULE("POST", "2.0/mlflow/registered-models/set-tag", BOTH, U, MODEL_NAME, NONE),
    RULE("DELETE", "2.0/mlflow/registered-models/delete-tag", BOTH, U, MODEL_NAME, NONE),
    RULE("POST", "2.0/mlflow/model-versions/set-tag", BOTH, U, MODEL_NAME, NONE),
    RULE("POST", "2.0/mlflow/registered-models/alias", BOTH, U, MODEL_NAME, NONE),
    RULE("DELETE", "2.0/mlflow/registered-models/delete", BOTH, D, MODEL_NAME, DELETE_MODEL),
    RULE("DELETE", "2.0/mlflow/model-versions/delete", BOTH, D, MODEL_NAME, NONE),
    RULE("DELETE", "2.0/mlflow/model-versions/delete-tag", BOTH, D, MODEL_NAME, NONE),
    RULE("DELETE", "2.0/mlflow/registered-models/alias", BOTH, D, MODEL_NAME, NONE),
    RULE("POST", "2.0/mlflow/registered-models/create", BOTH, ANY, NONE, GRANT_MODEL),
    RULE("GET", "2.0/mlflow/registered-models/search", BOTH, ANY, NONE, FILTER_MODELS),
    RULE("GET", "2.0/mlflow/model-versions/search", BOTH, ANY, NONE, FILTER_MODEL_VERSIONS),
    /* mlflowd's KServe hand-off (sso-and-deploy.md R-KS-1, R-KS-4) */
    RULE("GET", "2.0/mlflowd/kserve/manifest", BOTH, R, MODEL_NAME, NONE),
    RULE("POST", "2.0/mlflowd/kserve/apply", BOTH, M, MODEL_NAME, NONE),
    /* §3.4 logged models */
    RULE("POST", "2.0/mlflow/logged-models/search", BOTH, ANY, LOGGED_MODELS_SEARCH,
         FILTER_LOGGED_MODELS),
    RULE("POST", "2.0/mlflow/logged-models", BOTH, U, EXPERIMENT_ID, NONE),
    RULE("GET", "2.0/mlflow/logged-models/{model_id}", BOTH, R, LOGGED_MODEL, NONE),
    RULE("PATCH", "2.0/mlflow/logged-models/{model_id}", BOTH, U, LOGGED_MODEL, NONE),
    RULE("DELETE", "2.0/mlflow/logged-models/{model_id}", BOTH, D, LOGGED_MODEL, NONE),
    RULE("PATCH", "2.0/mlflow/logged-models/{model_id}/tags", BOTH, U, LOGGED_MODEL, NONE),
    RULE("DELETE", "2.0/mlflow/logged-models/{model_id}/tags/{tag_key}", BOTH, D, LOGGED_MODEL,
         NONE),
    RULE("POST", "2.0/mlflow/logged-models/{model_id}/params", BOTH, U, LOGGED_MODEL, NONE),
    RULE("GET", "2.0/mlflow/logged-models/{model_id}/artifacts/directories", BOTH, R, LOGGED_MODEL,
         NONE), /* do better */
    RULE("GET", "2.0/mlflow/logged-models/{model_id}/artifacts/files", BOTH, R, LOGGED_MODEL,
         NONE), /* do better */
    /* §3.5 scorers */
    RULE("POST", "3.0/mlflow/scorers/register", BOTH, U, EXPERIMENT_ID, GRANT_SCORER),
    RULE("GET", "3.0/mlflow/scorers/list", BOTH, R, EXPERIMENT_ID, NONE),
    RULE("GET", "3.0/mlflow/scorers/get", BOTH, R, SCORER, NONE),
    RULE("GET", "3.0/mlflow/scorers/versions", BOTH, R, SCORER, NONE),
    RULE("DELETE", "3.0/mlflow/scorers/delete", BOTH, D, SCORER, DELETE_SCORER),
    /* §3.6 artifact proxy (ajax, listing and multipart: do better) */
    RULE("GET", "2.0/mlflow-artifacts/artifacts/<path>", BOTH, R, ARTIFACT_PATH, NONE),
    RULE("PUT", "2.0/mlflow-artifacts/artifacts/<path>", BOTH, U, ARTIFACT_PATH, NONE),
    RULE("DELETE", "2.0/mlflow-artifacts/artifacts/<path>", BOTH, M, ARTIFACT_PATH, NONE),
    RULE("GET", "2.0/mlflow-artifacts/artifacts", BOTH, R, ARTIFACT_QUERY, NONE),
    RULE("POST", "2.0/mlflow-artifacts/mpu/create/<path>", BOTH, U, ARTIFACT_PATH, NONE),
    RULE("POST", "2.0/mlflow-artifacts/mpu/complete/<path>", BOTH, U, ARTIFACT_PATH, NONE),
    RULE("POST", "2.0/mlflow-artifacts/mpu/abort/<path>", BOTH, U, ARTIFACT_PATH, NONE),
    /* §3.8 auth management (served at /api/ only) */
    RULE("GET", "/signup", ROOT, ANY, NOBODY, NONE),
    RULE("POST", "2.0/mlflow/users/create", API, ANY, NOBODY, NONE),
    RULE("POST", "2.0/mlflow/users/create-ui", API, ANY, NONE, NONE),
    RULE("GET", "2.0/mlflow/users/get", API, ANY, SELF, NONE),
    RULE("PATCH", "2.0/mlflow/users/update-password", API, ANY, SELF, NONE),
    RULE("PATCH", "2.0/mlflow/users/update-admin", API, ANY, NOBODY, NONE),
    RULE("DELETE", "2.0/mlflow/users/delete", API, ANY, NOBODY, NONE),
    RULE("POST", "2.0/mlflow/experiments/permissions/create", API, M, EXPERIMENT_ID, NONE),
    RULE("GET", "2.0/mlflow/experiments/permissions/get", API, M, EXPERIMENT_ID, NONE),
    RULE("PATCH", "2.0/mlflow/experiments/permissions/update", API, M, EXPERIMENT_ID, NONE),
    RULE("DELETE", "2.0/mlflow/experiments/permissions/delete", API, M, EXPERIMENT_ID, NONE),
    RULE("POST", "2.0/mlflow/registered-models/permissions/create", API, M, MODEL_NAME, NONE),
    RULE("GET", "2.0/mlflow/registered-models/permissions/get", API, M, MODEL_NAME, NONE),
    RULE("PATCH", "2.0/mlflow/registered-models/permissions/update", API, M, MODEL_NAME, NONE),
    RULE("DELETE", "2.0/mlflow/registered-models/permissions/delete", API, M, MODEL_NAME, NONE),
    RULE("POST", "3.0/mlflow/scorers/permissions/create", API, M, SCORER_GRANT, NONE),
    RULE("GET", "3.0/mlflow/scorers/permissions/get", API, M, SCORER_GRANT, NONE),
    RULE("PATCH", "3.0/mlflow/scorers/permissions/update", API, M, SCORER_GRANT, NONE),
    RULE("DELETE", "3.0/mlflow/scorers/permissions/delete", API, M, SCORER_GRANT, NONE),
};

/* Matches `subject` against `pattern`, capturing the first {x} and <path>. */
static bool match(const mfd_request *req, const char *pattern, const char *subject,
                  mfd_rule_match *out) {
    const char *p = pattern, *s = subject;
    const char *segment = NULL;
    size_t segment_len = 0;
    while (*p) {
        if (*p == '<') {
            if (!*s)
                return false;
            out->tail = mfd_arena_strdup(req->arena, s);
            break;
        }
        if (*p == '{') {
            size_t len = strcspn(s, "/");
            if (len == 0)
                return false;
            if (!segment) {
                segment = s;
                segment_len = len;
            }
            p = strchr(p, '}') + 1;
            s += len;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    if (!*p && *s)
        return false;
    if (segment)
        out->segment = mfd_arena_strndup(req->arena, segment, segment_len);
    return true;
}

void mfd_auth_rule_find(const mfd_request *req, const char *static_prefix, mfd_rule_match *out) {
    memset(out, 0, sizeof *out);
    const char *path = req->path;
    size_t prefix_len = strlen(static_prefix);
    bool prefixed = strncmp(path, static_prefix, prefix_len) == 0 &&
                    (path[prefix_len] == '/' || path[prefix_len] == '\0');
    const char *versioned = NULL;
    bool ajax = false;
    if (strncmp(path, "/api/", 5) == 0) {
        versioned = path + 5;
    } else if (prefixed && strncmp(path + prefix_len, "/ajax-api/", 10) == 0) {
        versioned = path + prefix_len + 10;
        ajax = true;
    }
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const mfd_auth_rule *r = &rules[i];
        const char *subject = NULL;
        switch (r->spelling) {
        case API:
            subject = ajax ? NULL : versioned;
            break;
        case AJAX:
            subject = ajax ? versioned : NULL;
            break;
        case BOTH:
            subject = versioned;
            break;
        case BARE: /* served at <pattern> and, for some, <prefix><pattern>: check both */
            subject = path;
            break;
        default:
            subject = path;
        }
        if (!subject || strcmp(r->method, req->method) != 0)
            continue;
        bool hit = match(req, r->pattern, subject, out);
        if (!hit && r->spelling == BARE && prefix_len && prefixed) {
            out->segment = out->tail = NULL;
            hit = match(req, r->pattern, path + prefix_len, out);
        }
        if (hit) {
            out->rule = r;
            return;
        }
        out->segment = out->tail = NULL;
    }
}
