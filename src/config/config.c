/* config.c — `mlflowd server` flags and their MLFLOW_* environment twins.
 * Precedence: flag > environment > default, as with `mlflow server`; an empty
 * variable is an unset one. Invariant: every value is checked here, and one
 * that cannot mean what README says stops the start with a message naming it,
 * never read as something else (a default, no limit, the working directory). */
#include "config.h"

#include "artifacts/repo.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { OPT_STRING, OPT_INT, OPT_SIZE, OPT_FLAG, OPT_NOFLAG } opt_kind;

typedef struct option_spec {
    const char *flag;
    const char *env;
    opt_kind kind;
    size_t offset;
    const char *help;
} option_spec;

#define FIELD(f) offsetof(mfd_config, f)

static const option_spec options[] = {
    {"--host", "MLFLOW_HOST", OPT_STRING, FIELD(host), "address to listen on (127.0.0.1)"},
    {"-h", NULL, OPT_STRING, FIELD(host), NULL},
    {"--port", "MLFLOW_PORT", OPT_INT, FIELD(port), "port to listen on (5000)"},
    {"-p", NULL, OPT_INT, FIELD(port), NULL},
    {"--backend-store-uri", "MLFLOW_BACKEND_STORE_URI", OPT_STRING, FIELD(backend_store_uri),
     "tracking + registry database (sqlite:///mlflow.db)"},
    {"--registry-store-uri", "MLFLOW_REGISTRY_STORE_URI", OPT_STRING, FIELD(registry_store_uri),
     "registry database; must equal the backend store (default: the backend store)"},
    {"--default-artifact-root", "MLFLOW_DEFAULT_ARTIFACT_ROOT", OPT_STRING,
     FIELD(default_artifact_root),
     "artifact root of new experiments (mlflow-artifacts:/ when serving artifacts, else ./mlruns)"},
    {"--serve-artifacts", "MLFLOW_SERVE_ARTIFACTS", OPT_FLAG, FIELD(serve_artifacts),
     "proxy artifact uploads/downloads through /api/2.0/mlflow-artifacts (on)"},
    {"--no-serve-artifacts", NULL, OPT_NOFLAG, FIELD(serve_artifacts),
     "turn the artifact proxy off"},
    {"--artifacts-destination", "MLFLOW_ARTIFACTS_DESTINATION", OPT_STRING,
     FIELD(artifacts_destination), "where proxied artifacts are stored (./mlartifacts)"},
    {"--artifacts-only", "MLFLOW_ARTIFACTS_ONLY", OPT_FLAG, FIELD(artifacts_only),
     "serve only the artifact proxy; tracking endpoints answer 503"},
    {"--workers", "MLFLOW_WORKERS", OPT_INT, FIELD(workers),
     "database connections / concurrent requests in the store (4)"},
    {"-w", NULL, OPT_INT, FIELD(workers), NULL},
    {"--static-prefix", "MLFLOW_STATIC_PREFIX", OPT_STRING, FIELD(static_prefix),
     "URL prefix of the UI and /ajax-api routes, e.g. /mlflow"},
    {"--app-name", "MLFLOW_APP_NAME", OPT_STRING, FIELD(app_name),
     "basic-auth turns on users and permissions"},
    {"--auth", "MLFLOWD_AUTH", OPT_FLAG, FIELD(auth),
     "turn on users and permissions (same as --app-name basic-auth)"},
    {"--auth-config", "MLFLOW_AUTH_CONFIG_PATH", OPT_STRING, FIELD(auth_config_path),
     "the auth INI file ([mlflow] default_permission, database_uri, admin_username, "
     "admin_password, ...); built-in defaults when unset"},
    {"--quiet", "MLFLOWD_QUIET", OPT_FLAG, FIELD(quiet), "no per-request log lines"},
    {"--max-body-size", "MLFLOWD_MAX_BODY_SIZE", OPT_SIZE, FIELD(max_body_bytes),
     "largest JSON request body in bytes (67108864); artifact uploads are streamed and unlimited"},
    {"--max-connections", "MLFLOWD_MAX_CONNECTIONS", OPT_INT, FIELD(max_connections),
     "simultaneous client connections (1024)"},
    {"--search-cache-mb", "MLFLOWD_SEARCH_CACHE_MB", OPT_INT, FIELD(search_cache_mb),
     "PostgreSQL: memory in MiB for the runs that filtered and metric-ordered searches pick "
     "their pages from, kept right across replicas by triggers (256; 0 = off, every search "
     "reads the database)"},
    {"--keep-alive-timeout", "MLFLOWD_KEEP_ALIVE_TIMEOUT", OPT_INT, FIELD(keep_alive_timeout),
     "seconds a connection may wait for its next request, or send nothing of its request "
     "head, before it is closed (120: above the idle timeouts of the proxies in front); "
     "within a request the limit is 600 s without a byte"},
    {"--max-header-size", "MLFLOWD_MAX_HEADER_SIZE", OPT_SIZE, FIELD(max_header_bytes),
     "largest request line and headers together, in bytes (32768; 1024 to 196608); larger "
     "gets 431"},
    {"--shutdown-grace", "MLFLOWD_SHUTDOWN_GRACE", OPT_INT, FIELD(shutdown_grace),
     "on SIGTERM/SIGINT, seconds to let requests in progress finish after new connections "
     "stop (25)"},
    {"--health-port", "MLFLOWD_HEALTH_PORT", OPT_INT, FIELD(health_port),
     "also serve /health, /ready and /metrics (without auth) on this port (0 = off)"},
    {"--health-host", "MLFLOWD_HEALTH_HOST", OPT_STRING, FIELD(health_host),
     "address of the --health-port listener (0.0.0.0)"},
    {"--allowed-hosts", "MLFLOW_SERVER_ALLOWED_HOSTS", OPT_STRING, FIELD(allowed_hosts),
     "Host headers accepted, comma-separated, '*' patterns (localhost and private IPs, any "
     "port; '*' = all); others get 403 (DNS rebinding)"},
    {"--cors-allowed-origins", "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS", OPT_STRING,
     FIELD(cors_allowed_origins),
     "browser origins allowed to write to the API and read it cross-origin, comma-separated, "
     "'*' patterns (localhost origins on any port; '*' = all)"},
    {"--x-frame-options", "MLFLOW_SERVER_X_FRAME_OPTIONS", OPT_STRING, FIELD(x_frame_options),
     "X-Frame-Options of every answer (SAMEORIGIN; DENY; NONE = left out)"},
    {"--disable-security-middleware", "MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", OPT_FLAG,
     FIELD(disable_security_middleware),
     "DANGEROUS: no Host check, no cross-origin refusal, no CORS or security headers"},
    {"--kserve-namespace", "MLFLOWD_KSERVE_NAMESPACE", OPT_STRING, FIELD(kserve_namespace),
     "namespace of generated KServe InferenceServices (default)"},
    {"--kserve-service-account", "MLFLOWD_KSERVE_SERVICE_ACCOUNT", OPT_STRING,
     FIELD(kserve_service_account),
     "service account of the predictor, holding the S3 secret (mlflow-kserve)"},
    {"--kserve-runtime", "MLFLOWD_KSERVE_RUNTIME", OPT_STRING, FIELD(kserve_runtime),
     "serving runtime of the predictor (kserve-mlserver; empty = KServe selects)"},
    {"--kserve-apply", "MLFLOWD_KSERVE_APPLY", OPT_FLAG, FIELD(kserve_apply),
     "allow creating/updating InferenceServices through the Kubernetes API (off)"},
    {"--kserve-api-url", "MLFLOWD_KSERVE_API_URL", OPT_STRING, FIELD(kserve_api_url),
     "Kubernetes API server (https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)"},
    {"--kserve-token-file", "MLFLOWD_KSERVE_TOKEN_FILE", OPT_STRING, FIELD(kserve_token_file),
     "bearer token for the Kubernetes API (the pod's service account token)"},
    {"--kserve-ca-file", "MLFLOWD_KSERVE_CA_FILE", OPT_STRING, FIELD(kserve_ca_file),
     "CA certificates of the Kubernetes API (the service account's ca.crt)"},
    {"--expose-prometheus", "MLFLOW_EXPOSE_PROMETHEUS", OPT_STRING, FIELD(expose_prometheus),
     "accepted as mlflow server's: /metrics is always served; the directory is not used"},
    {"--gunicorn-opts", "MLFLOW_GUNICORN_OPTS", OPT_STRING, FIELD(gunicorn_opts),
     "accepted as mlflow server's and ignored (with a warning): mlflowd is no Python server"},
    {"--uvicorn-opts", "MLFLOW_UVICORN_OPTS", OPT_STRING, FIELD(uvicorn_opts),
     "accepted and ignored, as --gunicorn-opts"},
    {"--waitress-opts", NULL, OPT_STRING, FIELD(waitress_opts),
     "accepted and ignored, as --gunicorn-opts"},
    {"--dev", NULL, OPT_FLAG, FIELD(dev), "accepted and ignored, as --gunicorn-opts"},
};

