/* server_request.c — one request's life in the server: its state made when
 * libmicrohttpd reads the request line, routed and checked at the 1st call of
 * the access handler (limits, framing, request guard, authentication,
 * disabled endpoints, Content-Type and Content-Length, authorization when the
 * body is not needed), the handler run at the last call, and everything
 * freed when it ends.
 *
 * Invariants: an answer made before the handler (answered_early) is sent only
 * once the body is drained, so the client reads it rather than a reset; an
 * early error is answered at once and the body refused; the request's DB
 * connection is never held while an upload streams in. */
#include <malloc.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "request_guard.h"
#include "server_internal.h"

/* Requests between their request line and their end (mfd_server_request_free). */
static _Atomic int requests_in_progress;

/* A request whose arena held this much gives its memory back when it ends
 * (mfd_server_request_free). */
enum { LARGE_REQUEST_BYTES = 16 << 20 };
/* Seconds without a byte either way within a request (--keep-alive-timeout
 * between requests). */
enum { REQUEST_IDLE_SECONDS = 600 };

static bool is_json_post(const mfd_route *route, const char *method) {
    return !route->upload_begin && !(route->flags & MFD_ROUTE_OWN_CONTENT_TYPE) &&
           (!strcmp(method, "POST") || !strcmp(method, "PUT"));
}

/* The route as Flask names its URL rule in messages: the path up to where
 * the pattern starts ("/api/", "/ajax-api/", a static prefix), then the
 * pattern with "{x}" as "<x>" and "<path>" as "<path:artifact_path>". */
static const char *url_rule(mfd_request *req, const mfd_route *route) {
    const char *pattern = route->pattern, *prefix = req->app->config->static_prefix;
    size_t start =
        prefix && *prefix && !strncmp(req->path, prefix, strlen(prefix)) ? strlen(prefix) : 0;
    if (pattern[0] != '/')
        start += !strncmp(req->path + start, "/ajax-api/", 10) ? 10
                 : !strncmp(req->path + start, "/api/", 5)     ? 5
                                                               : 0;
    mfd_strbuf rule;
    mfd_strbuf_init(&rule, req->arena);
    mfd_strbuf_appendn(&rule, req->path, start);
    for (const char *p = pattern; *p; p++) {
        if (!strcmp(p, "<path>")) {
            mfd_strbuf_append(&rule, "<path:artifact_path>");
            break;
        }
        char c = *p == '{' ? '<' : *p == '}' ? '>' : *p;
        mfd_strbuf_appendn(&rule, &c, 1);
    }
    return rule.data;
}

/* Checks that run before the body is read. Returns an error to answer with. */
static mfd_err first_call_checks(mfd_app *app, request_state *st,
                                 struct MHD_Connection *connection) {
    mfd_request *req = &st->req;
    const mfd_config *cfg = app->config;
    const mfd_route *route = NULL;
    switch (mfd_router_match(req, cfg->static_prefix, &route)) {
    case MFD_ROUTE_NO_PATH:
        return mfd_err_new(MFD_ENDPOINT_NOT_FOUND, "No endpoint %s %s", req->method, req->path);
    case MFD_ROUTE_BAD_METHOD:
        st->res.status = 405;
        return mfd_err_new(MFD_BAD_REQUEST, "Method %s is not allowed on %s", req->method,
                           req->path);
    case MFD_ROUTE_FOUND:
        break;
    }
    st->route = route;
    const char *disabled =
        (route->flags & MFD_ROUTE_TRACKING) && cfg->artifacts_only
            ? "Endpoint: %s disabled due to the mlflow server running in `--artifacts-only` mode. "
              "To enable tracking server functionality, run `mlflow server` without "
              "`--artifacts-only`"
        : (route->flags & MFD_ROUTE_ARTIFACTS) && !cfg->serve_artifacts
            ? "Endpoint: %s disabled due to the mlflow server running with "
              "`--no-serve-artifacts`. To enable artifacts server functionality, run `mlflow "
              "server` with `--serve-artifacts`"
            : NULL;
    if (disabled) { /* Flask's plain answer (rest-api.md §1.4), naming the URL rule */
        mfd_response_text(req, &st->res, 503, "text/html; charset=utf-8",
                          mfd_arena_sprintf(req->arena, disabled, url_rule(req, route)));
        st->answered_early = true;
        return NULL;
    }
    if (is_json_post(route, req->method)) {
        const char *ct =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!ct)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Content-Type header is missing");
        size_t media_len = strcspn(ct, ";");
        while (media_len > 0 && (ct[media_len - 1] == ' ' || ct[media_len - 1] == '\t'))
            media_len--;
        if (media_len != strlen("application/json") ||
            strncasecmp(ct, "application/json", media_len) != 0)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "Content-Type must be one of ['application/json']");
    }
    if (!route->upload_begin) {
        const char *cl = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
        if (declared > cfg->max_body_bytes) {
            st->res.status = 413;
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "Request body of %s bytes exceeds the limit of %zu bytes", cl,
                               cfg->max_body_bytes);
        }
        st->body_declared = (size_t)declared;
    }
    return NULL;
}

