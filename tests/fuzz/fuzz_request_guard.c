/* Fuzz target: the request guard (src/http/request_guard.c) on arbitrary
 * Host and Origin headers, methods, paths and --allowed-hosts /
 * --cors-allowed-origins lists: the Host, Origin and pattern parsing that
 * every request of a browser (or an attacker's page) goes through first.
 *
 * Input layout: byte 0 picks the method, whether the lists are given and the
 * static prefix; the rest is "host\norigin\npath\nallowed\ncors" (a missing
 * field is an absent header or list; the first byte of the host field 0x01
 * means no Host header at all).
 *
 * Invariants checked besides "no crash":
 *   - with the default allowed hosts, a request to a path that is not a probe
 *     (/health, /version, /ready, also under the static prefix) passes the
 *     Host check only with a host that is "localhost" or an address literal
 *     (dotted IPv4 or bracketed IPv6), with an optional numeric port: no DNS
 *     name an attacker can re-point gets through;
 *   - an answer of the guard is 200, 400 or 403. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/request_guard.h"

typedef struct fuzz_headers {
    const char *host, *origin, *acr_method;
} fuzz_headers;

static const char *lookup(const mfd_request *req, const char *name) {
    const fuzz_headers *h = req->server_data;
    if (!strcasecmp(name, "Host"))
        return h->host;
    if (!strcasecmp(name, "Origin"))
        return h->origin;
    if (!strcasecmp(name, "Access-Control-Request-Method"))
        return h->acr_method;
    return NULL;
}

/* "localhost", a.b.c.d or [v6 literal], then optionally ":digits". */
static bool literal_or_localhost(const char *host) {
    const char *p = host;
    if (!strncmp(p, "localhost", 9)) {
        p += 9;
    } else if (*p == '[') {
        p++;
        while (isxdigit((unsigned char)*p) || *p == ':' || *p == '.')
            p++;
        if (*p++ != ']')
            return false;
    } else {
        for (int part = 0; part < 4; part++) {
            if ((part && *p++ != '.') || !isdigit((unsigned char)*p))
                return false;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    if (*p == ':')
        p++;
    return strspn(p, "0123456789") == strlen(p);
}

static const char *next_field(char **cursor) {
    if (!*cursor)
        return NULL;
    char *start = *cursor, *nl = strchr(start, '\n');
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = NULL;
    }
    return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    static const char *const methods[] = {"GET",    "POST",    "PUT",  "PATCH",
                                          "DELETE", "OPTIONS", "HEAD", "post"};
    uint8_t flags = data[0];
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *cursor = text;
    fuzz_headers headers = {0};
    headers.host = next_field(&cursor);
    headers.origin = next_field(&cursor);
    const char *path = next_field(&cursor);
    const char *allowed = next_field(&cursor);
    const char *cors = next_field(&cursor);
    if (headers.host && headers.host[0] == '\x01')
        headers.host = NULL;
    headers.acr_method = flags & 0x40 ? "POST" : NULL;

    mfd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.static_prefix = flags & 0x80 ? "/mlflow" : "";
    cfg.x_frame_options = "SAMEORIGIN";
    if (flags & 0x08)
        cfg.allowed_hosts = allowed;
    if (flags & 0x10)
        cfg.cors_allowed_origins = cors;

    mfd_request req;
    memset(&req, 0, sizeof req);
    req.arena = mfd_arena_new();
    req.method = methods[flags & 7];
    req.path = path && path[0] == '/' ? path : "/api/2.0/mlflow/experiments/search";
    req.header = lookup;
    req.server_data = &headers;
    mfd_response res;
    memset(&res, 0, sizeof res);
    res.fd = -1;

    bool answered = mfd_request_guard_check(&cfg, &req, &res);
    if (answered && res.status != 200 && res.status != 400 && res.status != 403)
        abort();
    /* the probes, also under the static prefix */
    static const char *const probes[] = {"/health", "/version", "/ready"};
    size_t prefix_len = strlen(cfg.static_prefix);
    const char *unprefixed =
        !strncmp(req.path, cfg.static_prefix, prefix_len) ? req.path + prefix_len : req.path;
    bool probe = false;
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        probe = probe || !strcmp(req.path, probes[i]) || !strcmp(unprefixed, probes[i]);
    bool host_refused = answered && res.status == 403 && res.body &&
                        strstr((const char *)res.body, "Invalid Host header");
    if (!(flags & 0x08) && !probe && !host_refused &&
        !(headers.host && literal_or_localhost(headers.host)))
        abort();
    mfd_arena_free(req.arena);
    free(text);
    return 0;
}
