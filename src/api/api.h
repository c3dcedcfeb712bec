/* api.h — the application context and the handler/route types.
 *
 * Each src/api/<service>.c exports one route table (mfd_api_<service>_routes,
 * ended by a zero entry); router.c matches requests against all of them.
 * A handler decodes the message (api/message.h), validates, calls the store
 * and fills the response; it returns an mfd_err for any failure and the
 * server turns that into MLflow's JSON error body once. */
#ifndef MFD_API_H
#define MFD_API_H

#include <stdatomic.h>
#include <stdbool.h>

#include "config/config.h"
#include "http/request.h"

/* The MLflow release whose wire behaviour we implement (reported by /version). */
#define MFD_MLFLOW_API_VERSION "3.6.0"

struct mfd_db;
struct mfd_artifact_repo;
struct mfd_auth;
struct mfd_run_cache;

typedef struct mfd_app {
    const mfd_config *config;
    struct mfd_db *tracking_db;          /* NULL in --artifacts-only mode */
    struct mfd_artifact_repo *artifacts; /* the proxied destination; NULL if not serving */
    struct mfd_auth *auth;               /* NULL when auth is off */
    _Atomic bool draining;               /* shutting down: /ready answers 503 */
    /* the tracking database has the per-experiment search indexes: on
     * PostgreSQL of latest_metrics, params and tags, on SQLite of runs */
    bool experiment_indexes;
    /* PostgreSQL: the run-search cache (store/run_cache.h), or NULL */
    struct mfd_run_cache *run_cache;
} mfd_app;

/* Why the server is not ready for traffic (shutting down; the tracking
 * database unreachable or not at the schema head), or NULL: /ready on both
 * ports. */
mfd_err mfd_api_readiness(mfd_app *app);

/* The experiment runs/create puts its run in: the Default experiment (0)
 * when experiment_id is absent or empty (protobuf's default), read so by the
 * handler and by the auth layer's check alike. */
static inline const char *mfd_api_new_run_experiment(const char *sent) {
    return sent && *sent ? sent : "0";
}

typedef mfd_err (*mfd_handler)(mfd_request *req, mfd_response *res);
/* Streamed routes: called once headers are in, before the body. */
typedef mfd_err (*mfd_upload_begin)(mfd_request *req, mfd_upload *upload);

enum mfd_route_flags {
    MFD_ROUTE_TRACKING = 1 << 0, /* a tracking/registry endpoint: off in --artifacts-only */
    MFD_ROUTE_ARTIFACTS =
        1 << 1, /* an /mlflow-artifacts/ endpoint: off with --no-serve-artifacts */
    MFD_ROUTE_AJAX_ONLY = 1 << 2, /* only under /ajax-api/ */
    MFD_ROUTE_BARE = 1 << 3,      /* not versioned: pattern is the whole path (/health) */
    MFD_ROUTE_NO_AJAX = 1 << 4,   /* only under /api/ */
    MFD_ROUTE_OWN_CONTENT_TYPE =
        1 << 5, /* the handler checks Content-Type itself (auth's users/create, form posts) */
    MFD_ROUTE_PREFIXED = 1 << 6, /* bare route also served under the static prefix (UI, /health) */
};

/* pattern: for versioned routes "<version>/<service path>", e.g.
 * "2.0/mlflow/experiments/create", served at /api/<pattern> and
 * [<static-prefix>]/ajax-api/<pattern>. `{name}` matches one segment
 * (req->path_params), a trailing `<path>` matches the rest (req->path_tail,
 * which may be empty). */
typedef struct mfd_route {
    const char *method;
    const char *pattern;
    mfd_handler handler;
    unsigned flags;
    mfd_upload_begin upload_begin;
} mfd_route;

/* Borrows the tracking DB connection for this request; the same one on every
 * call, given back by the server when the request ends (rolling back any
 * transaction left open by a failed handler). */
mfd_err mfd_api_conn(mfd_request *req, struct mfd_conn **out);
/* Gives the request's connection back early (before streaming a big body). */
void mfd_api_conn_release(mfd_request *req);

extern const mfd_route mfd_api_misc_routes[];
extern const mfd_route mfd_api_experiments_routes[];
extern const mfd_route mfd_api_runs_routes[];
extern const mfd_route mfd_api_metrics_routes[];
extern const mfd_route mfd_api_artifacts_routes[];
extern const mfd_route mfd_api_registry_routes[];
extern const mfd_route mfd_api_logged_models_routes[];
extern const mfd_route mfd_api_auth_routes[];
extern const mfd_route mfd_api_sso_routes[];
extern const mfd_route mfd_api_ui_routes[];
extern const mfd_route mfd_api_prometheus_routes[];
extern const mfd_route mfd_api_kserve_routes[];

#endif
