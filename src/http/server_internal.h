/* server_internal.h — what the server*.c files share and nobody else sees:
 * the state of one request between libmicrohttpd's calls, and the parts of
 * its handling. server.h stays the module's face to the rest of mlflowd.
 *
 *   server.c          the daemon: start, drain, stop
 *   server_request.c  a request's life: made, routed and checked at the 1st
 *                     call, handled at the last, freed at the end
 *   server_head.c     the request head read from libmicrohttpd: headers,
 *                     framing, peer address, query pairs
 *   server_body.c     the body calls: JSON bodies in memory within the budget,
 *                     uploads to their file, refused bodies drained
 *   server_send.c     an mfd_response (or an error) turned into the answer
 *
 * Invariants: a request_state is made once per request
 * (mfd_server_request_new) and freed exactly once (mfd_server_request_free),
 * which gives back everything it holds: its arena, files, body budget, DB
 * connection and its count among the requests in progress. */
#ifndef MFD_SERVER_INTERNAL_H
#define MFD_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "api/api.h"
#include "head_deadline.h"
#include "request.h"
#include "router.h"

typedef struct request_state request_state;

typedef struct connection_slot {
    request_state *pending;    /* begun by mfd_server_request_new(), not yet completed */
    mfd_head_watch head_watch; /* when its request head is due (head_deadline.h) */
} connection_slot;

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
    size_t body_held;     /* of the body budget, given back in mfd_server_request_free() */
    size_t body_declared; /* its Content-Length; 0 = not given (chunked) */
    struct timespec started;
    char *raw_uri; /* as received, escapes intact (see mfd_server_request_new) */
    /* answered_early = an answer made before the handler (the request guard's,
     * the auth layer's 401/403, a disabled endpoint's 503) is in `res`, sent
     * once the body is drained so the client reads it instead of a reset;
     * authorized = the auth rule was checked at the 1st call. */
    bool answered_early, authorized;
};

/* ---- server_request.c ----------------------------------------------------------------------- */

/* libmicrohttpd's callbacks (MHD_start_daemon). */
void *mfd_server_request_new(void *cls, const char *uri, struct MHD_Connection *connection);
enum MHD_Result mfd_server_access_handler(void *cls, struct MHD_Connection *connection,
                                          const char *url, const char *method, const char *version,
                                          const char *upload_data, size_t *upload_data_size,
                                          void **con_cls);
void mfd_server_request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                                  enum MHD_RequestTerminationCode toe);
void mfd_server_connection_event(void *cls, struct MHD_Connection *connection,
                                 void **socket_context, enum MHD_ConnectionNotificationCode code);
void mfd_server_request_free(request_state *st);
/* Requests between their request line and their end. */
int mfd_server_requests_in_progress(void);

/* ---- server_head.c -------------------------------------------------------------------------- */

/* mfd_request.header and header_all. */
const char *mfd_server_header(const mfd_request *req, const char *name);
const char *mfd_server_header_all(const mfd_request *req, const char *name);
/* The request line and headers, as counted against --max-header-size. */
size_t mfd_server_head_bytes(struct MHD_Connection *connection, const char *method,
                             const char *uri);
mfd_err mfd_server_framing_error(struct MHD_Connection *connection);
const char *mfd_server_peer_address(mfd_arena *arena, struct MHD_Connection *connection);
/* Fills req->query; true when a key or value is not valid UTF-8 or holds a NUL. */
bool mfd_server_collect_query(mfd_request *req, struct MHD_Connection *connection);

/* ---- server_body.c -------------------------------------------------------------------------- */

/* A body call: the chunk appended, written to the upload or dropped. */
enum MHD_Result mfd_server_receive_body(const mfd_app *app, request_state *st,
                                        const char *upload_data, size_t *upload_data_size);
/* Once the whole body is in, before anything reads it: the memory reading
 * it as JSON will take (core/json_cost.h) counted in the budget in place of
 * its bytes. 413 when that alone passes the budget, 503 when the bodies in
 * progress leave no room for it. */
mfd_err mfd_server_body_charge_parse(const mfd_app *app, request_state *st);
/* Gives back a request's share of the body budget. */
void mfd_server_body_release(size_t held);

/* ---- server_send.c -------------------------------------------------------------------------- */

/* Queues the answer (`err`, consumed, replaces the response), counts and
 * logs the request. */
enum MHD_Result mfd_server_send_response(struct MHD_Connection *connection, request_state *st,
                                         mfd_err err);
void mfd_server_drop_reader(mfd_response *res);

#endif
