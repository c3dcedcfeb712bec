/* ui.c — the web UI (web/; rest-api.md §3 "GET / and /static-files/<path>").
 *
 * The single-page app is compiled into the binary: web/meson.build runs the
 * npm build and scripts/embed.py, which give the arrays declared below.
 * Routes (each also under the static prefix, see MFD_ROUTE_PREFIXED):
 *   /                      index.html; every client-side route is a #hash, so
 *                          this one page serves them all
 *   /static-files/<path>   the bundle; /static-files/ is index.html again (the
 *                          entry that needs no credentials when auth is on:
 *                          auth.md §2 leaves /static… unprotected; served
 *                          there, the page loads the bare /static-files/
 *                          assets, never the prefixed ones that need
 *                          credentials)
 *   <prefix>               302 to <prefix>/
 *   /favicon.ico           the UI's favicon.svg (at the root only)
 * index.html carries a small JSON config filled in here per request (static
 * prefix, whether auth is on), from which the app computes its API base
 * <prefix>/ajax-api/2.0/....
 *
 * Caching: an asset's ETag is "<build hash>" (plus ".gz" for the gzip
 * variant); it is revalidated (no-cache) unless asked for as ?v=<build hash>
 * — index.html asks that way — which makes it immutable for a year.
 * index.html is always revalidated. Assets are stored plain and gzipped (at
 * build time, level 9); clients that accept gzip get the gzipped bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "core/hash.h"

extern const unsigned char mfd_ui_index_html[];
extern const unsigned long mfd_ui_index_html_len;
extern const unsigned char mfd_ui_app_js[];
extern const unsigned long mfd_ui_app_js_len;
extern const unsigned char mfd_ui_app_js_gz[];
extern const unsigned long mfd_ui_app_js_gz_len;
extern const unsigned char mfd_ui_app_css[];
extern const unsigned long mfd_ui_app_css_len;
extern const unsigned char mfd_ui_app_css_gz[];
extern const unsigned long mfd_ui_app_css_gz_len;
extern const unsigned char mfd_ui_favicon_svg[];
extern const unsigned long mfd_ui_favicon_svg_len;
extern const unsigned char mfd_ui_build_hash[]; /* hex digest of the bundle */

typedef struct ui_asset {
    const char *name; /* path under /static-files/ */
    const char *content_type;
    const unsigned char *data;
    const unsigned long *len;
    const unsigned char *gz; /* NULL: served as is only */
    const unsigned long *gz_len;
} ui_asset;

static const ui_asset assets[] = {
    {"app.js", "text/javascript; charset=utf-8", mfd_ui_app_js, &mfd_ui_app_js_len,
     mfd_ui_app_js_gz, &mfd_ui_app_js_gz_len},
    {"app.css", "text/css; charset=utf-8", mfd_ui_app_css, &mfd_ui_app_css_len, mfd_ui_app_css_gz,
     &mfd_ui_app_css_gz_len},
    {"favicon.svg", "image/svg+xml", mfd_ui_favicon_svg, &mfd_ui_favicon_svg_len, NULL, NULL},
};

static const char INDEX_CSP[] =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'";

/* True when an Accept-Encoding value allows gzip (RFC 9110 §12.5.3:
 * "gzip" or "*" with a q-value other than 0). */
static bool accepts_gzip(const char *accept_encoding) {
    double gzip_weight = -1.0, star_weight = -1.0; /* -1: not named */
    const char *p = accept_encoding;
    while (p && *p) {
        size_t item_len = strcspn(p, ",");
        const char *name = p;
        while (name < p + item_len && (*name == ' ' || *name == '\t'))
            name++;
        size_t name_len = strcspn(name, ",; \t");
        if (name + name_len > p + item_len)
            name_len = (size_t)(p + item_len - name);
        double *weight = name_len == 4 && strncasecmp(name, "gzip", 4) == 0 ? &gzip_weight
                         : name_len == 1 && name[0] == '*'                  ? &star_weight
                                                                            : NULL;
        if (weight) {
            *weight = 1.0;
            for (const char *q = name + name_len; q < p + item_len; q++)
                if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                    *weight = strtod(q + 2, NULL);
                    break;
                }
        }
        p += item_len;
        if (*p == ',')
            p++;
    }
    /* "*" stands for the codings not named (RFC 9110 §12.5.3): gzip;q=0 wins over it */
    return gzip_weight >= 0.0 ? gzip_weight > 0.0 : star_weight > 0.0;
}

