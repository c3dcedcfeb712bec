/* The auth INI contract (config.md): MLflow's file loads unchanged, defaults
 * fill the gaps, the environment wins, and unknown sections or keys, bad
 * values and unsupported hooks stop the start with a message naming them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/auth_ini.h"
#include "test.h"

static const char *no_env(const char *name) {
    (void)name;
    return NULL;
}

static const char *some_env(const char *name) {
    if (!strcmp(name, "MLFLOWD_MLFLOW_ADMIN_PASSWORD"))
        return "from-the-environment";
    if (!strcmp(name, "MLFLOWD_SSO_ISSUER"))
        return "https://kc.example/realms/x";
    return NULL;
}

static bool fails_with(const char *text, const char *part) {
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_parse(text, "auth config 'x.ini'", no_env, &ini);
    bool ok = err && err->code == MFD_INVALID_PARAMETER_VALUE && strstr(err->message, part) &&
              strstr(err->message, "x.ini");
    if (!ok)
        fprintf(stderr, "  message: %s\n", err ? err->message : "(no error)");
    mfd_err_free(err);
    mfd_auth_ini_free(ini);
    return ok;
}

static void test_mlflow_packaged_file_loads(void) {
    const char *text = "[mlflow]\n"
                       "default_permission = READ\n"
                       "database_uri = sqlite:///basic_auth.db\n"
                       "admin_username = admin\n"
                       "admin_password = password1234\n"
                       "authorization_function = "
                       "mlflow.server.auth:authenticate_request_basic_auth\n";
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_parse(text, "f", no_env, &ini);
    CHECK(err == NULL);
    mfd_err_free(err);
    if (!ini)
        return;
    const mfd_auth_settings *s = mfd_auth_ini_settings(ini);
    CHECK_STR(s->default_permission, "READ");
    CHECK_STR(s->database_uri, "sqlite:///basic_auth.db");
    CHECK_STR(s->admin_username, "admin");
    CHECK_STR(s->admin_password, "password1234");
    CHECK(!s->sso_hook);
    CHECK_INT(s->cache_ttl_seconds, 300);
    mfd_auth_ini_free(ini);
}

static void test_defaults_without_a_file(void) {
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_load(NULL, no_env, &ini);
    CHECK(err == NULL);
    mfd_err_free(err);
    if (!ini)
        return;
    const mfd_auth_settings *s = mfd_auth_ini_settings(ini);
    CHECK_STR(s->default_permission, "READ");
    CHECK_STR(s->database_uri, "sqlite:///basic_auth.db");
    CHECK_STR(s->admin_username, "admin");
    CHECK_STR(s->admin_password, "password1234");
    CHECK_STR(s->authorization_function, "mlflow.server.auth:authenticate_request_basic_auth");
    mfd_auth_ini_free(ini);
}

static void test_case_comments_continuations_and_interpolation(void) {
    const char *text = "; a comment\n"
                       "# another\n"
                       "[MLflow]\n"
                       "Default_Permission: NO_PERMISSIONS\n"
                       "admin_password = 100%% sure %(admin_username)s\n"
                       "admin_username = boss\n"
                       "auth_cache_ttl_seconds = 0\n"
                       "[role_mappings]\n"
                       "EDIT = dataingenieur,\n"
                       "   dataanalyst\n"
                       "[sso]\n"
                       "issuer = https://kc/realms/a\n";
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_parse(text, "f", some_env, &ini);
    CHECK(err == NULL);
    if (err)
        fprintf(stderr, "  %s\n", err->message);
    mfd_err_free(err);
    if (!ini)
        return;
    const mfd_auth_settings *s = mfd_auth_ini_settings(ini);
    CHECK_STR(s->default_permission, "NO_PERMISSIONS");
    CHECK_STR(s->admin_username, "boss");
    CHECK_STR(s->admin_password, "from-the-environment"); /* the environment wins */
    CHECK_INT(s->cache_ttl_seconds, 0);
    CHECK_STR(mfd_auth_ini_get(ini, "role_mappings", "edit"), "dataingenieur,\ndataanalyst");
    CHECK_STR(mfd_auth_ini_get(ini, "sso", "issuer"), "https://kc.example/realms/x");
    CHECK_STR(mfd_auth_ini_get(ini, "sso", "algorithms"), "RS256");
    mfd_auth_ini_free(ini);
    ini = NULL;
    err = mfd_auth_ini_parse("[mlflow]\nadmin_password = 100%% sure %(admin_username)s\n"
                             "admin_username = boss\n",
                             "f", no_env, &ini);
    CHECK(err == NULL);
    mfd_err_free(err);
    if (ini)
        CHECK_STR(mfd_auth_ini_settings(ini)->admin_password, "100% sure boss");
    mfd_auth_ini_free(ini);
}

