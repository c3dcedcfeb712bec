/* main.c — the mlflowd command: `server`, `db upgrade`, and later `admin`,
 * `kserve`. The only place that exits the process. */
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "api/api.h"
#include "artifacts/repo.h"
#include "auth/auth.h"
#include "config/config.h"
#include "core/log.h"
#include "http/health.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "kserve/kserve.h"
#include "store/db.h"
#include "store/run_cache.h"
#include "store/schema.h"

static void usage(FILE *out) {
    fprintf(out, "Usage: mlflowd COMMAND [OPTIONS]\n\n"
                 "Commands:\n"
                 "  server            run the tracking server (see mlflowd server --help)\n"
                 "  db upgrade URI    create MLflow's schema in a new database, or check an\n"
                 "                    existing one is at the revision mlflowd serves (and add\n"
                 "                    the search indexes it lacks); --auth URI: the same for an\n"
                 "                    auth database\n"
                 "  admin init-db     create the PostgreSQL role and databases (idempotent)\n"
                 "  admin init-bucket create the S3 bucket of the artifacts destination\n"
                 "  admin keycloak    create the Keycloak client, mappers, roles and groups\n"
                 "  kserve manifest   print the KServe InferenceService of a model version\n"
                 "  kserve apply      create/update it through the Kubernetes API\n"
                 "  --version         print the version\n");
}

static int fail(mfd_err err) {
    mfd_log_error("%s", err->message);
    mfd_err_free(err);
    return 1;
}

/* What run_server opened, closed (NULL-safe); then 0, or `err` reported and 1. */
static int close_app(mfd_app *app, mfd_err err) {
    mfd_auth_close(app->auth);
    mfd_artifact_repo_close(app->artifacts);
    mfd_run_cache_stop(app->run_cache);
    mfd_db_close(app->tracking_db);
    return err ? fail(err) : 0;
}

/* The run-search cache's figures for /metrics. */
static void read_search_cache(void *ctx, mfd_metrics_search_cache *out) {
    mfd_run_cache_stats st;
    mfd_run_cache_get_stats(ctx, &st);
    *out = (mfd_metrics_search_cache){st.hits, st.misses, st.runs, st.bytes, st.experiments};
}

static double ms_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Each request thread frees what it allocated (SQLite's page caches for a
 * sort, the response) before the next request; by default glibc then hands
 * the freed top of the thread's heap back to the kernel every time, and the
 * next request faults the same pages in again — kernel time and cross-core
 * TLB flushes on every request. Keep up to 1 MiB of free top per heap
 * instead (a request frees far less; more would only hold memory after a
 * burst); large buffers are still mmap'd and returned at once. */
static void tune_allocator(void) {
    mallopt(M_TRIM_THRESHOLD, 1 << 20);
    mallopt(M_MMAP_THRESHOLD, 128 << 10);
}

enum { STOP_WATCHDOG_SECONDS = 3 };

/* After the grace period the server's threads are stopped: those in a socket
 * call end at once, but one waiting on the database (a stalled PostgreSQL)
 * would hold the process past the grace period Kubernetes allows. If the
 * stop is not done in STOP_WATCHDOG_SECONDS, or a further signal comes, the
 * process ends without it; what was committed is in the database. */
static void *stop_watchdog(void *arg) {
    const sigset_t *signals = arg;
    const struct timespec wait = {STOP_WATCHDOG_SECONDS, 0};
    int sig = sigtimedwait(signals, NULL, &wait);
    mfd_log_warn("%s: exiting without the requests still in progress",
                 sig > 0 ? "another stop signal" : "the stop is held up by a request");
    fflush(stderr);
    _exit(0);
    return NULL;
}

static void start_stop_watchdog(const sigset_t *signals) {
    static sigset_t kept;
    kept = *signals;
    pthread_t thread;
    if (pthread_create(&thread, NULL, stop_watchdog, &kept) == 0)
        pthread_detach(thread);
}

/* Whether the directory `dir` is `root` or lies below it (both resolved). */
static bool dir_within(const char *dir, const char *root) {
    size_t len = strlen(root);
    return !strcmp(root, "/") ||
           (!strncmp(dir, root, len) && (dir[len] == '/' || dir[len] == '\0'));
}

/* A local artifacts destination holding a SQLite database (`.`, a parent of its
 * directory) lets anyone who may upload artifacts overwrite the database, and read it:
 * the tracking database, or the auth database with its password hashes. */
