/* router.c — the path table walk.
 *
 * Versioned routes live at /api/<pattern> and [<prefix>]/ajax-api/<pattern>;
 * bare routes (/health, /version) at their pattern. A path that matches some
 * route with another method is a 405, anything else a 404. The same tables
 * tell which static prefixes would shadow the server's own paths. */
#include "router.h"

#include <string.h>

static const mfd_route *const tables[] = {
    mfd_api_misc_routes,          mfd_api_experiments_routes, mfd_api_runs_routes,
    mfd_api_metrics_routes,       mfd_api_artifacts_routes,   mfd_api_registry_routes,
    mfd_api_logged_models_routes, mfd_api_auth_routes,        mfd_api_ui_routes,
    mfd_api_prometheus_routes,    mfd_api_kserve_routes,      mfd_api_sso_routes,
};

/* Matches `path` against `pattern`; captures into req on success. */
static bool match_pattern(mfd_request *req, const char *pattern, const char *path) {
    const char *params[MFD_MAX_PATH_PARAMS];
    size_t n_params = 0;
    const char *p = pattern, *s = path;
    while (*p) {
        if (p[0] == '<') { /* <path>: the rest, at least one character */
            if (!*s)
                return false;
            req->path_tail = s;
            for (size_t i = 0; i < n_params; i++)
                req->path_params[i] = params[i];
            return true;
        }
        if (p[0] == '{') {
            const char *close = strchr(p, '}');
            const char *seg_end = strchr(s, '/');
            size_t seg_len = seg_end ? (size_t)(seg_end - s) : strlen(s);
            if (seg_len == 0 || n_params == MFD_MAX_PATH_PARAMS)
                return false;
            params[n_params++] = mfd_arena_strndup(req->arena, s, seg_len);
            p = close + 1;
            s += seg_len;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    if (*s)
        return false;
    for (size_t i = 0; i < n_params; i++)
        req->path_params[i] = params[i];
    req->path_tail = "";
    return true;
}

mfd_route_match mfd_router_match(mfd_request *req, const char *static_prefix,
                                 const mfd_route **route) {
    const char *path = req->path;
    const char *versioned = NULL;
    bool ajax = false;
    size_t prefix_len = strlen(static_prefix);
    if (strncmp(path, "/api/", 5) == 0) {
        versioned = path + 5;
    } else if (strncmp(path, static_prefix, prefix_len) == 0 &&
               strncmp(path + prefix_len, "/ajax-api/", 10) == 0) {
        versioned = path + prefix_len + 10;
        ajax = true;
    }
    /* MFD_ROUTE_PREFIXED bare routes (the web UI) answer at <prefix><pattern> too. */
    const char *unprefixed = path;
    if (prefix_len && strncmp(path, static_prefix, prefix_len) == 0 &&
        (path[prefix_len] == '/' || path[prefix_len] == '\0'))
        unprefixed = path + prefix_len;
    bool path_known = false;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (const mfd_route *r = tables[t]; r->method; r++) {
            const char *subject;
            if (r->flags & MFD_ROUTE_BARE)
                subject = (r->flags & MFD_ROUTE_PREFIXED) ? unprefixed : path;
            else if (!versioned || (ajax && (r->flags & MFD_ROUTE_NO_AJAX)) ||
                     (!ajax && (r->flags & MFD_ROUTE_AJAX_ONLY)))
                continue;
            else
                subject = versioned;
            if (!match_pattern(req, r->pattern, subject))
                continue;
            if (strcmp(r->method, req->method) != 0) {
                path_known = true;
                continue;
            }
            req->ajax = ajax;
            req->route = r->pattern;
            *route = r;
            return MFD_ROUTE_FOUND;
        }
    }
    return path_known ? MFD_ROUTE_BAD_METHOD : MFD_ROUTE_NO_PATH;
}

mfd_err mfd_router_check_prefix(const char *static_prefix) {
    if (!*static_prefix)
        return NULL;
    const char *first = static_prefix + 1;
    size_t len = strcspn(first, "/");
    static const char *const versioned_roots[] = {"api", "ajax-api"};
    for (size_t i = 0; i < sizeof versioned_roots / sizeof versioned_roots[0]; i++)
        if (strlen(versioned_roots[i]) == len && !strncmp(versioned_roots[i], first, len))
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "--static-prefix %s: %.*s is a path of the server's own API; "
                               "choose another prefix",
                               static_prefix, (int)len + 1, static_prefix);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const mfd_route *r = tables[t]; r->method; r++) {
            if (!(r->flags & MFD_ROUTE_BARE) || r->pattern[0] != '/')
                continue;
            const char *own = r->pattern + 1;
            size_t own_len = strcspn(own, "/");
            if (own_len == len && own_len && !strncmp(own, first, len))
                return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                   "--static-prefix %s: %.*s is a path the server answers itself "
                                   "(%s); choose another prefix",
                                   static_prefix, (int)len + 1, static_prefix, r->pattern);
        }
    return NULL;
}
