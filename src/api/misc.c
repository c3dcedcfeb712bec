/* misc.c — unversioned endpoints: /health and /version (rest-api.md §3). */
#include "api.h"

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

const mfd_route mfd_api_misc_routes[] = {
    {"GET", "/health", health, MFD_ROUTE_BARE, NULL},
    {"GET", "/version", version, MFD_ROUTE_BARE, NULL},
    {0},
};
