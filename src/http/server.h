/* server.h — the HTTP server (libmicrohttpd) that feeds requests to the router. */
#ifndef MFD_SERVER_H
#define MFD_SERVER_H

#include <signal.h>
#include <stdbool.h>

#include "api/api.h"

typedef struct mfd_server mfd_server;

/* Binds and starts serving in background threads. */
mfd_err mfd_server_start(mfd_app *app, mfd_server **out);
/* The port actually bound (useful with --port 0). */
int mfd_server_port(const mfd_server *server);
/* Marks the app draining (/ready answers 503; answers carry "Connection:
 * close"), stops taking connections, then waits up to
 * `grace_seconds` for the requests in progress to finish (keep-alive connections may still send
 * theirs meanwhile), or until one of `stop_signals` (blocked; NULL = none)
 * arrives again; true when none is left. */
bool mfd_server_drain(mfd_server *server, int grace_seconds, const sigset_t *stop_signals);
void mfd_server_stop(mfd_server *server);

#endif