static void test_platform_sso_hook_is_accepted(void) {
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_parse(
        "[mlflow]\nauthorization_function = platform.auth:authenticate_sso_request\n", "f", no_env,
        &ini);
    CHECK(err == NULL);
    mfd_err_free(err);
    CHECK(ini && mfd_auth_ini_settings(ini)->sso_hook);
    mfd_auth_ini_free(ini);
}

static void count_key(const char *key, void *ctx) {
    (void)key;
    ++*(int *)ctx;
}

/* MLflow's newer packaged file: workspace and cache keys mlflowd has no use
 * for, and its session-cookie variant of Basic. */
static void test_mlflows_newer_keys_are_accepted_and_reported(void) {
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_parse("[mlflow]\ndefault_permission = READ\n"
                                     "grant_default_workspace_access = true\n"
                                     "auth_cache_max_size = 10000\nsession_ttl_seconds = 86400\n"
                                     "authorization_function = "
                                     "mlflow.server.auth.session:authenticate_request_session\n",
                                     "f", no_env, &ini);
    CHECK(err == NULL);
    mfd_err_free(err);
    int ignored = 0;
    if (ini) {
        CHECK(!mfd_auth_ini_settings(ini)->sso_hook);
        mfd_auth_ini_ignored(ini, count_key, &ignored);
    }
    CHECK_INT(ignored, 3);
    mfd_auth_ini_free(ini);
}

static const char *latin1_env(const char *name) {
    return strcmp(name, "MLFLOWD_MLFLOW_ADMIN_PASSWORD") ? NULL : "p\xe4sswort-sehr-lang";
}

/* As for the file: a Latin-1 password could never match a login. */
static void test_an_override_that_is_not_utf8_is_refused(void) {
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_parse("[mlflow]\n", "auth config 'x.ini'", latin1_env, &ini);
    CHECK(err && strstr(err->message, "MLFLOWD_MLFLOW_ADMIN_PASSWORD is not UTF-8"));
    mfd_err_free(err);
    mfd_auth_ini_free(ini);
}

static const char *bad_env(const char *name) {
    return strcmp(name, "MLFLOWD_MLFLOW_DEFAULT_PERMISSION") ? NULL : "read";
}

/* A bad value the environment set is blamed on the variable, not the file. */
static void test_a_bad_override_names_its_variable(void) {
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_parse("[mlflow]\ndefault_permission = READ\n", "auth config 'x.ini'",
                                     bad_env, &ini);
    CHECK(err && strstr(err->message, "environment variable MLFLOWD_MLFLOW_DEFAULT_PERMISSION") &&
          !strstr(err->message, "x.ini"));
    mfd_err_free(err);
    mfd_auth_ini_free(ini);
}

static const char *empty_env(const char *name) {
    return strcmp(name, "MLFLOWD_MLFLOW_DEFAULT_PERMISSION") ? NULL : "";
}

/* An override set empty (a chart's blank value) is an unset one, as every mlflowd variable:
 * the file's value stands, not an empty one that is refused or read as none. */
static void test_an_empty_override_is_unset(void) {
    mfd_auth_ini *ini = NULL;
    mfd_err err =
        mfd_auth_ini_parse("[mlflow]\ndefault_permission = NO_PERMISSIONS\n", "f", empty_env, &ini);
    CHECK(err == NULL);
    mfd_err_free(err);
    if (ini) {
        CHECK_STR(mfd_auth_ini_settings(ini)->default_permission, "NO_PERMISSIONS");
        CHECK_STR(mfd_auth_ini_origin(ini, "mlflow", "default_permission"), "f");
    }
    mfd_auth_ini_free(ini);
}

/* A file for mfd_auth_ini_load (path: "/tmp/mfd-auth-ini-XXXXXX"). */
static FILE *temp_ini(char *path) {
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    return fd >= 0 ? fdopen(fd, "w") : NULL;
}

/* Whether loading the file fails naming `part`; the file is removed. */
static bool load_refused(const char *path, const char *part) {
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_load(path, no_env, &ini);
    bool refused = err && strstr(err->message, part) && !ini;
    mfd_err_free(err);
    mfd_auth_ini_free(ini);
    unlink(path);
    return refused;
}

/* Over 1 MiB is refused whole, never read cut short (the end could hold a
 * stricter default_permission). */
static void test_an_oversized_file_is_refused(void) {
    char path[] = "/tmp/mfd-auth-ini-XXXXXX";
    FILE *f = temp_ini(path);
    if (!f)
        return;
    fputs("[mlflow]\n", f);
    for (int i = 0; i < 40000; i++)
        fputs("# a comment line of about thirty bytes\n", f);
    fputs("default_permission = NO_PERMISSIONS\n", f);
    fclose(f);
    CHECK(load_refused(path, "larger than 1 MiB"));
}

