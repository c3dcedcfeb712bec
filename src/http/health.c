/* health.c — the probe listener of --health-port: GET /health, /ready and
 * /metrics on their own address, without auth.
 *
 * Kubernetes probes and Prometheus connect to the pod IP, while the API
 * port may be bound to 127.0.0.1 behind an oauth2-proxy sidecar
 * (sso-and-deploy.md R-HELM-4). This listener answers only those three
 * read-only paths and never reads a body. A thread per connection (at most
 * 64): /health and /metrics answer while a /ready waits on the database; a
 * first request head must come whole within 10 s, the next ones within 30 s
 * of the previous answer (head_deadline.h). */
#include "health.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "head_deadline.h"
#include "metrics.h"
#include "store/schema.h"

struct mfd_health {
    struct MHD_Daemon *daemon;
    int port;
};

static enum MHD_Result answer(struct MHD_Connection *connection, unsigned status,
                              const char *content_type, const char *body) {
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result ret = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return ret;
}

/* The same answers as /ready on the API port (api/misc.c). */
static enum MHD_Result ready(mfd_app *app, struct MHD_Connection *connection) {
    mfd_err err = mfd_api_readiness(app);
    if (!err)
        return answer(connection, 200, "application/json", "{\"status\":\"ready\"}");
    json_t *body =
        json_pack("{s:s,s:s}", "error_code", mfd_code_name(err->code), "message", err->message);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    enum MHD_Result ret = answer(connection, (unsigned)mfd_code_http_status(err->code),
                                 "application/json", text ? text : "{}");
    free(text);
    json_decref(body);
    mfd_err_free(err);
    return ret;
}

static mfd_head_watch *connection_watch(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/* A probe sends its whole request at once: a first head not in after this
 * long is a client holding one of the 64 connections. Between requests a
 * connection may idle for HEALTH_IDLE_SECONDS (Prometheus keeps one open
 * between scrapes), and the next head is due by then. */
enum { HEALTH_HEAD_SECONDS = 10, HEALTH_IDLE_SECONDS = 30 };

static void connection_event(void *cls, struct MHD_Connection *connection, void **socket_context,
                             enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        mfd_head_watch *watch = calloc(1, sizeof *watch);
        if (!watch)
            return;
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        mfd_head_deadline_add(watch, info ? (int)info->connect_fd : -1, HEALTH_HEAD_SECONDS);
        *socket_context = watch;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        mfd_head_deadline_remove(*socket_context);
        free(*socket_context);
        *socket_context = NULL;
    }
}

static void request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)con_cls;
    mfd_head_watch *watch = connection_watch(connection);
    if (watch && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        watch->seconds = HEALTH_IDLE_SECONDS; /* the next request's head */
        mfd_head_deadline_arm(watch);
    }
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *connection, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    (void)version;
    (void)upload_data;
    mfd_app *app = cls;
    if (!*con_cls) { /* headers in: wait for the (ignored) body */
        *con_cls = app;
        mfd_head_watch *watch = connection_watch(connection);
        if (watch)
            mfd_head_deadline_disarm(watch);
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return answer(connection, 405, "text/plain; charset=utf-8", "method not allowed\n");
    if (!strcmp(url, "/health"))
        return answer(connection, 200, "text/plain; charset=utf-8", "OK");
    if (!strcmp(url, "/ready"))
        return ready(app, connection);
    if (!strcmp(url, "/metrics")) {
        mfd_arena *arena = mfd_arena_new();
        enum MHD_Result ret =
            answer(connection, 200, MFD_METRICS_CONTENT_TYPE, mfd_metrics_render(arena));
        mfd_arena_free(arena);
        return ret;
    }
    return answer(connection, 404, "text/plain; charset=utf-8",
                  "not found: this port serves /health, /ready and /metrics\n");
}

mfd_err mfd_health_start(mfd_app *app, const char *host, int port, mfd_health **out) {
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    int rc = getaddrinfo(host, port_text, &hints, &ai);
    if (rc != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "cannot resolve --health-host '%s': %s",
                           host, gai_strerror(rc));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (!mfd_head_deadline_start()) {
        freeaddrinfo(ai);
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot start the request-head watchdog thread");
    }
    struct MHD_Daemon *daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, access_handler, app, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HEALTH_IDLE_SECONDS, MHD_OPTION_NOTIFY_CONNECTION, connection_event, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL, MHD_OPTION_END);
    int listen_errno = errno;
    freeaddrinfo(ai);
    if (!daemon) {
        mfd_head_deadline_stop();
        return mfd_err_new(
            MFD_INTERNAL_ERROR, "cannot listen on --health-host %s:%d: %s", host, port,
            listen_errno ? strerror(listen_errno) : "address in use or not available");
    }
    mfd_health *health = calloc(1, sizeof *health);
    health->daemon = daemon;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    health->port = info ? info->port : port;
    *out = health;
    return NULL;
}

int mfd_health_port(const mfd_health *health) {
    return health->port;
}

void mfd_health_stop(mfd_health *health) {
    if (!health)
        return;
    MHD_stop_daemon(health->daemon);
    mfd_head_deadline_stop();
    free(health);
}
