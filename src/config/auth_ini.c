/* auth_ini.c — reads the auth INI file of config.md into validated settings.
 *
 * Invariant: every value the server sees belongs to a key of `known_keys`;
 * anything else in the file stops the start with a message naming the file,
 * the line and the key. */
#include "auth_ini.h"

#include "core/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct known_key {
    const char *section, *key, *default_value;
} known_key;

static const known_key known_keys[] = {
    {"mlflow", "default_permission", "READ"},
    {"mlflow", "database_uri", "sqlite:///basic_auth.db"},
    {"mlflow", "admin_username", "admin"},
    {"mlflow", "admin_password", "password1234"},
    {"mlflow", "authorization_function", "mlflow.server.auth:authenticate_request_basic_auth"},
    {"mlflow", "auth_cache_ttl_seconds", "300"},
    /* MLflow's newer keys for features mlflowd has not (workspaces, its own
     * cache and session store): accepted so its files load, and logged. */
    {"mlflow", "grant_default_workspace_access", NULL},
    {"mlflow", "auth_cache_max_size", NULL},
    {"mlflow", "session_ttl_seconds", NULL},
    {"role_mappings", "admin", NULL},
    {"role_mappings", "manage", NULL},
    {"role_mappings", "edit", NULL},
    {"role_mappings", "read", NULL},
    {"role_mappings", "use", NULL},
    {"sso", "modes", "bearer"},
    {"sso", "issuer", NULL},
    {"sso", "discovery_url", NULL},
    {"sso", "jwks_url", NULL},
    {"sso", "audiences", NULL},
    {"sso", "allowed_azp", NULL},
    {"sso", "algorithms", "RS256"},
    {"sso", "username_claims", "preferred_username, email, sub"},
    {"sso", "role_claims", "realm_access.roles, resource_access.<client_id>.roles, groups"},
    {"sso", "allowed_groups", NULL},
    {"sso", "leeway_seconds", "60"},
    {"sso", "mapping_mode", "authoritative"},
    {"sso", "unmapped_permission", "NO_PERMISSIONS"},
    {"sso", "trusted_proxies", "127.0.0.1/32, ::1/128"},
    {"sso", "client_id", NULL},
    {"sso", "client_secret", NULL},
    {"sso", "redirect_uri", NULL},
    {"sso", "scopes", "openid profile email"},
    {"sso", "jwks_cache_seconds", "300"},
    /* mlflowd additions to config.md (README.md, Authentication) */
    {"sso", "basic_auth", "true"},
    {"sso", "token_types", "ID, Bearer"},
    {"sso", "create_permission", "EDIT"},
    {"sso", "jwks_refetch_seconds", "30"},
    {"sso", "ca_file", NULL},
    {"sso", "external_url", NULL},
    {"sso", "session_seconds", "28800"},
    {"sso", "cookie_secure", "true"},
};

enum { N_KEYS = sizeof known_keys / sizeof known_keys[0] };

static const char *const known_sections[] = {"mlflow", "role_mappings", "sso"};

static const char basic_function[] = "mlflow.server.auth:authenticate_request_basic_auth";
/* MLflow's session-cookie variant of Basic: mlflowd's web UI signs in on its
 * own page, and API clients send Basic credentials either way. */
static const char session_function[] = "mlflow.server.auth.session:authenticate_request_session";
static const char *const ignored_keys[] = {"grant_default_workspace_access", "auth_cache_max_size",
                                           "session_ttl_seconds"};

struct mfd_auth_ini {
    char *values[N_KEYS];  /* owned; NULL = not set by file or environment */
    int lines[N_KEYS];     /* line of the file that set it (0 = not from the file) */
    char *origins[N_KEYS]; /* "environment variable MLFLOWD_…" when one set it, else NULL */
    char *source;
    mfd_auth_settings settings;
};

