/* server_send.c — the answer to a request: its mfd_response (JSON, raw
 * bytes, a file or a streamed body), or an error turned into MLflow's JSON
 * error body, queued on the connection with the request guard's headers;
 * the request counted in the metrics and logged in one line.
 *
 * Invariants: the response body is sent from the request arena (freed only
 * after libmicrohttpd is done with it), never copied; the DB connection is
 * given back before sending, so a slow reader holds none; a file or callback
 * body is owned by exactly one of the response and libmicrohttpd. */
#include <microhttpd.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "core/json_text.h"
#include "core/log.h"
#include "metrics.h"
#include "request_guard.h"
#include "server_internal.h"

static double elapsed_ms(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
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
void mfd_server_drop_reader(mfd_response *res) {
    if (res->reader.read && res->reader.free)
        res->reader.free(res->reader.closure);
    res->reader.read = NULL;
}

enum MHD_Result mfd_server_send_response(struct MHD_Connection *connection, request_state *st,
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
        mfd_server_drop_reader(res);
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
     * done with a response before mfd_server_request_completed() frees the arena, so it
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
