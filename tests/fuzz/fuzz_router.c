/* Fuzz target: the HTTP-level path decisions taken before any handler runs —
 * the router (src/http/router.c), the auth layer's "unprotected path" test
 * and its endpoint -> rule lookup (src/auth/rules.c) — on arbitrary
 * (method, decoded path, static prefix).
 *
 * Input layout: byte 0 picks the method and the static prefix; the rest is
 * the path as libmicrohttpd hands it over (decoded, up to the first NUL).
 *
 * Invariants checked besides "no crash":
 *   - a found route has the request's method, and its captured segments are
 *     non-empty and hold no '/';
 *   - a path that skips authentication reaches only a route that is public
 *     itself (its own path is unprotected: /health, /ready, the UI's static
 *     files, the SSO login steps);
 *   - the router and the auth layer agree: when the handler that runs is one
 *     that the rules table protects, auth finds that very rule (a mismatch
 *     would run the handler under another endpoint's permission, or none). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "http/router.h"

/* The rule auth applies to a route when it is called by its plain spelling
 * (no static prefix), learnt the first time the router returns the route;
 * NULL = the route has no rule (any authenticated user). */
typedef struct learnt_rule {
    const mfd_route *route;
    const mfd_auth_rule *rule;
} learnt_rule;

static learnt_rule learnt[512];
static size_t n_learnt;

static const char *sample_path(mfd_arena *arena, const mfd_route *r) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    if (!(r->flags & MFD_ROUTE_BARE))
        mfd_strbuf_append(&sb, (r->flags & MFD_ROUTE_AJAX_ONLY) ? "/ajax-api/" : "/api/");
    for (const char *p = r->pattern; *p; p++) {
        if (*p == '{') {
            mfd_strbuf_append(&sb, "x");
            p = strchr(p, '}');
        } else if (*p == '<') {
            mfd_strbuf_append(&sb, "p");
            break;
        } else {
            mfd_strbuf_appendn(&sb, p, 1);
        }
    }
    mfd_strbuf_append(&sb, "");
    return sb.data;
}

static const mfd_auth_rule *rule_of(const mfd_route *route) {
    for (size_t i = 0; i < n_learnt; i++)
        if (learnt[i].route == route)
            return learnt[i].rule;
    mfd_arena *arena = mfd_arena_new();
    mfd_request req;
    memset(&req, 0, sizeof req);
    req.arena = arena;
    req.method = route->method;
    req.path = sample_path(arena, route);
    mfd_rule_match m;
    mfd_auth_rule_find(&req, "", &m);
    mfd_arena_free(arena);
    if (n_learnt < sizeof learnt / sizeof learnt[0]) {
        learnt[n_learnt].route = route;
        learnt[n_learnt].rule = m.rule;
        n_learnt++;
    }
    return m.rule;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    static const char *const methods[] = {"GET",    "POST",    "PUT",  "PATCH",
                                          "DELETE", "OPTIONS", "HEAD", "get"};
    /* Prefixes an operator may set, including look-alikes of the public paths. A
     * public path itself ("/favicon.ico") is refused by mfd_auth_open, and since
     * mfd_router_check_prefix also "/api" and "/favicon.ico/x": kept as inputs. */
    static const char *const prefixes[] = {"",        "/mlflow",  "/a/b",     "/api",
                                           "/static", "/healthz", "/staticx", "/favicon.ico/x"};
    const char *prefix = prefixes[(data[0] >> 3) & 7];
    mfd_arena *arena = mfd_arena_new();
    mfd_request req;
    memset(&req, 0, sizeof req);
    req.arena = arena;
    req.method = methods[data[0] & 7];
    req.path = mfd_arena_strndup(arena, (const char *)data + 1, size - 1);
    req.raw_path = req.path;
    req.raw_query = "";
    req.body = "";

    const mfd_route *route = NULL;
    mfd_route_match found = mfd_router_match(&req, prefix, &route);
    if (found == MFD_ROUTE_FOUND) {
        if (!route || strcmp(route->method, req.method) != 0 || !req.path_tail)
            abort();
        size_t n_segments = 0;
        for (const char *p = route->pattern; (p = strchr(p, '{')); p++)
            n_segments++;
        for (size_t i = 0; i < n_segments && i < MFD_MAX_PATH_PARAMS; i++)
            if (!req.path_params[i] || !*req.path_params[i] || strchr(req.path_params[i], '/'))
                abort();
        /* Only a route that is itself public (/health, /ready, the UI's static files, the
         * SSO login steps: its own path is unprotected) may be reached without
         * credentials. */
        if (mfd_auth_is_unprotected(prefix, req.path) &&
            !mfd_auth_is_unprotected("", sample_path(arena, route)))
            abort(); /* a handler reached without credentials */
        const mfd_auth_rule *expected = rule_of(route);
        if (expected) {
            mfd_rule_match m;
            mfd_auth_rule_find(&req, prefix, &m);
            if (m.rule != expected)
                abort(); /* the handler would run under another rule, or none */
        }
    } else {
        mfd_rule_match m;
        mfd_auth_rule_find(&req, prefix, &m);
    }
    mfd_arena_free(arena);
    return 0;
}
