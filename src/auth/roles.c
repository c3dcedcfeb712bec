/* roles.c — who the IdP says the user is and what they may do: usernames
 * and roles from token claims or trusted proxy headers, the [role_mappings]
 * level, the allowed-groups gate, and the trusted-proxy address check.
 *
 * Roles are compared exactly. Realm roles and `groups` values are taken as
 * they are (group paths keep their leading '/'); roles of
 * `resource_access.<client>.roles` become `<client>:<role>`, the spelling
 * oauth2-proxy uses in X-Forwarded-Groups (`role:<client>:<role>`). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"
#include "sso.h"

/* --- addresses --------------------------------------------------------------- */

static bool parse_address(const char *text, int *family, unsigned char addr[16]) {
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, addr) != 1)
        return false;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(addr, mapped, 12)) { /* ::ffff:a.b.c.d is the IPv4 peer a.b.c.d */
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        *family = AF_INET;
    } else {
        *family = AF_INET6;
    }
    return true;
}

bool mfd_cidr_parse(const char *text, mfd_cidr *out) {
    char host[64];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    if (n == 0 || n >= sizeof host)
        return false;
    memcpy(host, text, n);
    host[n] = '\0';
    if (!parse_address(host, &out->family, out->addr))
        return false;
    int max = out->family == AF_INET ? 32 : 128;
    out->prefix = max;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || p < 0 || p > max)
            return false;
        out->prefix = (int)p;
    }
    return true;
}

static bool in_cidr(const mfd_cidr *c, int family, const unsigned char *addr) {
    if (c->family != family)
        return false;
    int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, addr, (size_t)full) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (addr[full] & mask);
}

bool mfd_sso_peer_trusted(const mfd_sso_settings *s, const char *peer) {
    int family;
    unsigned char addr[16];
    if (!peer || !parse_address(peer, &family, addr))
        return false;
    for (size_t i = 0; i < s->n_proxies; i++)
        if (in_cidr(&s->proxies[i], family, addr))
            return true;
    return false;
}

/* --- claims ------------------------------------------------------------------ */

/* The value at a dotted path; NULL when absent. *bad when a step that must
 * be an object is not one. */
static const json_t *claim_at(const json_t *claims, const char *path, bool *bad) {
    const json_t *v = claims;
    char step[256];
    *bad = false;
    for (const char *p = path; v;) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof step)
            return NULL;
        if (!json_is_object(v)) {
            *bad = true;
            return NULL;
        }
        memcpy(step, p, n);
        step[n] = '\0';
        v = json_object_get(v, step);
        if (!p[n])
            break;
        p += n + 1;
    }
    return v;
}

const char *mfd_sso_username_problem(const char *v) {
    if (strlen(v) > 255 || strpbrk(v, "\n\r"))
        return "longer than 255 bytes or holds a line break";
    if (!mfd_utf8_valid(v, strlen(v)))
        return "not valid UTF-8";
    return NULL;
}

/* An email the IdP says it has not verified names no one: anybody may type
 * it into their profile (oauth2-proxy refuses such tokens too). Absent means
 * the IdP does not say; some send the flag as a string. */
static bool email_unverified(const json_t *claims) {
    const json_t *f = json_object_get(claims, "email_verified");
    return json_is_false(f) || (json_is_string(f) && !strcasecmp(json_string_value(f), "false"));
}

bool mfd_sso_claims_username(const mfd_sso_settings *s, const json_t *claims, const char **out,
                             const char **why) {
    for (size_t i = 0; i < s->username_claims.n; i++) {
        bool bad;
        const char *name = s->username_claims.items[i];
        const json_t *v = claim_at(claims, name, &bad);
        if (bad || (v && !json_is_string(v)))
            return *why = "a username claim has the wrong type", false;
        if (!v || json_string_length(v) == 0)
            continue;
        /* The first non-empty claim is the user: one that cannot be a username
         * refuses the token rather than make it someone else (its email, its sub). */
        if (strlen(json_string_value(v)) != json_string_length(v) ||
            mfd_sso_username_problem(json_string_value(v)))
            return *why = "the username claim is no username (longer than 255 bytes, a line "
                          "break, a NUL or not UTF-8)",
                   false;
        if (!strcmp(name, "email") && email_unverified(claims))
            return *why = "the username claim is an email the issuer has not verified "
                          "(email_verified is false)",
                   false;
        *out = json_string_value(v);
        return true;
    }
    return *why = "the token carries none of the username claims (a lightweight access token?)",
           false;
}

