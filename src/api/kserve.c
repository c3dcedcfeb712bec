/* kserve.c — the KServe hand-off endpoints (sso-and-deploy.md §5.4):
 *
 *   GET  /api/2.0/mlflowd/kserve/manifest?name=M&version=V|alias=A[&format=yaml]
 *        the InferenceService for that version (READ on the model)
 *   POST /api/2.0/mlflowd/kserve/apply {"name", "version"|"alias"}
 *        server-side apply of the same manifest (MANAGE on the model; only
 *        with --kserve-apply)
 *
 * The permission rows live in auth/rules.c like every other endpoint's. */
#include <string.h>

#include "api.h"
#include "artifact_owner.h"
#include "artifacts/repo.h"
#include "kserve/kserve.h"
#include "message.h"
#include "registry_api.h"

/* name + exactly one of version / alias. */
static mfd_err read_target(mfd_request *req, mfd_kserve_target *target) {
    const char *version_text, *alias;
    mfd_err err;
    memset(target, 0, sizeof *target);
    if ((err = mfd_msg_required_string(req, "name", &target->model)) ||
        (err = mfd_msg_string(req, "version", &version_text)) ||
        (err = mfd_msg_string(req, "alias", &alias)))
        return err;
    bool has_version = version_text && *version_text, has_alias = alias && *alias;
    if (has_version == has_alias)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Give exactly one of 'version' and 'alias' for the model to serve");
    if (has_alias) {
        target->alias = alias;
        return NULL;
    }
    return mfd_registry_parse_version(version_text, &target->version);
}

static void settings_of(const mfd_request *req, mfd_kserve_settings *settings) {
    const mfd_app *app = req->app;
    const mfd_config *cfg = app->config;
    settings->namespace = cfg->kserve_namespace;
    settings->service_account = cfg->kserve_service_account;
    settings->runtime = cfg->kserve_runtime;
    settings->artifacts_destination =
        app->artifacts ? mfd_artifact_repo_root(app->artifacts) : NULL;
}

/* The manifest, for a user who may read the model's files where they live
 * (artifact_owner.h): a version's source is whatever its creator named, and
 * the InferenceService would serve those files with KServe's credentials.
 * Refused: *manifest is NULL and `res` holds the 403. */
static mfd_err build(mfd_request *req, mfd_response *res, json_t **manifest) {
    mfd_kserve_target target;
    mfd_kserve_settings settings;
    mfd_conn *conn;
    mfd_err err;
    *manifest = NULL;
    if ((err = read_target(req, &target)) || (err = mfd_api_conn(req, &conn)))
        return err;
    settings_of(req, &settings);
    json_t *isvc;
    if ((err = mfd_kserve_manifest(conn, req->arena, &settings, &target, &isvc)))
        return err;
    const char *storage = json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(isvc, "spec"), "predictor"), "model"),
        "storageUri"));
    bool refused = false;
    err = mfd_api_check_file_owner(req, res, settings.artifacts_destination, storage ? storage : "",
                                   "", MFD_PERM_READ, true, &refused);
    if (err || refused) {
        json_decref(isvc);
        return err;
    }
    *manifest = isvc;
    return NULL;
}

static mfd_err manifest(mfd_request *req, mfd_response *res) {
    const char *format;
    json_t *isvc;
    mfd_err err;
    if ((err = mfd_msg_string(req, "format", &format)))
        return err;
    if (format && *format && strcmp(format, "json") != 0 && strcmp(format, "yaml") != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid value '%s' for parameter 'format': use json or yaml", format);
    if ((err = build(req, res, &isvc)) || !isvc)
        return err;
    if (format && !strcmp(format, "yaml")) {
        mfd_response_text(req, res, 200, "application/yaml; charset=utf-8",
                          mfd_kserve_yaml(req->arena, isvc));
        json_decref(isvc);
        return NULL;
    }
    res->json = isvc;
    return NULL;
}

static mfd_err apply(mfd_request *req, mfd_response *res) {
    const mfd_config *cfg = req->app->config;
    if (!cfg->kserve_apply)
        return mfd_err_new(MFD_NOT_IMPLEMENTED,
                           "Creating InferenceServices is off on this server: start mlflowd with "
                           "--kserve-apply (Helm: kserve.manageInferenceServices=true), or apply "
                           "the manifest of GET /api/2.0/mlflowd/kserve/manifest yourself");
    json_t *isvc, *applied;
    mfd_err err = build(req, res, &isvc);
    if (err || !isvc)
        return err;
    mfd_api_conn_release(req); /* no DB work while waiting for the API server */
    mfd_kserve_cluster cluster = {cfg->kserve_api_url, cfg->kserve_token_file, cfg->kserve_ca_file};
    err = mfd_kserve_apply(&cluster, req->arena, isvc, &applied);
    if (err) {
        json_decref(isvc);
        return err;
    }
    res->json = json_pack("{s:o,s:o}", "manifest", isvc, "inference_service", applied);
    return NULL;
}

const mfd_route mfd_api_kserve_routes[] = {
    {"GET", "2.0/mlflowd/kserve/manifest", manifest, MFD_ROUTE_TRACKING, NULL},
    {"POST", "2.0/mlflowd/kserve/apply", apply, MFD_ROUTE_TRACKING, NULL},
    {0},
};
