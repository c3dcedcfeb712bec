/* logged_models.c — route table of the logged_models service (filled in as endpoints land). */
#include "api.h"

const mfd_route mfd_api_logged_models_routes[] = {
    {0},
};
