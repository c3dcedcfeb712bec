/* The connection pool both drivers share (store/db_pool.h): reuse, the
 * limit, a waiter woken by a release, and a wait that ends in a 503; the
 * spare connection of readiness probes, apart from all that. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "store/db_pool.h"
#include "test.h"

static int opened;
static mfd_conn *fake_conns[4];

static mfd_err open_fake(void *ctx, mfd_conn **out) {
    (void)ctx;
    *out = fake_conns[opened++];
    return NULL;
}

static void close_fake(mfd_conn *conn) {
    (void)conn;
}

typedef struct waiter {
    mfd_db_pool *pool;
    mfd_conn *got;
    mfd_err err;
} waiter;

static void *wait_for_one(void *arg) {
    waiter *w = arg;
    w->err = mfd_db_pool_acquire(w->pool, open_fake, NULL, &w->got);
    return NULL;
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_limit_reuse_wake_and_give_up(void) {
    static int a, b;
    fake_conns[0] = (mfd_conn *)&a;
    fake_conns[1] = (mfd_conn *)&b;
    mfd_db_pool pool;
    mfd_db_pool_init(&pool, 1);
    CHECK_INT(pool.wait_seconds, MFD_DB_POOL_WAIT_SECONDS);
    pool.wait_seconds = 1;
    mfd_conn *first = NULL;
    CHECK(mfd_db_pool_acquire(&pool, open_fake, NULL, &first) == NULL && first == fake_conns[0]);
    /* the only connection is out: a waiter gets it once it is released */
    waiter w = {&pool, NULL, NULL};
    pthread_t thread;
    pthread_create(&thread, NULL, wait_for_one, &w);
    usleep(100 * 1000);
    mfd_db_pool_release(&pool, first, false);
    pthread_join(thread, NULL);
    CHECK(w.err == NULL && w.got == fake_conns[0] && opened == 1);
    /* still out: the next one gives up after wait_seconds with a 503 */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mfd_conn *none = NULL;
    mfd_err err = mfd_db_pool_acquire(&pool, open_fake, NULL, &none);
    double waited = seconds_since(&t0);
    CHECK(err && err->code == MFD_TEMPORARILY_UNAVAILABLE && none == NULL);
    CHECK(waited >= 0.9 && waited < 5);
    mfd_err_free(err);
    mfd_db_pool_release(&pool, w.got, false);
    mfd_db_pool_destroy(&pool, close_fake);
}

static void test_spare_is_apart_from_the_pool(void) {
    static int a, b, c;
    fake_conns[0] = (mfd_conn *)&a;
    fake_conns[1] = (mfd_conn *)&b;
    fake_conns[2] = (mfd_conn *)&c;
    opened = 0;
    mfd_db_pool pool;
    mfd_db_pool_init(&pool, 1);
    pool.wait_seconds = 1;
    mfd_conn *pooled = NULL, *spare = NULL, *again = NULL;
    CHECK(mfd_db_pool_acquire(&pool, open_fake, NULL, &pooled) == NULL);
    /* every pooled connection is out: the spare is opened all the same */
    CHECK(mfd_db_pool_acquire_spare(&pool, open_fake, NULL, 200, &spare) == NULL);
    CHECK(spare == fake_conns[1] && opened == 2);
    /* one probe at a time: the next gives up after wait_ms */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mfd_err err = mfd_db_pool_acquire_spare(&pool, open_fake, NULL, 200, &again);
    double waited = seconds_since(&t0);
    CHECK(err && err->code == MFD_TEMPORARILY_UNAVAILABLE && again == NULL);
    CHECK(waited >= 0.15 && waited < 2);
    mfd_err_free(err);
    /* given back, it is the spare again, not an idle pooled connection */
    mfd_db_pool_release(&pool, spare, false);
    CHECK_INT(pool.n_idle, 0);
    CHECK(mfd_db_pool_acquire_spare(&pool, open_fake, NULL, 200, &again) == NULL);
    CHECK(again == fake_conns[1] && opened == 2);
    /* a broken spare is forgotten and the next probe opens another */
    mfd_db_pool_release(&pool, again, true);
    CHECK(mfd_db_pool_acquire_spare(&pool, open_fake, NULL, 200, &again) == NULL);
    CHECK(again == fake_conns[2] && opened == 3);
    mfd_db_pool_release(&pool, again, false);
    /* the pooled connection still comes back to the pool */
    mfd_db_pool_release(&pool, pooled, false);
    CHECK_INT(pool.n_idle, 1);
    CHECK_INT(pool.open, 1);
    mfd_db_pool_destroy(&pool, close_fake);
}

MFD_TEST_MAIN(MFD_TEST(test_limit_reuse_wake_and_give_up),
              MFD_TEST(test_spare_is_apart_from_the_pool))