/* If-None-Match: "*" or a list of (possibly weak) tags; compared weakly as
 * RFC 9110 §13.1.2 asks. */
static bool etag_matches(const char *if_none_match, const char *etag) {
    if (!if_none_match)
        return false;
    size_t etag_len = strlen(etag);
    const char *p = if_none_match;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t tag_len = strcspn(p, ", \t");
        if (tag_len == etag_len && strncmp(p, etag, etag_len) == 0)
            return true;
        p += tag_len;
    }
    return false;
}

static const char *request_header(mfd_request *req, const char *name) {
    return req->header ? req->header(req, name) : NULL;
}

static const char *query_value(const mfd_request *req, const char *key) {
    for (size_t i = 0; i < req->n_query; i++)
        if (strcmp(req->query[i].key, key) == 0)
            return req->query[i].value;
    return NULL;
}

static void append_html_escaped(mfd_strbuf *sb, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&':
            mfd_strbuf_append(sb, "&amp;");
            break;
        case '<':
            mfd_strbuf_append(sb, "&lt;");
            break;
        case '>':
            mfd_strbuf_append(sb, "&gt;");
            break;
        case '"':
            mfd_strbuf_append(sb, "&quot;");
            break;
        case '\'':
            mfd_strbuf_append(sb, "&#39;");
            break;
        default:
            mfd_strbuf_appendn(sb, s, 1);
        }
    }
}

/* The config the app reads from <script id="mfd-config">. JSON_ESCAPE_SLASH
 * keeps a "</script>" in the prefix from ending the element. */
static void append_config(mfd_request *req, mfd_strbuf *sb) {
    const mfd_config *cfg = req->app->config;
    json_t *config = json_object();
    json_object_set_new(config, "prefix", json_string(cfg->static_prefix));
    json_object_set_new(config, "auth", json_boolean(req->app->auth != NULL));
    json_object_set_new(config, "version", json_string(MFD_VERSION));
    json_object_set_new(config, "mlflow_version", json_string(MFD_MLFLOW_API_VERSION));
    json_object_set_new(config, "build", json_string((const char *)mfd_ui_build_hash));
    char *text = json_dumps(config, JSON_COMPACT | JSON_ESCAPE_SLASH);
    json_decref(config);
    mfd_strbuf_append(sb, text ? text : "{}");
    free(text);
}

static void set_not_modified(mfd_response *res) {
    res->status = 304;
    res->body = "";
    res->body_len = 0;
}

/* The prefix of the page's own asset URLs: the static prefix when the page was
 * asked for under it, else none. With auth on, the bare /static-files/ entry is
 * the page that needs no credentials, and only the bare /static-files/ assets
 * are public (auth.md §2): <prefix>/static-files/app.js would answer 401 there
 * and leave the page blank. The app's API calls still go to <prefix>/ajax-api/
 * (the config), with the credentials typed into the sign-in page. */
static const char *asset_prefix(const mfd_request *req) {
    const char *prefix = req->app->config->static_prefix;
    size_t len = strlen(prefix);
    bool under_prefix =
        strncmp(req->path, prefix, len) == 0 && (req->path[len] == '/' || req->path[len] == '\0');
    return under_prefix ? prefix : "";
}

