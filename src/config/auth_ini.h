/* auth_ini.h — the auth INI file (shared/spec/config.md): MLflow's [mlflow]
 * keys plus mlflowd's [role_mappings] and [sso], read once at start.
 *
 * Sources, strongest first: the environment (MLFLOWD_<SECTION>_<KEY>; set
 * empty, it counts as unset), the file, the built-in defaults. Section and key names are
 * case-insensitive; an unknown section or key is an error naming it and the file, so a typo never
 * silently weakens security. Values follow Python's configparser (MLflow reads the same file with
 * it): `key = value` or `key: value`,
 * `#`/`;` comment lines, indented continuation lines, `%%` for a literal `%`
 * and `%(other_key)s` interpolation within the section. */
#ifndef MFD_AUTH_INI_H
#define MFD_AUTH_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

typedef struct mfd_auth_ini mfd_auth_ini;

/* The [mlflow] section, validated. Strings are owned by the mfd_auth_ini. */
typedef struct mfd_auth_settings {
    const char *default_permission; /* READ, EDIT, MANAGE or NO_PERMISSIONS */
    const char *database_uri;
    const char *admin_username;
    const char *admin_password;
    const char *authorization_function;
    bool sso_hook;         /* the function selects the [sso] modes in addition to Basic */
    int cache_ttl_seconds; /* auth_cache_ttl_seconds; 0 = verify every request */
} mfd_auth_settings;

/* Where environment values come from (tests pass their own). */
typedef const char *(*mfd_env_lookup)(const char *name);

/* path NULL or "" = built-in defaults only. */
mfd_err mfd_auth_ini_load(const char *path, mfd_env_lookup env, mfd_auth_ini **out);
/* Parses `text` as if read from the file named `source` (used in messages). */
mfd_err mfd_auth_ini_parse(const char *text, const char *source, mfd_env_lookup env,
                           mfd_auth_ini **out);
void mfd_auth_ini_free(mfd_auth_ini *ini);

/* Calls `report` for each entry of `envp` (NAME=value, as environ) named like
 * an override of a section, MLFLOWD_MLFLOW_..., MLFLOWD_SSO_...,
 * MLFLOWD_ROLE_MAPPINGS_..., that names no key: a misspelt override is not
 * read, so the server warns (not an error: Kubernetes' service links put
 * <SERVICE>_PORT... variables in every pod, which a service named
 * "mlflowd-sso" would turn into MLFLOWD_SSO_PORT). */
void mfd_auth_ini_unknown_overrides(char *const *envp,
                                    void (*report)(const char *name, size_t len, void *ctx),
                                    void *ctx);

const mfd_auth_settings *mfd_auth_ini_settings(const mfd_auth_ini *ini);
/* Any known key, e.g. ("sso", "issuer"); NULL when unset and without default. */
const char *mfd_auth_ini_get(const mfd_auth_ini *ini, const char *section, const char *key);
/* "the file <path>" or "the built-in defaults", for messages. */
const char *mfd_auth_ini_source(const mfd_auth_ini *ini);
/* Where a key's value came from, for messages: "environment variable
 * MLFLOWD_<SECTION>_<KEY>" when one set it, else mfd_auth_ini_source. */
const char *mfd_auth_ini_origin(const mfd_auth_ini *ini, const char *section, const char *key);
/* Reports each key of MLflow's file that is set but means nothing to mlflowd. */
void mfd_auth_ini_ignored(const mfd_auth_ini *ini, void (*report)(const char *key, void *ctx),
                          void *ctx);

#endif
