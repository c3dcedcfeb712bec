/* db_pool.h — the connection pool both drivers share: at most `max`
 * connections, opened on demand, idle ones reused, waiters woken on release.
 * Drivers keep what is engine-specific (opening, cleaning up before reuse).
 * One more connection, the spare, is kept apart for readiness probes, so a
 * probe says whether the database answers even while every pooled connection
 * is busy (requests waiting on a lock would otherwise hold the probe too). */
#ifndef MFD_DB_POOL_H
#define MFD_DB_POOL_H

#include <pthread.h>
#include <stdbool.h>

#include "db.h"

/* How long a request waits for a connection before a 503 (which the mlflow
 * client retries): a guard, as connections go back as soon as a handler
 * returns. */
enum { MFD_DB_POOL_WAIT_SECONDS = 30 };

typedef struct mfd_db_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_cond_t spare_cond; /* apart from cond, so a probe never takes a request's wake-up */
    mfd_conn **idle;
    int n_idle, open, max;
    int wait_seconds; /* MFD_DB_POOL_WAIT_SECONDS; tests shorten it */
    mfd_conn *spare;  /* opened on first use; NULL again when it broke */
    bool spare_busy;
} mfd_db_pool;

typedef mfd_err (*mfd_db_pool_open_fn)(void *ctx, mfd_conn **out);

void mfd_db_pool_init(mfd_db_pool *pool, int max);
/* Closes the idle connections (every connection must have been released). */
void mfd_db_pool_destroy(mfd_db_pool *pool, void (*close_conn)(mfd_conn *conn));
/* An idle connection, a new one from open(ctx) while under `max`, or waits
 * (at most wait_seconds, then TEMPORARILY_UNAVAILABLE). */
mfd_err mfd_db_pool_acquire(mfd_db_pool *pool, mfd_db_pool_open_fn open, void *ctx, mfd_conn **out);
/* The spare connection (opened by open(ctx) on first use), waiting at most
 * wait_ms while another probe has it. Given back with mfd_db_pool_release. */
mfd_err mfd_db_pool_acquire_spare(mfd_db_pool *pool, mfd_db_pool_open_fn open, void *ctx,
                                  int wait_ms, mfd_conn **out);
/* Back to the idle list (the spare: free again); with broken=true the
 * connection is forgotten and its slot freed (the driver closes it after). */
void mfd_db_pool_release(mfd_db_pool *pool, mfd_conn *conn, bool broken);

#endif