static mfd_err serve_index(mfd_request *req, mfd_response *res) {
    static const char prefix_mark[] = "{{PREFIX}}", config_mark[] = "{{CONFIG}}";
    const char *tpl = (const char *)mfd_ui_index_html;
    mfd_strbuf page;
    mfd_strbuf_init(&page, req->arena);
    while (*tpl) {
        const char *mark = strstr(tpl, "{{");
        if (!mark) {
            mfd_strbuf_append(&page, tpl);
            break;
        }
        mfd_strbuf_appendn(&page, tpl, (size_t)(mark - tpl));
        if (strncmp(mark, prefix_mark, sizeof prefix_mark - 1) == 0) {
            append_html_escaped(&page, asset_prefix(req));
            tpl = mark + sizeof prefix_mark - 1;
        } else if (strncmp(mark, config_mark, sizeof config_mark - 1) == 0) {
            append_config(req, &page);
            tpl = mark + sizeof config_mark - 1;
        } else {
            mfd_strbuf_appendn(&page, mark, 2);
            tpl = mark + 2;
        }
    }
    char *etag =
        mfd_arena_sprintf(req->arena, "\"i-%016llx\"",
                          (unsigned long long)mfd_hash_bytes(MFD_HASH_INIT, page.data, page.len));
    res->content_type = "text/html; charset=utf-8";
    mfd_response_header(res, "Cache-Control", "no-cache");
    mfd_response_header(res, "ETag", etag);
    mfd_response_header(res, "X-Content-Type-Options", "nosniff");
    mfd_response_header(res, "X-Frame-Options", "DENY");
    mfd_response_header(res, "Referrer-Policy", "same-origin");
    mfd_response_header(res, "Content-Security-Policy", INDEX_CSP);
    if (etag_matches(request_header(req, "If-None-Match"), etag)) {
        set_not_modified(res);
        return NULL;
    }
    res->body = page.data;
    res->body_len = page.len;
    return NULL;
}

static const ui_asset *find_asset(const char *name) {
    for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++)
        if (strcmp(assets[i].name, name) == 0)
            return &assets[i];
    return NULL;
}

static mfd_err serve_asset(mfd_request *req, mfd_response *res, const ui_asset *asset) {
    const char *hash = (const char *)mfd_ui_build_hash;
    bool gzip = asset->gz && accepts_gzip(request_header(req, "Accept-Encoding"));
    const char *etag = mfd_arena_sprintf(req->arena, "\"%s%s\"", hash, gzip ? ".gz" : "");
    const char *version = query_value(req, "v");
    res->content_type = asset->content_type;
    mfd_response_header(
        res, "Cache-Control",
        version && strcmp(version, hash) == 0 ? "public, max-age=31536000, immutable" : "no-cache");
    mfd_response_header(res, "ETag", etag);
    mfd_response_header(res, "X-Content-Type-Options", "nosniff");
    if (asset->gz)
        mfd_response_header(res, "Vary", "Accept-Encoding");
    if (etag_matches(request_header(req, "If-None-Match"), etag)) {
        set_not_modified(res);
        return NULL;
    }
    if (gzip) {
        mfd_response_header(res, "Content-Encoding", "gzip");
        res->body = (const char *)asset->gz;
        res->body_len = *asset->gz_len;
    } else {
        res->body = (const char *)asset->data;
        res->body_len = *asset->len;
    }
    return NULL;
}

static mfd_err serve_static(mfd_request *req, mfd_response *res) {
    if (strcmp(req->path_tail, "index.html") == 0)
        return serve_index(req, res);
    const ui_asset *asset = find_asset(req->path_tail);
    if (!asset)
        return mfd_err_new(MFD_ENDPOINT_NOT_FOUND, "No file %s in the web UI", req->path);
    return serve_asset(req, res, asset);
}

/* Browsers ask for /favicon.ico whatever the page links: the UI's icon, which is SVG (the
 * Content-Type says so; browsers go by it, not by the name). */
static mfd_err serve_favicon(mfd_request *req, mfd_response *res) {
    return serve_asset(req, res, find_asset("favicon.svg"));
}

/* <prefix> without its slash: relative URLs in the page need the slash. */
static mfd_err redirect_to_prefix_root(mfd_request *req, mfd_response *res) {
    res->status = 302;
    mfd_response_header(res, "Location",
                        mfd_arena_sprintf(req->arena, "%s/", req->app->config->static_prefix));
    res->content_type = "text/plain; charset=utf-8";
    res->body = "";
    res->body_len = 0;
    return NULL;
}

#define UI_ROUTE(method, pattern, handler)                                                         \
    { method, pattern, handler, MFD_ROUTE_BARE | MFD_ROUTE_PREFIXED, NULL }

/* HEAD is served by the GET routes (http/server_request.c). */
const mfd_route mfd_api_ui_routes[] = {
    UI_ROUTE("GET", "/", serve_index),
    UI_ROUTE("GET", "/static-files/", serve_index),
    UI_ROUTE("GET", "/static-files/<path>", serve_static),
    UI_ROUTE("GET", "", redirect_to_prefix_root),
    /* At the root only: the path auth leaves public is the bare one. */
    {"GET", "/favicon.ico", serve_favicon, MFD_ROUTE_BARE, NULL},
    {0},
};
