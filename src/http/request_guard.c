/* request_guard.c — MLflow 3.5's server security middleware, answered the same way.
 *
 * With auth off on 127.0.0.1, any web page could otherwise reach the API: a rebinding domain
 * (evil.example resolving to 127.0.0.1) makes the browser treat the server as the page's own
 * origin, and a plain cross-origin POST needs no preflight. So, in MLflow's order:
 *   1. The Host header must match --allowed-hosts (default: localhost and addresses in the
 *      private ranges, any port); /health, /version (MLflow's exemptions) and /ready (our probe)
 *      are exempt, also under --static-prefix. Else 403 text/plain "Invalid Host header -
 *      possible DNS rebinding attack detected".
 *   2. A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered
 *      here, the way Starlette's CORSMiddleware answers: 200 "OK" for an allowed origin,
 *      400 "Disallowed CORS origin" otherwise.
 *   3. POST/PUT/PATCH/DELETE under /api/ or /ajax-api/ (also behind --static-prefix) with an
 *      Origin that is neither a localhost origin nor in --cors-allowed-origins: 403 text/plain
 *      "Cross-origin request blocked". Requests without Origin (the Python client, curl) pass.
 *   4. Every answer gets X-Content-Type-Options: nosniff and X-Frame-Options (SAMEORIGIN by
 *      default; NONE leaves it out); an allowed Origin gets the CORS headers, with credentials
 *      only for an origin allowed by name or pattern (with '*', "*" and no credentials).
 * Where mlflowd differs, on purpose: MLflow's FastAPI server sends CORS headers to every
 * origin (Access-Control-Allow-Origin: * on reads), letting any page read the API's answers;
 * here only allowed origins get them, as in MLflow's Flask variant.
 *
 * Patterns are MLflow's: comma-separated, trimmed; one containing '*' is a shell glob
 * (fnmatch, no escapes: "[[]" is a literal "["), any other is compared exactly; "*" alone
 * allows everything. The lists are read from the configuration on each request (a few dozen
 * short comparisons), so nothing is kept between requests. */
#include "request_guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fnmatch.h>
#include <microhttpd.h>
#include <string.h>
#include <strings.h>

#include "core/escape.h"
#include "core/log.h"

static const char INVALID_HOST_MSG[] = "Invalid Host header - possible DNS rebinding attack "
                                       "detected";
static const char CORS_BLOCKED_MSG[] = "Cross-origin request blocked";

/* Without --allowed-hosts: the loopback names and the private address
 * ranges, any port. MLflow writes the ranges as name patterns ("10.*",
 * "192.168.*"), which a rebinding domain such as 10.0.0.1.attacker.example
 * also matches; here a private host must be an address (and its IPv6 ranges
 * match bracketed literals, which MLflow's "fd00:*" never does). */
static bool default_host_allowed(const char *host) {
    if (!host || !*host)
        return false;
    char name[INET6_ADDRSTRLEN + 1];
    const char *port;
    size_t len;
    bool bracketed = host[0] == '[';
    if (bracketed) {
        const char *close = strchr(host, ']');
        if (!close)
            return false;
        len = (size_t)(close - host - 1);
        port = close + 1;
        host++;
    } else {
        const char *colon = strrchr(host, ':');
        len = colon ? (size_t)(colon - host) : strlen(host);
        port = host + len;
    }
    if (*port == ':')
        port++;
    else if (*port)
        return false;
    if (strspn(port, "0123456789") != strlen(port) || len == 0 || len >= sizeof name)
        return false;
    memcpy(name, host, len);
    name[len] = '\0';
    if (!bracketed &&
        (!strcmp(name, "localhost") || !strcmp(name, "127.0.0.1") || !strcmp(name, "0.0.0.0")))
        return true;
    unsigned char a[16];
    if (bracketed && inet_pton(AF_INET6, name, a) == 1) {
        static const unsigned char loopback[16] = {[15] = 1};
        return !memcmp(a, loopback, 16) || (a[0] & 0xfe) == 0xfc; /* ::1, fc00::/7 */
    }
    if (!bracketed && inet_pton(AF_INET, name, a) == 1)
        return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168);
    return false;
}

/* Paths a probe may call with any Host (a pod IP, a node name). */
static const char *const HOST_EXEMPT_PATHS[] = {"/health", "/version", "/ready"};

static const char PREFLIGHT_METHODS[] = "GET, POST, PUT, DELETE, OPTIONS, PATCH";
static const char PREFLIGHT_METHODS_ALL[] = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT";

typedef enum { LIST_NO_MATCH, LIST_MATCH, LIST_HAS_STAR } list_match;

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Whether `value` matches an entry of the comma-separated `list` (LIST_MATCH), else
 * LIST_HAS_STAR when an entry is "*" (everything allowed, and for origins a different CORS
 * answer: an origin named beside "*" keeps its own, with credentials). */