void mfd_auth_ini_free(mfd_auth_ini *ini) {
    if (!ini)
        return;
    for (size_t i = 0; i < N_KEYS; i++) {
        free(ini->values[i]);
        free(ini->origins[i]);
    }
    free(ini->source);
    free(ini);
}

static int find_key(const char *section, const char *key) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcasecmp(known_keys[i].section, section) && !strcasecmp(known_keys[i].key, key))
            return (int)i;
    return -1;
}

enum { N_SECTIONS = sizeof known_sections / sizeof known_sections[0] };

static int section_index(const char *section) {
    for (size_t i = 0; i < N_SECTIONS; i++)
        if (!strcasecmp(known_sections[i], section))
            return (int)i;
    return -1;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static char *append_line(char *value, const char *more) {
    size_t a = strlen(value), b = strlen(more);
    char *joined = realloc(value, a + b + 2);
    if (!joined)
        abort();
    joined[a] = '\n';
    memcpy(joined + a + 1, more, b + 1);
    return joined;
}

static void list_known_keys(char *out, size_t cap, const char *section) {
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < N_KEYS && n < cap; i++) {
        if (strcasecmp(known_keys[i].section, section) != 0)
            continue;
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "", known_keys[i].key);
    }
}

/* configparser's BasicInterpolation within one section. */
static mfd_err interpolate(mfd_auth_ini *ini, int index, int depth, char **out) {
    const char *raw = ini->values[index];
    const char *section = known_keys[index].section;
    size_t cap = strlen(raw) + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    for (const char *p = raw; *p;) {
        const char *piece = p;
        size_t piece_len = 1;
        char *expanded = NULL;
        if (*p == '%') {
            if (p[1] == '%') {
                piece_len = 1;
                p += 2;
            } else if (p[1] == '(') {
                const char *close = strstr(p, ")s");
                char name[64];
                size_t name_len = close ? (size_t)(close - p - 2) : 0;
                if (!close || name_len == 0 || name_len >= sizeof name) {
                    free(buf);
                    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                       "%s, key '%s': bad interpolation syntax in '%s' (write %%%% "
                                       "for a literal %%)",
                                       ini->source, known_keys[index].key, raw);
                }
                memcpy(name, p + 2, name_len);
                name[name_len] = '\0';
                int ref = find_key(section, name);
                if (ref < 0 || depth > 10 ||
                    (!ini->values[ref] && !known_keys[ref].default_value)) {
                    free(buf);
                    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                       "%s, key '%s': '%%(%s)s' names no key of section [%s]",
                                       ini->source, known_keys[index].key, name, section);
                }
                if (ini->values[ref]) {
                    mfd_err err = interpolate(ini, ref, depth + 1, &expanded);
                    if (err) {
                        free(buf);
                        return err;
                    }
                } else {
                    expanded = strdup(known_keys[ref].default_value);
                }
                piece = expanded;
                piece_len = strlen(expanded);
                p = close + 2;
            } else {
                free(buf);
                return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                   "%s, key '%s': '%%' must be followed by '%%' or '(' (write "
                                   "%%%% for a literal %%)",
                                   ini->source, known_keys[index].key);
            }
        } else {
            p++;
        }
        if (len + piece_len + 1 > cap) {
            cap = (len + piece_len + 1) * 2;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
        memcpy(buf + len, piece, piece_len);
        len += piece_len;
        free(expanded);
    }
    buf[len] = '\0';
    *out = buf;
    return NULL;
}

