/* Fuzz target: the auth INI parser (src/config/auth_ini.h, config.md) on
 * arbitrary file text: sections, continuation lines, comments, `%%` and
 * `%(key)s` interpolation, plus environment overrides. Byte 0 picks which
 * environment the parser sees; the rest is the file.
 *
 * Every outcome is a parsed file or a 400 naming the source (the file, or
 * the environment variable that set the bad value); a parsed file
 * has valid settings, and every known key can be read back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/auth_ini.h"

static int env_mode;

static const char *fuzz_env(const char *name) {
    static const char *const values[] = {
        "", "%(admin_username)s", "%%", "%(", "NO_PERMISSIONS", "-1", "99999999999999999999",
    };
    if (env_mode == 0)
        return NULL;
    if (!strcmp(name, "MLFLOWD_MLFLOW_ADMIN_PASSWORD") ||
        !strcmp(name, "MLFLOWD_MLFLOW_AUTH_CACHE_TTL_SECONDS") ||
        !strcmp(name, "MLFLOWD_SSO_LEEWAY_SECONDS") || !strcmp(name, "MLFLOWD_ROLE_MAPPINGS_EDIT"))
        return values[env_mode % (sizeof values / sizeof values[0])];
    return NULL;
}

static const char *const permissions[] = {"READ", "EDIT", "MANAGE", "NO_PERMISSIONS"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    env_mode = data[0] % 8;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0'; /* a file read into memory: the parser sees up to the first NUL */
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_parse(text, "the file fuzz.ini", fuzz_env, &ini);
    if (err) {
        /* every refusal names where the value came from: the file, or the
         * environment variable that overrode it */
        if (err->code != MFD_INVALID_PARAMETER_VALUE ||
            !(strstr(err->message, "fuzz.ini") ||
              strstr(err->message, "environment variable MLFLOWD_")))
            abort();
    } else {
        if (!ini)
            abort();
        const mfd_auth_settings *s = mfd_auth_ini_settings(ini);
        bool known = false;
        for (size_t i = 0; i < sizeof permissions / sizeof permissions[0]; i++)
            known = known || !strcmp(s->default_permission, permissions[i]);
        if (!known || !s->database_uri || !*s->database_uri || !s->admin_username ||
            !*s->admin_username || !s->admin_password || s->cache_ttl_seconds < 0)
            abort();
        static const char *const keys[][2] = {
            {"mlflow", "auth_cache_ttl_seconds"},
            {"role_mappings", "admin"},
            {"role_mappings", "edit"},
            {"sso", "issuer"},
            {"sso", "trusted_proxies"},
            {"sso", "role_claims"},
            {"sso", "leeway_seconds"},
            {"sso", "unmapped_permission"},
        };
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            (void)mfd_auth_ini_get(ini, keys[i][0], keys[i][1]);
        (void)mfd_auth_ini_source(ini);
    }
    mfd_err_free(err);
    mfd_auth_ini_free(ini);
    free(text);
    return 0;
}