static list_match match_list(mfd_arena *arena, const char *list, const char *value) {
    list_match found = LIST_NO_MATCH;
    bool star = false;
    for (const char *p = list; p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *start = p;
        while (start < end && is_space(*start))
            start++;
        while (end > start && is_space(end[-1]))
            end--;
        size_t len = (size_t)(end - start);
        if (len == 1 && *start == '*')
            star = true;
        else if (len > 0 && found == LIST_NO_MATCH) {
            if (memchr(start, '*', len)) {
                const char *pattern = mfd_arena_strndup(arena, start, len);
                if (fnmatch(pattern, value, FNM_NOESCAPE) == 0)
                    found = LIST_MATCH;
            } else if (strlen(value) == len && memcmp(start, value, len) == 0) {
                found = LIST_MATCH;
            }
        }
        p = comma ? comma + 1 : NULL;
    }
    return found == LIST_NO_MATCH && star ? LIST_HAS_STAR : found;
}

static bool host_allowed(const mfd_config *cfg, mfd_arena *arena, const char *host) {
    const char *list = cfg->allowed_hosts;
    if (!list || !*list)
        return default_host_allowed(host);
    if (match_list(arena, list, "") == LIST_HAS_STAR)
        return true;
    return host && *host && match_list(arena, list, host) == LIST_MATCH;
}

/* The host of an origin as Python's urlparse(origin).hostname gives it (lowercase, without
 * brackets), compared with the loopback names; MLflow allows these origins on any scheme and
 * port. */
static bool is_localhost_origin(mfd_arena *arena, const char *origin) {
    const char *p = origin;
    if (isalpha((unsigned char)*p)) {
        const char *s = p;
        while (isalnum((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.')
            s++;
        if (*s == ':')
            p = s + 1;
    }
    if (strncmp(p, "//", 2) != 0)
        return false;
    p += 2;
    size_t netloc_len = strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *s = p; s < p + netloc_len; s++)
        if (*s == '@')
            at = s;
    if (at) {
        netloc_len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t host_len;
    if (*p == '[') {
        const char *close = memchr(p, ']', netloc_len);
        if (!close)
            return false;
        p++;
        host_len = (size_t)(close - p);
    } else {
        const char *colon = memchr(p, ':', netloc_len);
        host_len = colon ? (size_t)(colon - p) : netloc_len;
    }
    char *host = mfd_arena_strndup(arena, p, host_len);
    static const char *const loopback[] = {"localhost", "127.0.0.1", "::1"};
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++)
        if (strcasecmp(host, loopback[i]) == 0)
            return true;
    return false;
}

/* LIST_MATCH for an allowed origin, LIST_HAS_STAR when all are (--cors-allowed-origins '*'). */
static list_match origin_allowed(const mfd_config *cfg, mfd_arena *arena, const char *origin) {
    const char *list = cfg->cors_allowed_origins;
    list_match m = list && *list ? match_list(arena, list, origin) : LIST_NO_MATCH;
    if (m == LIST_NO_MATCH && is_localhost_origin(arena, origin))
        m = LIST_MATCH;
    return m;
}

static bool is_api_path(const mfd_config *cfg, const char *path) {
    if (!strcmp(path, "/test") || !strcmp(path, "/api/test"))
        return false;
    const char *prefix = cfg->static_prefix ? cfg->static_prefix : "";
    size_t n = strlen(prefix);
    for (int pass = 0; pass < 2; pass++) {
        const char *p = path;
        if (pass == 1) {
            if (!n || strncmp(path, prefix, n) != 0)
                break;
            p += n;
        }
        if (!strncmp(p, "/api/", 5) || !strncmp(p, "/ajax-api/", 10))
            return true;
    }
    return false;
}

static bool is_state_changing(const char *method) {
    return !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "DELETE") ||
           !strcmp(method, "PATCH");
}

/* A header value for the log, quoted and escaped: it is the client's text. */
static const char *quoted(mfd_arena *arena, const char *value) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_json_append_string(&sb, value ? value : "");
    return sb.data;
}

static void refuse(mfd_request *req, mfd_response *res, int status, const char *text) {
    mfd_response_text(req, res, status, "text/plain", text);
}