static mfd_err parse_text(mfd_auth_ini *ini, char *text) {
    char section[64] = "";
    int section_lines[N_SECTIONS] = {0}; /* where each section started */
    int current = -1;                    /* key receiving continuation lines */
    int line_no = 0;
    char *save = NULL;
    for (char *line = text; line; line = save) {
        save = strchr(line, '\n');
        if (save)
            *save++ = '\0';
        line_no++;
        bool indented = line[0] == ' ' || line[0] == '\t';
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';') {
            if (*s == '\0')
                current = -1;
            continue;
        }
        if (indented && current >= 0) {
            ini->values[current] = append_line(ini->values[current], s);
            continue;
        }
        current = -1;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close)
                return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                   "%s, line %d: a section header must look like [name]",
                                   ini->source, line_no);
            *close = '\0';
            char *name = trim(s + 1);
            int index = section_index(name);
            if (index < 0)
                return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                   "%s, line %d: unknown section [%s] (known sections: [mlflow], "
                                   "[role_mappings], [sso])",
                                   ini->source, line_no, name);
            /* configparser (strict, as MLflow reads the file) refuses a repeated
             * section too; it tells [mlflow] from [MLflow], which mlflowd does not */
            if (section_lines[index])
                return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                   "%s, line %d: section [%s] was already started on line %d",
                                   ini->source, line_no, name, section_lines[index]);
            section_lines[index] = line_no;
            snprintf(section, sizeof section, "%s", name);
            for (char *c = section; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            continue;
        }
        size_t key_len = strcspn(s, "=:");
        if (s[key_len] == '\0')
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "%s, line %d: expected 'key = value', got '%s'", ini->source,
                               line_no, s);
        if (!*section)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "%s, line %d: key outside of a section (start the file with "
                               "[mlflow])",
                               ini->source, line_no);
        char *value = trim(s + key_len + 1);
        s[key_len] = '\0';
        char *key = trim(s);
        int index = find_key(section, key);
        if (index < 0) {
            char known[1024];
            list_known_keys(known, sizeof known, section);
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "%s, line %d: unknown key '%s' in section [%s] (known keys: %s)",
                               ini->source, line_no, key, section, known);
        }
        if (ini->lines[index])
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "%s, line %d: key '%s' of section [%s] was already set on line %d",
                               ini->source, line_no, key, section, ini->lines[index]);
        ini->values[index] = strdup(value);
        ini->lines[index] = line_no;
        current = index;
    }
    return NULL;
}

/* MLFLOWD_<SECTION>_<KEY> in upper case (key NULL: the section's prefix,
 * MLFLOWD_<SECTION>_); returns its length. */
static size_t override_name(const char *section, const char *key, char *buf, size_t size) {
    int n = snprintf(buf, size, "MLFLOWD_%s_%s", section, key ? key : "");
    for (int c = 0; c < n; c++)
        buf[c] = (char)toupper((unsigned char)buf[c]);
    return (size_t)n;
}

/* Expands interpolation in file values, then lets the environment win. */
static mfd_err resolve_values(mfd_auth_ini *ini, mfd_env_lookup env) {
    char *expanded[N_KEYS] = {0};
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!ini->values[i])
            continue;
        mfd_err err = interpolate(ini, (int)i, 0, &expanded[i]);
        if (err) {
            for (size_t j = 0; j < N_KEYS; j++)
                free(expanded[j]);
            return err;
        }
    }
    for (size_t i = 0; i < N_KEYS; i++) {
        free(ini->values[i]);
        ini->values[i] = expanded[i];
        char name[96];
        override_name(known_keys[i].section, known_keys[i].key, name, sizeof name);
        const char *v = env ? env(name) : NULL;
        if (v && *v) { /* an empty variable is an unset one, as every mlflowd variable */
            if (!mfd_utf8_valid(v, strlen(v))) { /* as for the file */
                for (size_t j = i + 1; j < N_KEYS; j++)
                    free(expanded[j]);
                return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                   "environment variable %s is not UTF-8 text", name);
            }
            free(ini->values[i]);
            ini->values[i] = strdup(v);
            char origin[128];
            snprintf(origin, sizeof origin, "environment variable %s", name);
            ini->origins[i] = strdup(origin);
        }
    }
    return NULL;
}

/* Whether `name` (`len` bytes) is MLFLOWD_<section>_<key> of a known key,
 * compared as resolve_values spells it (upper case). */
