/* sso_config.c — the [sso] and [role_mappings] sections (config.md) read
 * once into mfd_sso_settings, with every value checked: a setting that
 * would weaken verification (alg none/HS*, an unparsable proxy address)
 * stops the start with a message naming the key.
 *
 * A file written for the legacy platform hook (authorization_function
 * ending in :authenticate_sso_request, [role_mappings], no [sso]) loads
 * unchanged: without an issuer the token modes stay off, with a warning. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "sso.h"

void mfd_strlist_free(mfd_strlist *list) {
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

static void strlist_add(mfd_strlist *list, const char *s, size_t n) {
    char **items = realloc(list->items, (list->n + 1) * sizeof *items);
    char *copy = malloc(n + 1);
    if (!items || !copy)
        abort();
    memcpy(copy, s, n);
    copy[n] = '\0';
    list->items = items;
    list->items[list->n++] = copy;
}

void mfd_strlist_split(const char *text, mfd_strlist *out) {
    memset(out, 0, sizeof *out);
    for (const char *p = text; p && *p;) {
        size_t n = strcspn(p, ",\n");
        const char *a = p, *b = p + n;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a)
            strlist_add(out, a, (size_t)(b - a));
        p += n + (p[n] != '\0');
    }
}

/* oauth2-proxy spells roles `role:<name>` and `role:<client>:<name>`; we
 * spell them `<name>` and `<client>:<name>`. */
static void strip_role_prefix(mfd_strlist *list) {
    for (size_t i = 0; i < list->n; i++)
        if (!strncmp(list->items[i], "role:", 5))
            memmove(list->items[i], list->items[i] + 5, strlen(list->items[i] + 5) + 1);
}

static const char *get(const mfd_auth_ini *ini, const char *key) {
    return mfd_auth_ini_get(ini, "sso", key);
}

static mfd_err bad(const mfd_auth_ini *ini, const char *key, const char *value, const char *why) {
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "%s: [sso] %s '%s': %s",
                       mfd_auth_ini_origin(ini, "sso", key), key, value ? value : "", why);
}

static mfd_err read_int(const mfd_auth_ini *ini, const char *key, int min, int max, int *out) {
    const char *v = get(ini, key);
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "%s: [sso] %s must be a whole number from %d to %d, got '%s'",
                           mfd_auth_ini_origin(ini, "sso", key), key, min, max, v);
    *out = (int)n;
    return NULL;
}

static mfd_err read_bool(const mfd_auth_ini *ini, const char *key, bool *out) {
    const char *v = get(ini, key);
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        *out = true;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
             !strcmp(v, "0"))
        *out = false;
    else
        return bad(ini, key, v, "must be true or false");
    return NULL;
}

static mfd_err read_modes(const mfd_auth_ini *ini, mfd_sso_settings *s) {
    mfd_strlist modes;
    mfd_strlist_split(get(ini, "modes"), &modes);
    mfd_err err = NULL;
    for (size_t i = 0; !err && i < modes.n; i++) {
        const char *m = modes.items[i];
        if (!strcasecmp(m, "basic"))
            s->basic = true;
        else if (!strcasecmp(m, "bearer"))
            s->bearer = true;
        else if (!strcasecmp(m, "trusted_header") || !strcasecmp(m, "trustedheader"))
            s->trusted_header = true;
        else if (!strcasecmp(m, "native"))
            s->native = true;
        else
            err =
                bad(ini, "modes", m, "unknown mode (known: basic, bearer, trusted_header, native)");
    }
    mfd_strlist_free(&modes);
    return err;
}

static mfd_err read_algorithms(const mfd_auth_ini *ini, mfd_sso_settings *s) {
    static const char *const known[] = {"RS256", "RS384", "RS512", "PS256",
                                        "PS384", "PS512", "ES256", "ES384"};
    mfd_strlist_split(get(ini, "algorithms"), &s->algorithms);
    if (!s->algorithms.n)
        return bad(ini, "algorithms", "", "name at least one algorithm");
    for (size_t i = 0; i < s->algorithms.n; i++) {
        const char *a = s->algorithms.items[i];
        bool ok = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            ok |= !strcmp(a, known[k]);
        if (!ok)
            return bad(ini, "algorithms", a,
                       "not allowed (none and HS* never are; use RS256, RS384, RS512, PS256, "
                       "PS384, PS512, ES256 or ES384)");
    }
    return NULL;
}

static mfd_err read_proxies(const mfd_auth_ini *ini, mfd_sso_settings *s) {
    mfd_strlist list;
    mfd_strlist_split(get(ini, "trusted_proxies"), &list);
    s->proxies = calloc(list.n ? list.n : 1, sizeof *s->proxies);
    if (!s->proxies)
        abort();
    mfd_err err = NULL;
    for (size_t i = 0; !err && i < list.n; i++) {
        if (!mfd_cidr_parse(list.items[i], &s->proxies[s->n_proxies++]))
            err = bad(ini, "trusted_proxies", list.items[i],
                      "not an address or CIDR (e.g. 10.0.0.0/8, ::1/128)");
    }
    mfd_strlist_free(&list);
    return err;
}

