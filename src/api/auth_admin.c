/* auth_admin.c — route table of the auth-management service (filled in as endpoints land). */
#include "api.h"

const mfd_route mfd_api_auth_routes[] = {
    {0},
};
