/* `mlflowd server` flags and environment (src/config/config.c): README's "an invalid value
 * stops the start" — every value a flag or variable can carry is either used as documented or
 * refused with a message naming it, never taken as something else. */
#include <stdlib.h>

#include "config/config.h"
#include "http/router.h"
#include "test.h"

/* Parses `server <args...>`; NULL when accepted (then *cfg holds the result), else the
 * message, kept until the next call. */
static const char *parse(mfd_config *cfg, int argc, const char *const *args) {
    static char message[512];
    char *argv[16] = {"server"};
    for (int i = 0; i < argc && i < 15; i++)
        argv[i + 1] = (char *)args[i];
    bool exit_now;
    mfd_err err = mfd_config_from_args(argc + 1, argv, cfg, &exit_now);
    if (!err)
        return NULL;
    snprintf(message, sizeof message, "%s", err->message);
    mfd_err_free(err);
    return message;
}

static const char *parse1(mfd_config *cfg, const char *flag, const char *value) {
    const char *args[] = {flag, value};
    return parse(cfg, 2, args);
}

/* An empty destination was the working directory, mlflow.db beside it: a PUT of
 * .../artifacts/mlflow.db replaced the tracking database. */
static void test_an_empty_artifacts_destination_is_refused(void) {
    mfd_config cfg;
    const char *why;
    static const char *const empty[] = {"", "file:", "file://"};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        why = parse1(&cfg, "--artifacts-destination", empty[i]);
        CHECK(why && strstr(why, "--artifacts-destination") && strstr(why, "names no directory"));
    }
    CHECK(parse1(&cfg, "--artifacts-destination", "file:/srv/artifacts") == NULL);
    CHECK_STR(cfg.artifacts_destination, "/srv/artifacts");
    CHECK(parse1(&cfg, "--artifacts-destination", "file:///srv/a") == NULL);
    CHECK_STR(cfg.artifacts_destination, "/srv/a");
    /* file: URIs read as the artifact store reads them */
    CHECK(parse1(&cfg, "--artifacts-destination", "file://localhost/srv/b") == NULL);
    CHECK_STR(cfg.artifacts_destination, "/srv/b");
    CHECK(parse1(&cfg, "--artifacts-destination", "file://LocalHost/srv/c") == NULL);
    CHECK_STR(cfg.artifacts_destination, "/srv/c"); /* host names know no case */
    CHECK(parse1(&cfg, "--artifacts-destination", "file:///srv/my%20dir") == NULL);
    CHECK_STR(cfg.artifacts_destination, "/srv/my dir");
    why = parse1(&cfg, "--artifacts-destination", "file://nas/srv/a");
    CHECK(why && strstr(why, "--artifacts-destination") && strstr(why, "another host"));
    CHECK(parse1(&cfg, "--artifacts-destination", "s3://bucket/p") == NULL);
    CHECK_STR(cfg.artifacts_destination, "s3://bucket/p");
    /* the default root is MLflow's when empty, as in MLflow: nothing is exposed */
    CHECK(parse1(&cfg, "--default-artifact-root", "") == NULL);
    CHECK_STR(cfg.default_artifact_root, "mlflow-artifacts:/");
    /* without a file, the built-in defaults (and their admin password) would apply */
    why = parse1(&cfg, "--auth-config", "");
    CHECK(why && strstr(why, "--auth-config is empty"));
}

/* strtoull took "-1" as the largest size (no body limit at all), "+5" and " 5" as 5. */
static void test_numbers_are_digits_only(void) {
    mfd_config cfg;
    static const char *const bad[] = {"-1", "+5", " 5", "5 ", "5k", "0x10", "", "0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = parse1(&cfg, "--max-body-size", bad[i]);
        CHECK(why && strstr(why, "not a valid size in bytes"));
        why = parse1(&cfg, "--max-header-size", bad[i]);
        CHECK(why && (strstr(why, "not a valid size") || strstr(why, "from 1024")));
    }
    CHECK(parse1(&cfg, "--max-body-size", "1024") == NULL && cfg.max_body_bytes == 1024);
    CHECK(parse1(&cfg, "--max-body-size", "99999999999999999999999") != NULL);
    CHECK(parse1(&cfg, "--port", "+5000") != NULL);
    CHECK(parse1(&cfg, "--port", " 5000") != NULL);
    CHECK(parse1(&cfg, "-p", "5001") == NULL && cfg.port == 5001);
    CHECK(parse1(&cfg, "--workers", "-1") != NULL);
    setenv("MLFLOWD_MAX_BODY_SIZE", "-1", 1);
    const char *why = parse(&cfg, 0, NULL);
    CHECK(why && strstr(why, "MLFLOWD_MAX_BODY_SIZE"));
    unsetenv("MLFLOWD_MAX_BODY_SIZE");
}

/* Only README's values, spelt as sent: a line break must never reach a header. */
static void test_x_frame_options_takes_documented_values(void) {
    mfd_config cfg;
    CHECK(parse(&cfg, 0, NULL) == NULL);
    CHECK_STR(cfg.x_frame_options, "SAMEORIGIN");
    CHECK(parse1(&cfg, "--x-frame-options", "deny") == NULL);
    CHECK_STR(cfg.x_frame_options, "DENY");
    CHECK(parse1(&cfg, "--x-frame-options", "None") == NULL);
    CHECK_STR(cfg.x_frame_options, "NONE");
    static const char *const bad[] = {"", "ALLOW-FROM https://a.example", "DENY\r\nSet-Cookie: x",
                                      "SAMEORIGIN "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = parse1(&cfg, "--x-frame-options", bad[i]);
        CHECK(why && strstr(why, "must be SAMEORIGIN, DENY or NONE"));
    }
}

