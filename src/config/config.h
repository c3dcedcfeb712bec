/* config.h — server settings from flags and MLFLOW_* environment variables,
 * read once at start into one immutable struct that is passed down. */
#ifndef MFD_CONFIG_H
#define MFD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

typedef struct mfd_config {
    const char *host;              /* --host, MLFLOW_HOST; 127.0.0.1 */
    int port;                      /* --port, MLFLOW_PORT; 5000 */
    const char *backend_store_uri; /* --backend-store-uri; sqlite:///mlflow.db */
    const char
        *registry_store_uri; /* --registry-store-uri; = backend store (only that is supported) */
    const char
        *default_artifact_root; /* --default-artifact-root; mlflow-artifacts:/ when serving */
    bool serve_artifacts;       /* --serve-artifacts/--no-serve-artifacts; on */
    const char *artifacts_destination; /* --artifacts-destination; ./mlartifacts (made absolute) */
    bool artifacts_only;               /* --artifacts-only */
    int workers;                       /* --workers: DB connections + request concurrency hint; 4 */
    const char *static_prefix;         /* --static-prefix; "" or "/prefix" */
    const char *app_name;              /* --app-name (basic-auth) */
    bool auth;                         /* --auth, MLFLOWD_AUTH, or --app-name basic-auth */
    const char *auth_config_path;      /* --auth-config, MLFLOW_AUTH_CONFIG_PATH; NULL = defaults */
    bool quiet;                        /* --quiet: no per-request log lines */
    size_t max_body_bytes;   /* --max-body-size, MLFLOWD_MAX_BODY_SIZE: JSON bodies; 64 MiB */
    int max_connections;     /* --max-connections; 1024 */
    int search_cache_mb;     /* --search-cache-mb: PostgreSQL run-search cache budget; 256 */
    int keep_alive_timeout;  /* --keep-alive-timeout: seconds idle between requests; 120 */
    size_t max_header_bytes; /* --max-header-size, MLFLOWD_MAX_HEADER_SIZE; 32 KiB */
    /* Probes and metrics on their own port (src/http/health.c), so they work while the API port
     * is loopback-only behind a proxy sidecar. */
    int health_port;         /* --health-port, MLFLOWD_HEALTH_PORT; 0 = off */
    int shutdown_grace;      /* --shutdown-grace, MLFLOWD_SHUTDOWN_GRACE: seconds; 25 */
    const char *health_host; /* --health-host, MLFLOWD_HEALTH_HOST; 0.0.0.0 */
    /* Request security of `mlflow server` 3.5+ (src/http/request_guard.c): comma-separated
     * lists, '*' patterns. */
    const char *allowed_hosts;        /* --allowed-hosts, MLFLOW_SERVER_ALLOWED_HOSTS; NULL =
                                         localhost and private IPs, any port */
    const char *cors_allowed_origins; /* --cors-allowed-origins,
                                         MLFLOW_SERVER_CORS_ALLOWED_ORIGINS; NULL = localhost */
    const char *x_frame_options; /* --x-frame-options, MLFLOW_SERVER_X_FRAME_OPTIONS: SAMEORIGIN
                                    (default), DENY or NONE (no header), upper-cased at start */
    bool disable_security_middleware; /* --disable-security-middleware,
                                         MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE */
    /* MLflow server settings that have no flag, read from the environment with the flags. */
    bool truncate_long_values;           /* MLFLOW_TRUNCATE_LONG_VALUES; true */
    size_t artifact_location_max_length; /* MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH; 2048 */
    const char *source_validation_regex; /* MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX
                                            (POSIX extended, checked at start); NULL = none */
    /* KServe hand-off (src/kserve, sso-and-deploy.md §5). */
    const char *kserve_namespace;       /* --kserve-namespace; "default" */
    const char *kserve_service_account; /* --kserve-service-account; mlflow-kserve */
    const char *kserve_runtime;         /* --kserve-runtime; kserve-mlserver ("" = auto-select) */
    bool kserve_apply;             /* --kserve-apply: create/update through the Kubernetes API */
    const char *kserve_api_url;    /* --kserve-api-url; https://$KUBERNETES_SERVICE_HOST:PORT */
    const char *kserve_token_file; /* --kserve-token-file; the pod's service account token */
    const char *kserve_ca_file;    /* --kserve-ca-file; the service account's ca.crt */
    /* mlflow server's flags that mean nothing here, accepted so that its
     * command lines start mlflowd: /metrics is always served (the directory
     * of --expose-prometheus is not used); the Python servers' options are
     * reported at start as ignored. */
    const char *expose_prometheus;
    const char *gunicorn_opts, *uvicorn_opts, *waitress_opts;
    bool dev;
} mfd_config;

/* Parses `mlflowd server` arguments (argv[0] = "server") over the environment.
 * On --help / --version sets *exit_now and prints; errors say what to fix.
 * Strings point into argv/environ or static storage. */
mfd_err mfd_config_from_args(int argc, char **argv, mfd_config *cfg, bool *exit_now);
void mfd_config_print_help(void);
/* MLflow's boolean environment variables (_BooleanEnvironmentVariable): true, false, 1 or 0, in
 * any case; false for anything else, leaving *out alone. */
bool mfd_config_mlflow_bool(const char *value, bool *out);

#endif