static void warn_if_database_in_artifacts(const mfd_app *app) {
    const char *root = app->artifacts ? mfd_artifact_repo_root(app->artifacts) : NULL;
    char root_dir[PATH_MAX];
    if (!root || !strncmp(root, "s3://", 5) || !realpath(root, root_dir))
        return;
    const struct mfd_db *dbs[] = {app->tracking_db,
                                  app->auth ? mfd_auth_database(app->auth) : NULL};
    static const char *const what[] = {"tracking", "auth"};
    for (int i = 0; i < 2; i++) {
        const char *db_file = dbs[i] ? mfd_db_sqlite_file(dbs[i]) : NULL;
        char *copy = db_file ? strdup(db_file) : NULL;
        char db_dir[PATH_MAX];
        if (copy && realpath(dirname(copy), db_dir) && dir_within(db_dir, root_dir))
            mfd_log_warn("the %s database %s is inside the artifacts destination %s: clients "
                         "that may upload artifacts can overwrite it; keep them apart",
                         what[i], db_file, root);
        free(copy);
    }
}

/* "[::1]" for an IPv6 address in a URL. */
static const char *url_host(const char *host, char *buf, size_t cap) {
    if (!strchr(host, ':'))
        return host;
    snprintf(buf, cap, "[%s]", host);
    return buf;
}

static int run_server(int argc, char **argv) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tune_allocator();
    /* SIGHUP, SIGUSR1 and SIGUSR2 killed the process at once (their default action);
     * there is nothing to reload: blocked from the start, so that no thread takes them,
     * and logged by the main thread (below). */
    sigset_t ignored_signals;
    sigemptyset(&ignored_signals);
    sigaddset(&ignored_signals, SIGHUP);
    sigaddset(&ignored_signals, SIGUSR1);
    sigaddset(&ignored_signals, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &ignored_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    mfd_config cfg;
    bool exit_now;
    mfd_err err = mfd_config_from_args(argc, argv, &cfg, &exit_now);
    if (err)
        return fail(err);
    if (exit_now)
        return 0;
    mfd_app app = {.config = &cfg};
    if (!cfg.auth && cfg.auth_config_path && *cfg.auth_config_path)
        mfd_log_warn("--auth-config / MLFLOW_AUTH_CONFIG_PATH (%s) is ignored: authentication is "
                     "off without --auth or --app-name basic-auth",
                     cfg.auth_config_path);
    if (cfg.gunicorn_opts || cfg.uvicorn_opts || cfg.waitress_opts || cfg.dev)
        mfd_log_warn("--gunicorn-opts, --uvicorn-opts, --waitress-opts and --dev are options of "
                     "mlflow server's Python servers: ignored");
    if ((err = mfd_kserve_check_namespace(cfg.kserve_namespace)))
        return fail(err);
    /* Auth first, so a bad auth config stops the start before anything else
     * is open; the artifact settings before the tracking database is written. */
    if ((cfg.auth && (err = mfd_auth_open(&cfg, &app.auth))) ||
        (err = mfd_router_check_prefix(cfg.static_prefix)) ||
        (cfg.serve_artifacts &&
         (err = mfd_artifact_repo_open(cfg.artifacts_destination, &app.artifacts))) ||
        (!cfg.artifacts_only && (err = mfd_artifact_root_check(cfg.default_artifact_root))) ||
        (!cfg.artifacts_only &&
         ((err = mfd_db_open(cfg.backend_store_uri, cfg.workers, &app.tracking_db)) ||
          (err = mfd_schema_tracking_init(app.tracking_db, cfg.default_artifact_root, false,
                                          &app.experiment_indexes)))))
        return close_app(&app, err);

    /* SIGINT and SIGTERM are taken synchronously by the main thread from here on (until
     * now they stop a start that hangs); the server's threads inherit the mask. */
    sigset_t stop_signals, waited_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    waited_signals = ignored_signals;
    sigaddset(&waited_signals, SIGINT);
    sigaddset(&waited_signals, SIGTERM);

    if (!cfg.artifacts_only)
        app.run_cache = mfd_run_cache_start(app.tracking_db, (size_t)cfg.search_cache_mb << 20);
    if (app.run_cache)
        mfd_metrics_set_search_cache_source(read_search_cache, app.run_cache);
    mfd_server *server;
    if ((err = mfd_server_start(&app, &server)))
        return close_app(&app, err);
    mfd_metrics_set_db_pool_size(cfg.artifacts_only ? 0 : cfg.workers);
    mfd_health *health = NULL;
    if (cfg.health_port &&
        (err = mfd_health_start(&app, cfg.health_host, cfg.health_port, &health))) {
        mfd_server_stop(server);
        return close_app(&app, err);
    }
    char host_buf[300];
    mfd_log_info("mlflowd %s (MLflow %s API) listening on http://%s:%d", MFD_VERSION,
                 MFD_MLFLOW_API_VERSION, url_host(cfg.host, host_buf, sizeof host_buf),
                 mfd_server_port(server));
    if (!cfg.artifacts_only)
        mfd_log_info("backend store: %s; default artifact root: %s", mfd_db_uri(app.tracking_db),
                     cfg.default_artifact_root);
    mfd_log_info("artifact proxy: %s%s", cfg.serve_artifacts ? "on, destination " : "off",
                 cfg.serve_artifacts ? cfg.artifacts_destination : "");
    warn_if_database_in_artifacts(&app);
    if (health)
        mfd_log_info("health, readiness and metrics on http://%s:%d (/health, /ready, /metrics)",
                     url_host(cfg.health_host, host_buf, sizeof host_buf), mfd_health_port(health));
    mfd_log_info("ready in %.1f ms", ms_since(&t0));
    fflush(stderr);

    int sig = 0;
    while (sigwait(&waited_signals, &sig) == 0 && !sigismember(&stop_signals, sig))
        mfd_log_info("received %s: ignored (nothing to reload; SIGTERM stops mlflowd)",
                     sig == SIGHUP    ? "SIGHUP"
                     : sig == SIGUSR1 ? "SIGUSR1"
                                      : "SIGUSR2");
    mfd_log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (!mfd_server_drain(server, cfg.shutdown_grace, &stop_signals))
        start_stop_watchdog(&stop_signals);
    mfd_health_stop(health);
    mfd_server_stop(server);
    return close_app(&app, NULL);
}

