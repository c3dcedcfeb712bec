/* metrics.h — the process's Prometheus metrics (/metrics): requests by route
 * pattern, method and status with latency histograms, auth decisions and
 * the tracking DB pool, in Prometheus' text exposition format 0.0.4.
 *
 * Recording is lock-free (relaxed atomic adds into a fixed table) so the
 * per-request hook costs a hash and a few atomic increments, never a mutex.
 * The counters are process-wide, like the process itself: there is one
 * table, set up statically, and nothing to open or close. */
#ifndef MFD_HTTP_METRICS_H
#define MFD_HTTP_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"

/* What the auth layer decided for a request. */
typedef enum mfd_metrics_auth {
    MFD_METRICS_AUTH_NONE, /* auth off, or an endpoint that needs no credentials */
    MFD_METRICS_AUTH_ALLOWED,
    MFD_METRICS_AUTH_UNAUTHENTICATED, /* 401 */
    MFD_METRICS_AUTH_FORBIDDEN,       /* 403 */
} mfd_metrics_auth;

/* One answered request. `route` is the matched route pattern (static
 * storage, e.g. "2.0/mlflow/runs/get" or "/health"), NULL when no route
 * matched; `method` any string (unknown methods are counted as "other"). */
void mfd_metrics_observe_request(const char *route, const char *method, int status, double seconds,
                                 mfd_metrics_auth auth);

/* The auth decision for a request from what the server knows at the end:
 * auth on or off, whether a user was authenticated, the status sent. */
mfd_metrics_auth mfd_metrics_auth_decision(bool auth_on, bool authenticated, int status);

/* One password key derivation run (a Basic login the credential cache did
 * not answer). */
void mfd_metrics_password_derivation(void);

/* The tracking DB pool: its size (set at start) and connections borrowed
 * by requests (api/context.c counts them). */
void mfd_metrics_set_db_pool_size(int size);
void mfd_metrics_db_borrowed(void);
void mfd_metrics_db_returned(void);

/* The whole exposition, NUL-terminated, in the arena. */
/* The run-search cache's figures (store/run_cache.h), read at each render
 * from `read` when one is set (PostgreSQL with the cache on). */
typedef struct mfd_metrics_search_cache {
    uint64_t hits, misses, runs, bytes, experiments;
} mfd_metrics_search_cache;
void mfd_metrics_set_search_cache_source(void (*read)(void *ctx, mfd_metrics_search_cache *out),
                                         void *ctx);

const char *mfd_metrics_render(mfd_arena *arena);

/* The Content-Type of the exposition. */
#define MFD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