static bool names_known_key(const char *name, size_t len) {
    for (size_t i = 0; i < N_KEYS; i++) {
        char known[96];
        if (override_name(known_keys[i].section, known_keys[i].key, known, sizeof known) == len &&
            !memcmp(known, name, len))
            return true;
    }
    return false;
}

void mfd_auth_ini_unknown_overrides(char *const *envp,
                                    void (*report)(const char *name, size_t len, void *ctx),
                                    void *ctx) {
    for (; envp && *envp; envp++) {
        const char *entry = *envp, *eq = strchr(entry, '=');
        size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
        bool overrides_a_section = false;
        for (size_t i = 0; i < N_KEYS && !overrides_a_section; i++) {
            char prefix[64];
            size_t n = override_name(known_keys[i].section, NULL, prefix, sizeof prefix);
            overrides_a_section = len >= n && !memcmp(entry, prefix, n);
        }
        if (overrides_a_section && !names_known_key(entry, len))
            report(entry, len, ctx);
    }
}

static bool valid_permission(const char *p) {
    return !strcmp(p, "READ") || !strcmp(p, "EDIT") || !strcmp(p, "MANAGE") ||
           !strcmp(p, "NO_PERMISSIONS");
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static mfd_err parse_seconds(const mfd_auth_ini *ini, const char *section, const char *key,
                             int *out) {
    const char *value = mfd_auth_ini_get(ini, section, key);
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < 0 || v > INT_MAX)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "%s: [%s] %s must be a whole number of seconds >= 0, got '%s'",
                           mfd_auth_ini_origin(ini, section, key), section, key, value);
    *out = (int)v;
    return NULL;
}

static mfd_err validate(mfd_auth_ini *ini) {
    mfd_auth_settings *s = &ini->settings;
    s->default_permission = mfd_auth_ini_get(ini, "mlflow", "default_permission");
    s->database_uri = mfd_auth_ini_get(ini, "mlflow", "database_uri");
    s->admin_username = mfd_auth_ini_get(ini, "mlflow", "admin_username");
    s->admin_password = mfd_auth_ini_get(ini, "mlflow", "admin_password");
    s->authorization_function = mfd_auth_ini_get(ini, "mlflow", "authorization_function");
    if (!valid_permission(s->default_permission))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "%s: default_permission '%s' is not one of READ, EDIT, MANAGE, "
                           "NO_PERMISSIONS",
                           mfd_auth_ini_origin(ini, "mlflow", "default_permission"),
                           s->default_permission);
    const char *unmapped = mfd_auth_ini_get(ini, "sso", "unmapped_permission");
    if (!valid_permission(unmapped))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "%s: [sso] unmapped_permission '%s' is not one of READ, EDIT, MANAGE, "
                           "NO_PERMISSIONS",
                           mfd_auth_ini_origin(ini, "sso", "unmapped_permission"), unmapped);
    if (!*s->database_uri)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "%s: database_uri must not be empty",
                           mfd_auth_ini_origin(ini, "mlflow", "database_uri"));
    if (!*s->admin_username)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "%s: admin_username must not be empty",
                           mfd_auth_ini_origin(ini, "mlflow", "admin_username"));
    const char *fn = s->authorization_function;
    if (!strcmp(fn, basic_function) || !strcmp(fn, "mlflowd:basic") ||
        !strcmp(fn, session_function)) {
        s->sso_hook = false;
    } else if (ends_with(fn, ":authenticate_sso_request") || !strcmp(fn, "mlflowd:sso") ||
               !strcmp(fn, "builtin:sso")) {
        s->sso_hook = true;
    } else {
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "%s: authorization_function '%s' is not supported: mlflowd cannot run "
                           "Python hooks. Use '%s' (Basic auth), 'mlflowd:sso' or a value ending "
                           "in ':authenticate_sso_request' (Basic plus the [sso] modes)",
                           mfd_auth_ini_origin(ini, "mlflow", "authorization_function"), fn,
                           basic_function);
    }
    mfd_err err = parse_seconds(ini, "mlflow", "auth_cache_ttl_seconds", &s->cache_ttl_seconds);
    int unused = 0;
    if (!err)
        err = parse_seconds(ini, "sso", "leeway_seconds", &unused);
    if (!err && unused > 300)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "%s: [sso] leeway_seconds is at most 300",
                          mfd_auth_ini_origin(ini, "sso", "leeway_seconds"));
    if (!err)
        err = parse_seconds(ini, "sso", "jwks_cache_seconds", &unused);
    return err;
}

