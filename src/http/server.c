/* server.c — libmicrohttpd glue: one mfd_request per HTTP request.
 *
 * Lifecycle of a request (MHD calls the access handler several times):
 *   1st call: headers are in. Route it; reject early (404/405/415/413/503)
 *             without reading the body; streamed routes open their upload.
 *   body calls: append to the in-memory body (JSON, capped) or write to the
 *             upload file.
 *   last call: run the handler, queue the response, log one line.
 * request_completed() frees everything and removes an unfinished upload. */
#include "core/utf8.h"
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/json_text.h"
#include "core/log.h"
#include "metrics.h"
#include "request_guard.h"
#include "router.h"

struct mfd_server {
    struct MHD_Daemon *daemon;
    mfd_app *app;
    int port;
    MHD_socket quiesced; /* ours to close after MHD_stop_daemon */
};

/* Requests between their request line and their end (free_request_state). */
static _Atomic int requests_in_progress;

/* Each connection's thread stack. jansson reads JSON nested up to 2048
 * levels and writes it back recursively (an error message quoting a value, a
 * page token, a logged model's flavors): ~300 bytes a level, ~3x that under
 * ASan. Untouched stack costs address space only. */
#define MFD_THREAD_STACK_BYTES ((size_t)4 << 20)

/* JSON bodies are read into memory (up to --max-body-size each); the bytes
 * received of all of them together may be at most this many times that (and
 * at least 256 MiB). Beyond it a request is answered 503, which the client
 * retries, rather than letting many large bodies in progress take all
 * memory. Bytes are counted as they arrive, so that a client announcing a
 * large body and sending nothing holds nothing; a body's first
 * MFD_BODY_ALWAYS_ADMITTED bytes pass even when the budget is spent, so small
 * requests go on while large ones wait. */
enum { MFD_BODY_BUDGET_BODIES = 4, MFD_BODY_ALWAYS_ADMITTED = 64 << 10 };
static _Atomic size_t body_bytes_held;

static size_t body_budget(const mfd_config *cfg) {
    size_t floor = (size_t)256 << 20;
    if (cfg->max_body_bytes > SIZE_MAX / MFD_BODY_BUDGET_BODIES)
        return SIZE_MAX;
    size_t budget = cfg->max_body_bytes * MFD_BODY_BUDGET_BODIES;
    return budget < floor ? floor : budget;
}

/* Counts the body's bytes up to `total` received; false when they would pass
 * the budget (nothing counted). */
static bool take_body_bytes(const mfd_config *cfg, size_t *held, size_t total) {
    size_t n = total - *held;
    size_t before = atomic_fetch_add(&body_bytes_held, n);
    if (total > MFD_BODY_ALWAYS_ADMITTED && before + n > body_budget(cfg)) {
        atomic_fetch_sub(&body_bytes_held, n);
        return false;
    }
    *held = total;
    return true;
}

static mfd_err body_budget_error(void) {
    return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE,
                       "The server is reading too many large request bodies at once; try again");
}

/* How much of a refused (over-limit) chunked body is read before hanging up. */
enum { MFD_DRAIN_ALLOWANCE = 1 << 20 };

/* A request whose arena held this much gives its memory back when it ends
 * (free_request_state). */
enum { LARGE_REQUEST_BYTES = 16 << 20 };
/* Seconds without a byte either way within a request (--keep-alive-timeout
 * between requests). */
enum { REQUEST_IDLE_SECONDS = 600 };

typedef struct request_state request_state;

typedef struct connection_slot {
    request_state *pending; /* begun by capture_raw_uri(), not yet completed */
} connection_slot;

static void free_request_state(request_state *st);

struct request_state {
    connection_slot *slot;
    mfd_request req;
    mfd_response res;
    const mfd_route *route;
    mfd_strbuf body;
    bool body_started;
    mfd_err early_error; /* answer with this once the client's headers are in */
    mfd_upload upload;
    bool have_upload;
    uint64_t drained;     /* bytes of a refused body read and dropped */
    size_t body_held;     /* of the body budget, given back in free_request_state() */
    size_t body_declared; /* its Content-Length; 0 = not given (chunked) */
    struct timespec started;
    char *raw_uri; /* as received, escapes intact (see capture_raw_uri) */
    /* answered_early = an answer made before the handler (the request guard's,
     * the auth layer's 401/403, a disabled endpoint's 503) is in `res`, sent
     * once the body is drained so the client reads it instead of a reset;
     * authorized = the auth rule was checked at the 1st call. */
    bool answered_early, authorized;
};