static void set_defaults(mfd_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 5000;
    cfg->backend_store_uri = "sqlite:///mlflow.db";
    cfg->serve_artifacts = true;
    cfg->artifacts_destination = "./mlartifacts";
    cfg->workers = 4;
    cfg->search_cache_mb = 256;
    cfg->static_prefix = "";
    cfg->max_body_bytes = 64u << 20;
    cfg->max_connections = 1024;
    cfg->keep_alive_timeout = 120;
    cfg->shutdown_grace = 25;
    cfg->max_header_bytes = 32u << 10;
    cfg->health_host = "0.0.0.0";
    cfg->x_frame_options = "SAMEORIGIN";
    cfg->truncate_long_values = true;
    cfg->artifact_location_max_length = 2048;
    cfg->kserve_namespace = "default";
    cfg->kserve_service_account = "mlflow-kserve";
    cfg->kserve_runtime = "kserve-mlserver";
    cfg->kserve_token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    cfg->kserve_ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
}

static bool parse_bool(const char *s, bool *out) {
    if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on")) {
        *out = true;
        return true;
    }
    if (!strcasecmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
        !strcasecmp(s, "off") || !*s) {
        *out = false;
        return true;
    }
    return false;
}

bool mfd_config_mlflow_bool(const char *value, bool *out) {
    if (!strcasecmp(value, "true") || !strcmp(value, "1"))
        return (*out = true);
    if (!strcasecmp(value, "false") || !strcmp(value, "0"))
        return !(*out = false);
    return false;
}