/* MHD hands us the request URI as received, before unescaping it; what we
 * return becomes *con_cls. Artifact paths need the raw form: a decoded C
 * string cannot show an escaped NUL (behaviours.md #10, rest-api.md §8.0). */
void *mfd_server_request_new(void *cls, const char *uri, struct MHD_Connection *connection) {
    (void)cls;
    request_state *st = calloc(1, sizeof *st);
    atomic_fetch_add(&requests_in_progress, 1);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    st->slot = info ? info->socket_context : NULL;
    if (st->slot) {
        if (st->slot->pending) /* never completed: not expected, but not leaked either */
            mfd_server_request_free(st->slot->pending);
        st->slot->pending = st;
    }
    st->raw_uri = strdup(uri ? uri : "");
    st->res.fd = -1; /* request_completed may see it before the access handler does */
    st->upload.fd = -1;
    return st;
}

/* 1st call: the headers are in. Reject early (431/400/404/405/415/413/503,
 * the request guard's and the auth layer's answers) without reading the body;
 * streamed routes open their upload. */
static enum MHD_Result begin_request(mfd_app *app, request_state *st,
                                     struct MHD_Connection *connection, const char *url,
                                     const char *method) {
    clock_gettime(CLOCK_MONOTONIC, &st->started);
    if (st->slot)
        mfd_head_deadline_disarm(&st->slot->head_watch);
    /* Within a request, a slow upload or reader may pause this long. */
    MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned)REQUEST_IDLE_SECONDS);
    mfd_request *req = &st->req;
    req->arena = mfd_arena_new();
    req->app = app;
    /* HEAD is a GET whose body libmicrohttpd leaves out: the same route, the
     * same permission check, the same headers (Flask answers HEAD so too). */
    req->method = mfd_arena_strdup(req->arena, strcmp(method, "HEAD") ? method : "GET");
    req->path = mfd_arena_strdup(req->arena, url);
    req->raw_path = req->path;
    req->raw_query = "";
    if (st->raw_uri) {
        size_t path_len = strcspn(st->raw_uri, "?");
        req->raw_path = mfd_arena_strndup(req->arena, st->raw_uri, path_len);
        if (st->raw_uri[path_len] == '?')
            req->raw_query = mfd_arena_strdup(req->arena, st->raw_uri + path_len + 1);
    }
    req->body = "";
    req->header = mfd_server_header;
    req->header_all = mfd_server_header_all;
    req->server_data = connection;
    req->peer_addr = mfd_server_peer_address(req->arena, connection);
    st->res.fd = -1;
    st->upload.fd = -1;
    bool bad_query = mfd_server_collect_query(req, connection);
    mfd_strbuf_init(&st->body, req->arena);
    size_t header_bytes =
        mfd_server_head_bytes(connection, method, st->raw_uri ? st->raw_uri : url);
    if (header_bytes > app->config->max_header_bytes) {
        st->res.status = 431;
        st->early_error = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                      "The request line and headers (%zu bytes) exceed the "
                                      "limit of %zu bytes (--max-header-size)",
                                      header_bytes, app->config->max_header_bytes);
    }
    if (!st->early_error)
        st->early_error = mfd_server_framing_error(connection);
    /* libmicrohttpd decodes the path into a C string: "%00" would end it
     * there, and ".../get%00junk" would be served as ".../get". */
    if (!st->early_error && strstr(req->raw_path, "%00"))
        st->early_error = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                      "The request path contains a NUL character (%%00)");
    /* Host check, cross-origin writes, CORS preflights: before auth, as in MLflow. */
    if (!st->early_error)
        st->answered_early = mfd_request_guard_check(app->config, req, &st->res);
    if (!st->early_error && !st->answered_early && app->auth &&
        !mfd_auth_is_unprotected(app->config->static_prefix, req->path))
        st->early_error = mfd_auth_authenticate(app->auth, req, &st->res, &st->answered_early);
    if (st->early_error || st->answered_early)
        ; /* answered below, or once the body is drained */
    else if (bad_query)
        st->early_error =
            mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                        "Query string is not valid UTF-8 or contains a NUL character");
    else
        st->early_error = first_call_checks(app, st, connection);
    if (!st->early_error && !st->answered_early && req->username &&
        !mfd_auth_needs_body(app->auth, req)) {
        /* The resource id is in the path or query: check before any upload is read. */
        st->early_error = mfd_auth_authorize(app->auth, req, &st->res, &st->answered_early);
        st->authorized = true;
        mfd_api_conn_release(req); /* not held while an upload streams in */
    }
    if (st->answered_early && !st->early_error) {
        /* A refused body is read only so that the client sees the answer: it
         * gets the keep-alive timeout, not a request's, and must come whole by
         * a head's deadline, so trickling it holds no slot for long. */
        MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)app->config->keep_alive_timeout);
        if (st->slot)
            mfd_head_deadline_arm(&st->slot->head_watch);
        /* A client waiting for "100 Continue" gets the refusal instead: it then
         * sends no body (curl, boto3); others are read a little (below). */
        const char *expect =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        if (expect && strcasecmp(expect, "100-continue") == 0)
            return mfd_server_send_response(connection, st, NULL);
        return MHD_YES;
    }
    if (!st->early_error && st->route->upload_begin) {
        st->early_error = st->route->upload_begin(req, &st->upload);
        if (!st->early_error) {
            st->have_upload = true;
            req->upload = &st->upload;
        }
    }
    if (st->early_error) {
        /* Answer now; MHD closes the connection rather than read a body we refuse. */
        mfd_err err = st->early_error;
        st->early_error = NULL;
        return mfd_server_send_response(connection, st, err);
    }
    return MHD_YES;
}