static double elapsed_ms(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static const char *lookup_header(const mfd_request *req, const char *name) {
    return MHD_lookup_connection_value((struct MHD_Connection *)req->server_data, MHD_HEADER_KIND,
                                       name);
}

typedef struct header_join {
    const mfd_request *req;
    const char *name;
    mfd_strbuf out;
    bool any;
} header_join;

static enum MHD_Result join_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    (void)kind;
    header_join *j = cls;
    if (strcasecmp(key, j->name) == 0 && value) {
        if (j->any)
            mfd_strbuf_append(&j->out, ", ");
        mfd_strbuf_append(&j->out, value);
        j->any = true;
    }
    return MHD_YES;
}

/* Every line of a repeated header (X-Forwarded-Groups), joined. */
static const char *lookup_header_all(const mfd_request *req, const char *name) {
    header_join j = {req, name, {0}, false};
    mfd_strbuf_init(&j.out, req->arena);
    MHD_get_connection_values((struct MHD_Connection *)req->server_data, MHD_HEADER_KIND,
                              join_header, &j);
    return j.any ? j.out.data : NULL;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value) {
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

typedef struct framing {
    const char *length; /* the first Content-Length */
    bool lengths_differ, has_transfer_encoding, chunked_only;
    const char *bad_name; /* a header name that is no RFC 9110 token, or a mangled framing one */
} framing;

/* RFC 9110 §5.6.2 token characters. */
static bool token_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* libmicrohttpd keeps "Content-Length : 2" as a header named "Content-Length "
 * and folds "Content-Length:\r\n 2" into one named "Content-Length2"; either
 * way it then ignores the length a proxy in front may have used. */
static bool bad_header_name(const char *key) {
    if (!*key)
        return true;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (!token_char(*p))
            return true;
    static const char *const framing_names[] = {MHD_HTTP_HEADER_CONTENT_LENGTH,
                                                MHD_HTTP_HEADER_TRANSFER_ENCODING};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(framing_names[i]);
        if (strncasecmp(key, framing_names[i], n) == 0 && key[n])
            return true;
    }
    return false;
}

static enum MHD_Result note_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value) {
    (void)kind;
    framing *f = cls;
    if (!value)
        value = "";
    if (!f->bad_name && bad_header_name(key))
        f->bad_name = key;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->length && strcmp(f->length, value) != 0)
            f->lengths_differ = true;
        f->length = f->length ? f->length : value;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->chunked_only = !f->has_transfer_encoding && strcasecmp(value, "chunked") == 0;
        f->has_transfer_encoding = true;
    }
    return MHD_YES;
}

/* Where the body ends must be beyond doubt (RFC 9112 §6.3): a proxy in front
 * that read it differently would let a request hide inside another one's
 * body. libmicrohttpd takes the first of two Content-Lengths and prefers
 * chunked to a Content-Length; here either is refused, as is a coding other
 * than chunked, which it would wait on forever. */
static mfd_err framing_error(struct MHD_Connection *connection) {
    framing f = {0};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, note_framing, &f);
    if (f.bad_name)
        return mfd_err_new(MFD_BAD_REQUEST,
                           "Malformed header line (whitespace before the colon, a line folded "
                           "onto the next, or a character not allowed in a header name)");
    if (f.has_transfer_encoding && !f.chunked_only)
        return mfd_err_new(MFD_NOT_IMPLEMENTED,
                           "Transfer-Encoding other than 'chunked' is not supported");
    if (f.lengths_differ || (f.has_transfer_encoding && f.length))
        return mfd_err_new(MFD_BAD_REQUEST, "The request's length is ambiguous: %s",
                           f.lengths_differ ? "two different Content-Length headers"
                                            : "both Content-Length and Transfer-Encoding");
    return NULL;
}

/* The peer's address as text, for the trusted-proxy rule of the auth layer. */
static const char *peer_address(mfd_arena *arena, struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char text[INET6_ADDRSTRLEN] = "";
    if (!info || !info->client_addr)
        return NULL;
    if (info->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)info->client_addr)->sin_addr, text,
                  sizeof text);
    else if (info->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)info->client_addr)->sin6_addr, text,
                  sizeof text);
    return *text ? mfd_arena_strdup(arena, text) : NULL;
}