/* A whole number in digits alone, at most `max`: strtol and strtoull also take a sign and
 * leading spaces, and "-1" read as a size is the largest size there is (no limit at all). */
static bool parse_whole(const char *s, unsigned long long max, unsigned long long *out) {
    if (!*s || strspn(s, "0123456789") != strlen(s))
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno || v > max)
        return false;
    *out = v;
    return true;
}

static mfd_err apply(const option_spec *o, const char *name, const char *value, mfd_config *cfg) {
    char *base = (char *)cfg;
    unsigned long long v;
    switch (o->kind) {
    case OPT_STRING:
        *(const char **)(base + o->offset) = value;
        return NULL;
    case OPT_INT:
        if (!parse_whole(value, INT_MAX, &v))
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "%s: '%s' is not a valid number", name,
                               value);
        *(int *)(base + o->offset) = (int)v;
        return NULL;
    case OPT_SIZE:
        if (!parse_whole(value, SIZE_MAX, &v) || v == 0)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "%s: '%s' is not a valid size in bytes",
                               name, value);
        *(size_t *)(base + o->offset) = (size_t)v;
        return NULL;
    case OPT_FLAG:
    case OPT_NOFLAG: {
        bool b = true;
        if (value && !parse_bool(value, &b))
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "%s: '%s' is not true or false", name,
                               value);
        *(bool *)(base + o->offset) = o->kind == OPT_FLAG ? b : !b;
        return NULL;
    }
    }
    return NULL;
}

