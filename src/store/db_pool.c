/* db_pool.c — see db_pool.h. Invariant: open == idle connections + borrowed
 * ones + ones being opened; a slot is reserved before opening (outside the
 * lock) and given back if opening fails. */
#include "db_pool.h"

#include "core/ids.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

void mfd_db_pool_init(mfd_db_pool *pool, int max) {
    pool->max = max < 1 ? 1 : max;
    pool->open = pool->n_idle = 0;
    pool->spare = NULL;
    pool->spare_busy = false;
    pool->wait_seconds = MFD_DB_POOL_WAIT_SECONDS;
    pool->idle = calloc((size_t)pool->max, sizeof *pool->idle);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->cond, &attr);
    pthread_cond_init(&pool->spare_cond, &attr);
    pthread_condattr_destroy(&attr);
}

void mfd_db_pool_destroy(mfd_db_pool *pool, void (*close_conn)(mfd_conn *conn)) {
    for (int i = 0; i < pool->n_idle; i++)
        close_conn(pool->idle[i]);
    if (pool->spare)
        close_conn(pool->spare);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->cond);
    pthread_cond_destroy(&pool->spare_cond);
    free(pool->idle);
}

mfd_err mfd_db_pool_acquire(mfd_db_pool *pool, mfd_db_pool_open_fn open, void *ctx,
                            mfd_conn **out) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += pool->wait_seconds;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        if (pool->n_idle > 0) {
            *out = pool->idle[--pool->n_idle];
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        if (pool->open < pool->max) {
            pool->open++;
            pthread_mutex_unlock(&pool->lock);
            mfd_err err = open(ctx, out);
            if (err) {
                pthread_mutex_lock(&pool->lock);
                pool->open--;
                pthread_cond_signal(&pool->cond);
                pthread_mutex_unlock(&pool->lock);
            }
            return err;
        }
        if (pthread_cond_timedwait(&pool->cond, &pool->lock, &deadline) == ETIMEDOUT) {
            int max = pool->max, seconds = pool->wait_seconds;
            pthread_mutex_unlock(&pool->lock);
            return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE,
                               "All %d database connections stayed busy for %d s; try again "
                               "(or raise --workers)",
                               max, seconds);
        }
    }
}

mfd_err mfd_db_pool_acquire_spare(mfd_db_pool *pool, mfd_db_pool_open_fn open, void *ctx,
                                  int wait_ms, mfd_conn **out) {
    struct timespec deadline = mfd_deadline_after_ms(CLOCK_MONOTONIC, wait_ms);
    pthread_mutex_lock(&pool->lock);
    while (pool->spare_busy)
        if (pthread_cond_timedwait(&pool->spare_cond, &pool->lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&pool->lock);
            return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE,
                               "the previous readiness check is still waiting on the database");
        }
    pool->spare_busy = true;
    mfd_conn *spare = pool->spare;
    pthread_mutex_unlock(&pool->lock);
    if (spare) {
        *out = spare;
        return NULL;
    }
    mfd_err err = open(ctx, &spare); /* outside the lock: connecting may take seconds */
    pthread_mutex_lock(&pool->lock);
    if (err) {
        pool->spare_busy = false;
        pthread_cond_signal(&pool->spare_cond);
    } else {
        pool->spare = *out = spare;
    }
    pthread_mutex_unlock(&pool->lock);
    return err;
}

void mfd_db_pool_release(mfd_db_pool *pool, mfd_conn *conn, bool broken) {
    pthread_mutex_lock(&pool->lock);
    if (conn == pool->spare) {
        if (broken)
            pool->spare = NULL;
        pool->spare_busy = false;
        pthread_cond_signal(&pool->spare_cond);
        pthread_mutex_unlock(&pool->lock);
        return;
    }
    if (broken)
        pool->open--;
    else
        pool->idle[pool->n_idle++] = conn;
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
}