typedef struct query_collect {
    mfd_request *req;
    size_t cap;
    bool bad_utf8; /* invalid UTF-8 or an embedded NUL */
} query_collect;

/* Query pairs with their decoded lengths, so a "%00" inside a value is
 * refused (like invalid UTF-8) rather than silently cutting the value. */
static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size) {
    (void)kind;
    query_collect *qc = cls;
    mfd_request *req = qc->req;
    if (strlen(key) != key_size || !mfd_utf8_valid(key, key_size) ||
        (value && (strlen(value) != value_size || !mfd_utf8_valid(value, value_size))))
        qc->bad_utf8 = true;
    req->query =
        mfd_arena_grow(req->arena, req->query, req->n_query, &qc->cap, sizeof *req->query, 8);
    req->query[req->n_query].key = key;
    req->query[req->n_query].value = value ? value : "";
    req->n_query++;
    return MHD_YES;
}

static json_t *error_body(mfd_err err) {
    json_t *body = json_object();
    json_object_set_new(body, "error_code", json_string(mfd_code_name(err->code)));
    json_t *msg = json_string(err->message);
    if (!msg) /* a message quoting invalid UTF-8 input */
        msg = json_string("invalid request (message not representable as UTF-8)");
    json_object_set_new(body, "message", msg);
    return body;
}

/* Frees a callback body (mfd_body_reader) that was not handed to MHD. */
static void drop_reader(mfd_response *res) {
    if (res->reader.read && res->reader.free)
        res->reader.free(res->reader.closure);
    res->reader.read = NULL;
}