/* role_claims with `<client_id>` replaced by client_id (else by each audience). */
static void read_role_claims(const mfd_auth_ini *ini, mfd_sso_settings *s) {
    mfd_strlist raw;
    mfd_strlist_split(get(ini, "role_claims"), &raw);
    memset(&s->role_claims, 0, sizeof s->role_claims);
    for (size_t i = 0; i < raw.n; i++) {
        const char *item = raw.items[i], *hole = strstr(item, "<client_id>");
        if (!hole) {
            strlist_add(&s->role_claims, item, strlen(item));
            continue;
        }
        mfd_strlist clients = {0};
        if (s->client_id)
            strlist_add(&clients, s->client_id, strlen(s->client_id));
        else
            for (size_t a = 0; a < s->audiences.n; a++)
                strlist_add(&clients, s->audiences.items[a], strlen(s->audiences.items[a]));
        for (size_t c = 0; c < clients.n; c++) {
            char path[1024];
            snprintf(path, sizeof path, "%.*s%s%s", (int)(hole - item), item, clients.items[c],
                     hole + strlen("<client_id>"));
            strlist_add(&s->role_claims, path, strlen(path));
        }
        mfd_strlist_free(&clients);
    }
    mfd_strlist_free(&raw);
}

static const char *optional(const mfd_auth_ini *ini, const char *key) {
    const char *v = get(ini, key);
    return v && *v ? v : NULL;
}

/* The issuer's URLs and ours must be absolute http(s) URLs: anything else
 * fails at every use, or never matches (a CSRF origin, a redirect). Plain
 * http off loopback is allowed (test setups) but said, as tokens' keys then
 * travel unauthenticated. */
static mfd_err check_url(const mfd_auth_ini *ini, const char *key, const char *v, bool fetched) {
    if (!v)
        return NULL;
    const char *rest = !strncasecmp(v, "https://", 8)  ? v + 8
                       : !strncasecmp(v, "http://", 7) ? v + 7
                                                       : NULL;
    if (!rest || !*rest || *rest == '/' || strpbrk(v, " \t\r\n"))
        return bad(ini, key, v, "must be an absolute http:// or https:// URL");
    /* the host alone: "127.0.0.1.nip.io" and "localhost.example" are not loopback */
    size_t host_len = strcspn(rest, ":/?#");
    bool loopback =
        (host_len == 9 && !strncasecmp(rest, "localhost", 9)) ||
        (host_len == 5 && !strncmp(rest, "[::1]", 5)) ||
        (host_len >= 7 && !strncmp(rest, "127.", 4) && strspn(rest, "0123456789.") == host_len);
    if (fetched && rest == v + 7 && !loopback)
        mfd_log_warn("%s: [sso] %s '%s' is fetched over plain http: the issuer's keys could be "
                     "replaced on the way; use https",
                     mfd_auth_ini_origin(ini, "sso", key), key, v);
    return NULL;
}

static mfd_err check_urls(const mfd_auth_ini *ini, const mfd_sso_settings *s) {
    mfd_err err = check_url(ini, "issuer", s->issuer, !s->discovery_url && !s->jwks_url);
    if (!err)
        err = check_url(ini, "discovery_url", s->discovery_url, true);
    if (!err)
        err = check_url(ini, "jwks_url", s->jwks_url, true);
    if (!err)
        err = check_url(ini, "redirect_uri", s->redirect_uri, false);
    if (!err)
        err = check_url(ini, "external_url", s->external_url, false);
    return err;
}

static mfd_err check_modes(const mfd_auth_ini *ini, mfd_sso_settings *s) {
    if (!s->enabled)
        return NULL;
    if ((s->bearer || s->native) && !s->issuer) {
        mfd_log_warn("%s: authorization_function selects single sign-on but [sso] issuer (or "
                     "MLFLOWD_SSO_ISSUER) is not set: bearer tokens are refused and the native "
                     "login is off until it is",
                     mfd_auth_ini_source(ini));
        s->native = false;
        return NULL;
    }
    if (s->bearer && !s->audiences.n)
        return bad(ini, "audiences", "", "required for the bearer mode (the aud values to accept)");
    if (s->native && (!s->client_id || !s->redirect_uri))
        return bad(ini, "client_id", s->client_id,
                   "the native mode needs client_id, client_secret and redirect_uri (or "
                   "external_url)");
    if (s->native && s->jwks_url && !s->discovery_url)
        mfd_log_info("sso: native login reads its endpoints from the discovery document");
    return NULL;
}