static void answer_preflight(const mfd_config *cfg, mfd_request *req, mfd_response *res,
                             const char *origin) {
    list_match m = origin_allowed(cfg, req->arena, origin);
    const char *method = req->header(req, "Access-Control-Request-Method");
    bool all = m == LIST_HAS_STAR;
    bool method_ok = false;
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        method_ok = method_ok || !strcmp(method, methods[i]);
    if (all && !strcmp(method, "HEAD"))
        method_ok = true;
    mfd_response_header(res, "Access-Control-Allow-Methods",
                        all ? PREFLIGHT_METHODS_ALL : PREFLIGHT_METHODS);
    mfd_response_header(res, "Access-Control-Max-Age", "600");
    const char *requested = req->header(req, "Access-Control-Request-Headers");
    if (requested)
        mfd_response_header(res, "Access-Control-Allow-Headers", requested);
    if (m != LIST_NO_MATCH && method_ok) {
        mfd_response_text(req, res, 200, "text/plain; charset=utf-8", "OK");
        return;
    }
    mfd_log_warn("Blocked CORS preflight from %s", quoted(req->arena, origin));
    const char *why = m == LIST_NO_MATCH ? (method_ok ? "Disallowed CORS origin"
                                                      : "Disallowed CORS origin, method")
                                         : "Disallowed CORS method";
    mfd_response_text(req, res, 400, "text/plain; charset=utf-8", why);
}

bool mfd_request_guard_check(const mfd_config *cfg, mfd_request *req, mfd_response *res) {
    if (cfg->disable_security_middleware)
        return false;
    /* The probes answer under the static prefix too (/health and /version, as MLflow). */
    const char *prefix = cfg->static_prefix ? cfg->static_prefix : "";
    size_t prefix_len = strlen(prefix);
    const char *unprefixed =
        prefix_len && !strncmp(req->path, prefix, prefix_len) ? req->path + prefix_len : req->path;
    bool exempt = false;
    for (size_t i = 0; i < sizeof HOST_EXEMPT_PATHS / sizeof HOST_EXEMPT_PATHS[0]; i++)
        exempt = exempt || !strcmp(req->path, HOST_EXEMPT_PATHS[i]) ||
                 !strcmp(unprefixed, HOST_EXEMPT_PATHS[i]);
    const char *host = req->header(req, "Host");
    if (!exempt && !host_allowed(cfg, req->arena, host)) {
        mfd_log_warn("Rejected request with invalid Host header: %s", quoted(req->arena, host));
        refuse(req, res, 403, INVALID_HOST_MSG);
        return true;
    }
    const char *origin = req->header(req, "Origin");
    if (origin && !strcmp(req->method, "OPTIONS") &&
        req->header(req, "Access-Control-Request-Method")) {
        answer_preflight(cfg, req, res, origin);
        return true;
    }
    if (origin && *origin && is_state_changing(req->method) && is_api_path(cfg, req->path) &&
        origin_allowed(cfg, req->arena, origin) == LIST_NO_MATCH) {
        mfd_log_warn("Blocked cross-origin request from %s", quoted(req->arena, origin));
        refuse(req, res, 403, CORS_BLOCKED_MSG);
        return true;
    }
    return false;
}

static bool has_header(const mfd_response *res, const char *name) {
    for (size_t i = 0; i < res->n_headers; i++)
        if (!strcasecmp(res->headers[i].key, name))
            return true;
    return false;
}

static void add_cors_headers(const mfd_config *cfg, const mfd_request *req, const mfd_response *res,
                             struct MHD_Response *response) {
    const char *origin = req->header(req, "Origin");
    if (!origin || has_header(res, "Access-Control-Allow-Origin"))
        return;
    list_match m = origin_allowed(cfg, req->arena, origin);
    if (m == LIST_NO_MATCH)
        return;
    /* With every origin allowed, "*" and never credentials (flask-cors' default): echoing the
     * origin of a request with cookies, as Starlette does, let any site read the API with the
     * browser's session; "*" with Allow-Credentials is a pair browsers refuse anyway. */
    bool preflight = !strcmp(req->method, "OPTIONS");
    if (m == LIST_HAS_STAR) {
        MHD_add_response_header(response, "Access-Control-Allow-Origin", "*");
    } else {
        MHD_add_response_header(response, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(response, "Vary", "Origin");
        MHD_add_response_header(response, "Access-Control-Allow-Credentials", "true");
    }
    if (!preflight)
        MHD_add_response_header(response, "Access-Control-Expose-Headers", "*");
}

void mfd_request_guard_add_headers(const mfd_config *cfg, const mfd_request *req,
                                   const mfd_response *res, struct MHD_Response *response) {
    if (cfg->disable_security_middleware)
        return;
    if (!has_header(res, "X-Content-Type-Options"))
        MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    /* SAMEORIGIN, DENY or NONE, upper-cased at start (src/config/config.c). */
    const char *frame = cfg->x_frame_options;
    if (frame && strcmp(frame, "NONE") != 0 && !has_header(res, "X-Frame-Options"))
        MHD_add_response_header(response, "X-Frame-Options", frame);
    add_cors_headers(cfg, req, res, response);
}
