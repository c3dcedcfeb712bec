/* db_file_watch.c — see db_file_watch.h.
 *
 * The common call is lock-free: poll() says whether a report is queued
 * without taking it. Only when one is does a caller take the lock, count a
 * new version *before* emptying the queue, and open a settling window; so a
 * caller whose poll() finds the queue empty (perhaps just emptied by
 * another) always reads a version counted after the write. */
#include "db_file_watch.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

/* How long after a write reads are not trusted: a writer's commit becomes
 * visible shortly after its last write (the WAL index update), or after an
 * fsync for writers with synchronous=FULL. */
enum { SETTLE_NS = 50 * 1000 * 1000 };

struct mfd_file_watch {
    int fd;
    char *path;
    pthread_mutex_t lock; /* one caller empties the queue at a time */
    _Atomic uint64_t version;
    _Atomic int64_t unsettled_until; /* CLOCK_MONOTONIC ns; 0 = settled */
    _Atomic bool blind;              /* a watch was lost: trust nothing */
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool add_watches(mfd_file_watch *w) {
    char wal[4096];
    if (snprintf(wal, sizeof wal, "%s-wal", w->path) >= (int)sizeof wal)
        return false;
    const uint32_t events = IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF;
    return inotify_add_watch(w->fd, w->path, events) >= 0 &&
           inotify_add_watch(w->fd, wal, events) >= 0;
}

mfd_file_watch *mfd_file_watch_open(const char *path) {
    mfd_file_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->path = strdup(path);
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (!w->path || w->fd < 0 || !add_watches(w)) {
        if (w->fd >= 0)
            close(w->fd);
        free(w->path);
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

void mfd_file_watch_close(mfd_file_watch *w) {
    if (!w)
        return;
    close(w->fd);
    pthread_mutex_destroy(&w->lock);
    free(w->path);
    free(w);
}

/* Empties the queue. A file replaced or removed ends its watch (IN_IGNORED);
 * when it cannot be watched again, nothing is trusted from then on. */
static void drain(mfd_file_watch *w) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool lost = false;
    ssize_t n;
    while ((n = read(w->fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            lost = lost || (ev->mask & (IN_IGNORED | IN_Q_OVERFLOW));
            p += sizeof *ev + ev->len;
        }
    }
    if (lost && !atomic_load(&w->blind) && !add_watches(w)) {
        atomic_store(&w->blind, true);
        mfd_log_warn("%s: lost the watch on the database files: cached reads are no longer "
                     "trusted (restart to watch again)",
                     w->path);
    }
}

uint64_t mfd_file_watch_version(mfd_file_watch *w) {
    struct pollfd p = {.fd = w->fd, .events = POLLIN};
    if (poll(&p, 1, 0) != 0) { /* a write (or an error): count it, then take it */
        pthread_mutex_lock(&w->lock);
        atomic_fetch_add(&w->version, 1);
        atomic_store(&w->unsettled_until, now_ns() + SETTLE_NS);
        drain(w);
        pthread_mutex_unlock(&w->lock);
    }
    int64_t until = atomic_load(&w->unsettled_until);
    if (until == 0 && !atomic_load(&w->blind))
        return atomic_load(&w->version);
    /* Settling: every call a new number, and one more as the window closes,
     * so nothing read inside it is used afterwards. */
    if (until && now_ns() >= until)
        atomic_compare_exchange_strong(&w->unsettled_until, &until, 0);
    return atomic_fetch_add(&w->version, 1) + 1;
}
