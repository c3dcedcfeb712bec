/* uri.c — urlparse, unquote and pathlib normalisation as MLflow's checks
 * use them (see uri.h). Pure functions over the request arena. */
#include "uri.h"
#include "core/escape.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void mfd_uri_parse(mfd_arena *arena, const char *url, mfd_uri *out) {
    static const char *const uses_params[] = {"",      "ftp",   "hdl",  "prospero", "http",  "imap",
                                              "https", "shttp", "rtsp", "rtsps",    "rtspu", "sip",
                                              "sips",  "mms",   "sftp", "tel",      NULL};
    out->scheme = out->netloc = out->params = out->query = out->fragment = "";
    const char *colon = strchr(url, ':');
    if (colon && colon > url && isalpha((unsigned char)url[0])) {
        bool ok = true;
        for (const char *p = url; p < colon; p++)
            ok = ok && (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.');
        if (ok) {
            char *scheme = mfd_arena_strndup(arena, url, (size_t)(colon - url));
            for (char *p = scheme; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            out->scheme = scheme;
            url = colon + 1;
        }
    }
    if (url[0] == '/' && url[1] == '/') {
        size_t len = strcspn(url + 2, "/?#");
        out->netloc = mfd_arena_strndup(arena, url + 2, len);
        url += 2 + len;
    }
    const char *hash = strchr(url, '#');
    if (hash) {
        out->fragment = hash + 1;
        url = mfd_arena_strndup(arena, url, (size_t)(hash - url));
    }
    const char *question = strchr(url, '?');
    if (question) {
        out->query = question + 1;
        url = mfd_arena_strndup(arena, url, (size_t)(question - url));
    }
    out->path = url;
    for (size_t i = 0; uses_params[i]; i++) {
        if (strcmp(uses_params[i], out->scheme) != 0)
            continue;
        const char *slash = strrchr(url, '/');
        const char *semi = strchr(slash ? slash : url, ';');
        if (semi) {
            out->params = semi + 1;
            out->path = mfd_arena_strndup(arena, url, (size_t)(semi - url));
        }
        break;
    }
}

char *mfd_uri_unquote(mfd_arena *arena, const char *s, bool plus, bool *had_nul) {
    size_t len;
    char *out = mfd_percent_decode(arena, s, strlen(s), plus, &len);
    if (had_nul)
        *had_nul = strlen(out) != len;
    return out;
}

char *mfd_uri_normalise_path(mfd_arena *arena, const char *path) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    mfd_strbuf_append(&sb, path[0] == '/' ? "/" : "");
    const char *p = path;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (sb.len > 0 && sb.data[sb.len - 1] != '/')
                mfd_strbuf_append(&sb, "/");
            mfd_strbuf_appendn(&sb, p, len);
        }
        p += len;
        while (*p == '/')
            p++;
    }
    return sb.data;
}

bool mfd_uri_is_local(const mfd_uri *uri) {
    return uri->scheme[0] == '\0' || strcmp(uri->scheme, "file") == 0;
}

/* urlparse's hostname: the netloc without userinfo and port, lower-cased. */
bool mfd_uri_has_remote_host(const mfd_uri *uri) {
    if (strcmp(uri->scheme, "file") != 0 || !uri->netloc[0])
        return false;
    const char *host = strrchr(uri->netloc, '@');
    host = host ? host + 1 : uri->netloc;
    if (!*host)
        return false;
    return !(strcmp(host, ".") == 0 || strncasecmp(host, "localhost", 9) == 0 ||
             strncmp(host, "127.0.0.1", 9) == 0);
}

char *mfd_uri_resolve_path(mfd_arena *arena, const char *path) {
    char cwd[4096] = "/";
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
        strcpy(cwd, "/");
    const char *full = path[0] == '/' ? path : mfd_arena_sprintf(arena, "%s/%s", cwd, path);
    size_t cap = strlen(full) + 2, len = 0;
    char *out = mfd_arena_alloc(arena, cap);
    for (const char *p = full; *p;) {
        while (*p == '/')
            p++;
        size_t seg = strcspn(p, "/");
        if (seg == 0 || (seg == 1 && p[0] == '.')) {
            /* nothing */
        } else if (seg == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--; /* the slash before the dropped segment */
        } else {
            out[len++] = '/';
            memcpy(out + len, p, seg);
            len += seg;
        }
        p += seg;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    return out;
}

/* What a models:/ source names (_parse_model_uri). */
mfd_err mfd_uri_parse_models_source(mfd_arena *arena, mfd_model_version_new *in) {
    mfd_uri uri;
    mfd_uri_parse(arena, in->source, &uri);
    in->source_kind = MFD_SOURCE_PLAIN;
    if (strcmp(uri.scheme, "models") != 0)
        return NULL;
    const char *path = uri.path;
    const char *rest = path + strspn(path, "/");
    char *first = mfd_arena_strndup(arena, rest, strcspn(rest, "/"));
    const char *second = rest[strlen(first)] == '/' ? rest + strlen(first) + 1 : NULL;
    bool blank = strspn(first, " \t\r\n") == strlen(first);
    if (path[0] != '/' || !*rest || blank || (second && strchr(second, '/')) ||
        (second && strspn(second, " \t\r\n") == strlen(second)))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Not a proper models:/ URI: %s. Models URIs must be of the form "
                           "'models:/model_name/suffix' or 'models:/model_name@alias' where "
                           "suffix is a model version, stage, or the special string 'latest' "
                           "and where alias is a registered model alias. Only one of suffix or "
                           "alias can be defined at a time.",
                           in->source);
    if (second && strspn(second, "0123456789") == strlen(second)) {
        in->source_kind = MFD_SOURCE_MODEL_VERSION;
        in->source_name = first;
        in->source_version = atoll(second);
        return NULL;
    }
    if (!second && !strchr(first, '@')) {
        in->source_kind = MFD_SOURCE_LOGGED_MODEL;
        in->source_model_id = first;
        return NULL;
    }
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "Unable to fetch model from model URI source artifact location '%s'.Error: "
                       "a model version source must name a version number or a logged model",
                       in->source);
}
