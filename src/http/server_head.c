/* server_head.c — the request head as libmicrohttpd holds it, read for the
 * handlers and checked: header lookups, the size of the head, the framing
 * headers (where the body ends), the peer's address and the query pairs.
 *
 * Invariant: a request whose body boundary is in doubt (two Content-Lengths,
 * Content-Length with Transfer-Encoding, a malformed header name) is refused
 * before any body is read, so no request can hide inside another's body. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/utf8.h"
#include "server_internal.h"

const char *mfd_server_header(const mfd_request *req, const char *name) {
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
const char *mfd_server_header_all(const mfd_request *req, const char *name) {
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
mfd_err mfd_server_framing_error(struct MHD_Connection *connection) {
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
const char *mfd_server_peer_address(mfd_arena *arena, struct MHD_Connection *connection) {
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

size_t mfd_server_head_bytes(struct MHD_Connection *connection, const char *method,
                             const char *uri) {
    /* The request line counts too: a query string is no cheaper than a header. */
    size_t header_bytes = strlen(method) + strlen(uri) + 11;
    MHD_get_connection_values(connection, MHD_HEADER_KIND, count_header, &header_bytes);
    return header_bytes;
}

bool mfd_server_collect_query(mfd_request *req, struct MHD_Connection *connection) {
    query_collect qc = {req, 0, false};
    MHD_get_connection_values_n(connection, MHD_GET_ARGUMENT_KIND, collect_query, &qc);
    return qc.bad_utf8;
}
