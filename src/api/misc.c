/* misc.c — unversioned endpoints: /health and /version (rest-api.md §3), also
 * under --static-prefix, and /ready for load balancers and Kubernetes
 * readiness probes. */
#include "api.h"
#include "store/schema.h"

static mfd_err health(mfd_request *req, mfd_response *res) {
    mfd_response_text(req, res, 200, "text/plain; charset=utf-8", "OK");
    return NULL;
}

/* The client parses this with packaging.Version and enables OTLP span export
 * for >= 3.4; we report the MLflow API level we implement, not our own version. */
static mfd_err version(mfd_request *req, mfd_response *res) {
    mfd_response_text(req, res, 200, "text/plain; charset=utf-8", MFD_MLFLOW_API_VERSION);
    return NULL;
}

/* 200 {"status": "ready"} when the tracking database answers and is at the
 * schema head (always, with --artifacts-only); else 503 with the reason.
 * /health only says the process is up. */
mfd_err mfd_api_readiness(mfd_app *app) {
    if (atomic_load(&app->draining))
        return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "shutting down");
    return app->tracking_db ? mfd_schema_tracking_ready(app->tracking_db) : NULL;
}

static mfd_err ready(mfd_request *req, mfd_response *res) {
    mfd_err err = mfd_api_readiness(req->app);
    if (err)
        return err;
    res->json = json_pack("{s:s}", "status", "ready");
    return NULL;
}

const mfd_route mfd_api_misc_routes[] = {
    /* Also at <prefix>/health and <prefix>/version, where MLflow serves them (its
     * _add_static_prefix); the bare ones stay for probes. */
    {"GET", "/health", health, MFD_ROUTE_BARE | MFD_ROUTE_PREFIXED, NULL},
    {"GET", "/version", version, MFD_ROUTE_BARE | MFD_ROUTE_PREFIXED, NULL},
    {"GET", "/ready", ready, MFD_ROUTE_BARE, NULL},
    {0},
};