/* Whether a pattern holds \d or \D: Python's digit classes, which glibc
 * takes for the letters d and D (another meaning, not an error). */
static bool has_python_digit_class(const char *pattern) {
    for (const char *p = pattern; *p; p++)
        if (*p == '\\' && p[1]) {
            if (p[1] == 'd' || p[1] == 'D')
                return true;
            p++; /* an escaped character, \\ included */
        }
    return false;
}

/* MLflow's server settings that have no flag, read here once like the flags (and, like
 * theirs, an empty variable is an unset one). */
static mfd_err read_environment_only(mfd_config *cfg) {
    const char *v = getenv("MLFLOW_TRUNCATE_LONG_VALUES");
    if (v && *v && !mfd_config_mlflow_bool(v, &cfg->truncate_long_values))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "MLFLOW_TRUNCATE_LONG_VALUES: '%s' is not true, false, 1 or 0", v);
    v = getenv("MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH");
    unsigned long long n;
    if (v && *v) {
        if (!parse_whole(v, SIZE_MAX, &n) || n == 0)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH: '%s' is not a positive whole "
                               "number of characters",
                               v);
        cfg->artifact_location_max_length = (size_t)n;
    }
    /* MLflow's is a Python pattern; one regcomp cannot read must stop the
     * start, not refuse every model version's source. */
    v = getenv("MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX");
    if (v && *v) {
        regex_t re;
        if (has_python_digit_class(v) || regcomp(&re, v, REG_EXTENDED | REG_NOSUB) != 0)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX: '%s' is not a "
                               "POSIX extended regular expression (no \\d: write [0-9]; no (?:, "
                               "(?i) or lookarounds)",
                               v);
        regfree(&re);
        cfg->source_validation_regex = v;
    }
    return NULL;
}

/* The values README documents, spelt as sent: the value reaches a header of every answer. */
static mfd_err check_frame_options(mfd_config *cfg) {
    static const char *const known[] = {"SAMEORIGIN", "DENY", "NONE"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcasecmp(cfg->x_frame_options, known[i])) {
            cfg->x_frame_options = known[i];
            return NULL;
        }
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "--x-frame-options '%s': must be SAMEORIGIN, DENY or NONE (no header)",
                       cfg->x_frame_options);
}

/* Whether a comma-separated list names anything: "" or ",,," would accept no Host at all
 * (every request refused), or no origin beyond the localhost ones, which no one means. */
static bool list_has_entry(const char *list) {
    for (const char *p = list; *p; p++)
        if (*p != ',' && !isspace((unsigned char)*p))
            return true;
    return false;
}

/* The prefix is compared with decoded request paths and written into the UI's page and its
 * URLs: segments of unreserved URL characters (RFC 3986), none empty, "." or ".." (which a
 * browser resolves away before asking). */
static bool prefix_is_url_safe(const char *prefix) {
    for (const char *seg = prefix; *seg == '/';) {
        seg++;
        size_t len = strcspn(seg, "/");
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && !strncmp(seg, "..", 2)))
            return false;
        for (size_t i = 0; i < len; i++)
            if (!isalnum((unsigned char)seg[i]) && !strchr("-._~", seg[i]))
                return false;
        seg += len;
    }
    return true;
}

void mfd_config_print_help(void) {
    printf("Usage: mlflowd server [OPTIONS]\n\n"
           "Runs the MLflow-compatible tracking server, model registry and artifact proxy.\n\n"
           "Options (environment variable in brackets):\n");
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        const option_spec *o = &options[i];
        if (!o->help)
            continue;
        const char *arg = o->kind == OPT_FLAG || o->kind == OPT_NOFLAG ? "" : " VALUE";
        printf("  %s", o->flag);
        for (size_t j = 0; j < sizeof options / sizeof options[0]; j++) /* -h, -p, -w */
            if (!options[j].help && options[j].offset == o->offset)
                printf(", %s", options[j].flag);
        printf("%s\n      %s", arg, o->help);
        if (o->env)
            printf(" [%s]", o->env);
        printf("\n");
    }
    printf("  --help\n      show this help\n  --version\n      print the version\n");
}

