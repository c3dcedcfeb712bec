/* registry.c — route table of the registry service (filled in as endpoints land). */
#include "api.h"

const mfd_route mfd_api_registry_routes[] = {
    {0},
};