/* ",,," matched no Host at all (every request refused) and looked like a setting. */
static void test_lists_must_name_something(void) {
    mfd_config cfg;
    static const char *const empty[] = {"", ",,,", " , ,"};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        const char *why = parse1(&cfg, "--allowed-hosts", empty[i]);
        CHECK(why && strstr(why, "names no host"));
        why = parse1(&cfg, "--cors-allowed-origins", empty[i]);
        CHECK(why && strstr(why, "names no origin"));
    }
    CHECK(parse1(&cfg, "--allowed-hosts", "a.example,,b.example") == NULL);
    /* an empty variable is still an unset one: the defaults */
    setenv("MLFLOW_SERVER_ALLOWED_HOSTS", "", 1);
    CHECK(parse(&cfg, 0, NULL) == NULL && cfg.allowed_hosts == NULL);
    unsetenv("MLFLOW_SERVER_ALLOWED_HOSTS");
}

static void test_static_prefix_is_a_plain_path(void) {
    mfd_config cfg;
    CHECK(parse1(&cfg, "--static-prefix", "/mlflow/") == NULL);
    CHECK_STR(cfg.static_prefix, "/mlflow");
    CHECK(parse1(&cfg, "--static-prefix", "/team-a/ml_flow.v2~x") == NULL);
    CHECK(parse1(&cfg, "--static-prefix", "/") == NULL);
    CHECK_STR(cfg.static_prefix, "");
    static const char *const bad[] = {"/my prefix", "/a//b", "/a/../b",   "/.",     "/ml%20flow",
                                      "/a?b",       "/a#b",  "/<script>", "/a\r\nb"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = parse1(&cfg, "--static-prefix", bad[i]);
        CHECK(why && strstr(why, "letters, digits"));
    }
}

/* The server's own paths would answer twice, or not at all, under such a prefix. */
static void test_static_prefix_may_not_shadow_server_paths(void) {
    static const char *const taken[] = {"/api",          "/ajax-api",       "/health",
                                        "/version",      "/ready",          "/metrics",
                                        "/static-files", "/oidc",           "/signup",
                                        "/get-artifact", "/model-versions", "/favicon.ico",
                                        "/api/x",        "/health/mlflow"};
    for (size_t i = 0; i < sizeof taken / sizeof *taken; i++) {
        mfd_err err = mfd_router_check_prefix(taken[i]);
        CHECK(err && strstr(err->message, "choose another prefix"));
        if (!err)
            fprintf(stderr, "  accepted: %s\n", taken[i]);
        mfd_err_free(err);
    }
    static const char *const free_prefixes[] = {"",         "/mlflow", "/apis",
                                                "/healthz", "/static", "/team/api"};
    for (size_t i = 0; i < sizeof free_prefixes / sizeof *free_prefixes; i++) {
        mfd_err err = mfd_router_check_prefix(free_prefixes[i]);
        CHECK(err == NULL);
        mfd_err_free(err);
    }
}

/* MLflow's settings without a flag are read once at start, and refused there when bad. */
static void test_environment_only_settings(void) {
    mfd_config cfg;
    CHECK(parse(&cfg, 0, NULL) == NULL);
    CHECK(cfg.truncate_long_values && cfg.artifact_location_max_length == 2048);
    static const struct {
        const char *value;
        bool truncate;
    } ok[] = {{"FALSE", false}, {"0", false}, {"True", true}, {"1", true}, {"", true}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        setenv("MLFLOW_TRUNCATE_LONG_VALUES", ok[i].value, 1);
        CHECK(parse(&cfg, 0, NULL) == NULL && cfg.truncate_long_values == ok[i].truncate);
    }
    static const char *const bad_bool[] = {"no", "off", "yes", " true", "2"};
    for (size_t i = 0; i < sizeof bad_bool / sizeof *bad_bool; i++) {
        setenv("MLFLOW_TRUNCATE_LONG_VALUES", bad_bool[i], 1);
        const char *why = parse(&cfg, 0, NULL);
        CHECK(why && strstr(why, "MLFLOW_TRUNCATE_LONG_VALUES"));
    }
    unsetenv("MLFLOW_TRUNCATE_LONG_VALUES");
    setenv("MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH", "100", 1);
    CHECK(parse(&cfg, 0, NULL) == NULL && cfg.artifact_location_max_length == 100);
    static const char *const bad_length[] = {"0", "-1", "abc", " 5", "1e3"};
    for (size_t i = 0; i < sizeof bad_length / sizeof *bad_length; i++) {
        setenv("MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH", bad_length[i], 1);
        const char *why = parse(&cfg, 0, NULL);
        CHECK(why && strstr(why, "MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH"));
    }
    unsetenv("MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH");
    bool b = true;
    CHECK(mfd_config_mlflow_bool("fAlSe", &b) && !b);
    CHECK(!mfd_config_mlflow_bool("on", &b) && !b);
}

MFD_TEST_MAIN(MFD_TEST(test_an_empty_artifacts_destination_is_refused),
              MFD_TEST(test_numbers_are_digits_only),
              MFD_TEST(test_x_frame_options_takes_documented_values),
              MFD_TEST(test_lists_must_name_something),
              MFD_TEST(test_static_prefix_is_a_plain_path),
              MFD_TEST(test_static_prefix_may_not_shadow_server_paths),
              MFD_TEST(test_environment_only_settings))