/* Last call: the whole body is in; run the handler (and the auth layer's
 * checks around it) and answer. */
static enum MHD_Result finish_request(mfd_app *app, request_state *st,
                                      struct MHD_Connection *connection) {
    if (st->early_error) {
        mfd_err err = st->early_error;
        st->early_error = NULL;
        return mfd_server_send_response(connection, st, err);
    }
    if (st->answered_early)
        return mfd_server_send_response(connection, st, NULL);
    st->req.body = st->body.data;
    st->req.body_len = st->body.len;
    mfd_err charge_err = st->have_upload ? NULL : mfd_server_body_charge_parse(app, st);
    if (charge_err)
        return mfd_server_send_response(connection, st, charge_err);
    if (st->have_upload && st->upload.fd >= 0) {
        close(st->upload.fd);
        st->upload.fd = -1;
    }
    if (app->auth && st->req.username && !st->authorized) {
        bool answered = false;
        mfd_err auth_err = mfd_auth_authorize(app->auth, &st->req, &st->res, &answered);
        if (auth_err || answered)
            return mfd_server_send_response(connection, st, auth_err);
    }
    mfd_err err = app->auth && st->req.username ? mfd_auth_before(app->auth, &st->req) : NULL;
    if (!err)
        err = st->route->handler(&st->req, &st->res);
    if (!err && app->auth && st->req.username && st->res.status < 400)
        err = mfd_auth_after(app->auth, &st->req, &st->res); /* creator grants, filtering */
    return mfd_server_send_response(connection, st, err);
}