mfd_err mfd_config_from_args(int argc, char **argv, mfd_config *cfg, bool *exit_now) {
    set_defaults(cfg);
    *exit_now = false;
    size_t n = sizeof options / sizeof options[0];
    for (size_t i = 0; i < n; i++) {
        /* as click reads mlflow server's variables: an empty one is unset */
        const char *v = options[i].env ? getenv(options[i].env) : NULL;
        if (v && *v) {
            mfd_err err = apply(&options[i], options[i].env, v, cfg);
            if (err)
                return err;
        }
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help")) {
            mfd_config_print_help();
            *exit_now = true;
            return NULL;
        }
        if (!strcmp(arg, "--version")) {
            printf("mlflowd %s\n", MFD_VERSION);
            *exit_now = true;
            return NULL;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const option_spec *o = NULL;
        for (size_t i = 0; i < n; i++) {
            if (strlen(options[i].flag) == name_len && !strncmp(options[i].flag, arg, name_len)) {
                o = &options[i];
                break;
            }
        }
        if (!o)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "unknown option '%s' (see mlflowd server --help)", arg);
        const char *value = eq ? eq + 1 : NULL;
        if (!value && o->kind != OPT_FLAG && o->kind != OPT_NOFLAG) {
            if (a + 1 >= argc)
                return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "option %s needs a value", o->flag);
            value = argv[++a];
        }
        mfd_err err = apply(o, o->flag, value, cfg);
        if (err)
            return err;
    }
    /* after the flags: --help and --version answer whatever the environment holds */
    mfd_err env_err = read_environment_only(cfg);
    if (env_err)
        return env_err;
    if (cfg->port < 0 || cfg->port > 65535)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "--port must be between 0 and 65535");
    if (cfg->workers < 1)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--workers must be at least 1 (the database connections of the pool)");
    if (cfg->search_cache_mb < 0 || cfg->search_cache_mb > 1048576)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--search-cache-mb must be from 0 to 1048576");
    if (cfg->max_header_bytes < 1024 || cfg->max_header_bytes > 196608)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--max-header-size must be from 1024 to 196608 bytes");
    if (cfg->health_port > 65535)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--health-port must be between 0 and 65535");
    if (cfg->keep_alive_timeout < 1 || cfg->keep_alive_timeout > 600)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--keep-alive-timeout must be from 1 to 600 seconds");
    if (cfg->max_connections < 1)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--max-connections must be at least 1 (every connection was refused)");
    if (cfg->registry_store_uri && strcmp(cfg->registry_store_uri, cfg->backend_store_uri) != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--registry-store-uri different from --backend-store-uri is not "
                           "supported yet: keep the registry in the tracking database");
    if (cfg->app_name && *cfg->app_name && strcmp(cfg->app_name, "basic-auth") != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--app-name '%s' is not known; the only app is 'basic-auth'",
                           cfg->app_name);
    if (cfg->app_name && strcmp(cfg->app_name, "basic-auth") == 0)
        cfg->auth = true;
    mfd_err err;
    if ((err = check_frame_options(cfg)))
        return err;
    if (cfg->allowed_hosts && !list_has_entry(cfg->allowed_hosts))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--allowed-hosts (MLFLOW_SERVER_ALLOWED_HOSTS) '%s' names no host: "
                           "list the Host headers to accept, or leave it out for localhost and "
                           "private addresses",
                           cfg->allowed_hosts);
    if (cfg->cors_allowed_origins && !list_has_entry(cfg->cors_allowed_origins))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--cors-allowed-origins (MLFLOW_SERVER_CORS_ALLOWED_ORIGINS) '%s' names "
                           "no origin: list the origins to allow, or leave it out for the "
                           "localhost ones",
                           cfg->cors_allowed_origins);
    /* Only a flag can be empty here (an empty variable is unset): without a file the built-in
     * defaults apply, the well-known admin password included. */
    if (cfg->auth_config_path && !*cfg->auth_config_path)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--auth-config is empty: name the auth INI file, or leave the flag out "
                           "for the built-in defaults");
    /* Normalise the static prefix to "" or "/x" without a trailing slash. */
    if (cfg->static_prefix && *cfg->static_prefix) {
        const char *p = cfg->static_prefix;
        if (p[0] != '/')
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "--static-prefix must start with '/'");
        size_t len = strlen(p);
        while (len > 1 && p[len - 1] == '/')
            len--;
        static char prefix_buf[256];
        if (len >= sizeof prefix_buf)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "--static-prefix is too long");
        memcpy(prefix_buf, p, len);
        prefix_buf[len] = '\0';
        cfg->static_prefix = strcmp(prefix_buf, "/") == 0 ? "" : prefix_buf;
        if (!prefix_is_url_safe(cfg->static_prefix))
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "--static-prefix '%s': use segments of letters, digits and - . _ ~ "
                               "separated by single slashes, e.g. /mlflow",
                               p);
    }
    /* Artifact locations: absolute destination; default root depends on serving. */
    static char dest_buf[4096], root_buf[4096 + 16];
    const char *dest = cfg->artifacts_destination;
    const char *local = !strncmp(dest, "file://", 7) ? dest + 7
                        : !strncmp(dest, "file:", 5) ? dest + 5
                        : strstr(dest, "://")        ? NULL
                                                     : dest;
    /* An empty path was the working directory, the databases beside it included: a client's
     * PUT .../artifacts/mlflow.db replaced the tracking database. */
    if (local && !*local)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--artifacts-destination '%s' names no directory: give a directory or "
                           "s3://bucket/prefix, or leave it out for ./mlartifacts",
                           dest);
    /* file: URIs as the artifact store reads them: %-escapes decoded, a host other than
     * this one refused (file://host/path was the relative directory host/path) */
    static char file_path_buf[4096];
    if (local && local != dest) {
        mfd_arena *arena = mfd_arena_new();
        const char *root, *prefix;
        mfd_err err = mfd_artifact_uri_resolve(arena, NULL, dest, &root, &prefix);
        if (!err && strlen(root) >= sizeof file_path_buf)
            err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "the path is too long");
        if (!err) {
            memcpy(file_path_buf, root, strlen(root) + 1);
            local = file_path_buf;
        }
        mfd_arena_free(arena);
        if (err) {
            mfd_err why = mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "--artifacts-destination: %s",
                                      err->message);
            mfd_err_free(err);
            return why;
        }
    }
    if (local && local[0] != '/') {
        char cwd[2048];
        if (!getcwd(cwd, sizeof cwd))
            return mfd_err_new(MFD_INTERNAL_ERROR, "cannot read the current directory");
        const char *rel = local;
        if (rel[0] == '.' && rel[1] == '/')
            rel += 2;
        if (strlen(cwd) + 1 + strlen(rel) >= sizeof dest_buf)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "--artifacts-destination: the path is too long");
        memcpy(dest_buf, cwd, strlen(cwd));
        dest_buf[strlen(cwd)] = '/';
        memcpy(dest_buf + strlen(cwd) + 1, rel, strlen(rel) + 1);
        cfg->artifacts_destination = dest_buf;
    } else if (local) {
        cfg->artifacts_destination = local;
    } else if (cfg->serve_artifacts && strncmp(dest, "s3://", 5) != 0) {
        /* Anything else would be taken as a local directory named "gs:". */
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--artifacts-destination '%s': mlflowd stores artifacts on local disk "
                           "(a path or file://) or in S3 (s3://); %.*s:// is not supported yet",
                           dest, (int)(strstr(dest, "://") - dest), dest);
    }
    if (!cfg->default_artifact_root || !*cfg->default_artifact_root) {
        if (cfg->serve_artifacts) {
            cfg->default_artifact_root = "mlflow-artifacts:/";
        } else {
            char cwd[2048];
            if (!getcwd(cwd, sizeof cwd))
                return mfd_err_new(MFD_INTERNAL_ERROR, "cannot read the current directory");
            snprintf(root_buf, sizeof root_buf, "%s/mlruns", cwd);
            cfg->default_artifact_root = root_buf;
        }
    }
    return NULL;
}