mfd_err mfd_auth_ini_parse(const char *text, const char *source, mfd_env_lookup env,
                           mfd_auth_ini **out) {
    mfd_auth_ini *ini = calloc(1, sizeof *ini);
    if (!ini)
        abort();
    ini->source = strdup(source);
    char *copy = strdup(text ? text : "");
    /* A UTF-8 byte order mark is accepted, as configparser does with utf-8-sig. */
    char *start = strncmp(copy, "\xEF\xBB\xBF", 3) == 0 ? copy + 3 : copy;
    mfd_err err = parse_text(ini, start);
    free(copy);
    if (!err)
        err = resolve_values(ini, env);
    if (!err)
        err = validate(ini);
    if (err) {
        mfd_auth_ini_free(ini);
        return err;
    }
    *out = ini;
    return NULL;
}

mfd_err mfd_auth_ini_load(const char *path, mfd_env_lookup env, mfd_auth_ini **out) {
    if (!path || !*path)
        return mfd_auth_ini_parse("", "the built-in auth defaults", env, out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "cannot read the auth config file '%s' (MLFLOW_AUTH_CONFIG_PATH / "
                           "--auth-config): %s",
                           path, strerror(errno));
    /* Read whole or refused: a file cut short could end mid-value. */
    enum { MAX_BYTES = 1 << 20 };
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    size_t n;
    while (text && len <= MAX_BYTES && (n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            char *grown = realloc(text, cap);
            if (!grown)
                free(text);
            text = grown;
        }
    }
    bool failed = ferror(f) || !text;
    fclose(f);
    if (failed) {
        free(text);
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "cannot read the auth config file '%s'",
                           path);
    }
    if (len > MAX_BYTES) {
        free(text);
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "the auth config file '%s' is larger than 1 MiB: is it the right file?",
                           path);
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        free(text);
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "the auth config file '%s' contains a NUL byte: is it a text file?",
                           path);
    }
    /* A Latin-1 admin password could never match a (UTF-8) Basic login;
     * MLflow's configparser refuses such a file as well. */
    if (!mfd_utf8_valid(text, len)) {
        free(text);
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "the auth config file '%s' is not UTF-8 text (saved as Latin-1?)", path);
    }
    char source[4200];
    snprintf(source, sizeof source, "auth config '%s'", path);
    mfd_err err = mfd_auth_ini_parse(text, source, env, out);
    free(text);
    return err;
}

const mfd_auth_settings *mfd_auth_ini_settings(const mfd_auth_ini *ini) {
    return &ini->settings;
}

const char *mfd_auth_ini_get(const mfd_auth_ini *ini, const char *section, const char *key) {
    int i = find_key(section, key);
    if (i < 0)
        return NULL;
    return ini->values[i] ? ini->values[i] : known_keys[i].default_value;
}

const char *mfd_auth_ini_source(const mfd_auth_ini *ini) {
    return ini->source;
}

const char *mfd_auth_ini_origin(const mfd_auth_ini *ini, const char *section, const char *key) {
    int i = find_key(section, key);
    return i >= 0 && ini->origins[i] ? ini->origins[i] : ini->source;
}

void mfd_auth_ini_ignored(const mfd_auth_ini *ini, void (*report)(const char *key, void *ctx),
                          void *ctx) {
    for (size_t i = 0; i < sizeof ignored_keys / sizeof ignored_keys[0]; i++)
        if (ini->values[find_key("mlflow", ignored_keys[i])])
            report(ignored_keys[i], ctx);
}