enum MHD_Result mfd_server_access_handler(void *cls, struct MHD_Connection *connection,
                                          const char *url, const char *method, const char *version,
                                          const char *upload_data, size_t *upload_data_size,
                                          void **con_cls) {
    (void)version;
    mfd_app *app = cls;
    request_state *st = *con_cls;
    if (!st || !st->req.arena) {
        if (!st)
            st = calloc(1, sizeof *st);
        *con_cls = st;
        return begin_request(app, st, connection, url, method);
    }
    if (*upload_data_size > 0)
        return mfd_server_receive_body(app, st, upload_data, upload_data_size);
    return finish_request(app, st, connection);
}

/* Everything a request holds; its count of requests in progress too. */
void mfd_server_request_free(request_state *st) {
    if (st->slot && st->slot->pending == st)
        st->slot->pending = NULL;
    if (st->upload.fd >= 0)
        close(st->upload.fd);
    if (st->upload.temp_path) {
        unlink(st->upload.temp_path); /* no-op once the handler renamed it into place */
        free(st->upload.temp_path);
    }
    free(st->upload.state);
    if (st->raw_uri) /* made by mfd_server_request_new(), which counted the request */
        atomic_fetch_sub(&requests_in_progress, 1);
    free(st->raw_uri);
    mfd_server_body_release(st->body_held);
    if (st->res.fd >= 0)
        close(st->res.fd);
    mfd_server_drop_reader(&st->res);
    mfd_api_conn_release(&st->req);
    json_decref(st->res.json);
    json_decref(st->req.json);
    mfd_err_free(st->early_error);
    size_t held = st->req.arena ? mfd_arena_bytes(st->req.arena) : 0;
    mfd_arena_free(st->req.arena);
    free(st);
    /* After a large answer (a search page of thousands of runs), give the
     * freed memory back to the system: glibc keeps it in the worker
     * thread's heap otherwise (after four 50,000-run pages at once, 112 MB
     * resident where 12 MB is idle). The answer is sent by now. */
    if (held >= LARGE_REQUEST_BYTES)
        malloc_trim(0);
}

void mfd_server_request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                                  enum MHD_RequestTerminationCode toe) {
    mfd_app *app = cls;
    if (*con_cls)
        mfd_server_request_free(*con_cls);
    *con_cls = NULL;
    /* Between requests a connection holds its thread for little time: one
     * client's idle connections took every slot for 600 s. */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)app->config->keep_alive_timeout);
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (info && info->socket_context)
            mfd_head_deadline_arm(&((connection_slot *)info->socket_context)->head_watch);
    }
}

/* A connection's slot for the request that mfd_server_request_new() began. When
 * libmicrohttpd gives up on a request before the access handler (its own
 * 431 for a request that fills the connection's memory), it never calls
 * mfd_server_request_completed(): the slot lets the connection's end free it. */
void mfd_server_connection_event(void *cls, struct MHD_Connection *connection,
                                 void **socket_context, enum MHD_ConnectionNotificationCode code) {
    const mfd_app *app = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        connection_slot *slot = calloc(1, sizeof *slot);
        if (!slot)
            return; /* no slot, no deadline: as before the watchdog */
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        mfd_head_deadline_add(&slot->head_watch, info ? (int)info->connect_fd : -1,
                              app->config->keep_alive_timeout);
        *socket_context = slot;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        connection_slot *slot = *socket_context;
        mfd_head_deadline_remove(&slot->head_watch);
        if (slot->pending)
            mfd_server_request_free(slot->pending);
        free(slot);
        *socket_context = NULL;
    }
}

int mfd_server_requests_in_progress(void) {
    return atomic_load(&requests_in_progress);
}
