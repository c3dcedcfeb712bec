/* server.h — the HTTP server (libmicrohttpd) that feeds requests to the router. */
#ifndef MFD_SERVER_H
#define MFD_SERVER_H

#include "api/api.h"

typedef struct mfd_server mfd_server;

/* Binds and starts serving in background threads. */
mfd_err mfd_server_start(mfd_app *app, mfd_server **out);
/* The port actually bound (useful with --port 0). */
int mfd_server_port(const mfd_server *server);
void mfd_server_stop(mfd_server *server);

#endif
