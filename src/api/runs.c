/* runs.c — route table of the runs service (filled in as endpoints land). */
#include "api.h"

const mfd_route mfd_api_runs_routes[] = {
    {0},
};
