/* metrics.c — route table of the metrics service (filled in as endpoints land). */
#include "api.h"

const mfd_route mfd_api_metrics_routes[] = {
    {0},
};