static mfd_err read_levels(const mfd_auth_ini *ini, mfd_sso_settings *s) {
    const char *mode = get(ini, "mapping_mode");
    if (!strcasecmp(mode, "authoritative"))
        s->authoritative = true;
    else if (!strcasecmp(mode, "floor"))
        s->authoritative = false;
    else
        return bad(ini, "mapping_mode", mode, "must be authoritative or floor");
    if (!mfd_auth_parse_permission(get(ini, "unmapped_permission"), &s->unmapped))
        return bad(ini, "unmapped_permission", get(ini, "unmapped_permission"),
                   "must be READ, EDIT, MANAGE or NO_PERMISSIONS");
    if (!mfd_auth_parse_permission(get(ini, "create_permission"), &s->create_level))
        return bad(ini, "create_permission", get(ini, "create_permission"),
                   "must be READ, EDIT, MANAGE or NO_PERMISSIONS");
    static const char *const keys[MAP_LEVELS] = {"admin", "manage", "edit", "use", "read"};
    for (int i = 0; i < MAP_LEVELS; i++) {
        mfd_strlist_split(mfd_auth_ini_get(ini, "role_mappings", keys[i]), &s->mappings[i]);
        strip_role_prefix(&s->mappings[i]);
    }
    return NULL;
}

mfd_err mfd_sso_settings_load(const mfd_auth_ini *ini, mfd_sso_settings **out) {
    mfd_sso_settings *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->enabled = mfd_auth_ini_settings(ini)->sso_hook;
    s->issuer = optional(ini, "issuer");
    s->discovery_url = optional(ini, "discovery_url");
    s->jwks_url = optional(ini, "jwks_url");
    s->ca_file = optional(ini, "ca_file");
    s->scopes = get(ini, "scopes");
    s->client_id = optional(ini, "client_id");
    s->client_secret = optional(ini, "client_secret");
    s->redirect_uri = optional(ini, "redirect_uri");
    s->external_url = optional(ini, "external_url");
    mfd_strlist_split(get(ini, "audiences"), &s->audiences);
    mfd_strlist_split(get(ini, "allowed_azp"), &s->allowed_azp);
    mfd_strlist_split(get(ini, "username_claims"), &s->username_claims);
    mfd_strlist_split(get(ini, "allowed_groups"), &s->allowed_groups);
    mfd_strlist_split(get(ini, "token_types"), &s->token_types);
    strip_role_prefix(&s->allowed_groups);
    read_role_claims(ini, s);
    mfd_err err = read_modes(ini, s);
    bool basic_listed = s->basic;
    if (!err)
        err = read_bool(ini, "basic_auth", &s->basic);
    if (!err && basic_listed && !s->basic) /* it used to be dropped without a word */
        err = bad(ini, "basic_auth", "false", "contradicts 'basic' in modes: keep one of them");
    if (!err)
        err = read_algorithms(ini, s);
    if (!err)
        err = read_proxies(ini, s);
    if (!err)
        err = read_levels(ini, s);
    if (!err)
        err = read_bool(ini, "cookie_secure", &s->cookie_secure);
    if (!err)
        err = read_int(ini, "leeway_seconds", 0, 300, &s->leeway_seconds);
    if (!err)
        err = read_int(ini, "jwks_cache_seconds", 10, 86400, &s->jwks_cache_seconds);
    if (!err)
        err = read_int(ini, "jwks_refetch_seconds", 1, 3600, &s->jwks_refetch_seconds);
    if (!err)
        err = read_int(ini, "session_seconds", 60, 30 * 86400, &s->session_seconds);
    if (!err && !s->username_claims.n)
        err = bad(ini, "username_claims", "", "name at least one claim");
    /* Empty, the payload typ went unchecked: refresh and logout tokens passed. */
    if (!err && !s->token_types.n)
        err = bad(ini, "token_types", "", "name at least one type (e.g. ID, Bearer)");
    if (!err && s->enabled)
        err = check_urls(ini, s);
    if (!err && !s->redirect_uri && s->external_url) {
        snprintf(s->derived_redirect_uri, sizeof s->derived_redirect_uri, "%s/oidc/callback",
                 s->external_url);
        s->redirect_uri = s->derived_redirect_uri;
    }
    if (!err)
        err = check_modes(ini, s);
    if (err) {
        mfd_sso_settings_free(s);
        return err;
    }
    *out = s;
    return NULL;
}

void mfd_sso_settings_free(mfd_sso_settings *s) {
    if (!s)
        return;
    mfd_strlist *lists[] = {&s->audiences,       &s->allowed_azp, &s->algorithms,
                            &s->username_claims, &s->role_claims, &s->allowed_groups,
                            &s->token_types};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        mfd_strlist_free(lists[i]);
    for (int i = 0; i < MAP_LEVELS; i++)
        mfd_strlist_free(&s->mappings[i]);
    free(s->proxies);
    free(s);
}