static enum MHD_Result send_response(struct MHD_Connection *connection, request_state *st,
                                     mfd_err err) {
    /* The answer is built: the connection goes back now, not when a client that
     * reads slowly (or not at all) has taken the last byte. */
    mfd_api_conn_release(&st->req);
    mfd_response *res = &st->res;
    struct MHD_Response *response;
    int status;
    if (err) {
        if (res->fd >= 0) {
            close(res->fd);
            res->fd = -1;
        }
        drop_reader(res);
        json_decref(res->json);
        res->json = error_body(err);
        res->content_type = "application/json";
        status = mfd_code_http_status(err->code);
        if (res->status == 405 || res->status == 413 || res->status == 431) /* set early */
            status = res->status;
        if (err->code == MFD_INTERNAL_ERROR)
            mfd_log_error("%s %s: %s", st->req.method, st->req.path, err->message);
    } else {
        status = res->status ? res->status : 200;
    }
    /* Bodies live in the request's arena (or are static): libmicrohttpd is
     * done with a response before request_completed() frees the arena, so it
     * sends them from there rather than from a copy (a 50,000-run page is
     * ~100 MB). */
    if (res->json) {
        mfd_strbuf text;
        mfd_strbuf_init(&text, st->req.arena);
        mfd_json_append_tree(&text, res->json);
        response = MHD_create_response_from_buffer(text.len, text.data, MHD_RESPMEM_PERSISTENT);
        if (!res->content_type)
            res->content_type = "application/json";
    } else if (res->fd >= 0) {
        response = MHD_create_response_from_fd_at_offset64(res->fd_size, res->fd, res->fd_offset);
        res->fd = -1; /* MHD closes it */
    } else if (res->reader.read) {
        response = MHD_create_response_from_callback(res->reader.size, 64 * 1024, res->reader.read,
                                                     res->reader.closure, res->reader.free);
        if (response)
            res->reader.read = NULL; /* MHD calls free() when done */
    } else {
        response = MHD_create_response_from_buffer(
            res->body_len, (void *)(res->body ? res->body : ""), MHD_RESPMEM_PERSISTENT);
        if (!res->content_type)
            res->content_type = "application/json";
    }
    if (!response)
        return MHD_NO;
    if (res->content_type)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    for (size_t i = 0; i < res->n_headers; i++)
        MHD_add_response_header(response, res->headers[i].key, res->headers[i].value);
    mfd_request_guard_add_headers(st->req.app->config, &st->req, res, response);
    if (atomic_load(&st->req.app->draining)) /* no next request on this connection */
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(connection, (unsigned)status, response);
    MHD_destroy_response(response);
    mfd_metrics_observe_request(
        st->req.route, st->req.method, status, elapsed_ms(&st->started) / 1e3,
        mfd_metrics_auth_decision(st->req.app->auth != NULL, st->req.username != NULL, status));
    if (!st->req.app->config->quiet)
        mfd_log_info("\"%s %s\" %d %.2fms", st->req.method, st->req.path, status,
                     elapsed_ms(&st->started));
    mfd_err_free(err);
    return ret;
}

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
static void *capture_raw_uri(void *cls, const char *uri, struct MHD_Connection *connection) {
    (void)cls;
    request_state *st = calloc(1, sizeof *st);
    atomic_fetch_add(&requests_in_progress, 1);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    st->slot = info ? info->socket_context : NULL;
    if (st->slot) {
        if (st->slot->pending) /* never completed: not expected, but not leaked either */
            free_request_state(st->slot->pending);
        st->slot->pending = st;
    }
    st->raw_uri = strdup(uri ? uri : "");
    st->res.fd = -1; /* request_completed() may see it before access_handler() does */
    st->upload.fd = -1;
    return st;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *connection, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    (void)version;
    mfd_app *app = cls;
    request_state *st = *con_cls;
    if (!st || !st->req.arena) {
        if (!st)
            st = calloc(1, sizeof *st);
        clock_gettime(CLOCK_MONOTONIC, &st->started);
        *con_cls = st;
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
        req->header = lookup_header;
        req->header_all = lookup_header_all;
        req->server_data = connection;
        req->peer_addr = peer_address(req->arena, connection);
        st->res.fd = -1;
        st->upload.fd = -1;
        query_collect qc = {req, 0, false};
        MHD_get_connection_values_n(connection, MHD_GET_ARGUMENT_KIND, collect_query, &qc);
        mfd_strbuf_init(&st->body, req->arena);
        /* The request line counts too: a query string is no cheaper than a header. */
        size_t header_bytes = strlen(method) + strlen(st->raw_uri ? st->raw_uri : url) + 11;
        MHD_get_connection_values(connection, MHD_HEADER_KIND, count_header, &header_bytes);
        if (header_bytes > app->config->max_header_bytes) {
            st->res.status = 431;
            st->early_error = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                          "The request line and headers (%zu bytes) exceed the "
                                          "limit of %zu bytes (--max-header-size)",
                                          header_bytes, app->config->max_header_bytes);
        }
        if (!st->early_error)
            st->early_error = framing_error(connection);
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
        else if (qc.bad_utf8)
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
            /* A client waiting for "100 Continue" gets the refusal instead: it then
             * sends no body (curl, boto3); others are read a little (below). */
            const char *expect =
                MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
            if (expect && strcasecmp(expect, "100-continue") == 0)
                return send_response(connection, st, NULL);
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
            return send_response(connection, st, err);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (st->early_error && !st->have_upload) {
            /* Refused body: drain at most MFD_DRAIN_ALLOWANCE more, then hang up rather
             * than read whatever a client keeps sending. */
            st->drained += *upload_data_size;
            *upload_data_size = 0;
            return st->drained > MFD_DRAIN_ALLOWANCE ? MHD_NO : MHD_YES;
        }
        if (st->answered_early) {
            /* Refused (401/403): read and drop as much as an accepted JSON body
             * may be, so that a client that sends before it reads (the mlflow
             * client) sees the refusal rather than a reset; not more. */
            st->drained += *upload_data_size;
            *upload_data_size = 0;
            size_t allowance = app->config->max_body_bytes > MFD_DRAIN_ALLOWANCE
                                   ? app->config->max_body_bytes
                                   : MFD_DRAIN_ALLOWANCE;
            return st->drained > allowance ? MHD_NO : MHD_YES;
        }
        if (st->have_upload) {
            const char *p = upload_data;
            size_t left = *upload_data_size;
            while (left > 0 && !st->early_error) {
                ssize_t n = write(st->upload.fd, p, left);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0)
                    st->early_error =
                        mfd_err_new(MFD_INTERNAL_ERROR, "cannot write upload: %s", strerror(errno));
                else {
                    p += n;
                    left -= (size_t)n;
                    st->upload.size += (uint64_t)n;
                }
            }
        } else if (!st->early_error) {
            size_t need = st->body.len + *upload_data_size;
            if (need > app->config->max_body_bytes) {
                /* A body without Content-Length (chunked) passed the limit. libmicrohttpd
                 * can answer only after the headers or after the whole body, so we drop
                 * what follows and answer 413 when it ends (see the drain check below). */
                st->res.status = 413;
                st->early_error = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                              "Request body exceeds the limit of %zu bytes",
                                              app->config->max_body_bytes);
            } else if (!take_body_bytes(app->config, &st->body_held, need)) {
                st->early_error = body_budget_error();
            } else {
                /* With a declared length, grow by doubling but never past it: a
                 * 64 MiB body takes 64 MiB, not 128. */
                if (st->body_declared >= need && need + 1 > st->body.cap) {
                    size_t cap = st->body.cap * 2 > need + 1 ? st->body.cap * 2 : need + 1;
                    if (cap > st->body_declared + 1)
                        cap = st->body_declared + 1;
                    mfd_strbuf_reserve_exact(&st->body, cap - st->body.len - 1);
                }
                mfd_strbuf_appendn(&st->body, upload_data, *upload_data_size);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* Last call: the whole body is in. */
    if (st->early_error) {
        mfd_err err = st->early_error;
        st->early_error = NULL;
        return send_response(connection, st, err);
    }
    if (st->answered_early)
        return send_response(connection, st, NULL);
    st->req.body = st->body.data;
    st->req.body_len = st->body.len;
    if (st->have_upload && st->upload.fd >= 0) {
        close(st->upload.fd);
        st->upload.fd = -1;
    }
    if (app->auth && st->req.username && !st->authorized) {
        bool answered = false;
        mfd_err auth_err = mfd_auth_authorize(app->auth, &st->req, &st->res, &answered);
        if (auth_err || answered)
            return send_response(connection, st, auth_err);
    }
    mfd_err err = app->auth && st->req.username ? mfd_auth_before(app->auth, &st->req) : NULL;
    if (!err)
        err = st->route->handler(&st->req, &st->res);
    if (!err && app->auth && st->req.username && st->res.status < 400)
        err = mfd_auth_after(app->auth, &st->req, &st->res); /* creator grants, filtering */
    return send_response(connection, st, err);
}

