/* experiments.c — route table of the experiments service (filled in as endpoints land). */
#include "api.h"

const mfd_route mfd_api_experiments_routes[] = {
    {0},
};