static void test_a_file_that_is_not_utf8_is_refused(void) {
    char path[] = "/tmp/mfd-auth-ini-XXXXXX";
    FILE *f = temp_ini(path);
    if (!f)
        return;
    fputs("[mlflow]\nadmin_password = p\xe4sswort-sehr-lang\n", f); /* Latin-1 */
    fclose(f);
    CHECK(load_refused(path, "not UTF-8"));
}

static void test_errors_name_the_problem_and_the_file(void) {
    CHECK(fails_with("[mlflow]\ndefualt_permission = READ\n", "unknown key 'defualt_permission'"));
    CHECK(fails_with("[mlflow]\ndefault_permission = READ\n[mlfow]\n", "unknown section [mlfow]"));
    CHECK(fails_with("default_permission = READ\n", "outside of a section"));
    CHECK(fails_with("[mlflow]\ndefault_permission = read\n", "default_permission 'read'"));
    CHECK(fails_with("[mlflow]\nauthorization_function = my.module:check\n",
                     "authorization_function 'my.module:check' is not supported"));
    CHECK(fails_with("[mlflow]\nauth_cache_ttl_seconds = soon\n", "auth_cache_ttl_seconds"));
    CHECK(fails_with("[mlflow]\nadmin_password = 100% sure\n", "'%' must be followed"));
    CHECK(fails_with("[mlflow]\nadmin_username = a\nadmin_username = b\n", "already set"));
    CHECK(fails_with("[mlflow]\njust some words\n", "expected 'key = value'"));
    CHECK(fails_with("[sso]\nissuer = x\nleeway_seconds = 900\n", "leeway_seconds"));
    CHECK(fails_with("[role_mappings]\nsuperuser = x\n", "unknown key 'superuser'"));
    CHECK(
        fails_with("[mlflow]\nadmin_username = a\n[sso]\n[MLflow]\n", "already started on line 1"));
}

static void test_missing_file_is_an_error(void) {
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_load("/nonexistent/basic_auth.ini", no_env, &ini);
    CHECK(err && strstr(err->message, "/nonexistent/basic_auth.ini"));
    mfd_err_free(err);
    CHECK(ini == NULL);
}

static void collect(const char *name, size_t len, void *ctx) {
    char *seen = ctx;
    strncat(seen, name, len);
    strcat(seen, " ");
}

static void test_misspelt_overrides_are_named(void) {
    char *const env[] = {"MLFLOWD_MLFLOW_DEFAULT_PERMISION=NO_PERMISSIONS", /* typo */
                         "MLFLOWD_MLFLOW_DEFAULT_PERMISSION=READ",
                         "MLFLOWD_SSO_ISSUER=https://kc",
                         "MLFLOWD_SSO_ISSUR=https://kc", /* typo */
                         "MLFLOWD_ROLE_MAPPINGS_READ=viewer",
                         "MLFLOWD_ROLE_MAPPINGS_REED=viewer", /* typo */
                         "MLFLOWD_MLFLOW_ADMIN_PASSWORD",     /* no '=' */
                         "MLFLOWD_MLFLOW_=x",                 /* the prefix alone */
                         "MLFLOWD_SSO_=x",
                         "mlflowd_mlflow_default_permission=READ", /* not read: not ours */
                         "MLFLOWD_KSERVE_NAMESPACE=ml",            /* other MLFLOWD_ variables */
                         "MLFLOWD_MAX_BODY_SIZE=1",
                         "MLFLOWD_SSOX=1",
                         "PATH=/bin",
                         NULL};
    char seen[512] = "";
    mfd_auth_ini_unknown_overrides(env, collect, seen);
    CHECK_STR(seen, "MLFLOWD_MLFLOW_DEFAULT_PERMISION MLFLOWD_SSO_ISSUR "
                    "MLFLOWD_ROLE_MAPPINGS_REED MLFLOWD_MLFLOW_ MLFLOWD_SSO_ ");
}

MFD_TEST_MAIN(MFD_TEST(test_mlflow_packaged_file_loads), MFD_TEST(test_defaults_without_a_file),
              MFD_TEST(test_case_comments_continuations_and_interpolation),
              MFD_TEST(test_platform_sso_hook_is_accepted),
              MFD_TEST(test_errors_name_the_problem_and_the_file),
              MFD_TEST(test_missing_file_is_an_error), MFD_TEST(test_misspelt_overrides_are_named),
              MFD_TEST(test_mlflows_newer_keys_are_accepted_and_reported),
              MFD_TEST(test_a_bad_override_names_its_variable),
              MFD_TEST(test_an_empty_override_is_unset),
              MFD_TEST(test_an_oversized_file_is_refused),
              MFD_TEST(test_a_file_that_is_not_utf8_is_refused),
              MFD_TEST(test_an_override_that_is_not_utf8_is_refused))
