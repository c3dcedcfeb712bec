/* prometheus.c — GET /metrics on the API port: the Prometheus exposition of
 * http/metrics.c, as `mlflow server --expose-prometheus` offers. Behind auth
 * when auth is on; the --health-port listener serves it without. */
#include "api.h"
#include "http/metrics.h"

static mfd_err prometheus_metrics(mfd_request *req, mfd_response *res) {
    mfd_response_text(req, res, 200, MFD_METRICS_CONTENT_TYPE, mfd_metrics_render(req->arena));
    return NULL;
}

const mfd_route mfd_api_prometheus_routes[] = {
    {"GET", "/metrics", prometheus_metrics, MFD_ROUTE_BARE, NULL},
    {0},
};