/* Everything a request holds; its count of requests in progress too. */
static void free_request_state(request_state *st) {
    if (st->slot && st->slot->pending == st)
        st->slot->pending = NULL;
    if (st->upload.fd >= 0)
        close(st->upload.fd);
    if (st->upload.temp_path) {
        unlink(st->upload.temp_path); /* no-op once the handler renamed it into place */
        free(st->upload.temp_path);
    }
    free(st->upload.state);
    if (st->raw_uri) /* made by capture_raw_uri(), which counted the request */
        atomic_fetch_sub(&requests_in_progress, 1);
    free(st->raw_uri);
    atomic_fetch_sub(&body_bytes_held, st->body_held);
    if (st->res.fd >= 0)
        close(st->res.fd);
    drop_reader(&st->res);
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

static void request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
    mfd_app *app = cls;
    if (*con_cls)
        free_request_state(*con_cls);
    *con_cls = NULL;
    /* Between requests a connection holds its thread for little time: one
     * client's idle connections took every slot for 600 s. */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)app->config->keep_alive_timeout);
}

/* A connection's slot for the request that capture_raw_uri() began. When
 * libmicrohttpd gives up on a request before the access handler (its own
 * 431 for a request that fills the connection's memory), it never calls
 * request_completed(): the slot lets the connection's end free it. */
static void connection_event(void *cls, struct MHD_Connection *connection, void **socket_context,
                             enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    (void)connection;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(connection_slot));
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        connection_slot *slot = *socket_context;
        if (slot->pending)
            free_request_state(slot->pending);
        free(slot);
        *socket_context = NULL;
    }
}

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
    struct MHD_Daemon *daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, access_handler, app, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED,
        request_completed, app, MHD_OPTION_NOTIFY_CONNECTION, connection_event, NULL,
        MHD_OPTION_URI_LOG_CALLBACK, capture_raw_uri, NULL, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->keep_alive_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        connection_memory(cfg), MHD_OPTION_THREAD_STACK_SIZE, MFD_THREAD_STACK_BYTES,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!daemon)
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot listen on %s:%d: %s", cfg->host, cfg->port,
                           errno ? strerror(errno) : "address in use or not available");
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
    int left = atomic_load(&requests_in_progress);
    if (left > 0)
        mfd_log_info("waiting up to %d s for %d request%s in progress (a second signal stops now)",
                     grace_seconds, left, left == 1 ? "" : "s");
    for (;;) {
        left = atomic_load(&requests_in_progress);
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
    if (server->quiesced != MHD_INVALID_SOCKET)
        close(server->quiesced);
    free(server);
}
