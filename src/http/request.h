/* request.h — one HTTP request as the handlers see it, and their answer.
 *
 * Handlers never see libmicrohttpd: the server fills an mfd_request (method,
 * decoded path, query pairs in arrival order, body) and reads back an
 * mfd_response. Everything request-scoped lives in req->arena. */
#ifndef MFD_REQUEST_H
#define MFD_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/arena.h"
#include "core/err.h"

struct mfd_app;

typedef struct mfd_kv {
    const char *key, *value;
} mfd_kv;

enum { MFD_MAX_PATH_PARAMS = 4 };

/* A body streamed to a file instead of memory (artifact uploads). */
typedef struct mfd_upload {
    int fd;          /* open for writing while the body arrives; -1 once closed */
    char *temp_path; /* malloc'd; unlinked by the server if the request fails */
    uint64_t size;   /* bytes written so far */
    void *state;     /* owned by the artifact repository that began the upload */
} mfd_upload;

typedef struct mfd_request {
    mfd_arena *arena;
    struct mfd_app *app;
    const char *method;
    const char *path;      /* URL path, percent-decoded by the server */
    const char *raw_path;  /* URL path as received (for artifact paths, see behaviours.md #10) */
    const char *raw_query; /* query string as received, without '?'; "" when none */
    const char *route;     /* the pattern that matched, for logs and auth rules */
    bool ajax;             /* came in under /ajax-api/ */
    mfd_kv *query;         /* form-decoded query pairs, in order */
    size_t n_query;
    const char *body; /* NUL-terminated; "" when none (not for streamed routes) */
    size_t body_len;
    mfd_upload *upload;                           /* set for streamed routes */
    const char *path_params[MFD_MAX_PATH_PARAMS]; /* {name} segments, in pattern order */
    const char *path_tail; /* the <path> rest of an artifact route; "" when empty */
    const char *(*header)(const struct mfd_request *req, const char *name);
    /* Every value of a repeated header, joined with ", " (arena); NULL when absent. */
    const char *(*header_all)(const struct mfd_request *req, const char *name);
    void *server_data;     /* the server's connection, for header() */
    const char *peer_addr; /* the TCP peer's address as text ("127.0.0.1", "::1"); NULL unknown */
    /* Set by the auth layer when it is on; NULL username = auth off. */
    const char *username;
    bool is_admin;
    struct mfd_auth_request *auth_state; /* the auth layer's per-request notes, in the arena */
    /* The tracking DB connection borrowed for this request (api/context.c);
     * the server gives it back when the request ends. */
    struct mfd_conn *conn;
    /* Lazily parsed JSON body (see api/message.h). */
    json_t *json;
    bool json_parsed;
} mfd_request;

/* A body made by a callback while it is sent (an object streamed from S3).
 * read() puts up to `max` bytes of the body, from offset `pos`, in `buf` and
 * returns how many (> 0; it blocks until it has some), -1 at the end of a
 * body of unknown size, or -2 when the body cannot be completed (the server
 * then drops the connection); libmicrohttpd's content-reader contract.
 * free() runs exactly once when the response is over, sent or not. */
typedef struct mfd_body_reader {
    ssize_t (*read)(void *closure, uint64_t pos, char *buf, size_t max);
    void (*free)(void *closure);
    void *closure;
    uint64_t size; /* Content-Length; UINT64_MAX = unknown (sent chunked) */
} mfd_body_reader;

typedef struct mfd_response {
    int status;               /* 0 = 200 */
    const char *content_type; /* default application/json */
    json_t *json;             /* owned: serialized and freed by the server */
    const char *body;         /* raw body in the arena (if json is NULL) */
    size_t body_len;
    int fd; /* file body: streamed then closed by the server; -1 = none */
    uint64_t fd_offset, fd_size;
    mfd_body_reader reader; /* callback body when reader.read is set (and json, fd are not) */
    mfd_kv headers[8];
    size_t n_headers;
} mfd_response;

void mfd_response_header(mfd_response *res, const char *key, const char *value);
/* Sets a text/plain (or given type) body copied into the arena. */
void mfd_response_text(mfd_request *req, mfd_response *res, int status, const char *content_type,
                       const char *text);

#endif
