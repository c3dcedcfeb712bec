/* server.c — the HTTP daemon (libmicrohttpd): bound and started, drained,
 * stopped. One thread per connection; each request's handling is in
 * server_request.c (see server_internal.h for the parts).
 *
 * A request head must come whole within --keep-alive-timeout of the
 * connection's start or previous answer (head_deadline.h).
 *
 * Lifecycle of a request (MHD calls the access handler several times):
 *   1st call: headers are in. Route it; reject early (404/405/415/413/503)
 *             without reading the body; streamed routes open their upload.
 *   body calls: append to the in-memory body (JSON, capped) or write to the
 *             upload file.
 *   last call: run the handler, queue the response, log one line.
 * request_completed frees everything and removes an unfinished upload.
 *
 * Invariants: draining (app->draining) is only ever switched on, and before
 * the listening socket is shut; that socket, quiesced, is closed only after
 * MHD_stop_daemon (a connection thread may still refer to it). */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "server_internal.h"

struct mfd_server {
    struct MHD_Daemon *daemon;
    mfd_app *app;
    int port;
    MHD_socket quiesced; /* ours to close after MHD_stop_daemon */
};
/* Each connection's thread stack. jansson reads JSON nested up to 2048
 * levels and writes it back recursively (an error message quoting a value, a
 * page token, a logged model's flavors): ~300 bytes a level, ~3x that under
 * ASan. Untouched stack costs address space only. */
#define MFD_THREAD_STACK_BYTES ((size_t)4 << 20)

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    mfd_log_warn("http: %s", line);
}
/* libmicrohttpd keeps each connection's request head and read buffer in one
 * pool, and zeroes the whole pool after every request: room for the largest
 * header block allowed plus the read buffer, not a fixed quarter megabyte. */
static size_t connection_memory(const mfd_config *cfg) {
    size_t bytes = 2 * cfg->max_header_bytes + (16u << 10);
    return bytes < (64u << 10) ? (64u << 10) : bytes;
}

mfd_err mfd_server_start(mfd_app *app, mfd_server **out) {
    const mfd_config *cfg = app->config;
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int rc = getaddrinfo(cfg->host, port, &hints, &ai);
    if (rc != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "cannot resolve --host '%s': %s", cfg->host,
                           gai_strerror(rc));
    /* poll(), not select(): select cannot watch a descriptor numbered 1024 or
     * more (--max-connections is 1024 by default, plus the DB files), and on
     * one descriptor per thread poll is also the cheaper call. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
                     MHD_USE_ITC; /* MHD_quiesce_daemon() needs it in this mode */
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (!mfd_head_deadline_start()) {
        freeaddrinfo(ai);
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot start the request-head watchdog thread");
    }
    struct MHD_Daemon *daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, mfd_server_access_handler, app,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, mfd_server_request_completed, app,
        MHD_OPTION_NOTIFY_CONNECTION, mfd_server_connection_event, app, MHD_OPTION_URI_LOG_CALLBACK,
        mfd_server_request_new, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->keep_alive_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_memory(cfg), MHD_OPTION_THREAD_STACK_SIZE,
        MFD_THREAD_STACK_BYTES, MHD_OPTION_END);
    int listen_errno = errno;
    freeaddrinfo(ai);
    if (!daemon) {
        mfd_head_deadline_stop();
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot listen on %s:%d: %s", cfg->host, cfg->port,
                           listen_errno ? strerror(listen_errno)
                                        : "address in use or not available");
    }
    mfd_server *server = calloc(1, sizeof *server);
    server->daemon = daemon;
    server->app = app;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info ? info->port : cfg->port;
    server->quiesced = MHD_INVALID_SOCKET;
    *out = server;
    return NULL;
}

int mfd_server_port(const mfd_server *server) {
    return server->port;
}

bool mfd_server_drain(mfd_server *server, int grace_seconds, const sigset_t *stop_signals) {
    atomic_store(&server->app->draining, true);
    /* The listening socket stays open until MHD_stop_daemon (a connection
     * thread may still refer to it) but is shut down: new connections are
     * refused at once instead of waiting in its backlog. */
    server->quiesced = MHD_quiesce_daemon(server->daemon);
    if (server->quiesced != MHD_INVALID_SOCKET)
        shutdown(server->quiesced, SHUT_RDWR);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int left = mfd_server_requests_in_progress();
    if (left > 0)
        mfd_log_info("waiting up to %d s for %d request%s in progress (a second signal stops now)",
                     grace_seconds, left, left == 1 ? "" : "s");
    for (;;) {
        left = mfd_server_requests_in_progress();
        clock_gettime(CLOCK_MONOTONIC, &now);
        double waited =
            (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
        if (left <= 0 || waited >= grace_seconds)
            break;
        const struct timespec tick = {0, 20 * 1000 * 1000};
        if (stop_signals && sigtimedwait(stop_signals, NULL, &tick) > 0) {
            mfd_log_warn("second stop signal: not waiting any longer");
            break;
        }
        if (!stop_signals)
            nanosleep(&tick, NULL);
    }
    if (left > 0)
        mfd_log_warn("stopping with %d request%s still in progress", left, left == 1 ? "" : "s");
    return left <= 0;
}

void mfd_server_stop(mfd_server *server) {
    if (!server)
        return;
    MHD_stop_daemon(server->daemon);
    mfd_head_deadline_stop(); /* every connection is closed by now */
    if (server->quiesced != MHD_INVALID_SOCKET)
        close(server->quiesced);
    free(server);
}
