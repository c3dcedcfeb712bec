/* health.h — the probe listener (--health-port): /health, /ready and
 * /metrics on an address of their own, without auth. */
#ifndef MFD_HTTP_HEALTH_H
#define MFD_HTTP_HEALTH_H

#include "api/api.h"

typedef struct mfd_health mfd_health;

/* Binds host:port (port 0 = any free port) and serves in a background thread. */
mfd_err mfd_health_start(mfd_app *app, const char *host, int port, mfd_health **out);
/* The port actually bound. */
int mfd_health_port(const mfd_health *health);
void mfd_health_stop(mfd_health *health);

#endif