static void db_usage(FILE *out) {
    fprintf(out, "Usage: mlflowd db upgrade URI\n"
                 "       mlflowd db upgrade --auth URI\n\n"
                 "Creates MLflow's schema in a new database (sqlite:///path or postgresql://...),\n"
                 "or checks that an existing one is at the revision mlflowd serves and adds the\n"
                 "search indexes mlflowd uses that it lacks (MLflow ignores them). With --auth,\n"
                 "the same for an auth database (basic_auth.ini's database_uri): MLflow's auth\n"
                 "schema, pre-3.6 ones upgraded, and mlflowd's single sign-on tables. Run by the\n"
                 "database's owner, it lets a role that only reads and writes rows serve it.\n"
                 "Exit status 0 = done, 1 = failed, 2 = bad usage.\n");
}

static bool is_help(const char *arg) {
    return !strcmp(arg, "--help") || !strcmp(arg, "-h") || !strcmp(arg, "help");
}

static int run_db(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (is_help(argv[i])) {
            db_usage(stdout);
            return 0;
        }
    bool auth = argc == 4 && !strcmp(argv[2], "--auth");
    if ((argc != 3 && !auth) || strcmp(argv[1], "upgrade") != 0 || argv[argc - 1][0] == '-') {
        db_usage(stderr);
        return 2;
    }
    mfd_db *db;
    mfd_err err = mfd_db_open(argv[argc - 1], 1, &db);
    if (err)
        return fail(err);
    /* No Default experiment here (nor admin user, for --auth): the server
     * makes them at its first start with its own settings. */
    err = auth ? mfd_schema_auth_init(db) : mfd_schema_tracking_init(db, NULL, true, NULL);
    if (!err)
        mfd_log_info("%s %s is at MLflow schema revision %s", auth ? "auth database" : "database",
                     mfd_db_uri(db), auth ? MFD_AUTH_SCHEMA_HEAD : MFD_TRACKING_SCHEMA_HEAD);
    mfd_db_close(db);
    if (err)
        return fail(err);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *command = argv[1];
    if (!strcmp(command, "--version") || !strcmp(command, "version")) {
        printf("mlflowd %s\n", MFD_VERSION);
        return 0;
    }
    if (!strcmp(command, "--help") || !strcmp(command, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(command, "server"))
        return run_server(argc - 1, argv + 1);
    if (!strcmp(command, "db"))
        return run_db(argc - 1, argv + 1);
    if (!strcmp(command, "admin"))
        return mfd_admin_main(argc - 1, argv + 1);
    if (!strcmp(command, "kserve"))
        return mfd_admin_kserve_main(argc - 1, argv + 1);
    fprintf(stderr, "mlflowd: unknown command '%s'\n\n", command);
    usage(stderr);
    return 2;
}
