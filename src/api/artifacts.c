/* artifacts.c — route table of the artifacts service (filled in as endpoints land). */
#include "api.h"

const mfd_route mfd_api_artifacts_routes[] = {
    {0},
};
