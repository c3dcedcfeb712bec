/* request_guard.h — the request-security layer of `mlflow server` (MLflow 3.5+): Host header
 * check against DNS rebinding, refusal of cross-origin writes to the API, CORS preflights and
 * headers for allowed origins, and the security headers (X-Content-Type-Options,
 * X-Frame-Options). Settings: --allowed-hosts, --cors-allowed-origins, --x-frame-options,
 * --disable-security-middleware (src/config/config.h). */
#ifndef MFD_REQUEST_GUARD_H
#define MFD_REQUEST_GUARD_H

#include <stdbool.h>

#include "config/config.h"
#include "request.h"

struct MHD_Response;

/* Runs before authentication and routing. True when the guard answered the request itself:
 * then `res` holds a 403 (Host not allowed; cross-origin write), or the answer to a CORS
 * preflight (200, or 400 for an origin or method not allowed). The refusals are logged. */
bool mfd_request_guard_check(const mfd_config *cfg, mfd_request *req, mfd_response *res);

/* Adds the security headers, and the CORS headers when the request's Origin is allowed, to an
 * answer of the API port. A header the handler set itself (the UI's X-Frame-Options: DENY)
 * is kept. */
void mfd_request_guard_add_headers(const mfd_config *cfg, const mfd_request *req,
                                   const mfd_response *res, struct MHD_Response *response);

#endif