/* "resource_access.<client>.roles" → "<client>"; NULL for other paths. */
static const char *client_of(mfd_arena *arena, const char *path) {
    static const char head[] = "resource_access.", tail[] = ".roles";
    size_t n = strlen(path), h = sizeof head - 1, t = sizeof tail - 1;
    if (n <= h + t || strncmp(path, head, h) != 0 || strcmp(path + n - t, tail) != 0)
        return NULL;
    return mfd_arena_strndup(arena, path + h, n - h - t);
}

/* resource_access.<client>.roles with the client id taken whole: client ids
 * may hold dots ("mlflow.example.com"), which a dotted path would split. */
static const json_t *client_roles_at(const json_t *claims, const char *client, bool *bad) {
    const json_t *v = claims;
    const char *steps[] = {"resource_access", client, "roles"};
    *bad = false;
    for (size_t i = 0; v && i < sizeof steps / sizeof steps[0]; i++) {
        if (!json_is_object(v)) {
            *bad = true;
            return NULL;
        }
        v = json_object_get(v, steps[i]);
    }
    return v;
}

static void add_role(mfd_strbuf *roles, const char *prefix, const char *role, size_t len) {
    if (!len)
        return;
    if (roles->len)
        mfd_strbuf_append(roles, "\n");
    if (prefix) {
        mfd_strbuf_append(roles, prefix);
        mfd_strbuf_append(roles, ":");
    }
    mfd_strbuf_appendn(roles, role, len);
}

bool mfd_sso_claims_roles(const mfd_sso_settings *s, const json_t *claims, mfd_arena *arena,
                          mfd_strbuf *roles, const char **why) {
    for (size_t i = 0; i < s->role_claims.n; i++) {
        bool bad;
        const char *client = client_of(arena, s->role_claims.items[i]);
        const json_t *v = client ? client_roles_at(claims, client, &bad)
                                 : claim_at(claims, s->role_claims.items[i], &bad);
        if (bad || (v && !json_is_array(v)))
            return *why = "a role claim has the wrong type", false;
        size_t k;
        json_t *role;
        json_array_foreach(v, k, role) {
            if (!json_is_string(role) || strpbrk(json_string_value(role), "\n\r"))
                return *why = "a role claim holds a non-string", false;
            add_role(roles, client, json_string_value(role), json_string_length(role));
        }
    }
    return true;
}

void mfd_sso_header_roles(const char *value, mfd_strbuf *roles) {
    for (const char *p = value; p && *p;) {
        size_t n = strcspn(p, ",\n\r");
        const char *a = p, *b = p + n;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b - a > 5 && !strncmp(a, "role:", 5))
            a += 5;
        add_role(roles, NULL, a, (size_t)(b - a));
        p += n + (p[n] != '\0');
    }
}

/* --- mapping --------------------------------------------------------------- */

static bool has_role(const char *roles, const char *want) {
    size_t n = strlen(want);
    for (const char *p = roles; p && *p;) {
        size_t len = strcspn(p, "\n");
        if (len == n && !memcmp(p, want, n))
            return true;
        p += len + (p[len] == '\n');
    }
    return false;
}

static bool any_role(const char *roles, const mfd_strlist *list) {
    for (size_t i = 0; i < list->n; i++)
        if (has_role(roles, list->items[i]))
            return true;
    return false;
}

void mfd_sso_map_roles(const mfd_sso_settings *s, const char *roles, mfd_sso_identity *out) {
    static const mfd_permission levels[MAP_LEVELS] = {MFD_PERM_MANAGE, MFD_PERM_MANAGE,
                                                      MFD_PERM_EDIT, MFD_PERM_READ, MFD_PERM_READ};
    out->is_admin = false;
    out->level = s->unmapped;
    bool matched = false;
    for (int i = 0; i < MAP_LEVELS && !matched; i++) {
        if (any_role(roles, &s->mappings[i])) {
            matched = true; /* the strongest level listed first */
            out->level = levels[i];
            out->is_admin = i == MAP_ADMIN;
        }
    }
    out->allowed = s->allowed_groups.n == 0 || any_role(roles, &s->allowed_groups);
}
