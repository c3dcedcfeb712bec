/* router.h — maps (method, path) to a route of the api tables. */
#ifndef MFD_ROUTER_H
#define MFD_ROUTER_H

#include "api/api.h"

typedef enum mfd_route_match {
    MFD_ROUTE_FOUND,
    MFD_ROUTE_NO_PATH,
    MFD_ROUTE_BAD_METHOD
} mfd_route_match;

/* On MFD_ROUTE_FOUND sets *route and fills req->path_params, path_tail, ajax,
 * route. static_prefix ("" or "/x") applies to /ajax-api/ paths only. */
mfd_route_match mfd_router_match(mfd_request *req, const char *static_prefix,
                                 const mfd_route **route);

/* Refuses a static prefix whose first segment is one of the server's own (/api, /ajax-api, or
 * that of a bare route: /health, /static-files, /oidc, ...): those paths would answer both. */
mfd_err mfd_router_check_prefix(const char *static_prefix);

#endif
